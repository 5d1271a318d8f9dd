import { Session } from 'node:inspector';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';

/**
 * Bench only (served when the local host is started with EXTRA_FUNCTIONS_DIR): CPU-profiles
 * the host between `POST bench/profile/start` and `POST bench/profile/stop`, which answers
 * with the V8 profile (the format of node --cpu-prof), so a profile covers one timed run and
 * nothing else: not start-up, not set-up, not the baseline.
 */
let session: Session | undefined;

function post<T>(method: string, params?: object): Promise<T> {
  return new Promise((done, fail) => {
    session?.post(method, params ?? {}, (error, result) => (error ? fail(error) : done(result as T)));
  });
}

export async function benchProfile(request: HttpRequest): Promise<HttpResponseInit> {
  const action = request.params.action;
  if (action === 'start') {
    if (session) return { status: 409, jsonBody: { error: 'a profile is already running' } };
    session = new Session();
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 250 });
    await post('Profiler.start');
    return { status: 204 };
  }
  if (action === 'stop') {
    if (!session) return { status: 409, jsonBody: { error: 'no profile is running' } };
    const { profile } = await post<{ profile: unknown }>('Profiler.stop');
    session.disconnect();
    session = undefined;
    return { status: 200, jsonBody: profile };
  }
  return { status: 404, jsonBody: { error: 'POST bench/profile/start or bench/profile/stop' } };
}

app.http('benchProfile', {
  methods: ['POST'],
  route: 'bench/profile/{action}',
  authLevel: 'anonymous',
  handler: benchProfile,
});
