import { azureCredential } from './azureCredential.js';
import { AdminKeyAuthorizer, EitherAdminAuthorizer, type AdminAuthorizer } from './admin/adminAuthorizer.js';
import { EntraAdminAuthorizer } from './admin/entraAdminAuthorizer.js';
import { BulkTokenService } from './bulkTokens/bulkTokenService.js';
import { TableBulkTokenStore } from './bulkTokens/tableBulkTokenStore.js';
import { systemClock, type Clock } from './clock.js';
import { loadConfig, type Config } from './config.js';
import { LocalKeySigner } from './signing/localKeySigner.js';
import type { TokenSigner } from './signing/signer.js';
import { TableService } from './storage/tableService.js';
import { TokenVerifier } from './tokens/verifier.js';
import { DeviceAdminService } from './devices/deviceAdminService.js';
import { DeviceAuthenticator } from './devices/deviceAuthenticator.js';
import { DeviceTokenIssuer } from './devices/deviceTokens.js';
import { RegistrationService } from './devices/registrationService.js';
import { TableDeviceStore } from './devices/tableDeviceStore.js';
import { NetworkSet } from './network/cidr.js';
import { ProofVerifier } from './proof/proofVerifier.js';
import { TableReplayCache } from './proof/replayCache.js';
import { TableRevocationList } from './devices/revocationList.js';
import { PurgeService } from './purge/purgeService.js';
import { AuditTrail } from './audit/auditTrail.js';
import { TableAuditStore } from './audit/tableAuditStore.js';

/**
 * The composition root: the one place that picks adapters from configuration. Handlers ask
 * for `getServices()` and never construct an adapter themselves.
 */
export interface Services {
  readonly config: Config;
  readonly clock: Clock;
  readonly signer: TokenSigner;
  readonly verifier: TokenVerifier;
  readonly tables: TableService;
  readonly admin: AdminAuthorizer;
  readonly bulkTokens: BulkTokenService;
  readonly proofs: ProofVerifier;
  readonly internalNetworks: NetworkSet;
  readonly registration: RegistrationService;
  readonly deviceAdmin: DeviceAdminService;
  readonly purge: PurgeService;
  readonly deviceAuth: DeviceAuthenticator;
  readonly audit: AuditTrail;
}

export interface ServiceOverrides {
  clock?: Clock;
  signer?: TokenSigner;
  admin?: AdminAuthorizer;
}

export async function createServices(config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  const clock = overrides.clock ?? systemClock;
  const signer = overrides.signer ?? (await createSigner(config, clock));
  const tables = new TableService(config.storageConnection, config.tablePrefix);
  const claims = { issuer: config.issuer, audience: config.audience, tenantId: config.tenantId };
  const devices = new TableDeviceStore(tables);
  const bulkTokens = new BulkTokenService(new TableBulkTokenStore(tables), signer, clock, claims);
  const policy = { approvalMode: config.approvalMode, pendingApprovalDays: config.purge.pendingApprovalDays };
  const verifier = new TokenVerifier(signer, { ...claims, clock });
  const proofs = new ProofVerifier(clock, new TableReplayCache(tables));
  const revocations = new TableRevocationList(tables);
  return {
    config,
    clock,
    signer,
    verifier,
    tables,
    admin: overrides.admin ?? createAdminAuthorizer(config, clock),
    bulkTokens,
    proofs,
    internalNetworks: new NetworkSet(config.internalNetworks),
    registration: new RegistrationService(devices, bulkTokens, new DeviceTokenIssuer(signer, clock, claims), clock, policy),
    deviceAdmin: new DeviceAdminService(devices, revocations, clock, policy),
    purge: new PurgeService({ tables, clock, storageConnection: config.storageConnection, tablePrefix: config.tablePrefix, ...config.purge }),
    deviceAuth: new DeviceAuthenticator(verifier, proofs, revocations),
    audit: new AuditTrail(new TableAuditStore(tables), clock),
  };
}

/**
 * Entra ID access tokens when ADMIN_AUDIENCE is set; the admin key when ADMIN_KEY is set,
 * except in Azure (the platform sets WEBSITE_SITE_NAME), where a shared key is refused
 * unless ALLOW_ADMIN_KEY_IN_AZURE says otherwise.
 */
export function createAdminAuthorizer(config: Config, clock: Clock, env: Record<string, string | undefined> = process.env): AdminAuthorizer {
  const adminKey = acceptedAdminKey(config, env);
  const entra = config.adminAudience
    ? new EntraAdminAuthorizer({ tenantId: config.tenantId, audience: config.adminAudience, appRole: config.adminAppRole, clock })
    : undefined;
  if (entra && adminKey !== undefined) return new EitherAdminAuthorizer(new AdminKeyAuthorizer(adminKey), entra);
  return entra ?? new AdminKeyAuthorizer(adminKey);
}

/** The admin key the service accepts: none in Azure (the platform sets WEBSITE_SITE_NAME) unless allowed. */
export function acceptedAdminKey(config: Config, env: Record<string, string | undefined> = process.env): string | undefined {
  const inAzure = env.WEBSITE_SITE_NAME !== undefined;
  return inAzure && !config.allowAdminKeyInAzure ? undefined : config.adminKey;
}

async function createSigner(config: Config, clock: Clock): Promise<TokenSigner> {
  if (config.keyVault) {
    // Loaded only when configured: @azure/keyvault-keys is never used locally.
    const { KeyVaultSigner } = await import('./signing/keyVaultSigner.js');
    return KeyVaultSigner.create({
      vaultUrl: config.keyVault.url,
      keyName: config.keyVault.keyName,
      credential: azureCredential(),
      refreshIntervalSeconds: config.keyRefreshSeconds,
      clock,
      alg: config.signingAlg,
    });
  }
  return LocalKeySigner.open(config.localDataDir, config.signingAlg ?? 'RS256');
}

let current: Promise<Services> | undefined;

/** The process's services, built from the environment on first use. */
export function getServices(): Promise<Services> {
  if (!current) {
    const created = createServices(loadConfig());
    current = created;
    // A failed start (say, an unreadable key file) is not kept, so the next request retries.
    created.catch(() => {
      if (current === created) current = undefined;
    });
  }
  return current;
}

/** Installs services built elsewhere: the local host at start-up, and tests. */
export function useServices(services: Services | Promise<Services>): void {
  current = Promise.resolve(services);
}
