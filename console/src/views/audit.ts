import { h, replaceChildren } from '../dom.js';
import { plural, timeElement } from '../format.js';
import { auditActions, type Api, type AuditEntry } from '../api.js';
import { announce, clearError, showError } from '../announce.js';
import { doneLoading, showFailed, showLoading } from '../loading.js';
import { navigate, routeHash, type Route } from '../router.js';
import { cell, dataTable } from '../table.js';

/** A phone shows fewer entries a page: 50 cards would make a page many screens long. */
const narrow = window.matchMedia('(max-width: 640px)');
const pageSize = () => (narrow.matches ? 10 : 50);
/** A page may be empty yet carry a continuation (README, "The audit trail": a page's size is a cap, not a promise): follow a few before showing it. */
const maxEmptyPagesFollowed = 5;

// Every known outcome has a colour; a newer service may send one this console does not know.
const outcomeColor: Partial<Record<string, string>> = { succeeded: 'success', pending: 'warning', refused: 'danger', failed: 'severe' } satisfies Record<AuditEntry['outcome'], string>;

/** The actions in words; the code stays beside them (it is what the API and its filters use). */
export const actionWords: Record<(typeof auditActions)[number], string> = {
  'bulk-token.create': 'Bulk token created',
  'bulk-token.block': 'Bulk token blocked',
  'bulk-token.unblock': 'Bulk token unblocked',
  'device.register': 'Device registered',
  'device.approve': 'Device approved',
  'device.revoke': 'Device revoked',
  'admin.refused': 'Admin sign-in refused',
};

function wordsFor(action: string): string {
  return auditActions.find((known) => known === action) ? actionWords[action as (typeof auditActions)[number]] : action;
}

// A newer service may send an actor kind this console does not know: shown as it came.
const actorWords: Partial<Record<string, string>> = { entra: 'Entra ID user', 'admin-key': 'admin key', device: 'device', anonymous: 'anonymous' } satisfies Record<AuditEntry['actor']['kind'], string>;

const periods = [
  { value: '1h', label: 'Last hour', seconds: 3600 },
  { value: '24h', label: 'Last 24 hours', seconds: 86_400 },
  { value: '7d', label: 'Last 7 days', seconds: 7 * 86_400 },
  { value: '30d', label: 'Last 30 days', seconds: 30 * 86_400 },
  { value: '365d', label: 'Last 365 days', seconds: 365 * 86_400 },
  { value: 'custom', label: 'From – to (below)', seconds: 0 },
] as const;

