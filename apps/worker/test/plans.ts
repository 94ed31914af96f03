import type { Statement } from '@ctp/core/operations';
import type pg from 'pg';

/**
 * The plan tests' one way to see a hot statement's plan: prepared as the pool prepares it (its
 * fixed text, its parameters), then explained with a test's own fixed values in the chosen plan
 * mode, generic or custom.
 */
export async function planOf(
  client: pg.Client,
  statement: Statement,
  mode: 'force_generic_plan' | 'force_custom_plan',
): Promise<string> {
  await client.query(`set plan_cache_mode = ${mode}`);
  await client.query(`prepare probe as ${statement.text}`);
  try {
    // `execute` takes no bound parameters: the values go in as literals, escaped by the driver.
    const literal = (value: unknown) =>
      client.escapeLiteral(
        Array.isArray(value) ? `{${value.map((v) => JSON.stringify(String(v))).join(',')}}` : String(value),
      );
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `explain execute probe(${statement.values.map(literal).join(', ')})`,
    );
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await client.query('deallocate probe');
  }
}
