import { scrubText } from '@ctp/core/logging';
import { run } from './cli.ts';

// Ctrl-C or SIGTERM ends `tail` gracefully (a group consumer acknowledges what it printed);
// a second signal exits at once.
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  });
}
// A closed pipe (`ctp notifications replay ... | head`) is a normal end, not a crash.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  // Errors can quote Redis or the environment: scrub them like log lines.
  stderr: { write: (text: string) => process.stderr.write(scrubText(text)) },
  env: process.env,
  signal: controller.signal,
});
