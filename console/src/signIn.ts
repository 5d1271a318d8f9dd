import { h, replaceChildren, valueOf } from './dom.js';
import { Api, ApiError, type CredentialSource } from './api.js';
import { announce, showError } from './announce.js';

/** What GET /api/console/config says (shared/console/consoleSignIn.ts). */
export interface SignInConfig {
  adminKey: boolean;
  entra?: { tenantId: string; clientId: string; authority: string; scopes: string[]; redirectPath: string };
}

export interface Session {
  kind: 'admin-key' | 'entra';
  /** Shown in the banner: "admin key" or the account's name. */
  who: string;
  credential: CredentialSource;
  signOut(): Promise<void>;
}

/**
 * The admin key lives in sessionStorage: gone when the tab or browser closes, never written to
 * localStorage, never sent anywhere but the service's own origin.
 */
const adminKeyItem = 'cmg-console.admin-key';

function adminKeySession(key: string): Session {
  return {
    kind: 'admin-key',
    who: 'admin key',
    credential: async () => key,
    signOut: async () => sessionStorage.removeItem(adminKeyItem),
  };
}

/** Resumes a session (a stored admin key, or an Entra account after the redirect back), if any. */
export async function resumeSession(config: SignInConfig): Promise<Session | undefined> {
  if (config.entra) {
    const { resumeEntra } = await import('./entra.js');
    const session = await resumeEntra(config.entra);
    if (session) return session;
  }
  const key = config.adminKey ? sessionStorage.getItem(adminKeyItem) : null;
  return key ? adminKeySession(key) : undefined;
}

/** Renders the sign-in card and resolves once the administrator is signed in. */
export function signInForm(main: HTMLElement, config: SignInConfig): Promise<Session> {
  return new Promise((signedIn) => {
    const errors = h('div', { class: 'errors' });
    const parts: HTMLElement[] = [];
    if (config.entra) {
      const entra = config.entra;
      parts.push(
        h('p', {}, 'Sign in with your Microsoft Entra ID account. You need the administrator app role of this service.'),
        h(
          'fluent-button',
          {
            id: 'sign-in-entra',
            appearance: 'primary',
            onclick: () => void (async () => {
              try {
                const { signInWithEntra } = await import('./entra.js');
                await signInWithEntra(entra);
              } catch (error) {
                showError(errors, error, 'Sign-in failed');
              }
            })(),
          },
          'Sign in with Microsoft',
        ),
      );
    }
    if (config.adminKey) {
      const keyInput = h('fluent-text-input', { id: 'admin-key', type: 'password', name: 'admin-key', required: true, autocomplete: 'off', spellcheck: 'false' }, 'Admin key');
      const form = h(
        'form',
        {
          novalidate: true,
          onsubmit: (event: Event) => void (async () => {
            event.preventDefault();
            const key = valueOf(keyInput);
            if (key === '') {
              showError(errors, new Error('Enter the admin key'), 'Sign-in failed');
              return;
            }
            const session = adminKeySession(key);
            try {
              // One harmless admin read proves the key before it is kept.
              await new Api(session.credential).listBulkTokens();
            } catch (error) {
              showError(errors, error, error instanceof ApiError && error.status === 401 ? 'The admin key was refused' : 'Sign-in failed');
              return;
            }
            sessionStorage.setItem(adminKeyItem, key);
            announce('Signed in with the admin key');
            signedIn(session);
          })(),
        },
        keyInput,
        h('fluent-button', { id: 'sign-in-key', type: 'submit', appearance: config.entra ? 'secondary' : 'primary' }, 'Sign in'),
      );
      parts.push(
        h('p', {}, config.entra ? 'Or use the admin key, where this service accepts it.' : 'Enter the admin key: npm start prints it when it starts, and keeps it in .local/admin-key.'),
        form,
        h('p', { class: 'hint' }, 'The key is kept for this browser tab only (session storage) and sent only to this service.'),
      );
    }
    if (parts.length === 0) {
      parts.push(
        h('p', {}, 'This service accepts no admin sign-in for the console: set CONSOLE_CLIENT_ID and ADMIN_AUDIENCE (Entra ID), or run it locally with an admin key.'),
      );
    }
    replaceChildren(main, h('section', { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' }, h('h2', { id: 'sign-in-title' }, 'Sign in'), errors, ...parts));
    main.querySelector<HTMLElement>('#admin-key, #sign-in-entra')?.focus();
  });
}
