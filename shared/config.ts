import { z } from 'zod';
import { cidrProblem, privateSpacesOf } from './network/cidr.js';
import { defaultReplayShards, maxReplayShards } from './proof/replayShardCount.js';

/**
 * Configuration, parsed once from the environment. Every variable the service reads is named
 * here, so `configVariables` doubles as the list the infrastructure must set.
 */

const signingAlgs = ['RS256', 'PS256', 'ES256'] as const;
export type SigningAlg = (typeof signingAlgs)[number];

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const booleanText = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1');

function wholeNumberText(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

const schema = z
  .object({
    ADMIN_KEY: optionalText.pipe(
      z
        .string()
        .min(32, 'must be at least 32 characters (use a random value)')
        .regex(/^[A-Za-z0-9\-._~+/]+=*$/, 'must be usable as a bearer token: letters, digits and -._~+/ only')
        .optional(),
    ),
    INTERNAL_NETWORKS: z
      .string()
      .default('127.0.0.0/8,::1/128')
      .transform((value) => value.split(',').map((part) => part.trim()).filter((part) => part !== ''))
      .superRefine((cidrs, ctx) => {
        for (const problem of cidrs.map(cidrProblem).filter((problem) => problem !== undefined)) {
          ctx.addIssue({
            code: 'custom',
            message: `${problem} (a comma-separated list of CIDR ranges, such as 10.20.0.0/16 for an IPv4 network and fd12:3456:789a::/48 for an IPv6 unique-local one)`,
          });
        }
      }),
    // Says that callers reach the app through a private endpoint, where private addresses are
    // the callers' own; without it, private ranges in INTERNAL_NETWORKS draw a warning at start.
    INTERNAL_NETWORKS_PRIVATE_ENDPOINT: booleanText.default(false),
    APPROVAL_MODE: z.enum(['auto', 'manual']).default('auto'),
    STORAGE_CONNECTION: optionalText,
    KEY_VAULT_URL: optionalText.pipe(
      z.url({ protocol: /^https$/, message: 'must be an https:// URL such as https://kv-name.vault.azure.net' }).optional(),
    ),
    KEY_NAME: optionalText.pipe(
      z.string().regex(/^[0-9a-zA-Z-]{1,127}$/, 'must be a Key Vault key name (letters, digits, dashes)').optional(),
    ),
    // Unset: RS256 for the local key, and whatever the Key Vault key's type signs (RS256 for
    // RSA, ES256 for EC P-256). PS256 must be asked for.
    SIGNING_ALG: optionalText.pipe(z.enum(signingAlgs).optional()),
    LOCAL_DATA_DIR: z.string().default('.local'),
    TOKEN_ISSUER: z.string().min(1).default('cmg-token-auth'),
    TOKEN_AUDIENCE: z.string().min(1).default('cmg-token-auth'),
    TENANT_ID: z
      .string()
      .transform((value) => value.toLowerCase())
      .pipe(z.string().regex(guid, 'must be a GUID'))
      .default('00000000-0000-0000-0000-000000000000'),
    TABLE_PREFIX: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,19}$/, 'must be letters and digits, starting with a letter').default('cmg'),
    // Admin credentials in Azure: Entra ID access tokens for ADMIN_AUDIENCE with ADMIN_APP_ROLE.
    ADMIN_AUDIENCE: optionalText,
    ADMIN_APP_ROLE: z.string().trim().min(1).default('CmgTokenAuth.Admin'),
    ALLOW_ADMIN_KEY_IN_AZURE: booleanText.default(false),
    // The console's sign-in with Entra ID: the client id of the app registration whose
    // single-page-application redirect URI is <app>/api/console/redirect.html, and the scope it
    // asks for (default: <App ID URI of ADMIN_AUDIENCE>/user_impersonation).
    CONSOLE_CLIENT_ID: optionalText.pipe(
      z
        .string()
        .transform((value) => value.toLowerCase())
        .pipe(z.string().regex(guid, 'must be the application (client) id, a GUID'))
        .optional(),
    ),
    CONSOLE_API_SCOPE: optionalText.pipe(
      z.string().regex(/^\S+\/[^\s/]+$/, 'must be a scope such as api://<app id>/user_impersonation').optional(),
    ),
    // The user-assigned managed identity's client id; read by DefaultAzureCredential too.
    AZURE_CLIENT_ID: optionalText,
    KEY_REFRESH_SECONDS: wholeNumberText(30, 86_400).default(300),
    PURGE_SCHEDULE: z
      .string()
      .trim()
      .regex(/^(\S+\s+){5}\S+$/, 'must be a six-field NCRONTAB expression such as "0 0 * * * *"')
      .default('0 17 * * * *'),
    PURGE_TIME_BUDGET_SECONDS: wholeNumberText(10, 3_600).default(240),
    BULK_TOKEN_RETENTION_DAYS: wholeNumberText(0, 3_650).default(30),
    DEVICE_RETENTION_DAYS: wholeNumberText(0, 3_650).default(7),
    PENDING_APPROVAL_DAYS: wholeNumberText(1, 3_650).default(30),
    // Partitions per hour of the replay cache (docs/capacity.md; a change is safe while
    // proofs are live: docs/decisions/0011).
    REPLAY_SHARDS: wholeNumberText(1, maxReplayShards).default(defaultReplayShards),
    AUDIT_RETENTION_DAYS: wholeNumberText(1, 3_650).default(365),
    // How stale a device's lastSeenAt may be: authenticate writes it at most once per this
    // many minutes per device and instance (docs/decisions/0016).
    LAST_SEEN_GRANULARITY_MINUTES: wholeNumberText(1, 1_440).default(60),
    // Tokens one device may be issued per window, renewals and registrations together
    // (docs/decisions/0015).
    TOKEN_ISSUE_BURST: wholeNumberText(1, 1_000).default(3),
    TOKEN_ISSUE_WINDOW_MINUTES: wholeNumberText(1, 10_080).default(60),
  })
  .superRefine((env, ctx) => {
    if ((env.KEY_VAULT_URL === undefined) !== (env.KEY_NAME === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.KEY_VAULT_URL === undefined ? 'KEY_VAULT_URL' : 'KEY_NAME'],
        message: 'KEY_VAULT_URL and KEY_NAME must be set together',
      });
    }
    if (env.ADMIN_AUDIENCE !== undefined && env.TENANT_ID === '00000000-0000-0000-0000-000000000000') {
      ctx.addIssue({
        code: 'custom',
        path: ['TENANT_ID'],
        message: 'must be the Microsoft Entra tenant id when ADMIN_AUDIENCE is set (admin tokens are checked against it)',
      });
    }
    if (env.STORAGE_CONNECTION === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['STORAGE_CONNECTION'],
        message: 'is required (npm start sets it to its embedded Azurite when unset)',
      });
    }
    if (env.CONSOLE_CLIENT_ID !== undefined && env.ADMIN_AUDIENCE === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['CONSOLE_CLIENT_ID'],
        message: 'needs ADMIN_AUDIENCE: the console signs in to get tokens for the admin API',
      });
    }
  });

