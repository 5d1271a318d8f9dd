import { azureCredential } from './azureCredential.js';
import type { AdminAuthorizer } from './admin/adminAuthorizer.js';
import { createAdminAuthorizer } from './admin/adminKeyPolicy.js';
import { BulkTokenService } from './bulkTokens/bulkTokenService.js';
import { TableBulkTokenStore } from './bulkTokens/tableBulkTokenStore.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
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
 * for the process's services (shared/runtime/processServices.ts) and never construct an
 * adapter themselves.
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
