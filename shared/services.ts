import { azureCredential } from './azureCredential.js';
import { AdminKeyAuthorizer, EitherAdminAuthorizer, type AdminAuthorizer } from './admin/adminAuthorizer.js';
import { EntraAdminAuthorizer } from './admin/entraAdminAuthorizer.js';
import { BulkTokenService } from './bulkTokens/bulkTokenService.js';
import { TableBulkTokenStore } from './bulkTokens/tableBulkTokenStore.js';
import { systemClock, type Clock } from './clock.js';
import { ConfigError, configWarnings, loadConfig, type Config } from './config.js';
import { ServiceError } from './errors.js';
import { LocalKeySigner } from './signing/localKeySigner.js';
import type { TokenSigner } from './signing/signer.js';
import { TableService } from './storage/tableService.js';
import { TokenVerifier } from './tokens/verifier.js';
import { DeviceAdminService } from './devices/deviceAdminService.js';
import { DeviceAuthenticator } from './devices/deviceAuthenticator.js';
import { DeviceTokenIssuer } from './devices/deviceTokens.js';
import { RegistrationService } from './devices/registrationService.js';
import { TableDeviceStore } from './devices/tableDeviceStore.js';
import { LastSeenRecorder } from './devices/lastSeen.js';
import { TokenPacing } from './devices/tokenPacing.js';
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
  readonly lastSeen: LastSeenRecorder;
  readonly audit: AuditTrail;
}

export interface ServiceOverrides {
  clock?: Clock;
  signer?: TokenSigner;
  admin?: AdminAuthorizer;
  /** The tables, where a caller counts their requests (the bench). */
  tables?: TableService;
}

export async function createServices(config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  const clock = overrides.clock ?? systemClock;
  const signer = overrides.signer ?? (await createSigner(config, clock));
  const tables = overrides.tables ?? new TableService(config.storageConnection, config.tablePrefix);
  const claims = { issuer: config.issuer, audience: config.audience, tenantId: config.tenantId };
  const devices = new TableDeviceStore(tables);
  const bulkTokens = new BulkTokenService(new TableBulkTokenStore(tables), signer, clock, claims);
  const policy = { approvalMode: config.approvalMode, pendingApprovalDays: config.purge.pendingApprovalDays };
  const verifier = new TokenVerifier(signer, { ...claims, clock });
  const proofs = new ProofVerifier(clock, new TableReplayCache(tables, { shards: config.replayShards, clock }));
  const revocations = new TableRevocationList(tables);
  const lastSeen = new LastSeenRecorder(devices, clock, config.lastSeenGranularitySeconds);
  const pacing = new TokenPacing(config.tokenPacing);
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
    registration: new RegistrationService(devices, bulkTokens, new DeviceTokenIssuer(signer, clock, claims), clock, policy, revocations, pacing, lastSeen),
    deviceAdmin: new DeviceAdminService(devices, revocations, clock, policy),
    purge: new PurgeService({ tables, clock, storageConnection: config.storageConnection, tablePrefix: config.tablePrefix, ...config.purge }),
    deviceAuth: new DeviceAuthenticator(verifier, proofs, revocations),
    lastSeen,
    audit: new AuditTrail(new TableAuditStore(tables), clock),
  };
}

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
let configFailure: ConfigError | undefined;

/**
 * The process's services, built from the environment on first use — as the Functions worker
 * loads the function files before any request, a bad setting shows up here, at the first
 * request, never at start-up. It then stays: app settings do not change under a running
 * instance (changing them restarts it), so every later call fails the same way, at once.
 * The failure is a `misconfigured` ServiceError (503) naming the bad settings, never their
 * values; `onMisconfigured` runs once per instance so the log names them once.
 */
export function getServices(onMisconfigured?: (error: ConfigError) => void): Promise<Services> {
  if (!current && !configFailure) {
    let config: Config;
    try {
      config = loadConfig();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      configFailure = error;
      onMisconfigured?.(error);
      return Promise.reject(misconfigured(error));
    }
    // Functions captures the console into the app's logs: once per process, at first use.
    for (const warning of configWarnings(config)) console.warn(`warning: ${warning}`);
    const created = createServices(config);
    current = created;
    // A failed start (say, an unreadable key file) is not kept, so the next request retries.
    created.catch(() => {
      if (current === created) current = undefined;
    });
  }
  if (configFailure) return Promise.reject(misconfigured(configFailure));
  return current as Promise<Services>;
}

/** The ServiceError every route answers while the configuration is invalid. */
export class MisconfiguredError extends ServiceError {
  constructor(readonly settings: readonly string[]) {
    super('misconfigured', `the service's settings are invalid (${settings.join(', ')}); the operator must correct them`, {
      retryAfterSeconds: 60,
    });
    this.name = 'MisconfiguredError';
  }
}

function misconfigured(error: ConfigError): MisconfiguredError {
  return new MisconfiguredError(error.settings);
}

/** The problems of the current configuration, one line per bad setting (names, never values). */
export function configurationProblems(): readonly string[] {
  return configFailure?.problems ?? [];
}

/** Installs services built elsewhere: the local host at start-up, and tests. */
export function useServices(services: Services | Promise<Services>): void {
  current = Promise.resolve(services);
  configFailure = undefined;
}

/** Forgets the services and any configuration failure, so the next use reads the environment again (tests). */
export function resetServices(): void {
  current = undefined;
  configFailure = undefined;
}