/** Every variable the service reads. */
export const configVariables = Object.keys(schema.shape) as readonly string[];

/**
 * Variables that only make sense on a developer's machine or in tests; the others are what
 * the Azure deployment sets as app settings (infra tests compare the two lists).
 */
export const localOnlyVariables: readonly string[] = ['ADMIN_KEY', 'LOCAL_DATA_DIR', 'TABLE_PREFIX'];

export const azureAppSettings = configVariables.filter((name) => !localOnlyVariables.includes(name));

export interface Config {
  adminKey: string | undefined;
  internalNetworks: readonly string[];
  internalNetworksPrivateEndpoint: boolean;
  approvalMode: 'auto' | 'manual';
  storageConnection: string;
  keyVault: { url: string; keyName: string } | undefined;
  signingAlg: SigningAlg | undefined;
  localDataDir: string;
  issuer: string;
  audience: string;
  tenantId: string;
  tablePrefix: string;
  adminAudience: string | undefined;
  adminAppRole: string;
  allowAdminKeyInAzure: boolean;
  /** The console's Entra sign-in; undefined when the console offers the admin key only. */
  console: { clientId: string; apiScope: string } | undefined;
  keyRefreshSeconds: number;
  replayShards: number;
  lastSeenGranularitySeconds: number;
  tokenPacing: { burst: number; windowSeconds: number };
  purge: {
    timeBudgetSeconds: number;
    bulkTokenRetentionDays: number;
    deviceRetentionDays: number;
    pendingApprovalDays: number;
    auditRetentionDays: number;
  };
}

