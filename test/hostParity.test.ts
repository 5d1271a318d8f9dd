import { app, HttpRequest, type InvocationContext, type Timer } from '@azure/functions';
import { getProgrammingModel } from '../host/functionsCore.js';
import { homePageAnswer } from '../host/homePage.js';
import { formatPeer } from '../host/hostRequest.js';
import { callerAddress } from '../shared/network/clientAddress.js';
import { createDeviceIdentity, signProof } from '../cli/device/identity.js';
import { resetServices } from '../shared/runtime/processServices.js';
import { rawRequest, startInProcessHost, type InProcessHost } from './support/inProcessHost.js';
import { startLocalHost } from './support/localHost.js';
import { installTestServices, testAdminKey } from './support/services.js';

/**
 * What passes locally passes in Azure: one test per point where the Functions host
 * and the Node.js worker shape what a function sees or what the caller gets. Each request goes
 * over HTTP through the local host's listener (the one `npm start` serves); each expected value
 * is the host's or the library's behaviour, with its source named in the test — not this
 * project's own code. Host: Azure/azure-functions-host release 4.1037 (with
 * Microsoft.Azure.WebJobs.Extensions.Http 3.2.0); worker: azure-functions-nodejs-worker 3.x;
 * library: @azure/functions 4.16.5.
 */

// Test-only functions, registered through the library exactly as the function files register.
interface Seen {
  isLibraryRequest: boolean;
  method: string;
  url: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  params: Record<string, string>;
  bodyLength: number;
}
const seen: Seen[] = [];
app.http('parityEcho', {
  methods: ['GET', 'POST'],
  route: 'parity-echo/{value}',
  authLevel: 'anonymous',
  handler: async (request: HttpRequest) => {
    seen.push({
      isLibraryRequest: request instanceof HttpRequest,
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers.entries()),
      query: Object.fromEntries(request.query.entries()),
      params: { ...request.params },
      bodyLength: (await request.arrayBuffer()).byteLength,
    });
    // jsonBody is turned into bytes and a JSON content type by the library's HttpResponse
    // (converters/toRpcHttp.ts): without the library's response conversion neither appears.
    return { status: 200, jsonBody: { ok: true } };
  },
});
app.http('parityThrows', {
  methods: ['GET'],
  route: 'parity-throws',
  authLevel: 'anonymous',
  handler: async (_request: HttpRequest, context: InvocationContext) => {
    context.error('parity: logged with its cause', new Error('the cause of the logged error'));
    throw new Error('parity: the handler threw');
  },
});
const timers: unknown[] = [];
app.timer('parityTimer', {
  schedule: '%PARITY_SCHEDULE%',
  handler: async (timer: Timer) => {
    timers.push(timer);
  },
});
app.timer('parityUnresolved', { schedule: '%PARITY_NOT_SET%', handler: async () => undefined });
// A run that lasts until the test releases it: the admin API's 202 must come before its end.
let releaseSlow: (() => void) | undefined;
let slowRunsEnded = 0;
app.timer('paritySlow', {
  schedule: '0 0 0 1 1 *',
  handler: async () => {
    await new Promise<void>((release) => (releaseSlow = release));
    slowRunsEnded += 1;
  },
});

/** Waits for a condition on state; the deadline only guards against a hang. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((tick) => setImmediate(tick));
  }
}

/** POST /admin/functions/<name> as the host's admin API takes it: a JSON body. */
const runNow = (url: string, name: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/admin/functions/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"input":""}' });

let host: InProcessHost;
let getResponseCalls = 0;

