import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { projectRoot, startLocalHost, type LocalHost } from './support/localHost.js';
import { uniqueTablePrefix } from './support/services.js';
import { onCi } from './support/ci.js';

/**
 * Requirement (issues 15 and 21): the console works in a real browser against the local host —
 * sign in with the admin key, create / copy / block / unblock a bulk token, see devices the
 * CLI registered (name, OS, client version, last seen; found by name; a detail view with every
 * field), approve a pending one, revoke one after a confirmation that has focus on Cancel, and
 * find every action, in words, in the audit view with actor "admin key". Every action's result
 * is shown (a message bar) as well as announced; a failed load clears the list and says what
 * to do; the view and its filters live in the URL; a dark theme follows the system; on a phone
 * nothing needs sideways scrolling. Each view, light and dark, 1280 and 390 wide, is checked
 * by axe-core (no serious or critical violation), and photographed when asked: into
 * docs/images/console with UPDATE_SCREENSHOTS=1 (the README shows some), or SCREENSHOT_DIR. Every request the page
 * makes goes to the service, the page carries its CSP, and it weighs under 200 KB gzipped.
 * Every wait is on what the page shows; deadlines are hang guards only.
 */

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium) {
  if (onCi) throw new Error(`Chromium is missing at ${chromiumPath}; CI installs it (.ci/run: apt-get install -y chromium)`);
  process.stderr.write(`console.browser.test.ts skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH)\n`);
}
const describeWithBrowser = haveChromium ? describe : describe.skip;