export class ConfigError extends Error {
  /** The names of the bad settings, each once, in the order found; never their values. */
  readonly settings: readonly string[];

  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.settings = [...new Set(problems.map((problem) => problem.split(':')[0] ?? problem))];
  }
}

/** Parses the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const e = result.data;
  return {
    adminKey: e.ADMIN_KEY,
    internalNetworks: e.INTERNAL_NETWORKS,
    internalNetworksPrivateEndpoint: e.INTERNAL_NETWORKS_PRIVATE_ENDPOINT,
    approvalMode: e.APPROVAL_MODE,
    storageConnection: e.STORAGE_CONNECTION ?? '',
    keyVault: e.KEY_VAULT_URL && e.KEY_NAME ? { url: e.KEY_VAULT_URL, keyName: e.KEY_NAME } : undefined,
    signingAlg: e.SIGNING_ALG,
    localDataDir: e.LOCAL_DATA_DIR,
    issuer: e.TOKEN_ISSUER,
    audience: e.TOKEN_AUDIENCE,
    tenantId: e.TENANT_ID,
    tablePrefix: e.TABLE_PREFIX,
    adminAudience: e.ADMIN_AUDIENCE,
    adminAppRole: e.ADMIN_APP_ROLE,
    allowAdminKeyInAzure: e.ALLOW_ADMIN_KEY_IN_AZURE,
    console:
      e.CONSOLE_CLIENT_ID && e.ADMIN_AUDIENCE
        ? { clientId: e.CONSOLE_CLIENT_ID, apiScope: e.CONSOLE_API_SCOPE ?? defaultConsoleScope(e.ADMIN_AUDIENCE) }
        : undefined,
    keyRefreshSeconds: e.KEY_REFRESH_SECONDS,
    replayShards: e.REPLAY_SHARDS,
    lastSeenGranularitySeconds: e.LAST_SEEN_GRANULARITY_MINUTES * 60,
    tokenPacing: { burst: e.TOKEN_ISSUE_BURST, windowSeconds: e.TOKEN_ISSUE_WINDOW_MINUTES * 60 },
    purge: {
      timeBudgetSeconds: e.PURGE_TIME_BUDGET_SECONDS,
      bulkTokenRetentionDays: e.BULK_TOKEN_RETENTION_DAYS,
      deviceRetentionDays: e.DEVICE_RETENTION_DAYS,
      pendingApprovalDays: e.PENDING_APPROVAL_DAYS,
      auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    },
  };
}

/**
 * What is allowed but probably wrong, for the log at start (one line each). A private,
 * unique-local or link-local range in INTERNAL_NETWORKS is right only when callers reach the
 * app through a private endpoint: reached over the internet, the app sees such an address
 * only as that of a gateway or proxy of its own in front of it, which would make every
 * caller through it internal.
 */
export function configWarnings(config: Config): string[] {
  if (config.internalNetworksPrivateEndpoint) return [];
  return config.internalNetworks.flatMap((cidr) => {
    const spaces = privateSpacesOf(cidr);
    if (spaces.length === 0) return [];
    return [
      `INTERNAL_NETWORKS: ${cidr} is in ${spaces.join(', ')} address space, which is right only when devices reach ` +
        'this app through a private endpoint (otherwise such an address is a gateway or proxy in front of it, and every ' +
        'caller through it counts as internal); set INTERNAL_NETWORKS_PRIVATE_ENDPOINT=true to say that they do',
    ];
  });
}

/**
 * The delegated scope the console asks for: the admin API's App ID URI plus the scope that
 * docs/deployment.md exposes. A v2 audience is the bare client id, whose App ID URI is api://<id>.
 */
export function defaultConsoleScope(adminAudience: string): string {
  const appIdUri = guid.test(adminAudience.toLowerCase()) ? `api://${adminAudience.toLowerCase()}` : adminAudience.replace(/\/+$/, '');
  return `${appIdUri}/user_impersonation`;
}
