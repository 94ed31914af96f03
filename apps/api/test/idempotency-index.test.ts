import { EARLIER_ANSWER_SQL } from '@ctp/core/records';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * An `Idempotency-Key` on a record change or the settings is looked up among the tenant's audit
 * rows on every keyed request: by index, not by reading the tenant's whole day of audit rows.
 */

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('the Idempotency-Key lookup on the audit log', () => {
  it('reads idx_ctp_audit_log_idempotency_key among 20,000 audit rows of the tenant', async () => {
    const em = db.orm.em.fork();
    await em.execute(
      `insert into ctp_audit_log (tenant, actor, action, target, entity_id, details, at)
       select 'ENBDTABBY', 'api-key:1', 'kit.patch', 'kit:e/' || g, 'e-' || g,
              case when g % 10 = 0 then jsonb_build_object('idempotencyKey', 'key-' || g, 'requestHash', 'h', 'after', '{}')
                   else '{}'::jsonb end,
              now() - (g % 600) * interval '1 minute'
         from generate_series(1, 20000) g`,
    );
    await em.execute('analyze ctp_audit_log');
    const rows = await em.execute<{ 'QUERY PLAN': string }[]>(`explain ${EARLIER_ANSWER_SQL}`, [
      'ENBDTABBY',
      'key-100',
    ]);
    const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(plan).toContain('idx_ctp_audit_log_idempotency_key');
    expect(plan).not.toMatch(/Seq Scan/);
  });
});
