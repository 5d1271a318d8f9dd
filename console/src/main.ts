/**
 * The console page: Fluent UI web components (each imported for its side effect: it defines
 * its custom element), the light theme as CSS custom properties, sign-in, then three views.
 */
import '@fluentui/web-components/badge/define.js';
import '@fluentui/web-components/button/define.js';
import '@fluentui/web-components/dialog-body/define.js';
import '@fluentui/web-components/message-bar/define.js';
import '@fluentui/web-components/tab/define.js';
import '@fluentui/web-components/tablist/define.js';
import '@fluentui/web-components/text-input/define.js';
import { setTheme } from '@fluentui/web-components';
import { webLightTheme } from '@fluentui/tokens';
import { Api } from './api.js';
import { announce, showError } from './announce.js';
import { h, replaceChildren } from './dom.js';
import { resumeSession, signInForm, type Session, type SignInConfig } from './signIn.js';
import { auditView } from './views/audit.js';
import { bulkTokensView } from './views/bulkTokens.js';
import { devicesView } from './views/devices.js';

setTheme(webLightTheme);

async function start(): Promise<void> {
  const main = document.getElementById('main');
  if (!main) return;
  let config: SignInConfig;
  try {
    const response = await fetch('/api/console/config', { cache: 'no-store', credentials: 'omit' });
    if (!response.ok) throw new Error(`the service answered ${response.status}`);
    config = (await response.json()) as SignInConfig;
  } catch (error) {
    const errors = h('div', { class: 'errors' });
    replaceChildren(main, errors);
    showError(errors, error, 'Cannot load the console');
    return;
  }

  let session: Session | undefined;
  try {
    session = await resumeSession(config);
  } catch (error) {
    const errors = h('div', { class: 'errors' });
    replaceChildren(main, errors);
    showError(errors, error, 'Sign-in could not be completed');
  }
  session ??= await signInForm(main, config);
  showConsole(main, session, config);
}

function showConsole(main: HTMLElement, session: Session, config: SignInConfig): void {
  const signOut = async () => {
    await session.signOut();
    location.reload();
  };
  const banner = document.getElementById('session');
  const who = document.getElementById('session-who');
  if (banner && who) {
    who.textContent = `Signed in: ${session.who}`;
    banner.hidden = false;
    const button = document.getElementById('sign-out');
    if (button) button.onclick = () => void signOut();
  }

  // A refused admin key (changed since, or the host restarted with another) ends the
  // session. An Entra token is renewed by MSAL itself, so a 401 there is a configuration
  // fault the view shows, not a reason to sign the user out of Entra ID.
  let ended = false;
  const api = new Api(session.credential, (error) => {
    if (session.kind !== 'admin-key' || ended) return;
    ended = true;
    announce(`Signed out: ${error.title}`);
    void session.signOut().then(() => signInForm(main, config)).then((next) => showConsole(main, next, config));
  });

  const views = [
    { id: 'tokens', label: 'Bulk tokens', view: bulkTokensView(api) },
    { id: 'devices', label: 'Devices', view: devicesView(api) },
    { id: 'audit', label: 'Audit', view: auditView(api) },
  ];
  const loaded = new Set<string>();
  const tablist = h(
    'fluent-tablist',
    { id: 'views', 'aria-label': 'Console views' },
    ...views.map((v) => h('fluent-tab', { id: `tab-${v.id}`, 'aria-controls': `panel-${v.id}` }, v.label)),
  );
  const panels = views.map((v) => h('div', { id: `panel-${v.id}`, role: 'tabpanel', 'aria-labelledby': `tab-${v.id}`, tabindex: '0' }, v.view.element));
  const select = (id: string) => {
    // Each view loads when first shown, and again whenever it is shown after another.
    const chosen = views.find((v) => v.id === id);
    if (!chosen) return;
    loaded.add(id);
    void chosen.view.refresh();
  };
  tablist.addEventListener('change', () => {
    const active = (tablist as HTMLElement & { activeid?: string }).activeid ?? '';
    select(active.replace(/^tab-/, ''));
  });
  replaceChildren(main, tablist, ...panels);
  select('tokens');
  main.focus();
}

void start();
