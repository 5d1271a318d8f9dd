import { h, type Child } from './dom.js';

interface FluentDialog extends HTMLElement {
  show(): void;
  hide(): void;
}

/**
 * A modal confirmation on Fluent's dialog (a native <dialog> shown modally: focus is trapped
 * inside and Escape cancels). Focus starts on Cancel, the safe choice, and returns to the
 * button that opened it.
 */
export function confirmDialog(options: { id: string; title: string; body: Child[]; confirm: string; returnFocus: HTMLElement }): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = `${options.id}-title`;
    const cancel = h('fluent-button', { slot: 'action', id: `${options.id}-cancel`, appearance: 'secondary', autofocus: true }, 'Cancel');
    const confirm = h('fluent-button', { slot: 'action', id: `${options.id}-confirm`, appearance: 'primary' }, options.confirm);
    const dialog = h(
      'fluent-dialog',
      { id: options.id, type: 'modal', 'aria-labelledby': titleId },
      h('fluent-dialog-body', {}, h('h2', { slot: 'title', id: titleId }, options.title), ...options.body, cancel, confirm),
    ) as FluentDialog;

    let settled = false;
    const finish = (answer: boolean) => {
      if (settled) return;
      settled = true;
      dialog.hide();
      dialog.remove();
      options.returnFocus.focus();
      resolve(answer);
    };
    cancel.addEventListener('click', () => finish(false));
    confirm.addEventListener('click', () => finish(true));
    // Escape, or any other way the dialog closes.
    dialog.addEventListener('toggle', (event: Event) => {
      if ((event as Partial<CustomEvent<{ newState?: string }>>).detail?.newState === 'closed') finish(false);
    });
    document.body.append(dialog);
    // Shown on the next frame, once the element has rendered its inner <dialog>; the dialog
    // focuses the [autofocus] Cancel button itself.
    requestAnimationFrame(() => dialog.show());
  });
}
