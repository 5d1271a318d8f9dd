import { h, replaceChildren, valueOf } from '../dom.js';
import { count, localTime, relativeTime, shortId } from '../format.js';
import { ApiError, type Api, type Device, type DeviceStatus } from '../api.js';
import { announce, clearError, showError } from '../announce.js';
import { confirmDialog } from '../dialog.js';

const pageSize = 25;
const statusColor: Record<DeviceStatus, string> = { active: 'success', pending: 'warning', revoked: 'danger' };

export function registrationText(device: Device): string {
  if (device.registration === 'bulk') return device.bulkTokenId ? `bulk token ${device.bulkTokenId}` : 'bulk token';
  if (device.registration === 'internal') return 'internal network';
  return device.registration;
}

/**
 * Devices: filter by status, find one by device id or thumbprint, page with the service's
 * continuation (a stack of the continuations seen gives "Previous"), approve, revoke.
 */
export function devicesView(api: Api): { element: HTMLElement; refresh: () => Promise<void> } {
  const errors = h('div', { class: 'errors' });
  const tableArea = h('div', { class: 'table-wrap' });
  const pager = h('div', { class: 'pager' });

  const status = h(
    'select',
    { id: 'device-status', name: 'status' },
    h('option', { value: '' }, 'All'),
    h('option', { value: 'active' }, 'Active'),
    h('option', { value: 'pending' }, 'Pending approval'),
    h('option', { value: 'revoked' }, 'Revoked'),
  );
  status.addEventListener('change', () => {
    search.value = '';
    void load([]);
  });
  const search = h('fluent-text-input', { id: 'device-search', name: 'find', autocomplete: 'off', placeholder: 'Device id or thumbprint' }, 'Find a device') as HTMLElement & { value: string };
  const findButton = h('fluent-button', { id: 'device-find', type: 'submit', appearance: 'primary' }, 'Find');
  const clearButton = h('fluent-button', { id: 'device-find-clear', appearance: 'secondary' }, 'Show all');
  clearButton.addEventListener('click', () => {
    search.value = '';
    void load([]);
  });

  const filters = h(
    'form',
    { class: 'form-row', novalidate: true, role: 'search', 'aria-label': 'Devices', onsubmit: (event: Event) => void find(event) },
    h('div', { class: 'field' }, h('label', { for: 'device-status' }, 'Status'), status),
    h('div', { class: 'field wide' }, search),
    findButton,
    clearButton,
  );

  /** Continuations of the pages before the current one; the last is the current page's. */
  let trail: (string | undefined)[] = [];

  async function load(nextTrail: (string | undefined)[], options: { quiet?: boolean; focusId?: string } = {}): Promise<void> {
    clearError(errors);
    const continuation = nextTrail[nextTrail.length - 1];
    const selected = status.value as DeviceStatus | '';
    try {
      const page = await api.listDevices({ ...(selected === '' ? {} : { status: selected }), limit: pageSize, ...(continuation ? { continuation } : {}) });
      trail = nextTrail.length === 0 ? [undefined] : nextTrail;
      render(page.items, `${count(page.items.length)} device${page.items.length === 1 ? '' : 's'}${selected ? ` (${selected})` : ''}, page ${trail.length}`);
      renderPager(page.continuation);
      if (!options.quiet) announce(`${count(page.items.length)} device${page.items.length === 1 ? '' : 's'} listed, page ${trail.length}${page.continuation ? '; more on the next page' : ''}`);
      if (options.focusId) document.getElementById(options.focusId)?.focus();
    } catch (error) {
      showError(errors, error, 'Cannot list the devices');
    }
  }

  async function find(event: Event): Promise<void> {
    event.preventDefault();
    const wanted = valueOf(search);
    if (wanted === '') return load([]);
    clearError(errors);
    try {
      const device = await api.findDevice(wanted);
      render([device], `Device ${device.deviceId}`);
      replaceChildren(pager);
      announce(`Found device ${device.deviceId}, ${device.status}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        render([], 'No device found');
        replaceChildren(pager);
        announce(`No device has the id or thumbprint ${wanted}`);
        showError(errors, error, 'No such device');
        return;
      }
      showError(errors, error, 'Cannot find the device');
    }
  }

  function renderPager(next: string | undefined): void {
    const previous = h('fluent-button', { id: 'devices-previous', appearance: 'secondary', disabled: trail.length <= 1 }, 'Previous page');
    previous.addEventListener('click', () => void load(trail.slice(0, -1), { focusId: 'devices-previous' }));
    const following = h('fluent-button', { id: 'devices-next', appearance: 'secondary', disabled: next === undefined }, 'Next page');
    following.addEventListener('click', () => void load([...trail, next], { focusId: 'devices-next' }));
    replaceChildren(pager, previous, h('span', {}, `Page ${trail.length}`), following);
  }

  async function approve(device: Device, button: HTMLElement): Promise<void> {
    clearError(errors);
    button.setAttribute('disabled', '');
    try {
      await api.approveDevice(device.deviceId);
      announce(`Device ${device.deviceId} approved; it gets its token on its next call`);
      await reload();
    } catch (error) {
      showError(errors, error, 'Cannot approve the device');
      button.removeAttribute('disabled');
    }
  }

  async function revoke(device: Device, button: HTMLElement): Promise<void> {
    const confirmed = await confirmDialog({
      id: 'revoke-dialog',
      title: 'Revoke this device?',
      body: [
        h('p', {}, `The device ${device.deviceId} can no longer renew or authenticate, on every instance, from now on. Its certificate can never register again.`),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Device id'),
          h('dd', { class: 'mono' }, device.deviceId),
          h('dt', {}, 'Registered'),
          h('dd', {}, `${localTime(device.registeredAt)} through ${registrationText(device)}`),
          h('dt', {}, 'Status'),
          h('dd', {}, device.status),
          h('dt', {}, 'Thumbprint'),
          h('dd', { class: 'mono' }, device.thumbprint),
        ),
      ],
      confirm: 'Revoke device',
      returnFocus: button,
    });
    if (!confirmed) {
      announce('Revocation cancelled');
      return;
    }
    clearError(errors);
    try {
      await api.revokeDevice(device.deviceId);
      announce(`Device ${device.deviceId} revoked`);
      await reload();
    } catch (error) {
      showError(errors, error, 'Cannot revoke the device');
    }
  }

  async function reload(): Promise<void> {
    const wanted = valueOf(search);
    if (wanted !== '') {
      try {
        const device = await api.findDevice(wanted);
        render([device], `Device ${device.deviceId}`);
      } catch (error) {
        showError(errors, error, 'Cannot show the device');
      }
      return;
    }
    await load(trail, { quiet: true });
  }

  function render(devices: Device[], caption: string): void {
    if (devices.length === 0) {
      replaceChildren(tableArea, h('p', { class: 'empty' }, caption === 'No device found' ? caption : 'No devices on this page.'));
      return;
    }
    const rows = devices.map((device) => {
      const actions: HTMLElement[] = [];
      if (device.status === 'pending') {
        const button = h('fluent-button', { id: `approve-${device.deviceId}`, size: 'small', appearance: 'primary', 'aria-label': `Approve device ${device.deviceId}` }, 'Approve');
        button.addEventListener('click', () => void approve(device, button));
        actions.push(button);
      }
      if (device.status !== 'revoked') {
        const button = h('fluent-button', { id: `revoke-${device.deviceId}`, size: 'small', 'aria-label': `Revoke device ${device.deviceId}` }, 'Revoke');
        button.addEventListener('click', () => void revoke(device, button));
        actions.push(button);
      }
      return h(
        'tr',
        { 'data-device-id': device.deviceId },
        h('td', { class: 'mono' }, device.deviceId),
        h('td', {}, h('fluent-badge', { appearance: 'tint', color: statusColor[device.status] }, device.status === 'pending' ? 'pending approval' : device.status)),
        h(
          'td',
          {},
          device.registration === 'bulk' ? 'Bulk token' : device.registration === 'internal' ? 'Internal network' : device.registration,
          device.bulkTokenId ? h('span', { class: 'secondary mono' }, device.bulkTokenId) : null,
        ),
        h('td', { class: 'mono' }, h('span', { title: device.thumbprint }, shortId(device.thumbprint, 12)), h('span', { class: 'visually-hidden' }, ` full thumbprint ${device.thumbprint}`)),
        h('td', {}, localTime(device.registeredAt)),
        h('td', {}, localTime(device.expiresAt), h('span', { class: 'secondary' }, relativeTime(device.expiresAt))),
        h('td', { class: 'actions' }, ...actions),
      );
    });
    replaceChildren(
      tableArea,
      h(
        'table',
        { id: 'device-table' },
        h('caption', {}, caption),
        h('thead', {}, h('tr', {}, ...['Device id', 'Status', 'Registered through', 'Thumbprint', 'Registered', 'Expires', 'Actions'].map((title) => h('th', { scope: 'col' }, title)))),
        h('tbody', {}, ...rows),
      ),
    );
  }

  const element = h(
    'div',
    {},
    h('h2', {}, 'Devices'),
    errors,
    h('section', { class: 'card', 'aria-label': 'Filter and find' }, filters),
    h('section', { class: 'card', 'aria-label': 'Device list' }, tableArea, pager),
  );
  return { element, refresh: () => (valueOf(search) === '' ? load([]) : reload()) };
}
