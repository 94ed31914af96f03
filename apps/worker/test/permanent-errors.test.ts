import { CtpOperation, CtpOutbox, Kit } from '@ctp/core/entities';
import { thawSaasRequest } from '@ctp/core/operations';
import { SaasClient } from '@ctp/core/saas';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator, TEST_API_KEY } from '../../saas-sim/src/testing.ts';
import { cipher, queuedRegistration } from './fixtures.ts';
import { eventually, type RuntimeHarness, startRuntime, testConfig } from './harness.ts';

/** Item 11: a permanent error fails its operation once, with its reason, and is never re-driven. */

const T = 'ENBDTABBY';
let db: TestDatabase;
let sim: RunningSimulator;
let harness: RuntimeHarness;
const ids = { conflict: '', unreadable: '' };

const started = (entityId: string) => queuedRegistration(db.orm, T, entityId);

const operation = (id: string) => db.orm.em.fork().findOneOrFail(CtpOperation, { id }, { refresh: true });

/** Requests the SaaS received under an Idempotency-Key (each attempt counts). */
const attemptsAtSaas = () => sim.simulator.state().counters;

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator();
  const config = testConfig(db, sim.url, { SWEEP_STALE_MS: '60000' });

  // Set up before the worker starts, so its first attempt meets each condition.
  // 1. The SaaS already holds another request under the operation's Idempotency-Key.
  ids.conflict = await started('sr-conflict');
  const frozen = (await operation(ids.conflict)).requestBody;
  if (frozen == null) throw new Error('no frozen request');
  const kit = await db.orm.em.fork().findOneOrFail(Kit, { tenant: T, kitNo: 'sr-conflict-k' });
  const other = thawSaasRequest(
    {
      ...frozen,
      body: { ...frozen.body, consumer: { ...(frozen.body.consumer as object), firstName: 'Someone' } },
    },
    { tenant: T, kitNo: kit.kitNo, panCiphertext: kit.panCiphertext, panKeyId: kit.panKeyId },
    (k) => cipher.decrypt({ ciphertext: k.panCiphertext, keyId: k.panKeyId }, { tenant: T, kitNo: k.kitNo }),
  );
  const saas = new SaasClient({ baseUrl: sim.url, apiKey: TEST_API_KEY });
  await saas.submitRequest(T, other, { idempotencyKey: ids.conflict });
  await saas.close();

  // 2. The card's ciphertext no longer authenticates (tampered row, or a key no longer configured).
  ids.unreadable = await started('sr-unreadable');
  const em = db.orm.em.fork();
  const tampered = await em.findOneOrFail(Kit, { tenant: T, kitNo: 'sr-unreadable-k' });
  tampered.panCiphertext = `${tampered.panCiphertext.slice(0, -4)}AAAA`;
  await em.flush();

  harness = await startRuntime(db, config);
});

afterAll(async () => {
  await harness?.close();
  await sim?.close();
  await db?.drop();
});

async function failureNotes(operationId: string) {
  const rows = await db.orm.em.fork().find(CtpOutbox, { operationId, kind: 'notification' });
  return rows.map((row) => JSON.parse(String(row.payload.payload)).serverNotifyData);
}

describe('permanent submit errors', () => {
  it('an Idempotency-Key the SaaS holds for another request fails the operation once, with the reason', async () => {
    await eventually(
      async () => (await operation(ids.conflict)).status === 'FAILED',
      'the operation to fail',
    );
    const failed = await operation(ids.conflict);
    expect(failed.errorCode).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(failed.errorDetails).toMatch(/Idempotency-Key/);
    expect(await failureNotes(ids.conflict)).toEqual([expect.objectContaining({ requestStatus: 'FAILED' })]);
  });

  it('a PAN that cannot be decrypted fails the operation once, without calling the SaaS', async () => {
    await eventually(
      async () => (await operation(ids.unreadable)).status === 'FAILED',
      'the operation to fail',
    );
    const failed = await operation(ids.unreadable);
    expect(failed.errorCode).toBe('UNBUILDABLE_REQUEST');
    expect(failed.errorDetails).toMatch(/cannot be decrypted/);
    expect(failed.errorDetails).not.toMatch(/\d{13,19}/);
    expect(await failureNotes(ids.unreadable)).toHaveLength(1);
  });

  it('are never re-driven by the sweeper', async () => {
    const em = db.orm.em.fork();
    await em.execute(`update ctp_operation set updated_at = now() - interval '1 hour' where id in (?, ?)`, [
      ids.conflict,
      ids.unreadable,
    ]);
    const before = JSON.stringify(attemptsAtSaas());
    await harness.runMaintenance('sweep');
    for (const id of [ids.conflict, ids.unreadable]) {
      expect(await operation(id)).toMatchObject({ status: 'FAILED', redrives: 0 });
    }
    expect(JSON.stringify(attemptsAtSaas())).toBe(before);
  });
});
