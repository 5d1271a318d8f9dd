import { h, replaceChildren, valueOf } from '../dom.js';
import { count, plural, relativeTime, shortId, timeElement } from '../format.js';
import type { Api, BulkToken, IssuedBulkToken } from '../api.js';
import { announce, clearError, notify, showError } from '../announce.js';
import { copyButton } from '../copy.js';
import { doneLoading, showFailed, showLoading } from '../loading.js';
import { cell, dataTable } from '../table.js';

type Status = BulkToken['status'];
const statusColor: Record<Status, string> = { active: 'success', blocked: 'danger', expired: 'subtle', 'used-up': 'informative' };
const statusWords: Record<Status, string> = { active: 'active', blocked: 'blocked', expired: 'expired', 'used-up': 'used up' };

/** The contract's order (blocked, expired, used-up, active); a service from before `used-up` said `active`. */
export function tokenStatus(token: BulkToken): Status {
  if (token.status === 'active' && token.maxUses !== null && token.uses >= token.maxUses) return 'used-up';
  return token.status;
}

/**
 * Bulk registration tokens: the list (never the tokens themselves, which the service does not
 * keep), create one and show it once, block and unblock.
 */
export function bulkTokensView(api: Api): { element: HTMLElement; show: () => Promise<void> } {
  const errors = h('div', { class: 'errors' });
  const created = h('div', { id: 'new-token-area' });
  const tableArea = h('div', { class: 'table-wrap', id: 'bulk-token-list' });

  const lifetime = h('fluent-text-input', { id: 'token-lifetime', name: 'lifetime', value: '4320', required: true, autocomplete: 'off' }, 'Lifetime (minutes)');
  const maxUses = h('fluent-text-input', { id: 'token-max-uses', name: 'maxUses', autocomplete: 'off' }, 'Max uses (devices)');
  const description = h('fluent-text-input', { id: 'token-description', name: 'description', maxlength: 256, autocomplete: 'off' }, 'Description');
  const createButton = h('fluent-button', { id: 'create-token', type: 'submit', appearance: 'primary' }, 'Create token');

  const form = h(
    'form',
    { class: 'form-row', novalidate: true, 'aria-describedby': 'token-form-hint', onsubmit: (event: Event) => void submit(event) },
    h('div', { class: 'field' }, lifetime),
    h('div', { class: 'field' }, maxUses),
    h('div', { class: 'field wide' }, description),
    createButton,
  );

  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    clearError(errors);
    const minutes = wholeNumber(valueOf(lifetime));
    if (minutes === undefined || minutes < 1 || minutes > 10_080) {
      showError(errors, new Error('The lifetime must be a whole number of minutes from 1 to 10,080 (7 days)'), 'Cannot create the token');
      lifetime.focus();
      return;
    }
    const usesText = valueOf(maxUses);
    const uses = usesText === '' ? undefined : wholeNumber(usesText);
    if (usesText !== '' && (uses === undefined || uses < 1 || uses > 1_000_000)) {
      showError(errors, new Error('Max uses must be empty (no limit) or a whole number from 1 to 1,000,000'), 'Cannot create the token');
      maxUses.focus();
      return;
    }
    const text = valueOf(description);
    createButton.setAttribute('disabled', '');
    const label = createButton.textContent;
    createButton.textContent = 'Creating…';
    try {
      const issued = await api.createBulkToken({ lifetimeMinutes: minutes, ...(uses === undefined ? {} : { maxUses: uses }), ...(text === '' ? {} : { description: text }) });
      showOnce(issued);
      notify('success', 'Bulk token created', `It expires ${relativeTime(issued.expiresAt)}. Copy it now: it is shown only once.`);
      await refresh({ quiet: true });
    } catch (error) {
      showError(errors, error, 'Cannot create the token');
    } finally {
      createButton.textContent = label;
      createButton.removeAttribute('disabled');
    }
  }

  /** The token is in the page until "Done": not in the list, not in storage, never again. */
  function showOnce(issued: IssuedBulkToken): void {
    const service = location.origin;
    const lines = [
      { label: 'Token', copy: 'Copy token', text: issued.token, id: 'new-token-value' },
      { label: 'Configuration Manager client (ccmsetup)', copy: 'Copy ccmsetup command line', text: `ccmsetup.exe /regtoken:${issued.token}`, id: 'new-token-ccmsetup' },
      { label: 'cmg-client', copy: 'Copy cmg-client command line', text: `cmg-client register --url ${service} --regtoken ${issued.token}`, id: 'new-token-cmg-client' },
    ];
    const done = h('fluent-button', { id: 'new-token-done', appearance: 'secondary' }, 'Done — I have copied it');
    done.addEventListener('click', () => {
      replaceChildren(created);
      notify('info', 'The new token was removed from the page', 'It cannot be shown again; block it if it was not copied.');
      createButton.focus();
    });
    const card = h(
      'section',
      { class: 'card new-token', 'aria-labelledby': 'new-token-title', tabindex: '-1', id: 'new-token' },
      h('h3', { id: 'new-token-title' }, 'New bulk registration token'),
      h('p', {}, `Tracking id ${issued.id}; expires `, timeElement(issued.expiresAt), ` (${relativeTime(issued.expiresAt)}). `, h('strong', {}, 'This is the only time the token is shown: copy it now.')),
      ...lines.flatMap((line) => {
        const code = h('code', { id: line.id, 'aria-labelledby': `${line.id}-label` }, line.text);
        return [h('span', { class: 'secondary', id: `${line.id}-label` }, line.label), h('div', { class: 'secret-row' }, code, copyButton(line.text, line.copy, `${line.id}-copy`, code))];
      }),
      h('p', { class: 'hint' }, 'ccmsetup needs your usual /mp, CCMHOSTNAME and SMSSiteCode properties as well.'),
      done,
    );
    replaceChildren(created, card);
    card.focus();
  }

  async function setBlocked(token: BulkToken, blocked: boolean, button: HTMLElement): Promise<void> {
    clearError(errors);
    button.setAttribute('disabled', '');
    const name = token.description ? `“${token.description}”` : shortId(token.id);
    try {
      await api.setBulkTokenBlocked(token.id, blocked);
      notify('success', `Token ${name} ${blocked ? 'blocked' : 'unblocked'}`, blocked ? 'No device can register with it until it is unblocked.' : 'Devices can register with it again.');
      await refresh({ quiet: true, focusId: `${blocked ? 'unblock' : 'block'}-${token.id}` });
    } catch (error) {
      showError(errors, error, `Cannot ${blocked ? 'block' : 'unblock'} the token`);
      button.removeAttribute('disabled');
    }
  }

  function render(tokens: BulkToken[]): void {
    if (tokens.length === 0) {
      replaceChildren(
        tableArea,
        h('p', { class: 'empty', id: 'bulk-token-empty' }, 'No bulk tokens yet. A token appears here when you create one above; devices outside your network then register with it (ccmsetup /regtoken, or cmg-client register --regtoken).'),
      );
      return;
    }
    const rows = tokens.map((token) => {
      const status = tokenStatus(token);
      const label = token.description ? `${shortId(token.id)} (${token.description})` : shortId(token.id);
      const blocked = status === 'blocked';
      const action =
        blocked || status === 'active' || status === 'used-up'
          ? h(
              'fluent-button',
              { id: `${blocked ? 'unblock' : 'block'}-${token.id}`, size: 'small', class: blocked ? undefined : 'danger-outline', 'aria-label': `${blocked ? 'Unblock' : 'Block'} token ${label}` },
              blocked ? 'Unblock' : 'Block',
            )
          : null;
      action?.addEventListener('click', () => void setBlocked(token, !blocked, action));
      return h(
        'tr',
        { 'data-token-id': token.id, 'data-status': status },
        cell('Status', {}, h('fluent-badge', { appearance: 'tint', color: statusColor[status], class: 'status' }, statusWords[status])),
        cell('Description', {}, token.description ?? h('span', { class: 'secondary' }, 'No description')),
        cell('Uses / max', { class: 'nowrap' }, `${count(token.uses)} / ${token.maxUses === null ? 'no limit' : count(token.maxUses)}`),
        cell('Issued', {}, timeElement(token.issuedAt)),
        cell('Expires', {}, timeElement(token.expiresAt, { relative: true })),
        cell('Tracking id', { class: 'mono' }, token.id),
        cell('Actions', { class: 'actions' }, action ?? h('span', { class: 'secondary' }, 'None (expired)')),
      );
    });
    replaceChildren(tableArea, dataTable('bulk-token-table', `${plural(tokens.length, 'bulk token')}, newest first`, ['Status', 'Description', 'Uses / max', 'Issued', 'Expires', 'Tracking id', 'Actions'], rows));
  }

  async function refresh(options: { quiet?: boolean; focusId?: string } = {}): Promise<void> {
    if (!options.quiet) showLoading(tableArea, 'Loading bulk tokens…');
    try {
      const page = await api.listBulkTokens();
      const tokens = [...page.items].sort((a, b) => b.issuedAt.localeCompare(a.issuedAt));
      doneLoading(tableArea);
      render(tokens);
      if (!options.quiet) announce(`${plural(tokens.length, 'bulk token')} listed`);
      if (options.focusId) document.getElementById(options.focusId)?.focus();
    } catch (error) {
      showFailed(tableArea, 'The bulk tokens');
      showError(errors, error, 'Cannot list the bulk tokens');
    }
  }

  const element = h(
    'div',
    {},
    h('h2', { id: 'tokens-title' }, 'Bulk registration tokens'),
    errors,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'create-token-title' },
      h('h3', { id: 'create-token-title' }, 'Create a token'),
      form,
      h('p', { class: 'hint', id: 'token-form-hint' }, 'Lifetime from 1 to 10,080 minutes (7 days); 4,320 is 3 days. Max uses: distinct devices, empty for no limit.'),
    ),
    created,
    h('section', { class: 'card', 'aria-label': 'Bulk token list' }, tableArea),
  );
  return {
    element,
    show: () => {
      clearError(errors);
      return refresh();
    },
  };
}

function wholeNumber(text: string): number | undefined {
  const normalized = text.replace(/[\s,_]/g, '');
  return /^\d{1,9}$/.test(normalized) ? Number(normalized) : undefined;
}
