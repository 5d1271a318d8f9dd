import { h, replaceChildren } from './dom.js';

/**
 * While a view loads: its list area shows a Fluent spinner with what is being loaded, and is
 * marked busy for assistive technology. The rows it showed before are gone at once, so a list
 * never sits under a filter it no longer matches.
 */
export function showLoading(area: HTMLElement, what: string): void {
  area.setAttribute('aria-busy', 'true');
  replaceChildren(area, h('div', { class: 'loading-state' }, h('fluent-spinner', { size: 'small', 'aria-label': what }), h('span', {}, what)));
}

export function doneLoading(area: HTMLElement): void {
  area.removeAttribute('aria-busy');
}

/** What a list area shows after a failed load: no stale rows, and where to look. */
export function showFailed(area: HTMLElement, what: string): void {
  doneLoading(area);
  replaceChildren(area, h('p', { class: 'empty' }, `${what} could not be loaded: see the message above.`));
}
