import type { EntityBody, KitBody } from '@ctp/core/contracts';
import { BusinessEntity, CtpCustomer, CtpPayment, Kit } from '@ctp/core/entities';
import { putEntity, putKit } from '@ctp/core/records';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENBD, entityBody, kitBody, MASTERCARD, startTestApi, type TestApi, VISA } from './helpers.ts';

// Platform contract, "Batches": the records an item carries are created or replaced first, as the
// PUT routes do. A chunk's new records are written in bulk, unchanged ones are left alone, and a
// record that would change is replaced with its automatic update, as a PUT does.

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  expect(api.leakedPans()).toEqual([]);
  await api?.close();
});

const query = <Row>(text: string, values: unknown[] = []) =>
  api.db.orm.em.getConnection().execute<Row[]>(text, values);

const put = (path: string, json: unknown) => api.call('PUT', path, { json });

async function submit(items: unknown[]) {
  const answer = await api.call('POST', '/v1/ctp/batches', { json: { items } });
  expect(answer.status, answer.text).toBe(202);
  const { batchId } = answer.body as { batchId: string; counts: Record<string, number> };
  const page = await api.call('GET', `/v1/ctp/batches/${batchId}/items?limit=100`);
  const items_ = (
    page.body as { items: { entityId: string; kitNo: string; status: string; reason?: string }[] }
  ).items;
  return { counts: (answer.body as { counts: Record<string, number> }).counts, items: items_ };
}

/** What a PUT would leave of the row if it wrote it: its version, update time and ciphertext. */
async function kitRow(kitNo: string) {
  const [row] = await query<{ version: number; updated_at: string; pan_ciphertext: string; owner: string }>(
    `select k.version, k.updated_at::text, k.pan_ciphertext, e.entity_id as owner
       from kit k join business_entity e on e.pkey = k.business_entity_fkey where k.kit_no = ?`,
    [kitNo],
  );
  return row;
}

async function entityRow(entityId: string) {
  const [row] = await query<{ version: number; updated_at: string; email: string; first_name: string }>(
    'select version, updated_at::text, email, first_name from business_entity where entity_id = ?',
    [entityId],
  );
  return row;
}

const pendingSyncs = () =>
  query<{ entity_id: string; event: string; kit_number: string }>(
    'select entity_id, event, kit_number from ctp_pending_sync order by entity_id, event, kit_number',
  );

/** The entity and its card on Click to Pay, as the lifecycle code would have left them. */
async function onClickToPay(entityId: string, kitNo: string) {
  const em = api.db.orm.em.fork();
  const entity = await em.findOneOrFail(BusinessEntity, { tenant: ENBD, entityId });
  const kit = await em.findOneOrFail(Kit, { tenant: ENBD, kitNo });
  const customer = em.create(CtpCustomer, {
    tenant: ENBD,
    entityId,
    businessEntity: entity,
    ctpEntityStatus: 'ACTIVE',
    clickToPayCustomerId: `ctp-${entityId}`,
  });
  em.create(CtpPayment, {
    tenant: ENBD,
    ctpCustomer: customer,
    kit,
    ctpKitStatus: 'ACTIVE',
    clickToPayPaymentInstumentId: `ctp-${kitNo}`,
  });
  await em.flush();
}

