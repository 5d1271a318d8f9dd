import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { startAzurite } from '../host/azurite.js';

export interface BenchAzurite {
  connectionString: string;
  close(): Promise<void>;
}

/**
 * An in-memory Azurite in a worker thread of the bench process: the host under test reaches
 * it over loopback HTTP as it would reach Table Storage, without Azurite sharing the host's
 * event loop, and the bench's own clients can use it for the raw-insert baseline.
 */
export async function startBenchAzurite(): Promise<BenchAzurite> {
  const worker = new Worker(fileURLToPath(import.meta.url));
  const connectionString = await new Promise<string>((done, fail) => {
    worker.once('message', (message: { connectionString: string }) => done(message.connectionString));
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`the Azurite worker exited with ${code}`)));
  });
  return {
    connectionString,
    close: async () => {
      worker.postMessage('close');
      const timer = setTimeout(() => void worker.terminate(), 5_000);
      await new Promise((done) => worker.once('exit', done));
      clearTimeout(timer);
    },
  };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const azurite = await startAzurite({ port: 0 });
  port.on('message', (message) => {
    if (message === 'close') void azurite.close().then(() => process.exit(0));
  });
  port.postMessage({ connectionString: azurite.connectionString });
}
