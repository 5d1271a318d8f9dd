import type { HttpResponseInit } from '@azure/functions';

/** A JSON answer; `no-store` by default, since most carry tokens or per-device state. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}
