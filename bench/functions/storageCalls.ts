import { app, type HttpResponseInit } from '@azure/functions';
import { leanTableCounts } from '../../shared/storage/leanTable.js';

/**
 * Bench only (served when the local host is started with EXTRA_FUNCTIONS_DIR): how many
 * requests the host's lean Table clients have sent, by kind, so that the bench can say how
 * many replay inserts, transactions and marker queries one authenticate took on average.
 */
export async function benchStorageCalls(): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: { ...leanTableCounts } };
}

app.http('benchStorageCalls', {
  methods: ['POST'],
  route: 'bench/storage-calls',
  authLevel: 'anonymous',
  handler: benchStorageCalls,
});
