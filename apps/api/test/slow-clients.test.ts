import { connect } from 'node:net';
import { createLogger } from '@ctp/core/logging';
import { startHttpServer } from '@ctp/core/runtime';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Slow-loris: a client that trickles its headers or body must not hold a socket for ever.
// The same server options serve every app (`startHttpServer`); here with short limits.

let server: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  const app = new Hono()
    .post('/echo', async (c) => c.text(await c.req.text()))
    // The cut-off aborts the body being read; the api's own error handler does the same.
    .onError((_error, c) => c.text('aborted', 400));
  server = await startHttpServer(app, {
    port: 0,
    hostname: '127.0.0.1',
    logger: createLogger({ name: 't', level: 'silent' }),
    headersTimeoutMs: 400,
    requestTimeoutMs: 800,
    checkIntervalMs: 100,
  });
});
afterAll(async () => {
  await server.close();
});

/** Sends `chunks` one every `everyMs` and resolves with what the server answered when it closed. */
function trickle(
  chunks: readonly string[],
  everyMs: number,
): Promise<{ answer: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(server.port, '127.0.0.1');
    let answer = '';
    let i = 0;
    const timer = setInterval(() => {
      const chunk = chunks[i++];
      if (chunk !== undefined && !socket.destroyed) socket.write(chunk);
    }, everyMs);
    socket.on('data', (data) => {
      answer += data.toString();
    });
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, closedAfterMs: Date.now() - started });
    });
    socket.on('error', () => undefined);
  });
}

describe('slow clients are cut off', () => {
  it('headers trickled one line at a time: 408 and the connection closed', async () => {
    const lines = [
      'POST /echo HTTP/1.1\r\n',
      'Host: x\r\n',
      ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: y\r\n`),
    ];
    const { answer, closedAfterMs } = await trickle(lines, 100);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(closedAfterMs).toBeLessThan(2_000);
  });

  it('a body trickled byte by byte: cut off at the request deadline', async () => {
    const head =
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const { closedAfterMs } = await trickle([head, ...Array.from({ length: 100 }, () => 'x')], 50);
    expect(closedAfterMs).toBeLessThan(2_500);
  });
});
