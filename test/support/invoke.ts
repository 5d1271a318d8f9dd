import { HttpRequest, HttpResponse, InvocationContext, type HttpHandler } from '@azure/functions';

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
  /** What the handler logged, one `level: message` string per call. */
  logs: string[];
}

export interface CallOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string | Uint8Array;
  params?: Record<string, string>;
}

/** Calls a handler as the host would, with the library's own request and context types. */
export async function invoke(handler: HttpHandler, options: CallOptions): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  let bytes: Uint8Array | undefined;
  if (options.rawBody !== undefined) {
    bytes = typeof options.rawBody === 'string' ? Buffer.from(options.rawBody) : options.rawBody;
  } else if (options.body !== undefined) {
    bytes = Buffer.from(JSON.stringify(options.body));
    headers['content-type'] ??= 'application/json';
  }
  const request = new HttpRequest({
    method: options.method ?? 'POST',
    url: `http://localhost:7071${options.path}`,
    headers,
    params: options.params ?? {},
    ...(bytes === undefined ? {} : { body: { bytes } }),
  });
  const logs: string[] = [];
  const context = new InvocationContext({
    invocationId: 'test-invocation',
    functionName: handler.name,
    logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
  const result = await handler(request, context);
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = {};
  }
  return { status: response.status, headers: response.headers, body, text, logs };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
