import { h, type Child } from './dom.js';

/**
 * A modal confirmation on the platform's own <dialog> shown modally (focus is trapped inside,
 * the rest of the page is inert, Escape cancels), dressed with Fluent's dialog body and
 * tokens. It opens and moves focus to Cancel, the safe choice, in the same task as the click
 * that asked for it: Fluent's <fluent-dialog> opens on a later animation frame, which leaves a
 * moment where the dialog is on screen and focus is still on the page behind it. Focus goes
 * back to the button that opened it.
 */
export function confirmDialog(options: { id: string; title: string; body: Child[]; confirm: string; returnFocus: HTMLElement; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = `${options.id}-title`;
    const cancel = h('fluent-button', { slot: 'action', id: `${options.id}-cancel`, appearance: 'secondary' }, 'Cancel');
    const confirm = h('fluent-button', { slot: 'action', id: `${options.id}-confirm`, appearance: 'primary', class: options.danger ? 'danger' : undefined }, options.confirm);
    const dialog = h(
      'dialog',
      { id: options.id, class: 'confirm-dialog', 'aria-labelledby': titleId },
      h('fluent-dialog-body', {}, h('h2', { slot: 'title', id: titleId }, options.title), ...options.body, cancel, confirm),
    );

    let settled = false;
    const finish = (answer: boolean) => {
      if (settled) return;
      settled = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      options.returnFocus.focus();
      resolve(answer);
    };
    cancel.addEventListener('click', () => finish(false));
    confirm.addEventListener('click', () => finish(true));
    // Escape: answered at once (the close event that would follow comes a task later). Any
    // other way the dialog closes is a cancel too.
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.addEventListener('close', () => finish(false));
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
