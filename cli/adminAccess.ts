import { readFile } from 'node:fs/promises';
import { localAdminKeyFile, localDataDir } from '../shared/localDataDir.js';
import { CliError, exitCodes, usageError } from './cliError.js';
import { debugOption, helpOption, versionOption, type OptionSpec, type Values } from './commandLine.js';
import { callService } from './serviceClient.js';
import { nonEmpty, refuseCleartext, serviceUrl } from './validate.js';

/**
 * What both admin tools (cmg-admin and bulk-registration-token) share: the service URL, the
 * admin credential and how a call to the admin API is made and its refusal explained.
 */

export interface EntraRequest {
  /** The admin API's audience (ADMIN_AUDIENCE of the service), such as api://<client id>. */
  audience: string;
  tenant?: string;
  /** Sign in with a device code instead of the Azure CLI's login. */
  deviceCode: boolean;
}

export interface AdminIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  /** Messages for the person at the terminal (the device-code prompt, a confirmation). */
  err?: (line: string) => void;
  fetch?: typeof fetch;
  /** The current folder: LOCAL_DATA_DIR (default .local) is relative to it. */
  cwd: string;
  /** Gets a Microsoft Entra ID access token for the admin API. */
  entraToken?: (request: EntraRequest) => Promise<string>;
  /** All of standard input, for `--admin-key-file -`. */
  readStdin?: () => Promise<string>;
  /** The tool's version, for --version. */
  version?: string;
  /** Whether a person can answer a question (stdin and stderr are terminals). */
  isTerminal?: boolean;
  /** Asks a question on the terminal and returns the answer line. */
  ask?: (question: string) => Promise<string>;
}

const defaultUrl = 'http://localhost:7071';

export const adminCommonOptions: readonly OptionSpec[] = [
  { name: 'url', value: '<url>', help: `the service, https:// (http:// only to this machine, or with --allow-http);\ndefault $CMG_URL, else ${defaultUrl}` },
  { name: 'allow-http', help: 'allow http:// to another machine (the admin credential and tokens travel in clear)' },
  {
    name: 'admin-key',
    value: '<key>',
    help: [
      'the local admin key. Visible to other users in the process list (ps):',
      'prefer --admin-key-file or $CMG_ADMIN_KEY. Without any: $CMG_ADMIN_KEY, else the local',
      'host\'s key file $LOCAL_DATA_DIR/admin-key (LOCAL_DATA_DIR defaults to .local, as for',
      'npm start), else Microsoft Entra ID for $CMG_ADMIN_AUDIENCE',
    ].join('\n'),
  },
  { name: 'admin-key-file', value: '<file>', help: 'read the admin key from a file, or from standard input with -' },
  {
    name: 'audience',
    value: '<uri>',
    help: 'sign in with Microsoft Entra ID for this admin API (the service\'s ADMIN_AUDIENCE,\nsuch as api://<client id>); default $CMG_ADMIN_AUDIENCE. Uses the Azure CLI login (az login)',
  },
  { name: 'tenant', value: '<id>', help: 'the Entra tenant to sign in to; default $CMG_TENANT_ID, else the login\'s own' },
  { name: 'device-code', help: 'sign in to Entra ID with a device code (a code to enter at microsoft.com/devicelogin)\ninstead of the Azure CLI login' },
  { name: 'json', help: 'print the service\'s JSON answer, for scripts' },
  debugOption,
  versionOption,
  helpOption,
];

export interface AdminTarget {
  baseUrl: string;
  apiUrl: string;
}

