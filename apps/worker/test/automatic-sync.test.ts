import { CtpOperation, CtpOutbox, CtpPendingSync } from '@ctp/core/entities';
import { createLogger } from '@ctp/core/logging';
import {
  promotePendingSyncs,
  recordAccepted,
  requestOperation,
  resolveTraceOutcome,
  syncOnEntityChange,
} from '@ctp/core/operations';
import { patchEntity } from '@ctp/core/records';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEntity } from './fixtures.ts';

let db: TestDatabase;
const T = 'ENBDTABBY';

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** Enrols the entity by driving the lifecycle steps directly (no SaaS needed here). */
async function active(entityId: string, kitNo: string) {
  await seedEntity(db.orm, T, entityId, [kitNo]);
  const { operation } = await requestOperation(db.orm.em, {
    tenant: T,
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    entityId,
    kitNo,
  });
  await recordAccepted(db.orm.em, {
    operationId: operation.id,
    requestTraceId: `t-${entityId}`,
    firstPollAfterMs: 0,
  });
  await resolveTraceOutcome(db.orm.em, T, {
    requestTraceId: `t-${entityId}`,
    status: 'SUCCESS',
    clickToPayCustomerId: 'c',
    clickToPayPaymentInstrumentId: 'p',
  });
}

describe('automatic sync', () => {
  it('a change whose transaction rolls back starts nothing', async () => {
    await active('as-rb', 'as-rb-k');
    const outboxBefore = await db.orm.em.fork().count(CtpOutbox, {});
    const failing = async (
      tx: Parameters<typeof syncOnEntityChange>[0],
      change: Parameters<typeof syncOnEntityChange>[1],
    ) => {
      expect(await syncOnEntityChange(tx, change)).toBe(1);
      throw new Error('the change fails after the sync was queued');
    };
    await expect(
      patchEntity(db.orm.em, { tenant: T, entityId: 'as-rb', patch: { firstName: 'Never' } }, failing),
    ).rejects.toThrow();
    expect(await db.orm.em.fork().count(CtpPendingSync, { entityId: 'as-rb' })).toBe(0);
    expect(await db.orm.em.fork().count(CtpOutbox, {})).toBe(outboxBefore);
  });

  it('a pending sync of an entity removed meanwhile is dropped with a log line and no operation', async () => {
    await active('as-rm', 'as-rm-k');
    // The sync is queued while the entity is ACTIVE...
    await patchEntity(
      db.orm.em,
      { tenant: T, entityId: 'as-rm', patch: { firstName: 'Gone' } },
      syncOnEntityChange,
    );
    expect(await db.orm.em.fork().count(CtpPendingSync, { entityId: 'as-rm' })).toBe(1);
    // ...then a removal gets in first and succeeds.
    const pendingRow = await db.orm.em.fork().findOneOrFail(CtpPendingSync, { entityId: 'as-rm' });
    await db.orm.em.fork().nativeDelete(CtpPendingSync, { pkey: pendingRow.pkey });
    const { operation } = await requestOperation(db.orm.em, {
      tenant: T,
      event: 'CTP_REMOVE_ENTITY',
      entityId: 'as-rm',
    });
    await db.orm.em
      .fork()
      .insert(CtpPendingSync, { tenant: T, entityId: 'as-rm', event: 'CTP_UPDATE_ENTITY', kitNumber: '' });
    expect(await promotePendingSyncs(db.orm.em, T, 'as-rm')).toBe('waiting');
    await recordAccepted(db.orm.em, {
      operationId: operation.id,
      requestTraceId: 't-as-rm-2',
      firstPollAfterMs: 0,
    });
    await resolveTraceOutcome(db.orm.em, T, { requestTraceId: 't-as-rm-2', status: 'SUCCESS' });

    const lines: string[] = [];
    const logger = createLogger({ name: 't', destination: { write: (l: string) => void lines.push(l) } });
    expect(await promotePendingSyncs(db.orm.em, T, 'as-rm', logger)).toBe('idle');
    expect(await db.orm.em.fork().count(CtpPendingSync, { entityId: 'as-rm' })).toBe(0);
    const events = (await db.orm.em.fork().find(CtpOperation, { entityId: 'as-rm' }))
      .map((o) => o.event)
      .sort();
    expect(events).toEqual(['CTP_REGISTER_ENTITY_AND_KIT', 'CTP_REMOVE_ENTITY']);
    expect(lines.join('')).toContain('automatic sync dropped');
  });
});
