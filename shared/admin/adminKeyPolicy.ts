import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { AdminKeyAuthorizer, EitherAdminAuthorizer, type AdminAuthorizer } from './adminAuthorizer.js';
import { EntraAdminAuthorizer } from './entraAdminAuthorizer.js';

/**
 * Entra ID access tokens when ADMIN_AUDIENCE is set; the admin key when ADMIN_KEY is set,
 * except in Azure (the platform sets WEBSITE_SITE_NAME), where a shared key is refused
 * unless ALLOW_ADMIN_KEY_IN_AZURE says otherwise.
 */
export function createAdminAuthorizer(config: Config, clock: Clock, env: Record<string, string | undefined> = process.env): AdminAuthorizer {
  const keyRefused = adminKeyRefusedInAzure(config, env);
  const entra = config.adminAudience
    ? new EntraAdminAuthorizer({ tenantId: config.tenantId, audience: config.adminAudience, appRole: config.adminAppRole, clock })
    : undefined;
  if (keyRefused) {
    // Said exactly, with the way in: "set ADMIN_KEY" would send the operator the wrong way.
    const entraWay = config.adminAudience
      ? `an access token for ${config.adminAudience} with the app role ${config.adminAppRole} (az account get-access-token --resource ${config.adminAudience})`
      : `an access token for the API's audience with the app role ${config.adminAppRole}; ADMIN_AUDIENCE is not set yet (docs/deployment.md)`;
    const refusedKey = new AdminKeyAuthorizer(
      undefined,
      `the admin key is refused because the app runs in Azure (ALLOW_ADMIN_KEY_IN_AZURE is not true); sign in with Microsoft Entra ID: ${entraWay}`,
    );
    return entra ? new EitherAdminAuthorizer(refusedKey, entra) : refusedKey;
  }
  const adminKey = config.adminKey;
  if (entra && adminKey !== undefined) return new EitherAdminAuthorizer(new AdminKeyAuthorizer(adminKey), entra);
  return entra ?? new AdminKeyAuthorizer(adminKey);
}

/** In Azure (the platform sets WEBSITE_SITE_NAME) the admin key is refused unless ALLOW_ADMIN_KEY_IN_AZURE. */
function adminKeyRefusedInAzure(config: Config, env: Record<string, string | undefined>): boolean {
  return env.WEBSITE_SITE_NAME !== undefined && !config.allowAdminKeyInAzure;
}

/** The admin key the service accepts: none where it is refused in Azure. */
export function acceptedAdminKey(config: Config, env: Record<string, string | undefined> = process.env): string | undefined {
  return adminKeyRefusedInAzure(config, env) ? undefined : config.adminKey;
}
