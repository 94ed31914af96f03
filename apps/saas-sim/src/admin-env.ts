import { z } from 'zod';

/**
 * SAAS_SIM_ADMIN: whether `/__sim/*` is mounted in production. It concerns this app alone, so
 * it is read here rather than in the shared configuration schema. The admin routes take no
 * API key, so a production deployment must opt in explicitly.
 */
const adminEnvSchema = z.object({
  SAAS_SIM_ADMIN: z
    .enum(['true', 'false', ''], { message: 'must be true or false' })
    .optional()
    .transform((v) => v === 'true'),
});

export function adminRoutesEnabled(
  nodeEnv: 'development' | 'test' | 'production',
  env: Record<string, string | undefined> = process.env,
): boolean {
  const parsed = adminEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error('SAAS_SIM_ADMIN must be true or false');
  return nodeEnv !== 'production' || parsed.data.SAAS_SIM_ADMIN;
}
