import { feedBatches, submitBatch } from '@ctp/core/batches';
import { createPanCipher } from '@ctp/core/cards';
import { DEV_DEFAULTS } from '@ctp/core/config';
import { putEntity, putKit, setKitStatus } from '@ctp/core/records';
import type { Orm } from '@ctp/db';

const cipher = createPanCipher({ current: DEV_DEFAULTS.PAN_ENCRYPTION_KEY });

const CUSTOMER = {
  firstName: 'Aisha',
  lastName: 'Khan',
  email: 'aisha@example.com',
  phone: { countryCode: '971', number: '501234567' },
  address: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
  locale: 'en_AE',
  countryCode: 'AE',
  consent: { accepted: true, version: '1.0', acceptedAt: '2026-11-23T10:00:00Z' },
};
const CARD = { pan: '4111111111111111', expiry: { month: '12', year: '2030' }, nameOnCard: 'AISHA KHAN' };

/** A customer with cards, written by the records' own functions (as the api's `PUT` routes do). */
export async function seedCustomer(orm: Orm, tenant: string, entityId: string, kitNos: readonly string[]) {
  await putEntity(orm.em, { tenant, entityId, body: CUSTOMER });
  for (const kitNo of kitNos) await putKit(orm.em, cipher, { tenant, entityId, kitNo, body: CARD });
}

/**
 * A batch as the api and one run of the worker's feeder leave it, with no worker to carry its
 * operations on: 8 items, of which 3 refused at intake (2 unknown entities, 1 card number that
 * fails Luhn), 1 failed to start (its card is BLOCKED: `CARD_NOT_ACTIVE`), 2 started (one per
 * entity: their operations wait in the outbox) and 2 still pending behind their entity's first.
 */
export const FIXTURE_COUNTS = {
  total: 8,
  pending: 2,
  inProgress: 2,
  succeeded: 0,
  failed: 1,
  skipped: 0,
  rejected: 3,
  cancelled: 0,
} as const;

export async function seedBatch(
  orm: Orm,
  tenant: string,
  prefix: string,
): Promise<{ batchId: string; externalBatchId: string }> {
  const a = `${prefix}-a`;
  const b = `${prefix}-b`;
  const c = `${prefix}-c`;
  await seedCustomer(orm, tenant, a, [`${a}1`, `${a}2`, `${a}3`]);
  await seedCustomer(orm, tenant, b, [`${b}1`]);
  await seedCustomer(orm, tenant, c, [`${c}1`]);
  await setKitStatus(orm.em, { tenant, entityId: b, kitNo: `${b}1`, status: 'BLOCKED' });
  const values: unknown[] = [
    { entityId: a, kitNo: `${a}1` },
    { entityId: a, kitNo: `${a}2` },
    { entityId: a, kitNo: `${a}3` },
    { entityId: b, kitNo: `${b}1` },
    { entityId: c, kitNo: `${c}1` },
    { entityId: `${prefix}-nobody1`, kitNo: 'k' },
    { entityId: `${prefix}-nobody2`, kitNo: 'k' },
    { entityId: `${prefix}-d`, kitNo: `${prefix}-d1`, card: { ...CARD, pan: '4111111111111112' } },
  ];
  const externalBatchId = `${prefix}-portfolio`;
  const batchId = await submitItems(orm, tenant, values, externalBatchId);
  await feedItems(orm);
  return { batchId, externalBatchId };
}

/** A batch as `POST /v1/ctp/batches` accepts it (records carried in items are written first). */
export async function submitItems(
  orm: Orm,
  tenant: string,
  values: readonly unknown[],
  externalBatchId?: string,
): Promise<string> {
  const { batch } = await submitBatch(orm.em, cipher, {
    tenant,
    externalBatchId,
    items: (async function* () {
      for (const value of values) yield { value };
    })(),
  });
  return batch.batchId;
}

/** One run of the worker's batch feeder: items start as operations (which no worker carries on). */
export async function feedItems(orm: Orm): Promise<void> {
  await feedBatches(orm.em, { laneWindow: async () => 100 });
}
