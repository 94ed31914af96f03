import { createServer } from 'node:http';
import { measureEndToEnd } from './e2e.ts';
import { type LoadPlan, type LoadResult, printLoad } from './harness.ts';

/**
 * Tracing's cost (`BENCH_TRACING=1 pnpm bench`): the end-to-end run again with every process
 * exporting spans (`OTEL_EXPORTER_OTLP_ENDPOINT`) to a sink in this process that reads each
 * export and answers 200 without decoding it, so the figure is the processes' cost, not a
 * collector's. Compared with the untraced run of the same bench.
 */
export async function measureTracedEndToEnd(
  serverUrl: string,
  redisUrl: string,
  plan: LoadPlan,
): Promise<LoadResult & { readonly exportedBytes: number }> {
  let exportedBytes = 0;
  const sink = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => {
      exportedBytes += chunk.length;
    });
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const address = sink.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  // The children inherit this process's environment (`startProcess`).
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
  try {
    return { ...(await measureEndToEnd(serverUrl, redisUrl, plan)), exportedBytes };
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await new Promise((resolve) => sink.close(resolve));
  }
}

export function printTracing(traced: LoadResult & { exportedBytes: number }, untraced: LoadResult): void {
  printLoad('traced', 'API call to notification, every process exporting spans', traced);
  console.log(
    `traced spans exported: ${(traced.exportedBytes / 1024 / 1024).toFixed(1)} MB OTLP/JSON (${(traced.exportedBytes / traced.operations / 1024).toFixed(1)} kB per operation)`,
  );
  console.log(`ratio traced/e2e: ${(traced.opsPerSecond / untraced.opsPerSecond).toFixed(3)}`);
  const [on, off] = [traced.machineCpuMsPerOperation, untraced.machineCpuMsPerOperation];
  if (on !== null && off !== null)
    console.log(`ratio traced/e2e CPU per operation: ${(on / off).toFixed(3)}`);
}
