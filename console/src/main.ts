/**
 * The console page: Fluent UI web components (each imported for its side effect: it defines
 * its custom element), Fluent's light or dark theme as CSS custom properties (following the
 * system's colour scheme), sign-in, then three views whose place is kept in the URL.
 */
import '@fluentui/web-components/badge/define.js';
import '@fluentui/web-components/button/define.js';
import '@fluentui/web-components/dialog-body/define.js';
import '@fluentui/web-components/message-bar/define.js';
import '@fluentui/web-components/spinner/define.js';
import '@fluentui/web-components/tab/define.js';
import '@fluentui/web-components/tablist/define.js';
import '@fluentui/web-components/text-input/define.js';
import { setTheme } from '@fluentui/web-components';
import { webDarkTheme, webLightTheme } from '@fluentui/tokens';
import { Api } from './api.js';
import { announce, clearNotice, notify, showError } from './announce.js';
import { h, replaceChildren } from './dom.js';
import { parseRoute, routeHash, navigate, type Route } from './router.js';
import { resumeSession, signInForm, type Session, type SignInConfig } from './signIn.js';
import { auditView } from './views/audit.js';
import { bulkTokensView } from './views/bulkTokens.js';
import { devicesView } from './views/devices.js';

const dark = window.matchMedia('(prefers-color-scheme: dark)');
const applyTheme = () => {
  setTheme(dark.matches ? webDarkTheme : webLightTheme);
  document.documentElement.dataset['theme'] = dark.matches ? 'dark' : 'light';
};
applyTheme();
dark.addEventListener('change', applyTheme);

async function start(): Promise<void> {
  const main = document.getElementById('main');
  if (!main) return;
  let config: SignInConfig;
  try {
    const response = await fetch('/api/console/config', { cache: 'no-store', credentials: 'omit' });
    if (!response.ok) throw new Error(`The service answered ${response.status} for the console's settings: reload the page in a minute`);
    config = (await response.json()) as SignInConfig;
  } catch (error) {
    const errors = h('div', { class: 'errors' });
    replaceChildren(main, errors);
    showError(errors, error instanceof TypeError ? new Error('The service could not be reached: check that it is running, then reload the page') : error, 'Cannot load the console');
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

interface View {
  element: HTMLElement;
  show(route: Route): Promise<void>;
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
    window.removeEventListener('hashchange', onRoute);
    notify('warning', 'Signed out', `${error.title}. Sign in again with the current admin key.`);
    void session.signOut().then(() => signInForm(main, config)).then((next) => showConsole(main, next, config));
  });

  const views: { id: 'tokens' | 'devices' | 'audit'; label: string; view: View }[] = [
    { id: 'tokens', label: 'Bulk tokens', view: bulkTokensView(api) },
    { id: 'devices', label: 'Devices', view: devicesView(api) },
    { id: 'audit', label: 'Audit', view: auditView(api) },
  ];
  const tabOf = (route: Route) => (route.view === 'device' ? 'devices' : route.view);
  const first = parseRoute(location.hash);
  const tablist = h(
    'fluent-tablist',
    { id: 'views', 'aria-label': 'Console views', activeid: `tab-${tabOf(first)}` },
    ...views.map((v) => h('fluent-tab', { id: `tab-${v.id}`, 'aria-controls': `panel-${v.id}` }, v.label)),
  ) as HTMLElement & { activeid?: string };
  const panels = views.map((v) => h('div', { id: `panel-${v.id}`, role: 'tabpanel', 'aria-labelledby': `tab-${v.id}`, tabindex: '0', hidden: v.id !== tabOf(first) }, v.view.element));

  let current = first;
  // Choosing a tab goes to that view (a history entry of its own); the URL then drives what shows.
  tablist.addEventListener('change', () => {
    const chosen = (tablist.activeid ?? '').replace(/^tab-/, '');
    if (chosen === tabOf(current)) return;
    const view = views.find((v) => v.id === chosen);
    if (view) navigate(routeHash(view.id));
  });
  function onRoute(): void {
    const route = parseRoute(location.hash);
    current = route;
    const id = tabOf(route);
    if ((tablist.activeid ?? '') !== `tab-${id}`) tablist.activeid = `tab-${id}`;
    for (const panel of panels) panel.hidden = panel.id !== `panel-${id}`;
    clearNotice();
    const view = views.find((v) => v.id === id);
    document.title = `${route.view === 'device' ? 'Device' : (view?.label ?? '')} · cmg-token-auth console`;
    // The page says when a view has finished loading (main's data-shown names the route), so
    // a person's tools, and the browser test, can wait on it rather than on time.
    main.setAttribute('aria-busy', 'true');
    delete main.dataset['shown'];
    const shown = location.hash;
    void (view?.view.show(route) ?? Promise.resolve()).finally(() => {
      if (location.hash !== shown) return;
      main.removeAttribute('aria-busy');
      main.dataset['shown'] = shown;
    });
  }
  window.addEventListener('hashchange', onRoute);
  replaceChildren(main, tablist, ...panels);
  onRoute();
  announce(`Signed in: ${session.who}`);
  main.focus();
}

void start();
