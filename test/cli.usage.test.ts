import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { availableParallelism, release, tmpdir, type } from 'node:os';
import { join } from 'node:path';
import { adminTool } from '../cli/adminCommand.js';
import { bulkTokenTool } from '../cli/bulkTokenCommand.js';
import { clientTool } from '../cli/cmgClientCommand.js';
import { fetchBlockedPorts } from '../cli/validate.js';
import { closedPort } from './support/closedPort.js';
import { projectRoot } from './support/localHost.js';

/**
 * The command-line contract of both CLIs, run through the BUILT tools
 * (dist/cli/*.js, as `npx` runs them) as child processes: every mistake a user can make on
 * the command line exits 2 with one line on stderr naming it and what to do, no stack, and
 * nothing written (the working folder, HOME and the state folder are compared before and
 * after) or sent (each row talks to its own path on a recording stand-in service, which must
 * see no request). Refusals and unreachable services exit 1, pending 3, "not registered" 4.
 */

const bin = {
  bulk: join(projectRoot, 'dist', 'cli', 'bulkRegistrationToken.js'),
  admin: join(projectRoot, 'dist', 'cli', 'cmgAdmin.js'),
  client: join(projectRoot, 'dist', 'cli', 'cmgClient.js'),
  bench: join(projectRoot, 'dist', 'bench', 'all.js'),
  benchPurge: join(projectRoot, 'dist', 'bench', 'purge.js'),
};

const rightKey = 'a'.repeat(64);
const bulkToken = `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from('{"typ":"bulk"}').toString('base64url')}.c2ln`;

interface Context {
  /** The row's own empty folder: its working folder and HOME. */
  dir: string;
  /** A state folder that does not exist yet. */
  state: string;
  /** The recording stand-in service, under a path of this row's own. */
  url: string;
  /** A loopback port nothing listens on. */
  closedUrl: string;
}

interface Row {
  name: string;
  tool: keyof typeof bin;
  args: (c: Context) => string[];
  env?: (c: Context) => Record<string, string>;
  /** Commands run first in the same folder (e.g. a register that leaves a pending state). */
  before?: (c: Context) => Promise<void> | void;
  exit: number;
  /** Matched against the whole of stderr. */
  stderr?: RegExp;
  stderrLines?: number;
  stdout?: RegExp;
  /** The row may reach the stand-in service. */
  sends?: boolean;
  /** A stack is wanted (--debug). */
  stack?: boolean;
  /** What is piped to standard input. */
  stdin?: string;
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  before: string[];
  after: string[];
  requests: number;
}

const usage = 2;
const spawnTimeoutMs = 60_000;

