/** A failure to show the user as one line, with the process exit code to use. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface ServiceRequest {
  method: 'GET' | 'POST';
  path: string;
  bearer?: string;
  body?: unknown;
}

/**
 * Calls the service and returns the parsed JSON answer. A problem+json answer becomes a
 * CliError whose message is the problem's status, code and detail, on one line.
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
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new CliError(`cannot reach ${url.origin}: ${reason}`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new CliError(`${url.origin} answered ${response.status} with something that is not JSON`, 1, response.status);
  }
  if (!response.ok) {
    const problem = body as { code?: string; detail?: string; title?: string };
    throw new CliError(
      `${response.status} ${problem.code ?? 'error'}: ${problem.detail ?? problem.title ?? response.statusText}`,
      1,
      response.status,
      problem.code,
    );
  }
  return { status: response.status, body: body as T };
}