beforeAll(async () => {
  await installTestServices();
  // Count the library's response conversions: every invocation must go through it.
  const model = getProgrammingModel() as { getInvocationModel(context: unknown): { getResponse(...args: unknown[]): Promise<unknown> } };
  const original = model.getInvocationModel.bind(model);
  model.getInvocationModel = (context: unknown) => {
    const invocation = original(context);
    const getResponse = invocation.getResponse.bind(invocation);
    invocation.getResponse = (...args: unknown[]) => {
      getResponseCalls += 1;
      return getResponse(...args);
    };
    return invocation;
  };
  // HOST names the one non-loopback name a test sends (Example.test), which the local host then answers to.
  host = await startInProcessHost({ settings: { PURGE_SCHEDULE: '0 17 * * * *', PARITY_SCHEDULE: '0 */5 * * * *' }, hostSetting: 'example.test' });
});

afterAll(async () => {
  await host?.close();
});

const admin = { authorization: `Bearer ${testAdminKey}` };

async function problem(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return (await response.json()) as Record<string, unknown>;
}

describe('routing', () => {
  // The host treats a route's methods as a constraint (WebScriptHostHttpRoutesManager:
  // HttpMethodRouteConstraint) and tries routes in function-name order (FunctionMetadataManager
  // orders by name; WebJobsRouteBuilder.Build keeps it), so a wrong method or an unknown path
  // reaches the one route that matches everything, `{*path}` of zzUnmatchedRoute, sorted last.
  it('GET /api/bulk-tokens/<id>/block: no route takes GET there, so the catch-all answers 405 problem+json, Allow: POST', async () => {
    const response = await fetch(`${host.url}/api/bulk-tokens/6f1c0000-0000-4000-8000-000000000000/block`, { headers: admin });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(await problem(response)).toMatchObject({ status: 405, code: 'method_not_allowed' });
  });

  it('DELETE /api/health: 405 problem+json, Allow: GET', async () => {
    const response = await fetch(`${host.url}/api/health`, { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(await problem(response)).toMatchObject({ code: 'method_not_allowed' });
  });

  it('HEAD /api/health: health takes GET only (host 4.1037 adds no HEAD), so 405 with Allow: GET and no body', async () => {
    const response = await fetch(`${host.url}/api/health`, { method: 'HEAD' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.text()).toBe('');
  });

  it('GET /api/nothing: 404 problem+json not_found; outside /api the host itself answers an empty 404', async () => {
    const response = await fetch(`${host.url}/api/nothing`);
    expect(response.status).toBe(404);
    expect(await problem(response)).toMatchObject({ code: 'not_found' });
    const outside = await fetch(`${host.url}/nothing`);
    expect(outside.status).toBe(404);
    expect(await outside.text()).toBe('');
  });
});

describe('request conversion', () => {
  it('a chunked POST /api/bulk-tokens {"maxUses":"bad"} creates nothing: 411 length_required; with Content-Length, 400 invalid_request', async () => {
    // The host forwards a body only when ContentLength > 0 (GrpcMessageConversionExtensions
    // .ToRpcHttp; azure-functions-host #7930), so a chunked body arrives empty, with its
    // Transfer-Encoding header among the forwarded headers.
    const listed = async () => ((await (await fetch(`${host.url}/api/bulk-tokens`, { headers: admin })).json()) as { items: unknown[] }).items.length;
    const before = await listed();
    const body = '{"maxUses":"bad"}';
    const chunked = await rawRequest(
      host.port,
      `POST /api/bulk-tokens HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nAuthorization: Bearer ${testAdminKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked`,
      `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    expect(chunked.status).toBe(411);
    expect(chunked.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(chunked.body)).toMatchObject({ code: 'length_required' });
    const sized = await fetch(`${host.url}/api/bulk-tokens`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body });
    expect(sized.status).toBe(400);
    expect(await problem(sized)).toMatchObject({ code: 'invalid_request' });
    expect(await listed()).toBe(before);
  });

  it('a chunked body never reaches the function, as in the host', async () => {
    const answer = await rawRequest(
      host.port,
      `POST /api/parity-echo/x HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nTransfer-Encoding: chunked`,
      `5\r\nhello\r\n0\r\n\r\n`,
    );
    expect(answer.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ bodyLength: 0, headers: expect.objectContaining({ 'transfer-encoding': 'chunked' }) });
  });

  it('?status=active&status=revoked reaches the function as one value "active,revoked" (StringValues joined with ","), so listDevices answers 400', async () => {
    await fetch(`${host.url}/api/parity-echo/x?status=active&status=revoked`);
    expect(seen.at(-1)?.query).toEqual({ status: 'active,revoked' });
    const response = await fetch(`${host.url}/api/devices?status=active&status=revoked`, { headers: admin });
    expect(response.status).toBe(400);
    expect(await problem(response)).toMatchObject({ code: 'invalid_request' });
  });

  it('the URL is scheme://Host/api/..., header names lower-cased, a repeated header joined with ",", %2F kept encoded in a route value', async () => {
    const answer = await rawRequest(
      host.port,
      `GET /api/parity-echo/a%2Fb%20c?x=1 HTTP/1.1\r\nHost: Example.test:8080\r\nX-Twice: one\r\nX-Twice: two`,
    );
    expect(answer.status).toBe(200);
    const last = seen.at(-1);
    expect(last?.url).toBe('http://example.test:8080/api/parity-echo/a%2Fb%20c?x=1');
    expect(last?.headers['x-twice']).toBe('one,two');
    expect(last?.params).toEqual({ value: 'a%2Fb c' });
  });

  it('X-Forwarded-For gets the caller appended as ip:port, as Azure\'s front end writes it; the function reads it as the caller', async () => {
    await fetch(`${host.url}/api/parity-echo/x`, { headers: { 'x-forwarded-for': '10.9.9.9' } });
    expect(seen.at(-1)?.headers['x-forwarded-for']).toMatch(/^10\.9\.9\.9, 127\.0\.0\.1:\d+$/);
    // The proof's htu is checked against that URL: an internal registration over the host works.
    const device = await createDeviceIdentity('ec');
    const proof = await signProof(device, { method: 'POST', url: `${host.url}/api/register/internal` });
    const registered = await fetch(`${host.url}/api/register/internal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ proof }) });
    expect(registered.status).toBe(201);
  });
});

