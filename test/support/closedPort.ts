import { connect } from 'node:net';
import { fetchBlockedPorts } from '../../cli/validate.js';

/**
 * A loopback port that refuses connections, closed by design rather than by luck: a port
 * below 1024, where only a privileged process may listen, and which fetch does not block. The
 * tests listen on port 0 only, which the kernel picks from the ephemeral range far above it,
 * so no other jest worker can take it between this check and its use (a probed-then-freed
 * ephemeral port could be). The probe confirms nothing outside the tests holds it either.
 */
export async function closedPort(): Promise<number> {
  for (let port = 1023; port > 900; port--) {
    if (fetchBlockedPorts.has(port)) continue;
    if (await refuses(port)) return port;
  }
  throw new Error('no closed privileged loopback port between 901 and 1023');
}

function refuses(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED'));
  });
}
