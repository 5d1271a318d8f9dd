/**
 * Entra ID sign-in with MSAL for browsers: authorization code with PKCE, redirect flow (no
 * pop-ups), the token cache in sessionStorage. Loaded as a separate chunk, only when the
 * service offers Entra sign-in, so local use never downloads it.
 */
import { InteractionRequiredAuthError, PublicClientApplication, type AccountInfo } from '@azure/msal-browser';
import type { Session, SignInConfig } from './signIn.js';

type EntraConfig = NonNullable<SignInConfig['entra']>;

let client: Promise<PublicClientApplication> | undefined;

function msal(config: EntraConfig): Promise<PublicClientApplication> {
  client ??= (async () => {
    const pca = new PublicClientApplication({
      auth: {
        clientId: config.clientId,
        authority: config.authority,
        // The bridge page (redirect.html) hands the response back to this page.
        redirectUri: new URL(config.redirectPath, location.origin).href,
        postLogoutRedirectUri: new URL('/api/console', location.origin).href,
      },
      cache: { cacheLocation: 'sessionStorage' },
    });
    await pca.initialize();
    return pca;
  })();
  return client;
}

export async function signInWithEntra(config: EntraConfig): Promise<void> {
  const pca = await msal(config);
  await pca.loginRedirect({ scopes: config.scopes });
}

export async function resumeEntra(config: EntraConfig): Promise<Session | undefined> {
  const pca = await msal(config);
  const result = await pca.handleRedirectPromise();
  const account: AccountInfo | undefined = result?.account ?? pca.getActiveAccount() ?? pca.getAllAccounts()[0];
  if (!account) return undefined;
  pca.setActiveAccount(account);
  return {
    kind: 'entra',
    who: account.name ?? account.username,
    credential: async () => {
      try {
        return (await pca.acquireTokenSilent({ scopes: config.scopes, account })).accessToken;
      } catch (error) {
        if (!(error instanceof InteractionRequiredAuthError)) throw error;
        await pca.acquireTokenRedirect({ scopes: config.scopes, account });
        // The page navigates away; this call never completes.
        return new Promise<string>(() => undefined);
      }
    },
    signOut: () => pca.logoutRedirect({ account }),
  };
}