/** The service URL, checked (and http:// to another machine refused) before anything else happens. */
export function adminTarget(values: Values, env: Record<string, string | undefined>): AdminTarget {
  const flag = text(values, 'url');
  const source = flag !== undefined ? '--url' : env.CMG_URL !== undefined ? 'CMG_URL' : 'the default URL';
  const baseUrl = serviceUrl(flag ?? env.CMG_URL ?? defaultUrl, source);
  refuseCleartext(baseUrl, source, values.get('allow-http') === true, 'the admin credential');
  return { baseUrl: baseUrl.replace(/\/$/, ''), apiUrl: new URL('api/', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString() };
}

export type CredentialChoice =
  | { kind: 'key'; key: string; refusedHint: string }
  | { kind: 'key-file'; path: string }
  | { kind: 'entra'; request: EntraRequest }
  | { kind: 'local-file'; path: string; whichDir: string; entraFallback?: EntraRequest };

/**
 * Which credential the options ask for, checked without reading anything: an explicit key or
 * key file, else Entra ID when --audience, --tenant or --device-code says so, else
 * $CMG_ADMIN_KEY, the local host's key file, then $CMG_ADMIN_AUDIENCE.
 */
export function credentialChoice(values: Values, io: Pick<AdminIo, 'env' | 'cwd'>): CredentialChoice {
  const keyFlag = text(values, 'admin-key');
  const keyFile = text(values, 'admin-key-file');
  const audienceFlag = text(values, 'audience');
  const tenantFlag = text(values, 'tenant');
  const deviceCode = values.get('device-code') === true;
  const wantsEntra = audienceFlag !== undefined || tenantFlag !== undefined || deviceCode;
  const given = [keyFlag !== undefined && '--admin-key', keyFile !== undefined && '--admin-key-file', wantsEntra && 'Entra ID (--audience, --tenant, --device-code)'].filter(Boolean);
  if (given.length > 1) throw usageError(`give one admin credential, not ${given.join(' and ')}`);
  if (keyFlag !== undefined) {
    return { kind: 'key', key: nonEmpty(keyFlag, '--admin-key'), refusedHint: 'the key given with --admin-key was refused; npm start prints the local host\'s key' };
  }
  if (keyFile !== undefined) return { kind: 'key-file', path: nonEmpty(keyFile, '--admin-key-file') };
  const tenant = tenantFlag ?? (io.env.CMG_TENANT_ID || undefined);
  if (tenant !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(tenant) && !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(tenant)) {
    throw usageError(`${tenantFlag !== undefined ? '--tenant' : 'CMG_TENANT_ID'} must be a tenant id (a GUID) or domain such as contoso.onmicrosoft.com (got ${JSON.stringify(tenant)})`);
  }
  const entra = (audience: string): EntraRequest => {
    if (!/^[\w.:/-]+$/.test(audience)) {
      throw usageError(`the audience must be the admin API's URI such as api://<client id> (got ${JSON.stringify(audience)})`, 'it is the service\'s ADMIN_AUDIENCE setting');
    }
    return { audience, deviceCode, ...(tenant === undefined ? {} : { tenant }) };
  };
  if (wantsEntra) {
    const audience = audienceFlag ?? (io.env.CMG_ADMIN_AUDIENCE || undefined);
    if (audience === undefined) throw usageError('Entra ID sign-in needs the admin API\'s audience: --audience <uri> or CMG_ADMIN_AUDIENCE', 'it is the service\'s ADMIN_AUDIENCE setting, such as api://<client id>');
    return { kind: 'entra', request: entra(audience) };
  }
  if (io.env.CMG_ADMIN_KEY) return { kind: 'key', key: io.env.CMG_ADMIN_KEY, refusedHint: 'the key in CMG_ADMIN_KEY was refused; npm start prints the local host\'s key' };
  const dataDir = localDataDir(io.env, io.cwd);
  const whichDir = io.env.LOCAL_DATA_DIR ? `LOCAL_DATA_DIR=${io.env.LOCAL_DATA_DIR}` : 'LOCAL_DATA_DIR is unset, so .local in the current folder';
  return {
    kind: 'local-file',
    path: localAdminKeyFile(dataDir),
    whichDir,
    ...(io.env.CMG_ADMIN_AUDIENCE ? { entraFallback: entra(io.env.CMG_ADMIN_AUDIENCE) } : {}),
  };
}

export interface Credential {
  bearer: string;
  /** What to say when the service refuses it: where it came from and how to pick another. */
  refusedHint: string;
}

/** Reads or obtains the credential `choice` names. */
export async function adminCredential(choice: CredentialChoice, io: AdminIo): Promise<Credential> {
  switch (choice.kind) {
    case 'key':
      return { bearer: choice.key, refusedHint: choice.refusedHint };
    case 'key-file': {
      const fromStdin = choice.path === '-';
      let content: string;
      try {
        content = fromStdin ? await (io.readStdin ?? readAllStdin)() : await readFile(choice.path, 'utf8');
      } catch (error) {
        throw new CliError(`cannot read the admin key file ${choice.path}: ${(error as Error).message}`, exitCodes.usage, { hint: 'check the path given to --admin-key-file', cause: error });
      }
      const key = content.trim();
      const where = fromStdin ? 'standard input (--admin-key-file -)' : choice.path;
      if (key === '' || /\s/.test(key)) throw usageError(`${where} must hold the admin key alone, on one line (got ${key === '' ? 'nothing' : 'more than one word'})`);
      return { bearer: key, refusedHint: `the key read from ${where} was refused; npm start prints the local host's key` };
    }
    case 'entra':
      return entraCredential(choice.request, io);
    case 'local-file': {
      let fromFile: string | undefined;
      try {
        fromFile = (await readFile(choice.path, 'utf8')).trim();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new CliError(`cannot read the admin key file ${choice.path}: ${(error as Error).message}`, exitCodes.usage, { hint: 'pass --admin-key-file or set CMG_ADMIN_KEY' });
        }
      }
      if (fromFile) {
        return {
          bearer: fromFile,
          refusedHint: `the key was read from ${choice.path} (${choice.whichDir}); if npm start runs elsewhere, set LOCAL_DATA_DIR to its data folder (npm start prints it) or pass --admin-key-file`,
        };
      }
      if (choice.entraFallback) return entraCredential(choice.entraFallback, io);
      throw usageError(
        `no admin credential: no --admin-key or --admin-key-file, no CMG_ADMIN_KEY, no key file at ${choice.path} (${choice.whichDir}), no --audience or CMG_ADMIN_AUDIENCE`,
        'run this where npm start runs or set LOCAL_DATA_DIR to its data folder, pass --admin-key-file, or (Azure) --audience after az login',
      );
    }
  }
}

