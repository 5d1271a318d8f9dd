import type { Config } from '../config.js';
import { acceptedAdminKey } from '../admin/adminKeyPolicy.js';

/** The Microsoft identity platform's host: MSAL's token, metadata and silent-renewal calls. */
export const entraLoginOrigin = 'https://login.microsoftonline.com';

/** What the console page is told about signing in (public values only). */
export interface ConsoleSignIn {
  /** The admin key typed in by the administrator is accepted (locally, or where explicitly allowed). */
  adminKey: boolean;
  /** Microsoft Entra ID with MSAL (authorization code with PKCE), when configured. */
  entra?: { tenantId: string; clientId: string; authority: string; scopes: string[]; redirectPath: string };
}

export const consoleRedirectPath = '/api/console/redirect.html';

export function consoleSignIn(config: Config, env: Record<string, string | undefined> = process.env): ConsoleSignIn {
  return {
    adminKey: acceptedAdminKey(config, env) !== undefined,
    ...(config.console === undefined
      ? {}
      : {
          entra: {
            tenantId: config.tenantId,
            clientId: config.console.clientId,
            authority: `${entraLoginOrigin}/${config.tenantId}`,
            scopes: [config.console.apiScope],
            redirectPath: consoleRedirectPath,
          },
        }),
  };
}

/**
 * The console's Content-Security-Policy: scripts, styles and fonts from the service only (the
 * build emits no inline script and no style attribute; Fluent's styles are adopted
 * stylesheets, which `style-src 'self'` allows), connections to the service, and with Entra
 * sign-in also to the identity platform — `frame-src` for MSAL's hidden-iframe renewal when
 * its refresh token has expired.
 */
export function consoleCsp(signIn: ConsoleSignIn): string {
  const entra = signIn.entra !== undefined;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src 'self'${entra ? ` ${entraLoginOrigin}` : ''}`,
    ...(entra ? [`frame-src ${entraLoginOrigin}`] : []),
    "img-src 'self' data:",
    "font-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}
