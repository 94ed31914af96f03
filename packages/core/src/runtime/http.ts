import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from 'pino';

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves a Hono app; resolves once it listens (port 0 picks a free port, for tests). Only its
 * `fetch` is needed, so an app typed with its own context variables (`Hono<Env>`) fits too.
 */
export interface HttpServerOptions {
  readonly port: number;
  readonly hostname?: string;
  readonly logger: Logger;
  /**
   * A client that has not sent its whole request within `requestTimeoutMs` (headers within
   * `headersTimeoutMs`) gets a 408 and its connection closed: a slow-loris client cannot hold
   * sockets for ever. Checked every `checkIntervalMs`.
   */
  readonly requestTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  readonly checkIntervalMs?: number;
}

export function startHttpServer(
  app: Pick<Hono, 'fetch'>,
  options: HttpServerOptions,
): Promise<RunningServer> {
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const serverOptions = {
    requestTimeout: Math.max(options.requestTimeoutMs ?? 30_000, headersTimeout),
    headersTimeout,
    connectionsCheckingInterval: options.checkIntervalMs ?? 1_000,
    keepAliveTimeout: 5_000,
  };
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: app.fetch, port: options.port, hostname: options.hostname ?? '0.0.0.0', serverOptions },
      (info: AddressInfo) => {
        options.logger.info({ port: info.port }, 'listening');
        resolve({
          port: info.port,
          // Stop accepting connections, let in-flight requests finish, drop idle keep-alives.
          close: () =>
            new Promise<void>((done, fail) => {
              server.close((error) => (error ? fail(error) : done()));
              if ('closeIdleConnections' in server) server.closeIdleConnections();
            }),
        });
      },
    );
    server.once('error', reject);
  });
}
