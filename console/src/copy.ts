import { h } from './dom.js';
import { notify } from './announce.js';

/**
 * A copy button: the Clipboard API (secure contexts: https, or localhost). Success and refusal
 * are both shown (a message bar and the button's own label) and announced; when the browser
 * refuses, the text is selected so Ctrl+C copies it.
 */
export function copyButton(text: string, label: string, id: string, source?: HTMLElement): HTMLElement {
  const button = h('fluent-button', { id, size: 'small', 'aria-label': label }, 'Copy');
  button.addEventListener('click', () => void copy());
  async function copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      notify('success', 'Copied to the clipboard', label.replace(/^Copy /, ''));
      button.textContent = 'Copied';
    } catch {
      if (source) window.getSelection()?.selectAllChildren(source);
      notify('warning', 'The browser did not allow copying', source ? 'The text is selected: press Ctrl+C (⌘C on a Mac) to copy it by hand.' : 'Select the text and copy it by hand.');
      button.textContent = 'Copy';
    }
  }
  return button;
}
