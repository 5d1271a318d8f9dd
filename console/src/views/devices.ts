import { h, replaceChildren, valueOf } from '../dom.js';
import { plural, shortId, timeElement, utcTime } from '../format.js';
import { ApiError, type Api, type Device, type DeviceStatus } from '../api.js';
import { announce, clearError, notify, showError } from '../announce.js';
import { confirmDialog } from '../dialog.js';
import { copyButton } from '../copy.js';
import { doneLoading, showFailed, showLoading } from '../loading.js';
import { navigate, routeHash, type Route } from '../router.js';
import { cell, dataTable } from '../table.js';

const pageSize = 25;
const statusColor: Record<DeviceStatus, string> = { active: 'success', pending: 'warning', revoked: 'danger' };
const statusWords: Record<DeviceStatus, string> = { active: 'active', pending: 'pending approval', revoked: 'revoked' };
const statuses: readonly DeviceStatus[] = ['active', 'pending', 'revoked'];

/** A device id, a SHA-256 thumbprint (base64url) or a SHA-1 thumbprint (hex) is looked up, anything else is a name. */
const exactLookup = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[\w-]{43}|[0-9a-f]{40})$/i;

export function registrationText(device: Device): string {
  if (device.registration === 'bulk') return device.bulkTokenId ? `bulk token ${device.bulkTokenId}` : 'bulk token';
  if (device.registration === 'internal') return 'internal network';
  return device.registration;
}

function registrationWords(device: Device): string {
  return device.registration === 'bulk' ? 'Bulk token' : device.registration === 'internal' ? 'Internal network' : device.registration;
}

function displayName(device: Device): string {
  return device.name ?? `Unnamed device ${shortId(device.deviceId)}`;
}

const reported = (value: string | null | undefined) => (value ? value : h('span', { class: 'secondary' }, 'not reported'));

/**
 * Devices: newest registration first, filtered by status and name (a prefix), found by id or
 * thumbprint, paged with the service's continuation (a stack of those seen gives "Previous");
 * a detail view per device with everything the service returns; approve and revoke.
 */
