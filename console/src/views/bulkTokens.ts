import { h, replaceChildren, valueOf } from '../dom.js';
import { count, localTime, relativeTime, shortId } from '../format.js';
import type { Api, BulkToken, IssuedBulkToken } from '../api.js';
import { announce, clearError, showError } from '../announce.js';
import { copyButton } from '../copy.js';

const statusColor: Record<BulkToken['status'], string> = { active: 'success', blocked: 'danger', expired: 'subtle' };

/**
 * Bulk registration tokens: the list (never the tokens themselves, which the service does not
 * keep), create one and show it once, block and unblock.
 */
export function bulkTokensView(api: Api): { element: HTMLElement; refresh: () => Promise<void> } {
  const errors = h('div', { class: 'errors' });
  const created = h('div', { id: 'new-token-area' });
  const tableArea = h('div', { class: 'table-wrap' });

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
    try {
      const issued = await api.createBulkToken({ lifetimeMinutes: minutes, ...(uses === undefined ? {} : { maxUses: uses }), ...(text === '' ? {} : { description: text }) });
      showOnce(issued);
      announce(`Bulk token created; it expires ${relativeTime(issued.expiresAt)}. Copy it now: it is shown only once.`);
      await refresh({ quiet: true });
    } catch (error) {
      showError(errors, error, 'Cannot create the token');
    } finally {
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
      announce('The new token was removed from the page');
      createButton.focus();
    });
    const card = h(
      'section',
      { class: 'card new-token', 'aria-labelledby': 'new-token-title', tabindex: '-1', id: 'new-token' },
      h('h3', { id: 'new-token-title' }, 'New bulk registration token'),
      h(
        'p',
        {},
        `Tracking id ${issued.id}; expires ${localTime(issued.expiresAt)} (${relativeTime(issued.expiresAt)}). `,
        h('strong', {}, 'This is the only time the token is shown: copy it now.'),
      ),
      ...lines.flatMap((line) => [
        h('span', { class: 'secondary', id: `${line.id}-label` }, line.label),
        h('div', { class: 'secret-row' }, h('code', { id: line.id, 'aria-labelledby': `${line.id}-label` }, line.text), copyButton(line.text, line.copy, `${line.id}-copy`)),
      ]),
      h('p', { class: 'hint' }, 'ccmsetup needs your usual /mp, CCMHOSTNAME and SMSSiteCode properties as well.'),
      done,
    );
    replaceChildren(created, card);
    card.focus();
  }

  async function setBlocked(token: BulkToken, blocked: boolean, button: HTMLElement): Promise<void> {
    clearError(errors);
    button.setAttribute('disabled', '');
    try {
      await api.setBulkTokenBlocked(token.id, blocked);
      announce(`Token ${shortId(token.id)} ${blocked ? 'blocked' : 'unblocked'}`);
      await refresh({ quiet: true, focusId: `${blocked ? 'unblock' : 'block'}-${token.id}` });
    } catch (error) {
      showError(errors, error, `Cannot ${blocked ? 'block' : 'unblock'} the token`);
      button.removeAttribute('disabled');
    }
  }

  function render(tokens: BulkToken[]): void {
    if (tokens.length === 0) {
      replaceChildren(tableArea, h('p', { class: 'empty' }, 'No bulk tokens yet. Create one above.'));
      return;
    }
    const rows = tokens.map((token) => {
      const label = token.description ? `${shortId(token.id)} (${token.description})` : shortId(token.id);
      const blocked = token.status === 'blocked';
      const action =
        blocked || token.status === 'active'
          ? h('fluent-button', { id: `${blocked ? 'unblock' : 'block'}-${token.id}`, size: 'small', 'aria-label': `${blocked ? 'Unblock' : 'Block'} token ${label}` }, blocked ? 'Unblock' : 'Block')
          : null;
      action?.addEventListener('click', () => void setBlocked(token, !blocked, action));
      return h(
        'tr',
        { 'data-token-id': token.id },
        h('td', {}, h('fluent-badge', { appearance: 'tint', color: statusColor[token.status] }, token.status)),
        h('td', {}, `${count(token.uses)} / ${token.maxUses === null ? 'no limit' : count(token.maxUses)}`),
        h('td', {}, localTime(token.issuedAt)),
        h('td', {}, localTime(token.expiresAt), h('span', { class: 'secondary' }, relativeTime(token.expiresAt))),
        h('td', {}, token.description ?? ''),
        h('td', { class: 'mono' }, token.id),
        h('td', { class: 'actions' }, action),
      );
    });
    replaceChildren(
      tableArea,
      h(
        'table',
        { id: 'bulk-token-table' },
        h('caption', {}, `${count(tokens.length)} bulk token${tokens.length === 1 ? '' : 's'}, newest first`),
        h('thead', {}, h('tr', {}, ...['Status', 'Uses / max', 'Issued', 'Expires', 'Description', 'Tracking id', 'Actions'].map((title) => h('th', { scope: 'col' }, title)))),
        h('tbody', {}, ...rows),
      ),
    );
  }

  async function refresh(options: { quiet?: boolean; focusId?: string } = {}): Promise<void> {
    try {
      const page = await api.listBulkTokens();
      const tokens = [...page.items].sort((a, b) => b.issuedAt.localeCompare(a.issuedAt));
      render(tokens);
      if (!options.quiet) announce(`${count(tokens.length)} bulk token${tokens.length === 1 ? '' : 's'} listed`);
      if (options.focusId) document.getElementById(options.focusId)?.focus();
    } catch (error) {
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
  return { element, refresh: () => refresh() };
}

function wholeNumber(text: string): number | undefined {
  const normalized = text.replace(/[\s,_]/g, '');
  return /^\d{1,9}$/.test(normalized) ? Number(normalized) : undefined;
}