/** The audit trail, newest first: filter by action and time, page with the continuation. */
export function auditView(api: Api): { element: HTMLElement; show: (route: Route) => Promise<void> } {
  const errors = h('div', { class: 'errors' });
  const tableArea = h('div', { class: 'table-wrap', id: 'audit-list' });
  const pager = h('div', { class: 'pager' });

  const action = h('select', { id: 'audit-action', name: 'action' }, h('option', { value: '' }, 'All actions'), ...auditActions.map((name) => h('option', { value: name }, actionWords[name])));
  const period = h('select', { id: 'audit-period', name: 'period' }, ...periods.map((p) => h('option', { value: p.value }, p.label)));
  const from = h('input', { id: 'audit-from', name: 'from', type: 'datetime-local' });
  const to = h('input', { id: 'audit-to', name: 'to', type: 'datetime-local' });
  const customFields = [
    h('div', { class: 'field' }, h('label', { for: 'audit-from' }, 'From (your local time)'), from),
    h('div', { class: 'field' }, h('label', { for: 'audit-to' }, 'To (your local time)'), to),
  ];
  const syncCustom = () => customFields.forEach((field) => (field.hidden = period.value !== 'custom'));
  period.addEventListener('change', syncCustom);

  const filters = h(
    'form',
    {
      class: 'form-row',
      novalidate: true,
      role: 'search',
      'aria-label': 'Audit trail',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const custom = period.value === 'custom';
        navigate(routeHash('audit', { action: action.value, period: period.value === '7d' ? '' : period.value, from: custom ? from.value : '', to: custom ? to.value : '' }));
      },
    },
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
    if ((start && Number.isNaN(start.getTime())) || (end && Number.isNaN(end.getTime()))) return new Error('"From" and "To" must be dates and times');
    if (start && end && start >= end) return new Error('"From" must be before "To"');
    return { ...(start ? { from: start.toISOString() } : {}), ...(end ? { to: end.toISOString() } : {}) };
  }

  async function load(nextTrail: (string | undefined)[], options: { focusId?: string } = {}): Promise<void> {
    clearError(errors);
    const span = range();
    if (span instanceof Error) {
      showFailed(tableArea, 'The audit trail');
      replaceChildren(pager);
      showError(errors, span, 'Cannot show the audit trail');
      return;
    }
    showLoading(tableArea, 'Loading the audit trail…');
    replaceChildren(pager);
    try {
      const limit = pageSize();
      let continuation = nextTrail[nextTrail.length - 1];
      let page = await api.listAudit({ ...span, ...(action.value ? { action: action.value } : {}), limit, ...(continuation ? { continuation } : {}) });
      for (let followed = 0; page.items.length === 0 && page.continuation && followed < maxEmptyPagesFollowed; followed++) {
        continuation = page.continuation;
        page = await api.listAudit({ ...span, ...(action.value ? { action: action.value } : {}), limit, continuation });
      }
      trail = nextTrail.length === 0 ? [undefined] : nextTrail;
      doneLoading(tableArea);
      render(page.items);
      renderPager(page.continuation);
      announce(`${plural(page.items.length, 'audit entry', 'audit entries')} listed, page ${trail.length}${page.continuation ? '; more on the next page' : ''}`);
      if (options.focusId) (document.getElementById(options.focusId) ?? pager.querySelector('fluent-button'))?.focus();
    } catch (error) {
      showFailed(tableArea, 'The audit trail');
      showError(errors, error, 'Cannot show the audit trail');
    }
  }

  function renderPager(next: string | undefined): void {
    const previous = h('fluent-button', { id: 'audit-previous', appearance: 'secondary', }, 'Previous page');
    previous.addEventListener('click', () => void load(trail.slice(0, -1), { focusId: 'audit-previous' }));
    const following = h('fluent-button', { id: 'audit-next', appearance: 'secondary' }, 'Next page');
    following.addEventListener('click', () => void load([...trail, next], { focusId: 'audit-next' }));
    // Only the moves that exist: a disabled Fluent button is not disabled to assistive technology.
    replaceChildren(pager, trail.length > 1 ? previous : null, h('span', {}, `Page ${trail.length}`), next === undefined ? null : following);
  }

  function render(entries: AuditEntry[]): void {
    if (entries.length === 0) {
      replaceChildren(tableArea, h('p', { class: 'empty', id: 'audit-empty' }, 'No audit entries in this period. An entry appears for every admin action (create, block or unblock a token; approve or revoke a device), every registration, and every refused admin sign-in.'));
      return;
    }
    const rows = entries.map((entry) =>
      h(
        'tr',
        { 'data-audit-id': entry.id, 'data-action': entry.action },
        cell('Time', {}, timeElement(entry.time, { relative: true })),
        cell('Action', { class: 'action' }, h('span', { class: 'action-words' }, wordsFor(entry.action)), h('span', { class: 'secondary mono action-code' }, entry.action)),
        cell(
          'Outcome',
          {},
          h('fluent-badge', { appearance: 'tint', color: outcomeColor[entry.outcome] ?? 'informative', class: 'status' }, entry.outcome),
          entry.status ? h('span', { class: 'secondary' }, `${entry.status}${entry.code ? ` ${entry.code}` : ''}`) : null,
        ),
        cell(
          'Actor',
          { class: 'actor' },
          h('span', entry.actor.id ? { title: `Entra object id ${entry.actor.id}` } : {}, entry.actor.name ?? actorWords[entry.actor.kind] ?? entry.actor.kind),
          entry.actor.id ? h('span', { class: 'secondary mono' }, entry.actor.id) : null,
        ),
        cell('Target', { class: 'target' }, targetOf(entry)),
        cell('Caller address', { class: 'mono' }, entry.callerAddress ?? ''),
        cell('Details', { class: 'details' }, describeDetails(entry.details)),
      ),
    );
    replaceChildren(tableArea, dataTable('audit-table', `${plural(entries.length, 'audit entry', 'audit entries')}, newest first`, ['Time', 'Action', 'Outcome', 'Actor', 'Target', 'Caller address', 'Details'], rows));
  }

  const element = h(
    'div',
    {},
    h('h2', {}, 'Audit trail'),
    errors,
    h('section', { class: 'card', 'aria-label': 'Filter' }, filters),
    h('section', { class: 'card', 'aria-label': 'Audit entries' }, tableArea, pager),
  );
  return {
    element,
    show: (route: Route) => {
      const wanted = route.params.get('action') ?? '';
      action.value = auditActions.find((name) => name === wanted) ?? '';
      const chosen = periods.find((p) => p.value === route.params.get('period'));
      period.value = chosen?.value ?? '7d';
      from.value = route.params.get('from') ?? '';
      to.value = route.params.get('to') ?? '';
      syncCustom();
      return load([]);
    },
  };
}

function targetOf(entry: AuditEntry): Node | string {
  if (!entry.target) return '';
  if (entry.target.kind === 'device') return h('span', {}, 'device ', h('a', { href: routeHash('device', {}, entry.target.id), class: 'mono' }, entry.target.id));
  return h('span', { class: 'mono' }, `${entry.target.kind} ${entry.target.id}`);
}

function describeDetails(details: Record<string, unknown> | undefined): string {
  if (!details) return '';
  return Object.entries(details)
    .map(([name, value]) => `${name}: ${typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value)}`)
    .join(', ');
}
