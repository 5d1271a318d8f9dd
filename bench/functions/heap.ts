import { app, type HttpResponseInit } from '@azure/functions';

/**
 * Bench only (served when the local host is started with EXTRA_FUNCTIONS_DIR): forces a full
 * garbage collection and reports `process.memoryUsage()`, so the soak can compare the host's
 * live heap before and after. Needs the host to run under `node --expose-gc`.
 */
export async function benchHeap(): Promise<HttpResponseInit> {
  // --expose-gc puts gc() on the global object; node's type declarations do not know it.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return { status: 409, jsonBody: { error: 'the host must run under node --expose-gc' } };
  // Several rounds with a turn of the event loop between them, so that objects freed by
  // finalizers and weak references of the previous round go too.
  for (let round = 0; round < 3; round++) {
    gc();
    await new Promise((done) => setImmediate(done));
  }
  return { status: 200, jsonBody: process.memoryUsage() };
}

app.http('benchHeap', {
  methods: ['POST'],
  route: 'bench/heap',
  authLevel: 'anonymous',
  handler: benchHeap,
});
