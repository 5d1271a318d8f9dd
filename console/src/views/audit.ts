import { h, replaceChildren } from '../dom.js';
import { count, localTime, relativeTime } from '../format.js';
import { auditActions, type Api, type AuditEntry } from '../api.js';
import { announce, clearError, showError } from '../announce.js';

const pageSize = 50;
/** A page may be empty yet carry a continuation (AUDIT-CONTRACT.md): follow a few before showing it. */
const maxEmptyPagesFollowed = 5;

// Every known outcome has a colour; a newer service may send one this console does not know.
const outcomeColor: Partial<Record<string, string>> = { succeeded: 'success', pending: 'warning', refused: 'danger', failed: 'severe' } satisfies Record<AuditEntry['outcome'], string>;

const periods = [
  { value: '1h', label: 'Last hour', seconds: 3600 },
  { value: '24h', label: 'Last 24 hours', seconds: 86_400 },
  { value: '7d', label: 'Last 7 days', seconds: 7 * 86_400 },
  { value: '30d', label: 'Last 30 days', seconds: 30 * 86_400 },
  { value: '365d', label: 'Last 365 days', seconds: 365 * 86_400 },
  { value: 'custom', label: 'From – to (below)', seconds: 0 },
] as const;

/** The audit trail, newest first: filter by action and time, page with the continuation. */
export function auditView(api: Api): { element: HTMLElement; refresh: () => Promise<void> } {
  const errors = h('div', { class: 'errors' });
  const tableArea = h('div', { class: 'table-wrap' });
  const pager = h('div', { class: 'pager' });

  const action = h('select', { id: 'audit-action', name: 'action' }, h('option', { value: '' }, 'All actions'), ...auditActions.map((name) => h('option', { value: name }, name)));
  const period = h('select', { id: 'audit-period', name: 'period' }, ...periods.map((p) => h('option', { value: p.value, selected: p.value === '7d' }, p.label)));
  const from = h('input', { id: 'audit-from', name: 'from', type: 'datetime-local' });
  const to = h('input', { id: 'audit-to', name: 'to', type: 'datetime-local' });
  const customFields = [
    h('div', { class: 'field' }, h('label', { for: 'audit-from' }, 'From (local time)'), from),
    h('div', { class: 'field' }, h('label', { for: 'audit-to' }, 'To (local time)'), to),
  ];
  const syncCustom = () => customFields.forEach((field) => (field.hidden = period.value !== 'custom'));
  period.addEventListener('change', syncCustom);
  syncCustom();

  const filters = h(
    'form',
    { class: 'form-row', novalidate: true, role: 'search', 'aria-label': 'Audit trail', onsubmit: (event: Event) => {
      event.preventDefault();
      void load([]);
    } },
    h('div', { class: 'field' }, h('label', { for: 'audit-action' }, 'Action'), action),
    h('div', { class: 'field' }, h('label', { for: 'audit-period' }, 'Time'), period),
    ...customFields,
    h('fluent-button', { id: 'audit-apply', type: 'submit', appearance: 'primary' }, 'Show'),
  );

  let trail: (string | undefined)[] = [];

  function range(): { from?: string; to?: string } | Error {
    if (period.value !== 'custom') {
      const seconds = periods.find((p) => p.value === period.value)?.seconds ?? 7 * 86_400;
      return { from: new Date(Date.now() - seconds * 1000).toISOString() };
    }
    const start = from.value === '' ? undefined : new Date(from.value);
    const end = to.value === '' ? undefined : new Date(to.value);
    if (start && end && start >= end) return new Error('"From" must be before "To"');
    return { ...(start ? { from: start.toISOString() } : {}), ...(end ? { to: end.toISOString() } : {}) };
  }

  async function load(nextTrail: (string | undefined)[], options: { focusId?: string } = {}): Promise<void> {
    clearError(errors);
    const span = range();
    if (span instanceof Error) {
      showError(errors, span, 'Cannot show the audit trail');
      return;
    }
    try {
      let continuation = nextTrail[nextTrail.length - 1];
      let page = await api.listAudit({ ...span, ...(action.value ? { action: action.value } : {}), limit: pageSize, ...(continuation ? { continuation } : {}) });
      for (let followed = 0; page.items.length === 0 && page.continuation && followed < maxEmptyPagesFollowed; followed++) {
        continuation = page.continuation;
        page = await api.listAudit({ ...span, ...(action.value ? { action: action.value } : {}), limit: pageSize, continuation });
      }
      trail = nextTrail.length === 0 ? [undefined] : nextTrail;
      render(page.items);
      renderPager(page.continuation);
      announce(`${count(page.items.length)} audit entr${page.items.length === 1 ? 'y' : 'ies'} listed, page ${trail.length}${page.continuation ? '; more on the next page' : ''}`);
      if (options.focusId) document.getElementById(options.focusId)?.focus();
    } catch (error) {
      showError(errors, error, 'Cannot show the audit trail');
    }
  }

  function renderPager(next: string | undefined): void {
    const previous = h('fluent-button', { id: 'audit-previous', appearance: 'secondary', disabled: trail.length <= 1 }, 'Previous page');
    previous.addEventListener('click', () => void load(trail.slice(0, -1), { focusId: 'audit-previous' }));
    const following = h('fluent-button', { id: 'audit-next', appearance: 'secondary', disabled: next === undefined }, 'Next page');
    following.addEventListener('click', () => void load([...trail, next], { focusId: 'audit-next' }));
    replaceChildren(pager, previous, h('span', {}, `Page ${trail.length}`), following);
  }

  function render(entries: AuditEntry[]): void {
    if (entries.length === 0) {
      replaceChildren(tableArea, h('p', { class: 'empty' }, 'No audit entries in this period.'));
      return;
    }
    const rows = entries.map((entry) =>
      h(
        'tr',
        { 'data-audit-id': entry.id, 'data-action': entry.action },
        h('td', {}, localTime(entry.time), h('span', { class: 'secondary' }, relativeTime(entry.time))),
        h('td', { class: 'mono nowrap' }, entry.action),
        h('td', {}, h('fluent-badge', { appearance: 'tint', color: outcomeColor[entry.outcome] ?? 'informative' }, entry.outcome), entry.status ? h('span', { class: 'secondary' }, `${entry.status}${entry.code ? ` ${entry.code}` : ''}`) : null),
        h(
          'td',
          { class: 'actor' },
          h('span', entry.actor.id ? { title: `Entra object id ${entry.actor.id}` } : {}, entry.actor.name ?? entry.actor.kind),
          entry.actor.id ? h('span', { class: 'secondary mono' }, entry.actor.id) : null,
        ),
        h('td', { class: 'mono target' }, entry.target ? `${entry.target.kind} ${entry.target.id}` : ''),
        h('td', { class: 'mono' }, entry.callerAddress ?? ''),
        h('td', { class: 'details' }, describeDetails(entry.details)),
      ),
    );
    replaceChildren(
      tableArea,
      h(
        'table',
        { id: 'audit-table' },
        h('caption', {}, `${count(entries.length)} audit entr${entries.length === 1 ? 'y' : 'ies'}, newest first`),
        h('thead', {}, h('tr', {}, ...['Time', 'Action', 'Outcome', 'Actor', 'Target', 'Caller address', 'Details'].map((title) => h('th', { scope: 'col' }, title)))),
        h('tbody', {}, ...rows),
      ),
    );
  }

  const element = h(
    'div',
    {},
    h('h2', {}, 'Audit trail'),
    errors,
    h('section', { class: 'card', 'aria-label': 'Filter' }, filters),
    h('section', { class: 'card', 'aria-label': 'Audit entries' }, tableArea, pager),
  );
  return { element, refresh: () => load([]) };
}

function describeDetails(details: Record<string, unknown> | undefined): string {
  if (!details) return '';
  return Object.entries(details)
    .map(([name, value]) => `${name}: ${typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value)}`)
    .join(', ');
}
