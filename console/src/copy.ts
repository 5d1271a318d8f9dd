import { h } from './dom.js';
import { announce } from './announce.js';

/** A copy button: the Clipboard API (secure contexts: https, or localhost). */
export function copyButton(text: string, label: string, id: string): HTMLElement {
  const button = h('fluent-button', { id, size: 'small', 'aria-label': label }, 'Copy');
  button.addEventListener('click', () => void (async () => {
    try {
      await navigator.clipboard.writeText(text);
      announce('Copied to the clipboard');
      button.textContent = 'Copied';
      window.setTimeout(() => (button.textContent = 'Copy'), 2000);
    } catch {
      announce('Copying was not allowed by the browser: select the text and copy it by hand');
    }
  })());
  return button;
}