describe('what Kestrel and the host make of a request before routing', () => {
  // Kestrel decodes the path, then removes dot segments: dotnet/aspnetcore
  // src/Servers/Kestrel/Core/src/Internal/Http/PathDecoder.cs (commit 02fbb9c), DecodePath:
  // `UrlDecoder.DecodeInPlace(path, isFormEncoding: false)`, then
  // `PathNormalizer.RemoveDotSegments(path.Slice(0, pathLength))`. The host builds the URL the
  // worker sees from that path (GrpcMessageConversionExtensions.cs line 130, `{request.Path}`).
  // Raw requests: fetch would remove the dot segments itself.
  it.each([
    ['/api/nothing/../health'],
    ['/api/./health'],
    ['/api/%2E%2E/api/health'],
    ['/api/%2e/health/.'],
  ])('GET %s is the health route, as in Azure', async (path) => {
    const answer = await rawRequest(host.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${host.port}`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'ok' });
  });

  it('the function sees the URL with the dot segments removed; `..` never climbs above the root', async () => {
    await rawRequest(host.port, `GET /api/x/%2E%2E/parity-echo/y/../v HTTP/1.1\r\nHost: 127.0.0.1:${host.port}`);
    expect(seen.at(-1)).toMatchObject({ url: `http://127.0.0.1:${host.port}/api/parity-echo/v`, params: { value: 'v' } });
    const above = await rawRequest(host.port, `GET /../../api/health HTTP/1.1\r\nHost: 127.0.0.1:${host.port}`);
    expect(above.status).toBe(200);
  });

  // Query and header values reach the worker as StringValues.ToString() (azure-functions-host
  // src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs, commit 89dc438,
  // line 141 `var value = pair.Value.ToString();` for the query, line 159 for headers), which
  // skips null and empty values when it joins (dotnet/runtime Microsoft.Extensions.Primitives
  // StringValues.cs, GetJoinedStringValueFromArray: "// Skip null and empty values").
  it('?status=&status=active reaches the function as "active", so listDevices filters on active', async () => {
    await fetch(`${host.url}/api/parity-echo/x?status=&status=active&empty=&empty=`);
    expect(seen.at(-1)?.query).toEqual({ status: 'active', empty: '' });
    const response = await fetch(`${host.url}/api/devices?status=&status=active`, { headers: admin });
    expect(response.status).toBe(200);
  });

  // ASP.NET Core's query collection is case-insensitive: dotnet/aspnetcore
  // src/Http/Http/src/Features/QueryFeature.cs (commit d1a4541), KvpAccumulator.Append:
  // `new AdaptiveCapacityDictionary<string, StringValues>(StringComparer.OrdinalIgnoreCase)`.
  it('query keys that differ only in case are one key, under its first spelling, values joined', async () => {
    await fetch(`${host.url}/api/parity-echo/x?Status=active&STATUS=&status=revoked`);
    expect(seen.at(-1)?.query).toEqual({ Status: 'active,revoked' });
  });

  it('a repeated header with an empty value: the empty one is skipped when joined, as for the query', async () => {
    const answer = await rawRequest(host.port, `GET /api/parity-echo/x HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nX-Twice:\r\nx-twice: two`);
    expect(answer.status).toBe(200);
    expect(seen.at(-1)?.headers['x-twice']).toBe('two');
  });
});

describe('the host\'s own answers: the admin API and the root', () => {
  // azure-functions-host src/WebJobs.Script.WebHost/Controllers/FunctionsController.cs (commit
  // 89dc438) lines 100-159, Invoke: [FromBody] FunctionInvocation (MVC's JSON input formatter),
  // `if (invocation == null) return BadRequest();` (106-108), `GetFunctionOrNull(name)` else
  // `NotFound()` (111-115), `Task.Run(...)` (127) then `return Accepted();` (159).
  it('without a JSON body: 415 for no JSON content type, 400 for an empty or non-object JSON body, all empty, nothing run', async () => {
    const before = timers.length;
    const noType = await fetch(`${host.url}/admin/functions/parityTimer`, { method: 'POST' });
    expect([noType.status, await noType.text()]).toEqual([415, '']);
    for (const body of ['', 'not json', '[]', 'null']) {
      const response = await fetch(`${host.url}/admin/functions/parityTimer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect([body, response.status, await response.text()]).toEqual([body, 400, '']);
    }
    expect(timers.length).toBe(before);
  });

  it('an unknown function: an empty 404 (after the body is bound, as in the host)', async () => {
    const response = await runNow(host.url, 'noSuchFunction');
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('');
  });

  it('202 comes before the run ends', async () => {
    const response = await runNow(host.url, 'PARITYSLOW');
    expect(response.status).toBe(202);
    await until(() => releaseSlow !== undefined, 'the slow run to start');
    expect(slowRunsEnded).toBe(0);
    releaseSlow?.();
    await until(() => slowRunsEnded === 1, 'the slow run to end');
  });

  // HomepageMiddleware.cs (commit 89dc438) lines 32-56: path "/" with no function: 200
  // text/html, the landing page; 204 with AzureWebJobsDisableHomepage=true.
  it('GET / is the host\'s home page (any method), and 204 with AzureWebJobsDisableHomepage=true', async () => {
    const response = await fetch(`${host.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html');
    expect(await response.text()).toContain('<title>Your Azure Function App is up and running.</title>');
    expect((await fetch(`${host.url}/`, { method: 'POST' })).status).toBe(200);
    expect(homePageAnswer({ AzureWebJobsDisableHomepage: 'True' })).toMatchObject({ status: 204 });
    // Anything else outside /api stays the host's empty 404.
    expect((await fetch(`${host.url}/index.html`)).status).toBe(404);
  });
});

describe('caller address entries as the front end writes them', () => {
  it.each([
    ['203.0.113.7', 51_000, '203.0.113.7:51000', '203.0.113.7'],
    ['2001:db8::7', 51_000, '[2001:db8::7]:51000', '2001:db8::7'],
    ['::ffff:10.1.2.3', 443, '[::ffff:10.1.2.3]:443', '10.1.2.3'],
  ])('%s port %i is written %s and read back as %s', (address, port, written, read) => {
    expect(formatPeer(address, port)).toBe(written);
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost/api/register/internal', headers: { 'x-forwarded-for': `10.0.0.1, ${written}` } });
    expect(callerAddress(request)).toBe(read);
  });
});

describe('invocation through the library', () => {
  it('every request goes through the invocation model: the handler gets the library\'s HttpRequest, and its result is converted by the library', async () => {
    const before = getResponseCalls;
    const response = await fetch(`${host.url}/api/parity-echo/x`);
    expect(seen.at(-1)?.isLibraryRequest).toBe(true);
    // Only the library's HttpResponse turns `jsonBody` into this.
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ ok: true });
    await fetch(`${host.url}/api/health`);
    expect(getResponseCalls - before).toBe(2);
  });
});

describe('timer and logs', () => {
  it('the timer gets the host\'s TimerInfo camel-cased by the library: {schedule, scheduleStatus: {last, next, lastUpdated}, isPastDue}', async () => {
    const before = timers.length;
    const response = await runNow(host.url, 'parityTimer');
    expect(response.status).toBe(202);
    await until(() => timers.length > before, 'the timer run');
    const timer = timers.at(-1) as { schedule: unknown; scheduleStatus: { last: string; next: string; lastUpdated: string }; isPastDue: boolean };
    expect(timer).toEqual({
      schedule: { adjustForDST: true },
      scheduleStatus: { last: expect.any(String), next: expect.any(String), lastUpdated: expect.any(String) },
      isPastDue: false,
    });
    // %PARITY_SCHEDULE% (every 5 minutes) resolved from the settings: the next run is on a 5-minute mark.
    const next = new Date(timer.scheduleStatus.next);
    expect(next.getUTCSeconds()).toBe(0);
    expect(next.getUTCMinutes() % 5).toBe(0);
    expect(next.getTime()).toBeGreaterThan(Date.now() - 1000);
  });

  it('a schedule naming a setting that is not set leaves the function in error, as the host does (settings only, no default)', async () => {
    expect(host.logs.join('\n')).toMatch(/\[parityUnresolved\] error: .*PARITY_NOT_SET/);
    // A function in error is not among the host's functions: the admin API's empty 404.
    const response = await runNow(host.url, 'parityUnresolved');
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('');
  });

  it('context.error(message, error) and a thrown error are logged with their stacks; the caller gets the host\'s empty 500', async () => {
    const response = await fetch(`${host.url}/api/parity-throws`);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('');
    const log = host.logs.join('\n');
    // util.format, as the library's InvocationModel formats log arguments, prints the stack.
    expect(log).toMatch(/parity: logged with its cause Error: the cause of the logged error\n\s+at /);
    expect(log).toMatch(/Executed 'parityThrows' \(Failed\): Error: parity: the handler threw\n\s+at /);
  });
});

describe('Core Tools', () => {
  it('under func start (FUNCTIONS_CORETOOLS_ENVIRONMENT=true, set by azure-functions-core-tools Program.cs) internal registration is refused, whatever X-Forwarded-For says', async () => {
    process.env.FUNCTIONS_CORETOOLS_ENVIRONMENT = 'true';
    try {
      const response = await fetch(`${host.url}/api/register/internal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1' },
        body: JSON.stringify({ proof: 'x' }),
      });
      expect(response.status).toBe(403);
      expect(await problem(response)).toMatchObject({ code: 'network_forbidden', detail: expect.stringMatching(/Core Tools/) });
    } finally {
      delete process.env.FUNCTIONS_CORETOOLS_ENVIRONMENT;
    }
  });
});

describe('bad configuration, read at first use as the worker loads the files', () => {
  const saved = { ...process.env };

  beforeAll(() => {
    // The function files are already loaded, as the worker loads them before any request;
    // the configuration is read at the first request that needs it.
    resetServices();
    Object.assign(process.env, {
      ADMIN_KEY: 'short',
      STORAGE_CONNECTION: process.env.TEST_STORAGE_CONNECTION ?? '',
      LOCAL_DATA_DIR: '/nonexistent-never-used',
    });
    host.logs.length = 0;
  });

  afterAll(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await installTestServices();
  });

  it('ADMIN_KEY=short: health 503 naming ADMIN_KEY (never its value), every other route 503 misconfigured, no 500 anywhere, one log line', async () => {
    const health = await fetch(`${host.url}/api/health`);
    expect(health.status).toBe(503);
    const healthProblem = await problem(health);
    expect(healthProblem).toMatchObject({ code: 'misconfigured', detail: expect.stringMatching(/ADMIN_KEY: must be at least 32 characters/) });
    expect(JSON.stringify(healthProblem)).not.toMatch(/"short"|: short/);

    const others: Array<[string, RequestInit]> = [
      ['/api/bulk-tokens', { headers: admin }],
      ['/api/bulk-tokens', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{}' }],
      ['/api/devices', { headers: admin }],
      ['/api/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"proof":"x"}' }],
      ['/api/.well-known/jwks.json', {}],
    ];
    for (const [path, init] of others) {
      const response = await fetch(`${host.url}${path}`, init);
      expect({ path, status: response.status }).toEqual({ path, status: 503 });
      expect(await problem(response)).toMatchObject({ code: 'misconfigured' });
    }
    // Paths and methods no function takes still answer as before: the catch-all reads no settings.
    expect((await fetch(`${host.url}/api/nothing`)).status).toBe(404);
    // The log names the setting once for the instance, not once per request.
    expect(host.logs.filter((line) => /invalid configuration/.test(line))).toHaveLength(1);
    expect(host.logs.join('\n')).not.toMatch(/\bshort\b/);
  });

  it('the purge timer run fails with one clear line naming the setting; the admin API still answered 202, as the host does', async () => {
    host.logs.length = 0;
    const response = await runNow(host.url, 'purgeExpired');
    expect(response.status).toBe(202);
    await until(() => host.logs.some((line) => /purgeExpired/.test(line)), 'the failed run\'s log line');
    const failures = host.logs.filter((line) => /purgeExpired/.test(line));
    expect(failures).toEqual([expect.stringMatching(/Executed 'purgeExpired' \(Failed\): purge not run: invalid settings ADMIN_KEY \(GET \/api\/health names what is wrong\)$/)]);
  });
});

describe('npm start with a bad setting', () => {
  it('serves, warns in one line naming the setting, and answers 503 as in Azure', async () => {
    const started = await startLocalHost({ ADMIN_KEY: 'short' });
    try {
      expect(started.output()).toMatch(/^WARNING: invalid settings ADMIN_KEY: every route answers 503 misconfigured/m);
      const health = await fetch(`${started.url}/api/health`);
      expect(health.status).toBe(503);
      expect(await problem(health)).toMatchObject({ code: 'misconfigured', detail: expect.stringMatching(/ADMIN_KEY/) });
      const list = await fetch(`${started.url}/api/bulk-tokens`, { headers: { authorization: 'Bearer short' } });
      expect(list.status).toBe(503);
    } finally {
      await started.stop();
    }
  }, 60_000);
});