const rows: Row[] = [
  // 1. A URL without a scheme, or not a URL: one line, exit 2, never a TypeError.
  { name: 'admin: --url without a scheme', tool: 'bulk', args: () => ['list', '--url', 'localhost:7071'], exit: usage, stderr: /--url must start with http:\/\/ or https:\/\/ \(got "localhost:7071"\); did you mean http:\/\/localhost:7071\?/ },
  { name: 'admin: --url that is not a URL', tool: 'bulk', args: () => ['list', '--url', 'not a url'], exit: usage, stderr: /--url must start with http:\/\/ or https:\/\/ \(got "not a url"\)/ },
  { name: 'admin: CMG_URL without a scheme', tool: 'bulk', args: () => ['list'], env: () => ({ CMG_URL: 'localhost:7071' }), exit: usage, stderr: /CMG_URL must start with http:\/\/ or https:\/\// },
  { name: 'admin: --url with a port out of range', tool: 'bulk', args: () => ['list', '--url', 'http://localhost:99999'], exit: usage, stderr: /port "99999"; a port is a number from 1 to 65535/ },
  { name: 'admin: --url ending in /api', tool: 'bulk', args: () => ['list', '--url', 'http://localhost:7071/api'], exit: usage, stderr: /--url ends in \/api, which the CLIs add themselves .*; did you mean http:\/\/localhost:7071\?/ },
  { name: 'admin: --url with another scheme', tool: 'bulk', args: () => ['list', '--url', 'ftp://localhost:7071'], exit: usage, stderr: /must be an http:\/\/ or https:\/\/ URL/ },
  { name: 'device: register --url without a scheme writes no key', tool: 'client', args: (c) => ['register', '--url', 'localhost:7071', '--regtoken', bulkToken, '--state', c.state], exit: usage, stderr: /^cmg-client: --url must start with http:\/\/ or https:\/\// },
  { name: 'device: register --url that is not a URL', tool: 'client', args: (c) => ['register', '--url', 'not a url', '--internal', '--state', c.state], exit: usage, stderr: /--url must start with/ },
  { name: 'device: register with CMG_URL without a scheme', tool: 'client', args: (c) => ['register', '--internal', '--state', c.state], env: () => ({ CMG_URL: 'localhost:7071' }), exit: usage, stderr: /CMG_URL must start with/ },
  { name: 'device: authenticate --url without a scheme', tool: 'client', args: (c) => ['authenticate', '--url', 'localhost:7071', '--state', c.state], exit: usage, stderr: /--url must start with/ },

  // 2. Ranges the help states are checked locally: exit 2 and no round trip.
  { name: 'admin: /lifetime:0', tool: 'bulk', args: (c) => ['/new', '/lifetime:0', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /\/lifetime must be a whole number from 1 to 10080 minutes.*\(got 0\)/ },
  { name: 'admin: /lifetime:99999', tool: 'bulk', args: (c) => ['/new', '/lifetime:99999', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /\/lifetime must be a whole number from 1 to 10080 minutes.*\(got 99999\)/ },
  { name: 'admin: /lifetime:abc', tool: 'bulk', args: (c) => ['/new', '/lifetime:abc', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /\/lifetime must be a whole number .*\(got "abc"\)/ },
  { name: 'admin: --lifetime 10081', tool: 'bulk', args: (c) => ['new', '--lifetime', '10081', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--lifetime must be a whole number from 1 to 10080/ },
  { name: 'admin: --max-uses 0', tool: 'bulk', args: (c) => ['new', '--max-uses', '0', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--max-uses must be a whole number from 1 to 1000000/ },
  { name: 'admin: --max-uses 1000001', tool: 'bulk', args: (c) => ['new', '--max-uses', '1000001', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--max-uses must be a whole number from 1 to 1000000/ },
  { name: 'admin: --description of 257 characters', tool: 'bulk', args: (c) => ['new', '--description', 'x'.repeat(257), '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--description must be at most 256 characters/ },
  { name: 'admin: block <not a GUID>', tool: 'bulk', args: (c) => ['block', 'not-a-guid', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /must be a GUID such as .*\(got "not-a-guid"\)/ },
  { name: 'admin: unblock without an id', tool: 'bulk', args: (c) => ['unblock', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /unblock needs <id>/ },

  // 3. Node's parser no longer leaks through.
  { name: 'admin: /lifetime:-5 is a range error, not "ambiguous"', tool: 'bulk', args: (c) => ['/new', '/lifetime:-5', '--url', c.url], exit: usage, stderr: /^bulk-registration-token: \/lifetime must be a whole number from 1 to 10080 .*\(got -5\)/ },
  { name: 'admin: --lifetime -5 too', tool: 'bulk', args: (c) => ['new', '--lifetime', '-5', '--url', c.url], exit: usage, stderr: /--lifetime must be a whole number .*\(got -5\)/ },
  { name: 'admin: new --max-use 50 suggests --max-uses', tool: 'bulk', args: (c) => ['new', '--max-use', '50', '--url', c.url], exit: usage, stderr: /unknown option --max-use; did you mean --max-uses\?/ },
  { name: 'admin: /lifetime without a value', tool: 'bulk', args: (c) => ['/new', '/lifetime', '--url', c.url], exit: usage, stderr: /\/lifetime needs a value <minutes>/ },
  { name: 'admin: an unknown /switch', tool: 'bulk', args: () => ['/frobnicate'], exit: usage, stderr: /unknown switch \/frobnicate/ },
  { name: 'admin: an unknown command', tool: 'bulk', args: () => ['lst'], exit: usage, stderr: /unknown command "lst"; did you mean list\?/ },
  { name: 'admin: an option of another command', tool: 'bulk', args: () => ['list', '--max-uses', '5'], exit: usage, stderr: /--max-uses is not an option of list/ },
  { name: 'admin: an extra argument', tool: 'bulk', args: (c) => ['list', 'now', '--url', c.url], exit: usage, stderr: /unexpected argument "now" after list/ },
  { name: 'admin: a switch given a value', tool: 'bulk', args: () => ['list', '--json=yes'], exit: usage, stderr: /--json takes no value/ },
  { name: 'admin: no command prints the help and exits 2', tool: 'bulk', args: () => [], exit: usage, stdout: /^bulk-registration-token: create and manage/, stderr: /no command given/ },
  { name: 'device: an unknown command', tool: 'client', args: () => ['regster'], exit: usage, stderr: /unknown command "regster"; did you mean register\?/ },
  { name: 'device: --url without its value', tool: 'client', args: (c) => ['register', '--url', '--internal', '--state', c.state], exit: usage, stderr: /--url needs a value <url>/ },
  { name: 'device: register without --url', tool: 'client', args: (c) => ['register', '--internal', '--state', c.state], exit: usage, stderr: /register needs --url <service url> \(or CMG_URL\)/ },
  { name: 'device: --regtoken and --internal together', tool: 'client', args: (c) => ['register', '--url', c.url, '--internal', '--regtoken', bulkToken, '--state', c.state], exit: usage, stderr: /exactly one of --regtoken <token> and --internal/ },
  { name: 'device: --regtoken given the tracking GUID', tool: 'client', args: (c) => ['register', '--url', c.url, '--regtoken', '3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a', '--state', c.state], exit: usage, stderr: /that is a tracking GUID, not the token/ },
  { name: 'device: --wait out of range', tool: 'client', args: (c) => ['register', '--url', c.url, '--internal', '--wait', '86401', '--state', c.state], exit: usage, stderr: /--wait must be a whole number from 0 to 86400 seconds/ },
  { name: 'device: --wait with --regtoken', tool: 'client', args: (c) => ['register', '--url', c.url, '--regtoken', bulkToken, '--wait', '5', '--state', c.state], exit: usage, stderr: /--wait applies to --internal only/ },
  { name: 'device: --key-type dsa', tool: 'client', args: (c) => ['register', '--url', c.url, '--internal', '--key-type', 'dsa', '--state', c.state], exit: usage, stderr: /--key-type must be rsa or ec \(got "dsa"\)/ },
  { name: 'device: status takes no --url', tool: 'client', args: (c) => ['status', '--url', c.url, '--state', c.state], exit: usage, stderr: /--url is not an option of status/ },
  { name: 'device: an empty --state', tool: 'client', args: () => ['status', '--state', ''], exit: usage, stderr: /--state is empty/ },
  {
    name: 'device: a state folder writable by others is refused and left alone',
    tool: 'client',
    before: (c) => {
      mkdirSync(c.state);
      chmodSync(c.state, 0o777);
      writeFileSync(join(c.state, 'someone-elses-file'), 'x');
    },
    args: (c) => ['register', '--url', c.url, '--regtoken', bulkToken, '--state', c.state],
    exit: usage,
    stderr: /refusing the state folder: .* is writable by group and others \(mode 0777\).*chmod go-w/,
  },

  // 6. status is local: 0 valid, 1 expired, 3 pending, 4 not registered.
  { name: 'device: status with no state exits 4 and creates nothing', tool: 'client', args: (c) => ['status', '--state', c.state], exit: 4, stderr: /not registered: no device token in .*; run cmg-client register/ },
  { name: 'device: renew with no state exits 4', tool: 'client', args: (c) => ['renew', '--state', c.state], exit: 4, stderr: /not registered/ },
  { name: 'device: register --internal still pending exits 3', tool: 'client', args: (c) => ['register', '--url', c.url, '--internal', '--wait', '0', '--state', c.state], exit: 3, sends: true, stderrLines: 2, stderr: /generating an RSA 2048 key[\s\S]*still waiting for an administrator's approval; cmg-client run \(or run --once, or register --internal again\) picks up the token once approved; .*status shows the state/ },
  {
    name: 'device: status right after a pending register exits 3',
    tool: 'client',
    before: (c) => runExpecting(3, 'client', ['register', '--url', c.url, '--internal', '--wait', '0', '--key-type', 'ec', '--state', c.state], c),
    args: (c) => ['status', '--state', c.state],
    exit: 3,
    stderrLines: 0,
    stdout: /PENDING: waiting for an administrator's approval/,
    sends: true,
  },
  {
    name: 'device: authenticate while pending exits 3',
    tool: 'client',
    before: (c) => runExpecting(3, 'client', ['register', '--url', c.url, '--internal', '--wait', '0', '--key-type', 'ec', '--state', c.state], c),
    args: (c) => ['authenticate', '--state', c.state],
    exit: 3,
    stderr: /still waiting for an administrator's approval .*; cmg-client run --once --state .* asks again and picks up the token once approved/,
    sends: true,
  },
  { name: 'device: register with a bulk token (an RSA key)', tool: 'client', args: (c) => ['register', '--url', c.url, '--regtoken', bulkToken, '--state', c.state], exit: 0, sends: true, stderrLines: 1, stdout: /^registered: device /, stderr: /generating an RSA 2048 key/ },
  { name: 'device: register --key-type ec (an EC key)', tool: 'client', args: (c) => ['register', '--url', c.url, '--regtoken', bulkToken, '--key-type', 'ec', '--state', c.state], exit: 0, sends: true, stderrLines: 1, stderr: /generating an EC P-256 key/ },
  {
    name: 'device: status of a valid registration exits 0',
    tool: 'client',
    before: (c) => runExpecting(0, 'client', ['register', '--url', c.url, '--regtoken', bulkToken, '--key-type', 'ec', '--state', c.state], c),
    args: (c) => ['status', '--state', c.state],
    exit: 0,
    stderrLines: 0,
    stdout: /token expires: .*days left/,
    sends: true,
  },
  {
    name: 'device: status of an expired token exits 1',
    tool: 'client',
    before: (c) => runExpecting(0, 'client', ['register', '--url', c.url.replace(/\/row-/, '/expired-'), '--regtoken', bulkToken, '--key-type', 'ec', '--state', c.state], c),
    args: (c) => ['status', '--state', c.state],
    exit: 1,
    stderrLines: 0,
    stdout: /EXPIRED: register again/,
    sends: true,
  },

  // 7. LOCAL_DATA_DIR, and where a refused key came from.
  {
    name: 'admin: the key from LOCAL_DATA_DIR is used',
    tool: 'bulk',
    before: (c) => writeKey(join(c.dir, 'data'), rightKey),
    args: (c) => ['list', '--url', c.url],
    env: (c) => ({ LOCAL_DATA_DIR: join(c.dir, 'data') }),
    exit: 0,
    stderrLines: 0,
    stdout: /^no bulk registration tokens$/m,
    sends: true,
  },
  {
    name: 'admin: a refused key names the file it came from',
    tool: 'bulk',
    before: (c) => writeKey(join(c.dir, 'data'), 'b'.repeat(64)),
    args: (c) => ['list', '--url', c.url],
    env: (c) => ({ LOCAL_DATA_DIR: join(c.dir, 'data') }),
    exit: 1,
    stderr: /^bulk-registration-token: 401 unauthorized: .*; the key was read from .*\/data\/admin-key \(LOCAL_DATA_DIR=.*\/data\); if npm start runs elsewhere, set LOCAL_DATA_DIR/,
    sends: true,
  },
  {
    name: 'admin: .local/admin-key under the current folder when LOCAL_DATA_DIR is unset',
    tool: 'bulk',
    before: (c) => writeKey(join(c.dir, '.local'), 'b'.repeat(64)),
    args: (c) => ['list', '--url', c.url],
    exit: 1,
    stderr: /401 unauthorized: .*read from .*\/\.local\/admin-key \(LOCAL_DATA_DIR is unset, so \.local in the current folder\)/,
    sends: true,
  },
  { name: 'admin: no credential anywhere says where it looked', tool: 'bulk', args: (c) => ['list', '--url', c.url], exit: usage, stderr: /no admin credential: .*no key file at .*\/\.local\/admin-key/ },

  // 8. Unreachable services and fetch's blocked ports say what to do.
  { name: 'admin: --url on a blocked port (9)', tool: 'bulk', args: () => ['list', '--url', 'http://localhost:9', '--admin-key', rightKey], exit: usage, stderr: /--url uses port 9, which fetch refuses to connect to .*run the service on another port/ },
  { name: 'device: --url on a blocked port (9)', tool: 'client', args: (c) => ['register', '--url', 'http://localhost:9', '--internal', '--state', c.state], exit: usage, stderr: /port 9, which fetch refuses/ },
  { name: 'admin: connection refused', tool: 'bulk', args: (c) => ['list', '--url', c.closedUrl, '--admin-key', rightKey], exit: 1, stderr: /the service is not reachable at http:\/\/127\.0\.0\.1:\d+: connection refused; is it running\? Locally start it with npm start/ },
  { name: 'device: connection refused', tool: 'client', args: (c) => ['register', '--url', c.closedUrl, '--regtoken', bulkToken, '--key-type', 'ec', '--state', c.state], exit: 1, stderrLines: 2, stderr: /generating an EC P-256 key[\s\S]*\ncmg-client: the service is not reachable at http:\/\/127\.0\.0\.1:\d+: connection refused; is it running\?/ },
  { name: 'admin: --debug shows the stack', tool: 'bulk', args: (c) => ['list', '--url', c.closedUrl, '--admin-key', rightKey, '--debug'], exit: 1, stderrLines: -1, stack: true, stderr: /^bulk-registration-token: the service is not reachable[\s\S]*\n\s+at / },

  // 9. Cleartext: http:// to anything but loopback is refused before anything is read or sent.
  { name: 'admin: http:// to another machine is refused', tool: 'bulk', args: () => ['list', '--url', 'http://cmg.example.com', '--admin-key', rightKey], exit: usage, stderr: /^bulk-registration-token: --url is http:\/\/ to cmg\.example\.com, which is not this machine: the admin credential would travel in clear; use https:\/\/cmg\.example\.com, or pass --allow-http/ },
  { name: 'cmg-admin: CMG_URL http:// to another machine is refused', tool: 'admin', args: () => ['devices', 'list'], env: () => ({ CMG_URL: 'http://10.1.2.3:7071', CMG_ADMIN_KEY: rightKey }), exit: usage, stderr: /CMG_URL is http:\/\/ to 10\.1\.2\.3, which is not this machine/ },
  { name: 'cmg-admin: --allow-http lets it through (to a name that does not resolve)', tool: 'admin', args: () => ['devices', 'list', '--url', 'http://cmg.invalid', '--allow-http', '--admin-key', rightKey], exit: 1, stderr: /not reachable at http:\/\/cmg\.invalid: host name cmg\.invalid not found/ },
  { name: 'cmg-admin: http://localhost and [::1] are loopback', tool: 'admin', args: () => ['tokens', 'list', '--url', 'http://[::1]:9', '--admin-key', rightKey], exit: usage, stderr: /port 9, which fetch refuses/ },
  { name: 'device: register over http:// to another machine writes no key', tool: 'client', args: (c) => ['register', '--url', 'http://192.0.2.10:7071', '--regtoken', bulkToken, '--state', c.state], exit: usage, stderr: /^cmg-client: --url is http:\/\/ to 192\.0\.2\.10, which is not this machine: the bulk registration token and the device token would travel in clear; .*--allow-http/ },
  { name: 'device: --allow-http lets register through', tool: 'client', args: (c) => ['register', '--url', 'http://cmg.invalid', '--allow-http', '--regtoken', bulkToken, '--key-type', 'ec', '--state', c.state], exit: 1, stderrLines: 2, stderr: /host name cmg\.invalid not found/ },
  {
    name: 'device: renew with a saved http:// URL of another machine is refused',
    tool: 'client',
    before: (c) => runExpecting(0, 'client', ['register', '--url', c.url, '--regtoken', bulkToken, '--key-type', 'ec', '--state', c.state], c).then(() => {
      const file = join(c.state, 'token.json');
      writeFileSync(file, readFileSync(file, 'utf8').replace(/"url": "[^"]*"/, '"url": "http://cmg.example.com/"'));
    }),
    args: (c) => ['renew', '--force', '--state', c.state],
    exit: usage,
    stderr: /the URL saved in .* is http:\/\/ to cmg\.example\.com, which is not this machine/,
    sends: true,
  },

  // 10. The admin key from a file or standard input, never the process list.
  { name: 'cmg-admin: a refused key from a file names the file', tool: 'admin', before: (c) => writeFileSync(join(c.dir, 'k'), 'wrong\n'), args: (c) => ['tokens', 'list', '--url', c.url, '--admin-key-file', join(c.dir, 'k')], exit: 1, stderr: /401 unauthorized: .*; the key read from .*\/k was refused/, sends: true },
  { name: 'cmg-admin: a missing key file', tool: 'admin', args: (c) => ['tokens', 'list', '--url', c.url, '--admin-key-file', join(c.dir, 'nope')], exit: usage, stderr: /cannot read the admin key file .*nope: ENOENT/ },
  { name: 'cmg-admin: an empty key on standard input', tool: 'admin', stdin: '\n', args: (c) => ['tokens', 'list', '--url', c.url, '--admin-key-file', '-'], exit: usage, stderr: /standard input \(--admin-key-file -\) must hold the admin key alone, on one line \(got nothing\)/ },
  { name: 'cmg-admin: --admin-key and --admin-key-file together', tool: 'admin', args: (c) => ['tokens', 'list', '--url', c.url, '--admin-key', rightKey, '--admin-key-file', '-'], exit: usage, stderr: /give one admin credential, not --admin-key and --admin-key-file/ },
  { name: 'cmg-admin: the help says --admin-key is visible in the process list', tool: 'admin', args: () => ['--help'], exit: 0, stdout: /--admin-key <key> .*Visible to other users in the process list \(ps\):\s+prefer --admin-key-file/ },
  { name: 'cmg-admin: --device-code without an audience', tool: 'admin', args: (c) => ['tokens', 'list', '--url', c.url, '--device-code'], exit: usage, stderr: /Entra ID sign-in needs the admin API's audience: --audience <uri> or CMG_ADMIN_AUDIENCE/ },
  { name: 'cmg-admin: --tenant that is not a tenant', tool: 'admin', args: (c) => ['tokens', 'list', '--url', c.url, '--audience', 'api://x', '--tenant', 'not a tenant'], exit: usage, stderr: /--tenant must be a tenant id/ },

  // 11. cmg-admin's own commands, checked before anything is sent.
  { name: 'cmg-admin: --version', tool: 'admin', args: () => ['--version'], exit: 0, stdout: /^cmg-admin \d+\.\d+\.\d+\n$/ },
  { name: 'cmg-admin: a group without its subcommand', tool: 'admin', args: () => ['devices'], exit: usage, stderr: /devices needs a subcommand: list, show, approve, revoke/ },
  { name: 'cmg-admin: devices lst suggests devices list', tool: 'admin', args: () => ['devices', 'lst'], exit: usage, stderr: /unknown command "devices lst"; did you mean devices list\?/ },
  { name: 'cmg-admin: devices list --status gone', tool: 'admin', args: (c) => ['devices', 'list', '--status', 'gone', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--status must be pending or active or revoked \(got "gone"\)/ },
  { name: 'cmg-admin: devices list --name of 65 characters', tool: 'admin', args: (c) => ['devices', 'list', '--name', 'n'.repeat(65), '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--name must be 1 to 64 characters/ },
  { name: 'cmg-admin: devices list --limit 0', tool: 'admin', args: (c) => ['devices', 'list', '--limit', '0', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--limit must be a whole number from 1 to 1000/ },
  { name: 'cmg-admin: devices show <not a device>', tool: 'admin', args: (c) => ['devices', 'show', 'laptop', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /a device is named by its id \(a GUID\), its SHA-1 thumbprint \(40 hex digits\) or its SHA-256 thumbprint/ },
  { name: 'cmg-admin: devices revoke, not on a terminal, without --yes', tool: 'admin', args: (c) => ['devices', 'revoke', '7d3f4a52-1111-4222-8333-944455566677', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /devices revoke asks for confirmation, and this is not a terminal: add --yes/ },
  { name: 'cmg-admin: audit --from yesterday', tool: 'admin', args: (c) => ['audit', '--from', 'yesterday', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--from must be an ISO 8601 instant with a time zone .* or an age such as 30m, 12h or 7d \(got "yesterday"\)/ },
  { name: 'cmg-admin: audit --from after --to', tool: 'admin', args: (c) => ['audit', '--from', '2026-12-02T00:00:00Z', '--to', '2026-12-01T00:00:00Z', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--from must be earlier than --to/ },
  { name: 'cmg-admin: audit --action delete', tool: 'admin', args: (c) => ['audit', '--action', 'delete', '--url', c.url, '--admin-key', rightKey], exit: usage, stderr: /--action must be bulk-token\.create or/ },
  { name: 'cmg-admin: no command prints the help and exits 2', tool: 'admin', args: () => [], exit: usage, stdout: /^cmg-admin: administer cmg-token-auth/, stderr: /no command given/ },

  // 12. cmg-client's own additions.
  { name: 'device: --version', tool: 'client', args: () => ['--version'], exit: 0, stdout: /^cmg-client \d+\.\d+\.\d+\n$/ },
  { name: 'device: --name with a control character', tool: 'client', args: (c) => ['register', '--url', c.url, '--internal', '--name', 'a\u001bb', '--state', c.state], exit: usage, stderr: /--name must be 1 to 64 characters without control characters/ },
  { name: 'device: run --poll 0', tool: 'client', args: (c) => ['run', '--poll', '0', '--state', c.state], exit: usage, stderr: /--poll must be a whole number from 1 to 3600 seconds/ },
  { name: 'device: reset, not on a terminal, without --yes', tool: 'client', args: (c) => ['reset', '--state', c.state], exit: usage, stderr: /reset asks for confirmation, and this is not a terminal: add --yes/ },
  { name: 'device: reset --yes with nothing to reset', tool: 'client', args: (c) => ['reset', '--yes', '--state', c.state], exit: 0, stdout: /^nothing to reset: no device state in / },

  {
    name: 'device: register sends its name, OS and version (the stand-in echoes the description)',
    tool: 'client',
    args: (c) => ['register', '--url', c.url.replace(/\/row-/, '/describe-'), '--regtoken', bulkToken, '--name', 'laptop-7', '--key-type', 'ec', '--state', c.state],
    exit: 0,
    stderrLines: 1,
    stdout: /^registered: device /,
    stderr: /generating an EC P-256 key/,
  },

  // Help: general, per command, Configuration Manager's /?, and the benches.
  { name: 'admin: /? is the help', tool: 'bulk', args: () => ['/?'], exit: 0, stderrLines: 0, stdout: /Configuration Manager syntax[\s\S]*Exit codes:\n {2}0 {2}done\n {2}1 .*\n {2}2 / },
  { name: 'admin: help new', tool: 'bulk', args: () => ['help', 'new'], exit: 0, stderrLines: 0, stdout: /^bulk-registration-token new: / },
  { name: 'device: --help', tool: 'client', args: () => ['--help'], exit: 0, stderrLines: 0, stdout: /Exit codes:[\s\S]* 3 {2}pending[\s\S]* 4 {2}not registered/ },
  { name: 'bench:purge --help', tool: 'benchPurge', args: () => ['--help'], exit: 0, stderrLines: 0, stdout: /^npm run bench:purge -- \[options\][\s\S]*Exit codes:/ },
  { name: 'bench:purge with an unknown option', tool: 'benchPurge', args: () => ['--frob'], exit: usage, stderr: /^bench:purge: unknown option --frob; run npm run bench:purge -- --help\n$/ },
  { name: 'bench --help', tool: 'bench', args: () => ['--help'], exit: 0, stderrLines: 0, stdout: /^npm run bench -- \[options\][\s\S]*Exit codes:/ },
  { name: 'bench with a flag missing its value', tool: 'bench', args: () => ['--seed'], exit: usage, stderr: /^bench: --seed needs a value/ },
  ...[
    ...bulkTokenTool.commands.map((command) => ({ tool: 'bulk' as const, name: bulkTokenTool.name, command })),
    ...adminTool.commands.map((command) => ({ tool: 'admin' as const, name: adminTool.name, command })),
    ...clientTool.commands.map((command) => ({ tool: 'client' as const, name: clientTool.name, command })),
  ].map(({ tool, name, command }): Row => ({
    name: `${name} ${command.name} --help`,
    tool,
    args: () => [command.name, '--help'],
    exit: 0,
    stderrLines: 0,
    stdout: new RegExp(
      [
        `^${name} ${command.name}: `,
        'Usage:',
        ...command.options.map((option) => `--${option.name}`),
        'Options of every command:',
        '--help',
        `Example:\\n {2}${name} ${command.name}`,
        'Exit codes:\\n {2}0 ',
      ].join('[\\s\\S]*'),
    ),
  })),
];

/** The stand-in service: answers like the real one, and counts requests per row path. */
const requests = new Map<string, number>();
let service: Server;
let serviceUrl = '';
let closedUrl = '';
const results = new Map<string, Result>();
const timings: string[] = [];

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' });
  res.end(JSON.stringify(body));
}

function stand_in(req: IncomingMessage, res: ServerResponse): void {
  const [, row = '', ...rest] = (req.url ?? '').split('/');
  requests.set(row, (requests.get(row) ?? 0) + 1);
  const path = `${req.method} /${rest.join('/')}`;
  const day = 86_400_000;
  const expired = row.startsWith('expired-');
  const issued = () => ({
    deviceId: '7d3f4a52-1111-4222-8333-944455566677',
    token: `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('{"reg":"bulk"}').toString('base64url')}.c2ln`,
    expiresAt: new Date(Date.now() + (expired ? -day : 90 * day)).toISOString(),
    renewAfter: new Date(Date.now() + (expired ? -2 * day : 60 * day)).toISOString(),
  });
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    if (row.startsWith('describe-') && path === 'POST /api/register') {
      // Answers 201 only to the description cmg-client must send: the name given, the OS, its own version.
      const { device } = JSON.parse(body) as { device?: Record<string, unknown> };
      const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
      const expected = { name: 'laptop-7', os: `${type()} ${release()}`, clientVersion: version };
      if (JSON.stringify(device) === JSON.stringify(expected)) answer(res, 201, issued());
      else answer(res, 400, { status: 400, code: 'invalid_request', detail: `device was ${JSON.stringify(device)}, not ${JSON.stringify(expected)}` });
    } else if (path === 'POST /api/register/internal') answer(res, 202, { deviceId: '7d3f4a52-1111-4222-8333-944455566677', status: 'pending' });
    else if (path === 'POST /api/register') answer(res, 201, issued());
    else if (path === 'GET /api/bulk-tokens' && req.headers.authorization === `Bearer ${rightKey}`) answer(res, 200, { items: [] });
    else if (path === 'GET /api/bulk-tokens') answer(res, 401, { status: 401, code: 'unauthorized', title: 'Unauthorized', detail: 'the admin credential is missing or wrong' });
    else answer(res, 404, { status: 404, code: 'not_found', detail: 'no such route' });
  });
}

function writeKey(dir: string, key: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'admin-key'), `${key}\n`);
}

/** Every path under `dir` with its mode: what "nothing was written" is checked against. */
function snapshot(dir: string): string[] {
  const entries: string[] = [];
  const walk = (folder: string) => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      const info = statSync(path);
      entries.push(`${path.slice(dir.length)} ${(info.mode & 0o7777).toString(8)} ${info.isFile() ? readFileSync(path).length : ''}`);
      if (info.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return entries;
}

function environment(c: Context, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(CMG_|LOCAL_DATA_DIR$|XDG_STATE_HOME$|ADMIN_KEY$)/.test(key)) env[key] = value;
  }
  return { ...env, HOME: c.dir, ...extra };
}

function runTool(tool: keyof typeof bin, args: string[], c: Context, env: Record<string, string> = {}, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin[tool], ...args], { cwd: c.dir, env: environment(c, env), stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(stdin ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A hung tool fails its row instead of the whole file.
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${spawnTimeoutMs} ms)`;
      child.kill('SIGKILL');
    }, spawnTimeoutMs);
    child.once('error', fail);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

async function runExpecting(exit: number, tool: keyof typeof bin, args: string[], c: Context): Promise<void> {
  const result = await runTool(tool, args, c);
  if (result.code !== exit) throw new Error(`set-up ${args.join(' ')} exited ${result.code}, not ${exit}: ${result.stderr}`);
}

async function runRow(row: Row, index: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'cmg-cli-usage-'));
  const c: Context = { dir, state: join(dir, 'state'), url: `${serviceUrl}/row-${index}`, closedUrl };
  await row.before?.(c);
  const before = snapshot(dir);
  const requestsBefore = requests.get(`row-${index}`) ?? 0;
  const ran = await runTool(row.tool, row.args(c), c, row.env?.(c), row.stdin);
  return { ...ran, before, after: snapshot(dir), requests: (requests.get(`row-${index}`) ?? 0) - requestsBefore };
}

/** Runs `task` on the items at most `limit` at a time (each is a node process). */
async function inParallel<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await task(items[index] as T, index);
      }
    }),
  );
}

function withoutHost(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.HOST;
  return copy;
}

beforeAll(async () => {
  service = createHttpServer(stand_in);
  await new Promise<void>((done) => service.listen(0, '127.0.0.1', done));
  const address = service.address();
  serviceUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  closedUrl = `http://127.0.0.1:${await closedPort()}`;
  await inParallel(rows, Math.max(2, availableParallelism()), async (row, index) => {
    const started = Date.now();
    results.set(row.name, await runRow(row, index));
    timings.push(`${Date.now() - started} ms ${row.name}`);
  });
}, 600_000);

afterAll(async () => {
  await new Promise((done) => service?.close(done));
});

describe('the CLIs from the command line (dist/cli/*.js as child processes)', () => {
  it('has one row per name', () => {
    expect(new Set(rows.map((row) => row.name)).size).toBe(rows.length);
  });

  it.each(rows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const result = results.get(row.name);
    expect(result).toBeDefined();
    if (!result) return;
    const context = `stdout: ${result.stdout.slice(0, 400)}\nstderr: ${result.stderr}`;
    expect({ exit: result.code, context }).toEqual({ exit: row.exit, context });
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    const expectedLines = row.stderrLines ?? (row.exit === 0 ? 0 : 1);
    if (expectedLines >= 0) expect(lines).toHaveLength(expectedLines);
    if (!row.stack) expect(result.stderr).not.toMatch(/^\s+at /m);
    if (row.stderr) expect(result.stderr).toMatch(row.stderr);
    if (row.stdout) expect(result.stdout).toMatch(row.stdout);
    // Messages never carry node's parser advice or an unbalanced quote.
    if (!row.stack) expect(result.stderr).not.toMatch(/ambiguous|-XYZ|ERR_PARSE_ARGS|TypeError/);
    expect((lines[0]?.match(/"/g) ?? []).length % 2).toBe(0);
    if (row.exit === usage) {
      // Nothing written (working folder = HOME, the state folder inside it) and nothing sent.
      expect(result.after).toEqual(result.before);
      expect(result.requests).toBe(0);
    }
    if (!row.sends) expect(result.requests).toBe(0);
  });
});

describe('fetch\'s blocked ports', () => {
  it('are refused by node\'s own fetch as "bad port" (so the CLIs refuse them up front)', async () => {
    const blocked = [...fetchBlockedPorts];
    const refusedByFetch = await Promise.all(
      // A blocked port is refused before any connection is made, so this sends nothing.
      // (jest's sandbox has its own Error, so the cause is looked at, not tested with instanceof.)
      blocked.map((port) => fetch(`http://127.0.0.1:${port}/`).then(() => false, (error: { cause?: { message?: string } }) => error.cause?.message === 'bad port')),
    );
    expect(blocked.filter((_, index) => !refusedByFetch[index])).toEqual([]);
    expect(blocked.length).toBeGreaterThan(70);
    expect(fetchBlockedPorts.has(7071)).toBe(false);
  });
});

describe('a second npm start on a busy port', () => {
  it('exits non-zero with one line saying which port and to set PORT, before starting Azurite', async () => {
    const holder = createNetServer();
    await new Promise<void>((done) => holder.listen(0, '127.0.0.1', done));
    const address = holder.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const dataDir = mkdtempSync(join(tmpdir(), 'cmg-busy-port-'));
    try {
      const child = spawn(process.execPath, [join(projectRoot, 'dist', 'host', 'main.js')], {
        cwd: projectRoot,
        env: { ...withoutHost(process.env), PORT: String(port), LOCAL_DATA_DIR: dataDir, ADMIN_KEY: '', STORAGE_CONNECTION: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((done) => child.once('close', done));
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(stderr).toBe(`cmg-token-auth: port ${port} is in use (another npm start?); set PORT=<another port>, e.g. PORT=${port + 1} npm start\n`);
      expect(stdout).toBe('');
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      await new Promise((done) => holder.close(done));
    }
  });
});

// CLI_TIMINGS=1 prints how long each row took (the rows run one per core, at least 2, in beforeAll).
afterAll(() => {
  if (process.env.CLI_TIMINGS) process.stderr.write(`${timings.join('\n')}\n`);
});
