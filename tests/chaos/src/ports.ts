import { createServer } from 'node:net';

/**
 * A port the kernel just handed out and released. The api's port must be known before it
 * starts (the simulator's WEBHOOK_URL names it, and it must stay the same across restarts), so
 * port 0 does not do for it; the small race with another process taking it meanwhile is
 * acceptable for a test machine.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
