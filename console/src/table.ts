import { h, type Attributes, type Child } from './dom.js';

/**
 * Native tables styled with Fluent's tokens (Fluent UI web components 3 have no data grid).
 * Each cell carries its column's name (data-label): on a narrow screen the stylesheet turns
 * each row into a card of "label: value" lines, so no action sits past the right edge.
 */
export function cell(label: string, attributes: Attributes, ...children: Child[]): HTMLTableCellElement {
  // One element beside the label on a phone, however many the cell holds.
  return h('td', { ...attributes, 'data-label': label }, h('div', { class: 'cell-value' }, ...children));
}

export function dataTable(id: string, caption: Child, headers: readonly string[], rows: readonly HTMLElement[]): HTMLTableElement {
  return h(
    'table',
    { id, class: 'data-table' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map((title) => h('th', { scope: 'col' }, title)))),
    h('tbody', {}, ...rows),
  );
}