describe("a batch's carried records", () => {
  it('creates the new ones, leaves unchanged ones unwritten, replaces changed ones with their automatic update, refuses another entity’s card', async () => {
    const customer = entityBody({ email: 'same@example.com' });
    await put('/v1/entities/same-1', customer);
    await put('/v1/entities/same-1/kits/same-1-k', kitBody());
    await put('/v1/entities/on-1', entityBody());
    await put('/v1/entities/on-1/kits/on-1-k', kitBody());
    await onClickToPay('on-1', 'on-1-k');
    await put('/v1/entities/other-1', entityBody());
    await put('/v1/entities/other-1/kits/other-1-k', kitBody());
    // Auto-enrolment on: a PUT of a new card would queue its enrolment; the batch enrols its own.
    const settings = await put('/v1/ctp/settings', { mode: 'ALL', autoEnrol: true });
    expect(settings.status, settings.text).toBe(200);
    expect(await pendingSyncs()).toEqual([]);
    const sameEntity = await entityRow('same-1');
    const sameKit = await kitRow('same-1-k');

    const { counts, items } = await submit([
      {
        entityId: 'new-1',
        kitNo: 'new-1-k',
        customer: entityBody({ email: 'new@example.com' }),
        card: kitBody(),
      },
      { entityId: 'new-1', kitNo: 'new-1-k2', card: kitBody({ pan: MASTERCARD }) },
      { entityId: 'same-1', kitNo: 'same-1-k', customer, card: kitBody() },
      { entityId: 'same-1', kitNo: 'same-1-k2', card: kitBody({ pan: MASTERCARD }) },
      {
        entityId: 'on-1',
        kitNo: 'on-1-k',
        customer: entityBody({ email: 'changed@example.com' }),
        card: kitBody({ nameOnCard: 'A KHAN' }),
      },
      { entityId: 'new-2', kitNo: 'other-1-k', customer: entityBody(), card: kitBody({ pan: MASTERCARD }) },
    ]);

    expect(counts).toMatchObject({ total: 6, pending: 5, rejected: 1 });
    expect(items.map(({ kitNo, status, reason }) => [kitNo, status, reason ?? null])).toEqual([
      ['new-1-k', 'PENDING', null],
      ['new-1-k2', 'PENDING', null],
      ['same-1-k', 'PENDING', null],
      ['same-1-k2', 'PENDING', null],
      ['on-1-k', 'PENDING', null],
      // As a PUT of another entity's card: it looks like no card at all.
      ['other-1-k', 'REJECTED', 'ENTITY_NOT_FOUND'],
    ]);

    // New: the customer and both cards, the PAN encrypted and bound to its row.
    expect((await entityRow('new-1'))?.email).toBe('new@example.com');
    const created = await query<{
      kit_no: string;
      pan_ciphertext: string;
      pan_key_id: string;
      pan_first6: string;
    }>(
      "select kit_no, pan_ciphertext, pan_key_id, pan_first6 from kit where kit_no in ('new-1-k', 'new-1-k2', 'same-1-k2') order by kit_no",
    );
    expect(
      created.map((row) =>
        api.panCipher.decrypt(
          { ciphertext: row.pan_ciphertext, keyId: row.pan_key_id },
          { tenant: ENBD, kitNo: row.kit_no },
        ),
      ),
    ).toEqual([VISA, MASTERCARD, MASTERCARD]);
    const card = await api.call('GET', '/v1/entities/new-1/kits/new-1-k2');
    expect(card.body).toMatchObject({
      pan: '555555******4444',
      nameOnCard: 'AISHA KHAN',
      ctpKitStatus: 'UNREGISTERED',
    });
    expect((await kitRow('same-1-k2'))?.owner).toBe('same-1');

    // Unchanged: not written at all.
    expect(await entityRow('same-1')).toEqual(sameEntity);
    expect(await kitRow('same-1-k')).toEqual(sameKit);

    // Changed: replaced, and the records on Click to Pay get their automatic updates.
    expect((await entityRow('on-1'))?.email).toBe('changed@example.com');
    expect((await api.call('GET', '/v1/entities/on-1/kits/on-1-k')).body).toMatchObject({
      nameOnCard: 'A KHAN',
    });
    // Nothing for the new cards: the batch enrols them, not auto-enrolment.
    expect(await pendingSyncs()).toEqual([
      { entity_id: 'on-1', event: 'CTP_UPDATE_ENTITY', kit_number: '' },
      { entity_id: 'on-1', event: 'CTP_UPDATE_KIT', kit_number: 'on-1-k' },
    ]);

    // Another entity's card: left to its entity; the item's customer was written before it, as a PUT would.
    expect((await kitRow('other-1-k'))?.owner).toBe('other-1');
    expect((await api.call('GET', '/v1/entities/new-2')).status).toBe(200);

    // No card number in the batch's tables.
    const stored = await query<{ text: string }>('select row_to_json(i)::text as text from ctp_batch_item i');
    expect(stored.map((row) => row.text).join('\n')).not.toMatch(/\d{13,19}/);
  });

  it('gives way to a PUT that creates the same customer or card while the chunk inserts them', async () => {
    await put('/v1/entities/race-owner', entityBody());
    const em = api.db.orm.em;
    const cipher = api.panCipher;
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Two PUTs, each holding its transaction open (uncommitted rows) until released.
    let entityInserted = () => {};
    let kitInserted = () => {};
    const entityReached = new Promise<void>((resolve) => {
      entityInserted = resolve;
    });
    const kitReached = new Promise<void>((resolve) => {
      kitInserted = resolve;
    });
    const racingEntity = putEntity(
      em,
      { tenant: ENBD, entityId: 'race-1', body: entityBody({ firstName: 'Earlier' }) as EntityBody },
      async () => {
        entityInserted();
        await held;
      },
    );
    const racingKit = putKit(
      em,
      cipher,
      { tenant: ENBD, entityId: 'race-owner', kitNo: 'race-k2', body: kitBody() as KitBody },
      async () => {
        kitInserted();
        await held;
      },
    );
    await Promise.all([entityReached, kitReached]);

    const batch = submit([
      {
        entityId: 'race-1',
        kitNo: 'race-1-k',
        customer: entityBody({ firstName: 'Batch' }),
        card: kitBody(),
      },
      { entityId: 'race-2', kitNo: 'race-k2', customer: entityBody(), card: kitBody({ pan: MASTERCARD }) },
    ]);
    // The chunk's insert waits on the uncommitted customer; then both PUTs commit.
    for (let waited = 0; ; waited += 1) {
      const [row] = await query<{ n: number }>(
        `select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where not l.granted and a.datname = current_database()`,
      );
      if ((row?.n ?? 0) > 0) break;
      if (waited > 1_000) throw new Error('the batch never waited on the racing insert');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    await Promise.all([racingEntity, racingKit]);
    const { items } = await batch;

    expect(items.map(({ kitNo, status, reason }) => [kitNo, status, reason ?? null])).toEqual([
      ['race-1-k', 'PENDING', null],
      ['race-k2', 'REJECTED', 'ENTITY_NOT_FOUND'],
    ]);
    // The batch came second: its customer replaced the PUT's; the card the PUT created stays its entity's.
    expect((await entityRow('race-1'))?.first_name).toBe('Batch');
    expect((await kitRow('race-1-k'))?.owner).toBe('race-1');
    expect((await kitRow('race-k2'))?.owner).toBe('race-owner');
    expect((await entityRow('race-2'))?.email).toBe('aisha@example.com');
  });

  it('writes no record on a replay of the same externalBatchId', async () => {
    const items = [
      {
        entityId: 'rp-1',
        kitNo: 'rp-1-k',
        customer: entityBody({ email: 'first@example.com' }),
        card: kitBody(),
      },
    ];
    const first = await api.call('POST', '/v1/ctp/batches', { json: { externalBatchId: 'rp', items } });
    expect(first.status, first.text).toBe(202);
    await put('/v1/entities/rp-1', entityBody({ email: 'since@example.com' }));
    const kit = await kitRow('rp-1-k');

    const again = await api.call('POST', '/v1/ctp/batches', { json: { externalBatchId: 'rp', items } });
    expect(again.status, again.text).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await entityRow('rp-1'))?.email).toBe('since@example.com');
    expect(await kitRow('rp-1-k')).toEqual(kit);
  });
});