const run = promisify(execFile);
// Full-page screenshots cost a few seconds a run: taken when asked for (UPDATE_SCREENSHOTS=1
// renews docs/images/console, SCREENSHOT_DIR=<folder> writes them elsewhere).
const screenshotDir = process.env.UPDATE_SCREENSHOTS === '1' ? join(projectRoot, 'docs', 'images', 'console') : process.env.SCREENSHOT_DIR;
const axeSource = readFileSync(join(projectRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

async function cmgClient(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(projectRoot, 'dist', 'cli', 'cmgClient.js'), ...args], { cwd: projectRoot, timeout: 20_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

function deviceIdIn(output: string): string {
  const match = /device ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.exec(output);
  if (!match?.[1]) throw new Error(`no device id in the CLI's output:\n${output}`);
  return match[1];
}

interface ApiDevice {
  deviceId: string;
  status: string;
  thumbprint: string;
  thumbprintSha1?: string;
  bulkTokenId?: string;
  name?: string | null;
  os?: string | null;
  clientVersion?: string | null;
  lastSeenAt?: string;
  registeredAt: string;
  expiresAt: string;
}

describeWithBrowser('the console in headless Chromium', () => {
  let host: LocalHost;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  const cspViolations: string[] = [];
  const desktop = { width: 1280, height: 860 };
  const phone = { width: 390, height: 844 };

  beforeAll(async () => {
    [host, browser] = await Promise.all([
      // Manual approval, so an internal registration waits for the administrator.
      startLocalHost({ APPROVAL_MODE: 'manual', STORAGE_CONNECTION: process.env.TEST_STORAGE_CONNECTION ?? '', TABLE_PREFIX: uniqueTablePrefix() }),
      // --no-sandbox: CI containers run Chromium as root, where its sandbox cannot start.
      chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] }),
    ]);
    // A zone an hour from UTC, so "local time with its zone" and "UTC on hover" differ.
    // Reduced motion: Fluent then switches colours without transitions, so a screenshot or an axe
    // contrast check right after a theme change sees the theme's own colours, not a blend.
    context = await browser.newContext({ viewport: desktop, locale: 'en-US', timezoneId: 'Europe/Berlin', colorScheme: 'light', reducedMotion: 'reduce' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(host.url).origin });
    page = await context.newPage();
    page.setDefaultTimeout(8_000);
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await host?.stop();
  });

  const origin = () => new URL(host.url).origin;
  const consoleUrl = () => `${host.url}/api/console`;
  const notice = () => page.locator('#notices');
  const adminGet = async <T>(path: string): Promise<T> => (await (await fetch(`${host.url}${path}`, { headers: { authorization: `Bearer ${host.adminKey}` } })).json()) as T;

  /** Goes to a view through the URL and waits until the page says it has loaded it. */
  async function go(hash: string): Promise<void> {
    await page.evaluate(`location.hash === ${JSON.stringify(hash)} ? window.dispatchEvent(new HashChangeEvent('hashchange')) : (location.hash = ${JSON.stringify(hash)})`);
    await page.locator(`main[data-shown="${hash}"]:not([aria-busy])`).waitFor();
  }

  /**
   * The view as it is, light and dark, 1280 and 390 wide: a screenshot of each (when asked), axe-core's
   * serious and critical violations (none allowed), no sideways scrolling, every action inside
   * the screen, no status badge wrapped. `reload` loads the view again after a resize (the
   * audit view pages by the screen's size).
   */
  async function checkEverywhere(name: string, reload?: () => Promise<void>): Promise<void> {
    // The pointer away from the rows: a hovered row is another background, checked on its own below.
    await page.mouse.move(0, 0);
    for (const size of [desktop, phone]) {
      await page.setViewportSize(size);
      if (reload) await reload();
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.locator(`html[data-theme="${scheme}"]`).waitFor();
        const where = `${name}, ${scheme}, ${size.width} wide`;
        await screenshot(page, `console-${name}-${scheme}-${size === phone ? 'phone' : 'desktop'}.png`);
        expect({ where, violations: await axeViolations() }).toEqual({ where, violations: [] });
        const layout = await page.evaluate<{ sideways: boolean; offscreen: string[]; wrappedBadges: string[]; background: string }>(`(() => {
          const width = document.documentElement.clientWidth;
          const visible = (e) => e.getClientRects().length > 0;
          return {
            sideways: document.documentElement.scrollWidth > width,
            offscreen: [...document.querySelectorAll('td.actions fluent-button, .detail-actions fluent-button')].filter(visible)
              .filter((b) => { const r = b.getBoundingClientRect(); return r.left < 0 || r.right > width; }).map((b) => b.id),
            wrappedBadges: [...document.querySelectorAll('fluent-badge.status')].filter(visible).filter((b) => b.getBoundingClientRect().height > 26).map((b) => b.textContent),
            background: getComputedStyle(document.body).backgroundColor,
          };
        })()`);
        expect({ where, sideways: layout.sideways, offscreen: layout.offscreen, wrappedBadges: layout.wrappedBadges }).toEqual({ where, sideways: false, offscreen: [], wrappedBadges: [] });
        // Fluent's dark tokens give a near-black page; the light ones a near-white one.
        expect({ where, dark: luminance(layout.background) < 0.2 }).toEqual({ where, dark: scheme === 'dark' });
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize(desktop);
    if (reload) await reload();
  }

  const styleOf = (id: string, property: string) => page.evaluate<string>(`getComputedStyle(document.getElementById(${JSON.stringify(id)}))[${JSON.stringify(property)}]`);

  async function axeViolations(): Promise<string[]> {
    if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.evaluate(axeSource);
    const result = await page.evaluate<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }>(
      "axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] }, resultTypes: ['violations'] })",
    );
    return result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => `${violation.impact} ${violation.id}: ${violation.help} at ${violation.nodes.map((node) => JSON.stringify(node.target)).join(', ')}`);
  }

  it('serves the page with its Content-Security-Policy, and refuses a wrong admin key, title and detail apart', async () => {
    const response = await page.goto(consoleUrl());
    expect(response?.status()).toBe(200);
    const headers = response?.headers() ?? {};
    expect(headers['content-security-policy']).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    expect(headers['x-content-type-options']).toBe('nosniff');

    await page.locator('#admin-key input').fill('not-the-admin-key-but-long-enough-to-look-like-one');
    await page.locator('#admin-key input').press('Enter');
    const error = page.locator('.errors fluent-message-bar[intent="error"]');
    await expectText(error.locator('.error-what'), 'The admin key was refused');
    // The problem's title and detail are separate lines, not one run-on sentence.
    const problem = (await (await fetch(`${host.url}/api/bulk-tokens`, { headers: { authorization: 'Bearer not-the-admin-key-but-long-enough-to-look-like-one' } })).json()) as { title: string; detail: string };
    expect(await error.locator('.error-title').textContent()).toBe(problem.title);
    expect(await error.locator('.error-detail').textContent()).toBe(problem.detail);
    expect(await error.locator('.error-hint').textContent()).toMatch(/Sign in again/);
    // Signing in is refused without storing anything.
    // Page-side expressions are strings: the tests are compiled without the DOM library.
    expect(await page.evaluate('[sessionStorage.length, localStorage.length]')).toEqual([0, 0]);
    await checkEverywhere('sign-in');
  });

  it('signs in with the admin key, kept in sessionStorage only, and lands on the bulk tokens in the URL', async () => {
    await page.locator('#admin-key input').fill(host.adminKey);
    await page.locator('#sign-in-key').click();
    await expectText(page.locator('#session-who'), 'Signed in: admin key');
    expect(await page.evaluate('({ session: Object.values(sessionStorage), local: localStorage.length })')).toEqual({ session: [host.adminKey], local: 0 });
    await page.locator('main[data-shown]:not([aria-busy])').waitFor();
    await expectText(page.locator('#bulk-token-empty'), 'A token appears here when you create one');
  });

  let tokenId = '';
  let token = '';

  it('creates a bulk token, shows it once with the command lines, and copies it (success and refusal shown)', async () => {
    await page.locator('#token-lifetime input').fill('120');
    await page.locator('#token-max-uses input').fill('1');
    await page.locator('#token-description input').fill('browser test rollout');
    await page.locator('#create-token').click();
    await page.locator('#new-token').waitFor();
    await expectText(notice(), 'Bulk token created');
    token = (await page.locator('#new-token-value').textContent()) ?? '';
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(await page.locator('#new-token-ccmsetup').textContent()).toBe(`ccmsetup.exe /regtoken:${token}`);
    expect(await page.locator('#new-token-cmg-client').textContent()).toBe(`cmg-client register --url ${origin()} --regtoken ${token}`);

    await page.locator('#new-token-value-copy').click();
    await expectText(notice(), 'Copied to the clipboard');
    await expectText(page.locator('#new-token-value-copy'), 'Copied');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(token);
    // A browser that refuses the clipboard: the page says so, and selects the text to copy by hand.
    await page.evaluate("navigator.clipboard.writeText = () => Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'))");
    await page.locator('#new-token-ccmsetup-copy').click();
    await expectText(notice(), 'The browser did not allow copying');
    await expectText(notice(), 'press Ctrl+C');
    expect(await page.evaluate('String(window.getSelection())')).toBe(`ccmsetup.exe /regtoken:${token}`);

    const row = page.locator('#bulk-token-table tbody tr', { hasText: 'browser test rollout' });
    await expectText(row, 'active');
    await expectText(row, '0 / 1');
    await expectText(row, 'in 2 hours');
    // Local time with its zone; UTC on hover.
    expect(await row.locator('time').first().textContent()).toMatch(/GMT\+1$/);
    expect(await row.locator('time').first().getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    tokenId = (await row.getAttribute('data-token-id')) ?? '';
    expect(tokenId).toMatch(/^[0-9a-f-]{36}$/);
    await screenshot(page, 'console-new-token-light-desktop.png');

    await page.locator('#new-token-done').click();
    await page.locator('#new-token').waitFor({ state: 'detached' });
    await expectText(notice(), 'removed from the page');
    expect(await page.content()).not.toContain(token);
  });

  it('blocks (a danger-styled button) and unblocks the token, saying so on the page', async () => {
    const row = page.locator(`#bulk-token-table tr[data-token-id="${tokenId}"]`);
    const block = page.locator(`#block-${tokenId}`);
    await block.waitFor();
    expect(isRed(await styleOf(`block-${tokenId}`, 'color'))).toBe(true);
    await block.click();
    await expectText(row, 'blocked');
    await expectText(notice(), 'Token “browser test rollout” blocked');
    await page.locator(`#unblock-${tokenId}`).click();
    await expectText(row, 'active');
    await expectText(notice(), 'unblocked');
  });

  let bulkDevice = '';
  let pendingDevice = '';
  let bulkApi: ApiDevice;

  it('lists the devices the CLI registered, newest first, with what they report, and approves a pending one', async () => {
    await go('#devices');
    await expectText(page.locator('#device-empty'), 'A device appears here when it registers');
    const bulk = await cmgClient('register', '--url', host.url, '--regtoken', token, '--key-type', 'ec', '--name', 'Console Laptop 01', '--state', mkdtempSync(join(tmpdir(), 'cmg-console-dev1-')));
    expect(bulk.code).toBe(0);
    bulkDevice = deviceIdIn(bulk.output);
    const internal = await cmgClient('register', '--url', host.url, '--internal', '--key-type', 'ec', '--name', 'Console Kiosk 02', '--wait', '0', '--state', mkdtempSync(join(tmpdir(), 'cmg-console-dev2-')));
    expect(internal.code).toBe(3); // approval pending
    pendingDevice = deviceIdIn(internal.output);
    bulkApi = await adminGet<ApiDevice>(`/api/devices/${bulkDevice}`);

    // With the keyboard: the tab list moves between views with the arrow keys, and the URL follows.
    await go('#tokens');
    // The token's one use is taken: used up.
    await expectText(page.locator(`#bulk-token-table tr[data-token-id="${tokenId}"]`), 'used up');
    await page.locator('#tab-tokens').focus();
    await page.keyboard.press('ArrowRight');
    await page.locator('main[data-shown="#devices"]:not([aria-busy])').waitFor();
    const bulkRow = page.locator(`#device-table tr[data-device-id="${bulkDevice}"]`);
    await expectText(bulkRow, 'active');
    await expectText(bulkRow, 'Bulk token');
    const pendingRow = page.locator(`#device-table tr[data-device-id="${pendingDevice}"]`);
    await expectText(pendingRow, 'pending approval');
    await expectText(pendingRow, 'Internal network');
    // Newest registration first. Registration times are kept to the second, so two devices
    // registered within one second are in the index's tie order: device id, ascending.
    const pendingApi = await adminGet<ApiDevice>(`/api/devices/${pendingDevice}`);
    const newestFirst = [pendingApi, bulkApi]
      .sort((a, b) => b.registeredAt.localeCompare(a.registeredAt) || a.deviceId.localeCompare(b.deviceId))
      .map((device) => device.deviceId);
    expect(await page.locator('#device-table tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-device-id')))).toEqual(newestFirst);
    // What the device reports (or says it reported nothing), and when it was last seen.
    await expectText(bulkRow.locator('td.name a'), bulkApi.name ?? 'Unnamed device');
    await expectText(bulkRow.locator('td[data-label="OS"]'), bulkApi.os ?? 'not reported');
    await expectText(bulkRow.locator('td[data-label="Client version"]'), bulkApi.clientVersion ?? 'not reported');
    expect(await bulkRow.locator('td[data-label="Last seen"] time').getAttribute('datetime')).toBe(bulkApi.lastSeenAt);
    await expectText(page.locator('#device-list .hint'), 'what each device reports about itself');

    // The pending filter shows only the pending one, and is in the URL: reload and Back keep it.
    await page.locator('#device-status').selectOption('pending');
    await page.locator('main[data-shown="#devices?status=pending"]:not([aria-busy])').waitFor();
    await expectText(page.locator('#device-table caption'), '(pending approval)');
    expect(await page.locator('#device-table tbody tr').count()).toBe(1);
    // "pending approval" stays on one line in its pill, at both widths.
    for (const size of [phone, desktop]) {
      await page.setViewportSize(size);
      const badge = await page.evaluate<{ height: number; text: string }>(
        "(() => { const b = document.querySelector('#device-table fluent-badge.status'); return { height: b.getBoundingClientRect().height, text: b.textContent }; })()",
      );
      expect({ width: size.width, ...badge, wrapped: badge.height > 26 }).toEqual({ width: size.width, height: badge.height, text: 'pending approval', wrapped: false });
    }
    await page.reload();
    await page.locator('main[data-shown="#devices?status=pending"]:not([aria-busy])').waitFor();
    expect(await page.locator('#device-status').inputValue()).toBe('pending');
    expect(await page.locator('#device-table tbody tr').count()).toBe(1);

    await page.locator(`#approve-${pendingDevice}`).click();
    await expectText(notice(), 'approved');
    await expectText(notice(), 'It gets its device token on its next call');
    await page.goBack();
    await page.locator('main[data-shown="#devices"]:not([aria-busy])').waitFor();
    expect(await page.locator('#device-status').inputValue()).toBe('');
    await expectText(page.locator(`#device-table tr[data-device-id="${pendingDevice}"]`), 'active');
  });

  it('finds devices by name, and shows one device with everything the service returns', async () => {
    // The fleet contract: the name, OS and version cmg-client reported (self-asserted), the SHA-1 thumbprint, last seen.
    expect(bulkApi).toEqual(
      expect.objectContaining({ name: 'Console Laptop 01', os: expect.any(String), clientVersion: expect.any(String), thumbprintSha1: expect.stringMatching(/^[0-9A-F]{40}$/), lastSeenAt: expect.any(String) }),
    );
    const named = bulkApi.name ?? '';
    const prefix = named.slice(0, 16);
    await page.locator('#device-search input').fill(prefix);
    await page.locator('#device-find').click();
    await page.locator(`main[data-shown="#devices?${new URLSearchParams({ name: prefix }).toString()}"]:not([aria-busy])`).waitFor();
    expect(await page.locator('#device-table tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-device-id')))).toEqual([bulkDevice]);
    await expectText(page.locator('#device-table caption'), `named “${prefix}…”`);
    await page.locator('#device-find-clear').click();
    await page.locator('main[data-shown="#devices"]:not([aria-busy])').waitFor();
    await checkEverywhere('devices', () => go('#devices'));

    await page.locator(`#open-${bulkDevice}`).click();
    await page.locator(`main[data-shown="#device/${bulkDevice}"]:not([aria-busy])`).waitFor();
    const facts = page.locator('#device-facts');
    await expectText(page.locator('#device-title'), bulkApi.name ?? 'Unnamed device');
    for (const value of [bulkApi.deviceId, bulkApi.thumbprint, bulkApi.thumbprintSha1 ?? '(no SHA-1)', bulkApi.bulkTokenId ?? '(no bulk token)', 'Registered', 'Device token expires', 'Last seen']) {
      await expectText(facts, value);
    }
    const times = await facts.locator('time').evaluateAll((elements) => elements.map((element) => [element.getAttribute('datetime'), element.getAttribute('title'), element.textContent]));
    expect(times.map(([datetime]) => datetime)).toEqual(expect.arrayContaining([bulkApi.registeredAt, bulkApi.expiresAt, bulkApi.lastSeenAt]));
    for (const [, title, text] of times) expect({ title, text }).toEqual({ title: expect.stringMatching(/ UTC$/), text: expect.stringMatching(/GMT\+1$/) });
    await expectText(page.locator('#device-detail .hint'), 'the service does not verify them');
    await checkEverywhere('device', () => go(`#device/${bulkDevice}`));
    // Found by its SHA-1 certificate thumbprint (as Windows shows it) too.
    await page.goBack();
    await page.locator('main[data-shown="#devices"]:not([aria-busy])').waitFor();
    await page.locator('#device-search input').fill((bulkApi.thumbprintSha1 ?? '').toLowerCase());
    await page.locator('#device-find').click();
    await page.locator('main[data-shown^="#device/"]:not([aria-busy])').waitFor();
    await expectText(page.locator('#device-facts'), bulkDevice);
    await page.locator('#device-back').click();
    await page.locator('main[data-shown="#devices"]:not([aria-busy])').waitFor();
  });

  it('revokes a device only after a confirmation that names it, with focus on Cancel as it opens', async () => {
    const revoke = page.locator(`#revoke-${bulkDevice}`);
    await revoke.waitFor();
    expect(isRed(await styleOf(`revoke-${bulkDevice}`, 'color'))).toBe(true);
    await revoke.click();
    const dialog = page.locator('#revoke-dialog');
    await expectText(dialog, bulkDevice);
    await expectText(dialog, 'bulk token');
    // Focus is on Cancel by the time the dialog shows anything: it moves in the click's own task.
    expect(await page.evaluate('document.activeElement?.id')).toBe('revoke-dialog-cancel');
    expect(isRed(await styleOf('revoke-dialog-confirm', 'backgroundColor'))).toBe(true);
    await screenshot(page, 'console-revoke-dialog-light-desktop.png', false);
    // Escape cancels, changes nothing and gives focus back.
    await page.keyboard.press('Escape');
    await page.locator('#revoke-dialog').waitFor({ state: 'detached' });
    expect(await page.evaluate('document.activeElement?.id')).toBe(`revoke-${bulkDevice}`);
    await expectText(notice(), 'Revocation cancelled');
    await expectText(page.locator(`#device-table tr[data-device-id="${bulkDevice}"]`), 'active');

    await revoke.click();
    await page.locator('#revoke-dialog-confirm').click();
    await expectText(page.locator(`#device-table tr[data-device-id="${bulkDevice}"]`), 'revoked');
    await expectText(notice(), 'revoked');
  });

  it('clears the list when a load fails, and says what to do rather than "Failed to fetch"', async () => {
    await page.route('**/api/devices?*', (route) => route.abort('connectionrefused'));
    await go('#devices?status=active');
    const error = page.locator('#panel-devices .errors');
    await expectText(error.locator('.error-title'), 'The service could not be reached');
    await expectText(error.locator('.error-detail'), 'Check that the service is running');
    expect(await page.locator('#device-table').count()).toBe(0);
    await expectText(page.locator('#device-list'), 'could not be loaded');
    expect(await page.locator('#panel-devices').textContent()).not.toContain('Failed to fetch');
    await page.unroute('**/api/devices?*');
    await go('#devices');
    expect(await error.textContent()).toBe('');
    expect(await page.locator('#device-table tbody tr').count()).toBe(2);
  });

  it('shows every action in the audit view, in words, by "admin key", newest first; paged on a phone', async () => {
    await page.locator('#tab-audit').click();
    await page.locator('main[data-shown="#audit"]:not([aria-busy])').waitFor();
    const expected: [string, string, string][] = [
      ['bulk-token.create', 'Bulk token created', tokenId],
      ['bulk-token.block', 'Bulk token blocked', tokenId],
      ['bulk-token.unblock', 'Bulk token unblocked', tokenId],
      ['device.register', 'Device registered', bulkDevice],
      ['device.register', 'Device registered', pendingDevice],
      ['device.approve', 'Device approved', pendingDevice],
      ['device.revoke', 'Device revoked', bulkDevice],
    ];
    for (const [action, words, target] of expected) {
      const row = page.locator(`#audit-table tbody tr[data-action="${action}"]`, { hasText: target });
      expect({ action, target, rows: await row.count() }).toEqual({ action, target, rows: 1 });
      expect(await row.locator('.action-words').textContent()).toBe(words);
      if (action !== 'device.register') await expectText(row.locator('td.actor'), 'admin key');
    }
    await expectText(page.locator('#audit-table tbody tr[data-action="admin.refused"]').first(), 'Admin sign-in refused');
    const entries = await page.locator('#audit-table tbody tr').count();
    expect(entries).toBeGreaterThanOrEqual(expected.length + 1);

    // Filtered by action, in the URL; Back returns to the whole trail.
    await page.locator('#audit-action').selectOption('device.revoke');
    await page.locator('#audit-apply').click();
    await page.locator('main[data-shown="#audit?action=device.revoke"]:not([aria-busy])').waitFor();
    await expectText(page.locator('#audit-table caption'), '1 audit entry');
    await page.goBack();
    await page.locator('main[data-shown="#audit"]:not([aria-busy])').waitFor();
    expect(await page.locator('#audit-action').inputValue()).toBe('');
    expect(await page.locator('#audit-table tbody tr').count()).toBe(entries);

    // On a phone, 10 entries a page, as cards, and the next page one tap away (two more
    // actions over the API make sure there is a next page).
    const post = (path: string, body?: unknown) =>
      fetch(`${host.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${host.adminKey}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const second = (await (await post('/api/bulk-tokens', { lifetimeMinutes: 60, description: 'second, blocked' })).json()) as { id: string };
    expect((await post(`/api/bulk-tokens/${second.id}/block`)).status).toBe(200);
    expect(entries + 2).toBeGreaterThan(10);
    await page.setViewportSize(phone);
    await go('#audit');
    expect(await page.locator('#audit-table tbody tr').count()).toBe(10);
    await page.locator('#audit-next').waitFor();
    const height = await page.evaluate<number>('document.documentElement.scrollHeight');
    expect(height).toBeLessThan(8 * phone.height);
    await page.locator('#audit-next').click();
    await expectText(page.locator('.pager span'), 'Page 2');
    await page.setViewportSize(desktop);
    await checkEverywhere('audit', () => go('#audit'));
    await checkEverywhere('tokens', () => go('#tokens'));

    // And over the API: each action with its target and actor; the wrong key as refused.
    const listed = await adminGet<{ items: { action: string; outcome: string; actor: { name?: string }; target?: { id: string } }[] }>('/api/audit?limit=1000');
    for (const [action, , target] of expected.filter(([action]) => action !== 'device.register')) {
      expect(listed.items.filter((item) => item.action === action && item.target?.id === target).map((item) => [item.actor.name, item.outcome])).toEqual([['admin key', 'succeeded']]);
    }
    const registered = (device: string) => listed.items.filter((item) => item.action === 'device.register' && item.target?.id === device).map((item) => item.outcome);
    expect({ bulk: registered(bulkDevice), internal: registered(pendingDevice) }).toEqual({ bulk: ['succeeded'], internal: ['pending'] });
    expect(listed.items.filter((item) => item.action === 'admin.refused').map((item) => item.outcome)).toContain('refused');
  });

  it('made no request to any host but the service, broke no CSP rule, never loaded the sign-in library, and weighs under 200 KB gzipped', async () => {
    expect(requests.length).toBeGreaterThan(10);
    const elsewhere = requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin());
    expect(elsewhere).toEqual([]);
    expect(cspViolations).toEqual([]);
    // MSAL (the only code naming the identity platform) is a chunk loaded for Entra sign-in only.
    const assets = [...new Set(requests.filter((url) => /\.(js|css)$/.test(url)))];
    const scripts = assets.filter((url) => url.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    let gzipped = gzipSync(await (await fetch(consoleUrl())).text()).length;
    for (const url of assets) {
      const text = await (await fetch(url)).text();
      if (url.endsWith('.js')) expect({ url, msal: text.includes('login.microsoftonline.com') }).toEqual({ url, msal: false });
      gzipped += gzipSync(text).length;
    }
    expect(gzipped).toBeLessThan(200 * 1024);
    process.stdout.write(`console page weight (admin-key mode): ${(gzipped / 1024).toFixed(1)} KB gzipped\n`);
  });
});

function isRed(color: string): boolean {
  const [r = 0, g = 0, b = 0] = (color.match(/\d+(\.\d+)?/g) ?? []).map(Number);
  return r > 150 && r > g * 1.6 && r > b * 1.6;
}

/** Relative luminance (0 black, 1 white) of an rgb() colour. */
function luminance(color: string): number {
  const [r = 0, g = 0, b = 0] = (color.match(/\d+(\.\d+)?/g) ?? []).map(Number).map((v) => v / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/**
 * Waits until the element shows the text: Playwright re-checks the page as it changes (no
 * sleeps), and the deadline is only a hang guard. On failure it says what the element showed.
 */
async function expectText(locator: ReturnType<Page['locator']>, text: string, timeoutMs = 10_000): Promise<void> {
  try {
    await locator.filter({ hasText: text }).first().waitFor({ timeout: timeoutMs });
  } catch {
    const shown = await locator.first().textContent({ timeout: 1 }).catch(() => '(not on the page)');
    throw new Error(`expected ${locator.toString()} to contain ${JSON.stringify(text)}; it says ${JSON.stringify((shown ?? '').slice(0, 400))}`);
  }
}

if (screenshotDir) mkdirSync(screenshotDir, { recursive: true });

async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  if (screenshotDir) await page.screenshot({ path: join(screenshotDir, name), fullPage });
}

describeWithBrowser('the console with Entra ID sign-in, in headless Chromium', () => {
  const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const client = '3f2c6a2e-0d0c-4b1a-9f7e-5a4f1c2b9d10';
  let host: LocalHost;
  let browser: Browser;

  beforeAll(async () => {
    [host, browser] = await Promise.all([
      startLocalHost({
        STORAGE_CONNECTION: process.env.TEST_STORAGE_CONNECTION ?? '',
        TABLE_PREFIX: uniqueTablePrefix(),
        TENANT_ID: tenant,
        ADMIN_AUDIENCE: `api://${client}`,
        CONSOLE_CLIENT_ID: client,
      }),
      chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
  });

  it('sends the administrator to Microsoft Entra ID: authorization code with PKCE, for the admin API, back to the bridge page', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(8_000);
    // The identity platform is out of reach here: its discovery answers come from the test,
    // and the authorization request is caught instead of followed.
    const identity: string[] = [];
    let authorize: URL | undefined;
    await page.route('https://login.microsoftonline.com/**', async (route) => {
      const url = new URL(route.request().url());
      identity.push(url.pathname);
      if (url.pathname.endsWith('/openid-configuration')) {
        const base = `https://login.microsoftonline.com/${tenant}`;
        await route.fulfill({
          contentType: 'application/json',
          body: JSON.stringify({
            issuer: `${base}/v2.0`,
            authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
            token_endpoint: `${base}/oauth2/v2.0/token`,
            end_session_endpoint: `${base}/oauth2/v2.0/logout`,
            jwks_uri: `https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`,
            response_types_supported: ['code'],
          }),
        });
        return;
      }
      if (url.pathname.endsWith('/authorize')) {
        authorize = url;
        await route.fulfill({ contentType: 'text/html', body: '<p>Microsoft sign-in (stand-in)</p>' });
        return;
      }
      await route.fulfill({ status: 404, body: '' });
    });

    const response = await page.goto(`${host.url}/api/console`);
    expect(response?.headers()['content-security-policy']).toContain("connect-src 'self' https://login.microsoftonline.com;");
    await page.locator('#sign-in-entra').click();
    await page.waitForURL(/login\.microsoftonline\.com/);
    expect(authorize).toBeDefined();
    const query = authorize?.searchParams;
    expect(authorize?.pathname).toBe(`/${tenant}/oauth2/v2.0/authorize`);
    expect({
      client: query?.get('client_id'),
      responseType: query?.get('response_type'),
      method: query?.get('code_challenge_method'),
      redirect: query?.get('redirect_uri'),
    }).toEqual({ client, responseType: 'code', method: 'S256', redirect: `${new URL(host.url).origin}/api/console/redirect.html` });
    expect(query?.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(query?.get('scope')?.split(' ')).toContain(`api://${client}/user_impersonation`);
    await page.close();
  });
});
