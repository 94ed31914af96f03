import { z } from 'zod';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/ctp';

const environment = z.object({
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' })
    .default(DEFAULT_DATABASE_URL),
});

/** `DATABASE_URL` from the environment, or the local default; throws on a malformed value. */
export function readDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const result = environment.safeParse(env);
  if (!result.success) {
    throw new Error(z.prettifyError(result.error));
  }
  return result.data.DATABASE_URL;
}
