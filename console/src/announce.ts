import { h, replaceChildren } from './dom.js';
import { ApiError } from './api.js';

/**
 * One polite live region for results ("3 devices listed", "Token blocked") and, per view, an
 * error area whose message bars are announced at once (role=alert).
 */
export function announce(message: string): void {
  const region = document.getElementById('announcer');
  if (!region) return;
  // Cleared first so the same message twice is still announced.
  region.textContent = '';
  window.setTimeout(() => (region.textContent = message), 50);
}

export function showError(area: HTMLElement, error: unknown, what: string): void {
  const { title, detail } = describe(error);
  replaceChildren(
    area,
    h(
      'fluent-message-bar',
      { intent: 'error', role: 'alert', layout: 'multiline' },
      h('strong', {}, `${what}: ${title}`),
      detail ? h('span', {}, ` ${detail}`) : null,
      h('fluent-button', { slot: 'dismiss', appearance: 'transparent', size: 'small', 'aria-label': 'Dismiss error', onclick: () => replaceChildren(area) }, '✕'),
    ),
  );
}

export function clearError(area: HTMLElement): void {
  replaceChildren(area);
}

export function describe(error: unknown): { title: string; detail: string } {
  if (error instanceof ApiError) return { title: error.title, detail: error.detail };
  if (error instanceof Error) return { title: error.message, detail: '' };
  return { title: String(error), detail: '' };
}
