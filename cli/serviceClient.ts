import { CliError, exitCodes } from './cliError.js';

export { CliError } from './cliError.js';

export interface ServiceRequest {
  method: 'GET' | 'POST';
  path: string;
  bearer?: string;
  body?: unknown;
}

const timeoutSeconds = 30;

/**
 * Calls the service and returns the parsed JSON answer. A problem+json answer becomes a
 * CliError whose message is the problem's status, code and detail, on one line; a service
 * that cannot be reached becomes one that says so and how to start or find it.
 */
export async function callService<T>(baseUrl: string, request: ServiceRequest, fetchImpl: typeof fetch = fetch): Promise<{ status: number; body: T }> {
  const url = new URL(request.path.replace(/^\//, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.bearer) headers.authorization = `Bearer ${request.bearer}`;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: request.method,
      headers,
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
    });
  } catch (error) {
    throw unreachable(url, error);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new CliError(`${url.origin} answered ${response.status} with something that is not JSON`, exitCodes.refused, {
      status: response.status,
      hint: 'is --url (or CMG_URL) the cmg-token-auth service, without /api?',
    });
  }
  if (!response.ok) {
    const problem = body as { code?: string; detail?: string; title?: string };
    throw new CliError(`${response.status} ${problem.code ?? 'error'}: ${problem.detail ?? problem.title ?? response.statusText}`, exitCodes.refused, {
      status: response.status,
      ...(problem.code === undefined ? {} : { code: problem.code }),
    });
  }
  return { status: response.status, body: body as T };
}

/** What fetch's failure means for the user, on one line. */
function unreachable(url: URL, error: unknown): CliError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const code = cause && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  const where = `the service is not reachable at ${url.origin}`;
  const startHint = 'is it running? Locally start it with npm start (it listens on http://localhost:7071); otherwise check --url or CMG_URL';
  let reason: string;
  let hint = startHint;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    reason = `no answer within ${timeoutSeconds} s`;
    hint = 'the service may be overloaded or the address may be filtered; try again, or check --url or CMG_URL';
  } else if (code === 'ECONNREFUSED') {
    reason = 'connection refused';
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    reason = `host name ${url.hostname} not found`;
    hint = 'check the host name in --url or CMG_URL';
  } else if (cause?.message === 'bad port') {
    reason = `fetch refuses port ${url.port} (a "bad port" of the Fetch standard)`;
    hint = 'run the service on another port';
  } else if (code !== undefined && /CERT|SSL|TLS/.test(code)) {
    reason = `its TLS certificate was not accepted (${code})`;
    hint = 'check the URL, or the machine\'s trusted certificates';
  } else {
    reason = cause?.message ?? (error instanceof Error ? error.message : String(error));
  }
  return new CliError(`${where}: ${reason}`, exitCodes.refused, { hint, cause: error });
}