export function devicesView(api: Api): { element: HTMLElement; show: (route: Route) => Promise<void> } {
  const errors = h('div', { class: 'errors' });
  const tableArea = h('div', { class: 'table-wrap', id: 'device-list' });
  const pager = h('div', { class: 'pager' });

  const status = h(
    'select',
    { id: 'device-status', name: 'status' },
    h('option', { value: '' }, 'All'),
    h('option', { value: 'active' }, 'Active'),
    h('option', { value: 'pending' }, 'Pending approval'),
    h('option', { value: 'revoked' }, 'Revoked'),
  );
  const search = h('fluent-text-input', { id: 'device-search', name: 'find', autocomplete: 'off', placeholder: 'Name, device id or thumbprint' }, 'Find a device') as HTMLElement & { value: string };
  const findButton = h('fluent-button', { id: 'device-find', type: 'submit', appearance: 'primary' }, 'Find');
  const clearButton = h('fluent-button', { id: 'device-find-clear', appearance: 'secondary' }, 'Show all');

  /** The list's filters, as the URL has them. */
  let filters = { status: '', name: '' };
  const listHash = () => routeHash('devices', filters);

  status.addEventListener('change', () => navigate(routeHash('devices', { status: status.value, name: filters.name })));
  clearButton.addEventListener('click', () => navigate(routeHash('devices')));
  const filterForm = h(
    'form',
    {
      class: 'form-row',
      novalidate: true,
      role: 'search',
      'aria-label': 'Devices',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const wanted = valueOf(search);
        if (exactLookup.test(wanted)) navigate(routeHash('device', {}, wanted));
        else navigate(routeHash('devices', { status: status.value, name: wanted }));
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'device-status' }, 'Status'), status),
    h('div', { class: 'field wide' }, search),
    findButton,
    clearButton,
  );

  const listSection = h(
    'div',
    { id: 'devices-list-view' },
    h('h2', {}, 'Devices'),
    h('section', { class: 'card', 'aria-label': 'Filter and find' }, filterForm, h('p', { class: 'hint' }, 'A name finds the devices whose name starts with it; a device id or a certificate thumbprint (SHA-1 as Windows shows it, or SHA-256) opens that device.')),
    h('section', { class: 'card', 'aria-label': 'Device list' }, tableArea, pager),
  );
  const detailSection = h('div', { id: 'device-detail-view', hidden: true });

  /** Continuations of the pages before the current one; the last is the current page's. */
  let trail: (string | undefined)[] = [];

  async function load(nextTrail: (string | undefined)[], options: { quiet?: boolean; focusId?: string } = {}): Promise<void> {
    clearError(errors);
    const continuation = nextTrail[nextTrail.length - 1];
    const selected = statuses.find((s) => s === filters.status);
    if (!options.quiet) {
      showLoading(tableArea, 'Loading devices…');
      replaceChildren(pager);
    }
    try {
      const page = await api.listDevices({ ...(selected ? { status: selected } : {}), ...(filters.name ? { name: filters.name } : {}), limit: pageSize, ...(continuation ? { continuation } : {}) });
      trail = nextTrail.length === 0 ? [undefined] : nextTrail;
      doneLoading(tableArea);
      const what = [selected ? `(${statusWords[selected]})` : '', filters.name ? `named “${filters.name}…”` : ''].filter(Boolean).join(' ');
      // Newest registration first is the service's order; sorting the page keeps it so with a
      // service from before that order was promised.
      const devices = [...page.items].sort((a, b) => Date.parse(b.registeredAt) - Date.parse(a.registeredAt));
      render(devices, `${plural(page.items.length, 'device')}${what ? ` ${what}` : ''}, newest first, page ${trail.length}`);
      renderPager(page.continuation);
      if (!options.quiet) announce(`${plural(page.items.length, 'device')} listed, page ${trail.length}${page.continuation ? '; more on the next page' : ''}`);
      if (options.focusId) (document.getElementById(options.focusId) ?? pager.querySelector('fluent-button'))?.focus();
    } catch (error) {
      showFailed(tableArea, 'The devices');
      replaceChildren(pager);
      showError(errors, error, 'Cannot list the devices');
    }
  }

  function renderPager(next: string | undefined): void {
    const previous = h('fluent-button', { id: 'devices-previous', appearance: 'secondary', }, 'Previous page');
    previous.addEventListener('click', () => void load(trail.slice(0, -1), { focusId: 'devices-previous' }));
    const following = h('fluent-button', { id: 'devices-next', appearance: 'secondary' }, 'Next page');
    following.addEventListener('click', () => void load([...trail, next], { focusId: 'devices-next' }));
    // Only the moves that exist: a disabled Fluent button is not disabled to assistive technology.
    replaceChildren(pager, trail.length > 1 ? previous : null, h('span', {}, `Page ${trail.length}`), next === undefined ? null : following);
  }

  async function approve(device: Device, button: HTMLElement, after: () => Promise<void>): Promise<void> {
    clearError(errors);
    button.setAttribute('disabled', '');
    try {
      await api.approveDevice(device.deviceId);
      notify('success', `Device ${displayName(device)} approved`, 'It gets its device token on its next call.');
      await after();
    } catch (error) {
      showError(errors, error, 'Cannot approve the device');
      button.removeAttribute('disabled');
    }
  }

  async function revoke(device: Device, button: HTMLElement, after: () => Promise<void>): Promise<void> {
    const confirmed = await confirmDialog({
      id: 'revoke-dialog',
      title: 'Revoke this device?',
      body: [
        h('p', {}, `${displayName(device)} (${device.deviceId}) can no longer renew or authenticate, on every instance, from now on. Its certificate can never register again.`),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Name (reported)'),
          h('dd', {}, reported(device.name)),
          h('dt', {}, 'Device id'),
          h('dd', { class: 'mono' }, device.deviceId),
          h('dt', {}, 'Registered'),
          h('dd', {}, timeElement(device.registeredAt), ` through ${registrationText(device)}`),
          h('dt', {}, 'Status'),
          h('dd', {}, statusWords[device.status]),
          h('dt', {}, device.thumbprintSha1 ? 'Thumbprint (SHA-1)' : 'Thumbprint (SHA-256)'),
          h('dd', { class: 'mono' }, device.thumbprintSha1 ?? device.thumbprint),
        ),
      ],
      confirm: 'Revoke device',
      danger: true,
      returnFocus: button,
    });
    if (!confirmed) {
      notify('info', 'Revocation cancelled', `${displayName(device)} is unchanged.`);
      return;
    }
    clearError(errors);
    try {
      await api.revokeDevice(device.deviceId);
      notify('success', `Device ${displayName(device)} revoked`, 'It can no longer renew or authenticate.');
      await after();
    } catch (error) {
      showError(errors, error, 'Cannot revoke the device');
    }
  }

  function actionsFor(device: Device, after: () => Promise<void>, prefix = ''): HTMLElement[] {
    const actions: HTMLElement[] = [];
    if (device.status === 'pending') {
      const button = h('fluent-button', { id: `${prefix}approve-${device.deviceId}`, size: 'small', appearance: 'primary', 'aria-label': `Approve device ${displayName(device)}` }, 'Approve');
      button.addEventListener('click', () => void approve(device, button, after));
      actions.push(button);
    }
    if (device.status !== 'revoked') {
      const button = h('fluent-button', { id: `${prefix}revoke-${device.deviceId}`, size: 'small', class: 'danger-outline', 'aria-label': `Revoke device ${displayName(device)}` }, 'Revoke');
      button.addEventListener('click', () => void revoke(device, button, after));
      actions.push(button);
    }
    return actions;
  }

  function render(devices: Device[], caption: string): void {
    if (devices.length === 0) {
      const filtered = filters.status !== '' || filters.name !== '';
      replaceChildren(
        tableArea,
        h(
          'p',
          { class: 'empty', id: 'device-empty' },
          filtered
            ? 'No device matches these filters. Show all, or search for the start of another name.'
            : 'No devices yet. A device appears here when it registers: on the internal network (cmg-client register --internal, approved here when approval is manual), or from anywhere with a bulk token from the Bulk tokens view.',
        ),
      );
      return;
    }
    const rows = devices.map((device) =>
      h(
        'tr',
        { 'data-device-id': device.deviceId, 'data-status': device.status },
        cell(
          'Name',
          { class: 'name' },
          h('a', { href: routeHash('device', {}, device.deviceId), id: `open-${device.deviceId}`, class: device.name ? undefined : 'unnamed' }, device.name ?? 'Unnamed device'),
          h('span', { class: 'secondary mono', title: device.deviceId }, shortId(device.deviceId)),
        ),
        cell('Status', {}, h('fluent-badge', { appearance: 'tint', color: statusColor[device.status], class: 'status' }, statusWords[device.status])),
        cell('OS', {}, reported(device.os)),
        cell('Client version', {}, reported(device.clientVersion)),
        cell('Last seen', {}, device.lastSeenAt ? timeElement(device.lastSeenAt, { relative: true }) : h('span', { class: 'secondary' }, 'unknown')),
        cell('Registered', {}, timeElement(device.registeredAt), h('span', { class: 'secondary' }, registrationWords(device))),
        cell('Actions', { class: 'actions' }, ...actionsFor(device, () => load(trail, { quiet: true }))),
      ),
    );
    replaceChildren(tableArea, dataTable('device-table', caption, ['Name', 'Status', 'OS', 'Client version', 'Last seen', 'Registered', 'Actions'], rows), h('p', { class: 'hint' }, 'Name, OS and client version are what each device reports about itself, not verified by the service.'));
  }

  async function showDevice(id: string): Promise<void> {
    clearError(errors);
    listSection.hidden = true;
    detailSection.hidden = false;
    const back = h('a', { href: listHash(), class: 'back', id: 'device-back' }, '← All devices');
    const body = h('div', { class: 'card', id: 'device-detail' });
    replaceChildren(detailSection, back, h('h2', { id: 'device-title' }, 'Device'), body);
    showLoading(body, 'Loading the device…');
    let device: Device;
    try {
      device = await api.findDevice(id);
    } catch (error) {
      showFailed(body, 'The device');
      showError(errors, error, error instanceof ApiError && error.status === 404 ? `No device has the id or thumbprint ${id}` : 'Cannot show the device');
      return;
    }
    doneLoading(body);
    const title = document.getElementById('device-title');
    if (title) title.textContent = device.name ?? 'Unnamed device';
    const known = new Set(['deviceId', 'name', 'os', 'clientVersion', 'status', 'registration', 'bulkTokenId', 'registeredAt', 'lastSeenAt', 'expiresAt', 'thumbprintSha1', 'thumbprint']);
    const facts: [string, Node | string][] = [
      ['Name (reported by the device)', reported(device.name)],
      ['Operating system (reported)', reported(device.os)],
      ['Client version (reported)', reported(device.clientVersion)],
      ['Status', h('fluent-badge', { appearance: 'tint', color: statusColor[device.status], class: 'status' }, statusWords[device.status])],
      ['Device id', withCopy(device.deviceId, 'Copy device id', 'device-id')],
      ['Registered through', device.registration === 'bulk' ? h('span', {}, 'Bulk token ', h('span', { class: 'mono', id: 'device-bulk-token' }, device.bulkTokenId ?? '(not recorded)')) : registrationWords(device)],
      ['Registered', timeWithUtc(device.registeredAt)],
      ['Last seen', device.lastSeenAt ? timeWithUtc(device.lastSeenAt) : 'unknown (this service does not report it)'],
      ['Device token expires', timeWithUtc(device.expiresAt)],
      ['Certificate thumbprint (SHA-1, as Windows shows it)', device.thumbprintSha1 ? withCopy(device.thumbprintSha1, 'Copy SHA-1 thumbprint', 'device-sha1') : 'not reported by this service'],
      ['Certificate thumbprint (SHA-256, base64url)', withCopy(device.thumbprint, 'Copy SHA-256 thumbprint', 'device-sha256')],
      // Whatever else the service returns is shown too, as it came.
      ...Object.entries(device)
        .filter(([name]) => !known.has(name))
        .map(([name, value]): [string, string] => [name, typeof value === 'string' ? value : JSON.stringify(value)]),
    ];
    const actions = actionsFor(device, () => showDevice(id), 'detail-');
    replaceChildren(
      body,
      h('dl', { class: 'facts', id: 'device-facts' }, ...facts.flatMap(([name, value]) => [h('dt', {}, name), h('dd', {}, value)])),
      h('p', { class: 'hint' }, 'Name, operating system and client version are what the device reported when it registered or last renewed; the service does not verify them. Times are in your time zone; hover for UTC.'),
      actions.length > 0 ? h('div', { class: 'detail-actions' }, ...actions) : null,
    );
    announce(`Device ${device.name ?? device.deviceId}, ${statusWords[device.status]}`);
  }

  const element = h('div', {}, errors, listSection, detailSection);
  return {
    element,
    show: async (route: Route) => {
      if (route.view === 'device') return showDevice(route.id);
      listSection.hidden = false;
      detailSection.hidden = true;
      filters = { status: statuses.find((s) => s === route.params.get('status')) ?? '', name: (route.params.get('name') ?? '').trim().slice(0, 64) };
      status.value = filters.status;
      search.value = filters.name;
      return load([]);
    },
  };
}

function timeWithUtc(iso: string): HTMLElement {
  return h('span', {}, timeElement(iso, { relative: true }), h('span', { class: 'secondary utc' }, utcTime(iso)));
}

function withCopy(text: string, label: string, id: string): HTMLElement {
  const value = h('span', { class: 'mono', id }, text);
  return h('span', { class: 'copyable' }, value, copyButton(text, label, `${id}-copy`, value));
}