async function entraCredential(request: EntraRequest, io: AdminIo): Promise<Credential> {
  const how = request.deviceCode ? 'a device-code sign-in' : 'the Azure CLI login';
  if (!io.entraToken) throw new CliError('Microsoft Entra ID sign-in is not available here', exitCodes.refused);
  try {
    return {
      bearer: await io.entraToken(request),
      refusedHint: `the Entra ID token for ${request.audience} (from ${how}) was refused; does your account hold the admin app role, and is the audience the service's ADMIN_AUDIENCE?`,
    };
  } catch (error) {
    throw new CliError(`no Entra ID token for ${request.audience} from ${how}: ${error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)}`, exitCodes.refused, {
      hint: request.deviceCode ? 'try again, and finish the sign-in at the address shown' : 'run az login (az login --tenant <tenant> for another tenant), or use --device-code',
      cause: error,
    });
  }
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export type AdminCall = <T>(method: 'GET' | 'POST', path: string, body?: unknown) => Promise<T>;

/** Calls the admin API with `credential`; a 401 or 403 says where the credential came from. */
export function adminCaller(target: AdminTarget, credential: Credential, io: AdminIo): AdminCall {
  return async <T>(method: 'GET' | 'POST', path: string, body?: unknown) => {
    try {
      return (await callService<T>(target.apiUrl, { method, path, bearer: credential.bearer, ...(body === undefined ? {} : { body }) }, io.fetch)).body;
    } catch (error) {
      if (error instanceof CliError && (error.status === 401 || error.status === 403)) {
        throw new CliError(error.message, error.exitCode, { status: error.status, ...(error.code ? { code: error.code } : {}), hint: credential.refusedHint });
      }
      throw error;
    }
  };
}

export function text(values: Values, name: string): string | undefined {
  const value = values.get(name);
  return typeof value === 'string' ? value : undefined;
}
