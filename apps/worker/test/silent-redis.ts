import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';

/**
 * A "Redis" that takes connections and never answers (a paused server, a black-holed network):
 * `url` to connect to it, `close` to end it and every connection it took.
 */
export async function startSilentRedis(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
