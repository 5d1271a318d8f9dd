import { h, replaceChildren } from './dom.js';
import { ApiError } from './api.js';

/**
 * What the administrator is told, seen and heard:
 * - notify(): the result of an action ("Token blocked", "Copied") as a Fluent message bar at
 *   the top of the page, inside a polite live region, so it is both visible and announced;
 * - showError(): a failure, in the view's own error area, announced at once (role=alert),
 *   the problem's title and its detail apart, and what to do about it;
 * - announce(): screen-reader-only news that the page already shows (a list was loaded).
 */
export function announce(message: string): void {
  const region = document.getElementById('announcer');
  if (!region) return;
  // Cleared first so the same message twice is still announced.
  region.textContent = '';
  window.setTimeout(() => (region.textContent = message), 50);
}

export type NoticeIntent = 'success' | 'info' | 'warning' | 'error';

export function notify(intent: NoticeIntent, title: string, detail = ''): void {
  const area = document.getElementById('notices');
  if (!area) return;
  const bar = h(
    'fluent-message-bar',
    { intent, layout: 'multiline', class: 'notice', 'data-intent': intent },
    h('strong', { class: 'notice-title' }, title),
    detail ? h('span', { class: 'notice-detail' }, detail) : null,
    dismissButton('Dismiss message', () => bar.remove()),
  );
  // One result at a time: the newest replaces the one before.
  replaceChildren(area, bar);
}

export function clearNotice(): void {
  const area = document.getElementById('notices');
  if (area) replaceChildren(area);
}

export function showError(area: HTMLElement, error: unknown, what: string): void {
  const { title, detail, hint } = describe(error);
  replaceChildren(
    area,
    h(
      'fluent-message-bar',
      { intent: 'error', role: 'alert', layout: 'multiline' },
      h('strong', { class: 'error-what' }, what),
      h('span', { class: 'error-title' }, title),
      detail ? h('span', { class: 'error-detail' }, detail) : null,
      hint ? h('span', { class: 'error-hint' }, hint) : null,
      dismissButton('Dismiss error', () => replaceChildren(area)),
    ),
  );
}

export function clearError(area: HTMLElement): void {
  replaceChildren(area);
}

function dismissButton(label: string, dismiss: () => void): HTMLElement {
  return h('fluent-button', { slot: 'dismiss', appearance: 'transparent', size: 'small', 'icon-only': true, 'aria-label': label, onclick: dismiss }, '✕');
}

/** A problem's title and detail, and what an administrator can do about it. */
export function describe(error: unknown): { title: string; detail: string; hint: string } {
  if (error instanceof ApiError) return { title: error.title, detail: error.detail, hint: hintFor(error) };
  if (error instanceof Error) return { title: error.message, detail: '', hint: '' };
  return { title: String(error), detail: '', hint: '' };
}

function hintFor(error: ApiError): string {
  switch (error.status) {
    case 0:
      return '';
    case 401:
      return 'Sign in again; if this keeps happening, check the key or your account.';
    case 403:
      return 'Your account needs the administrator app role of this service.';
    case 404:
      return 'It may have been removed, or the address is mistyped.';
    case 429:
    case 503:
      return 'The service is busy: try again in a minute.';
    default:
      return error.status >= 500 ? 'Try again; if it keeps failing, look at the service log for the request.' : '';
  }
}
