import { CtpOperation, CtpPendingSync } from '@ctp/core/entities';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi } from '../src/api-process.ts';
import { type Pipeline, startPipeline, TENANT } from '../src/harness.ts';

// Platform contract, "Tenant CTP settings": with `autoEnrol`, a new card enrols by itself (queued
// behind an operation in flight, surviving a crash right after the card's commit); `OFF`, an
// unlisted entity, an ineligible BIN, missing consent and an opted-out entity start nothing.

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline();
});
afterAll(async () => {
  await p.close();
});

const PANS = { visa: '4111111111111111', visa2: '4012888888881881', mastercard: '5555555555554444' };

async function settings(body: Record<string, unknown>) {
  const answer = await p.call('PUT', '/v1/ctp/settings', body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
}

async function customer(entityId: string, consent = true) {
  const answer = await p.call('PUT', `/v1/entities/${entityId}`, {
    firstName: 'Aisha',
    lastName: 'Khan',
    email: `${entityId}@example.com`,
    phone: { countryCode: '971', number: '501234567' },
    address: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
    locale: 'en_AE',
    countryCode: 'AE',
    ...(consent ? { consent: { accepted: true, version: '1.0', acceptedAt: '2026-11-23T10:00:00Z' } } : {}),
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
}

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;

async function card(entityId: string, kitNo: string, pan = PANS.visa, call: Call = p.call) {
  const answer = await call('PUT', `/v1/entities/${entityId}/kits/${kitNo}`, {
    pan,
    expiry: { month: '12', year: '2030' },
    nameOnCard: 'AISHA KHAN',
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
}

const operationsOf = (entityId: string) =>
  p.db.orm.em.fork().find(CtpOperation, { tenant: TENANT, entityId }, { orderBy: { createdAt: 'asc' } });
const pendingOf = (entityId: string) =>
  p.db.orm.em.fork().count(CtpPendingSync, { tenant: TENANT, entityId });

/** The decision commits with the card: nothing queued then means nothing will ever start. */
async function nothingStarted(entityId: string) {
  expect(await pendingOf(entityId)).toBe(0);
  expect(await operationsOf(entityId)).toEqual([]);
}

/** Waits until the entity has `count` operations, all ended, and nothing pending. */
async function ended(entityId: string, count: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await pendingOf(entityId);
    const ops = await operationsOf(entityId);
    if (
      pending === 0 &&
      ops.length >= count &&
      ops.every((op) => op.status === 'SUCCESS' || op.status === 'FAILED')
    )
      return ops.map((op) => `${op.event}:${op.kitNumber ?? ''}:${op.status}`);
    if (Date.now() > deadline)
      throw new Error(
        `${entityId}: ${ops.map((o) => `${o.event}:${o.status}`).join(', ')}, ${pending} pending`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ctpStatus = async (entityId: string) => (await p.call('GET', `/v1/ctp/entities/${entityId}`)).body;

describe('auto-enrolment of new cards', () => {
  it('ALL: a new card registers the entity; a second one, created while that runs, is added after it', async () => {
    await settings({ mode: 'ALL', autoEnrol: true });
    await customer('ae-all');
    await card('ae-all', 'ae-all-1');
    await card('ae-all', 'ae-all-2', PANS.visa2);
    expect(await ended('ae-all', 2)).toEqual([
      'CTP_REGISTER_ENTITY_AND_KIT:ae-all-1:SUCCESS',
      'CTP_ADD_KIT:ae-all-2:SUCCESS',
    ]);
    expect(await ctpStatus('ae-all')).toMatchObject({
      ctpEntityStatus: 'ACTIVE',
      kits: [{ ctpKitStatus: 'ACTIVE' }, { ctpKitStatus: 'ACTIVE' }],
    });
  });

  it('ALLOW_LIST: only a listed entity enrols by itself', async () => {
    await settings({ mode: 'ALLOW_LIST', allowList: ['ae-listed'], autoEnrol: true });
    await customer('ae-listed');
    await customer('ae-unlisted');
    await card('ae-listed', 'ae-listed-1');
    await card('ae-unlisted', 'ae-unlisted-1');
    expect(await ended('ae-listed', 1)).toEqual(['CTP_REGISTER_ENTITY_AND_KIT:ae-listed-1:SUCCESS']);
    await nothingStarted('ae-unlisted');
  });

  it('OFF, or autoEnrol false, starts nothing', async () => {
    await settings({ mode: 'OFF', autoEnrol: true });
    await customer('ae-off');
    await card('ae-off', 'ae-off-1');
    await nothingStarted('ae-off');
    await settings({ mode: 'ALL', autoEnrol: false });
    await card('ae-off', 'ae-off-2');
    await nothingStarted('ae-off');
  });

  it('eligibleBins: a card outside them, or of a customer without consent, starts nothing', async () => {
    await settings({ mode: 'ALL', autoEnrol: true, eligibleBins: ['41111111', '401288'] });
    await customer('ae-bin');
    await card('ae-bin', 'ae-bin-mc', PANS.mastercard);
    await nothingStarted('ae-bin');
    await card('ae-bin', 'ae-bin-visa', PANS.visa2);
    expect(await ended('ae-bin', 1)).toEqual(['CTP_REGISTER_ENTITY_AND_KIT:ae-bin-visa:SUCCESS']);

    await customer('ae-noconsent', false);
    await card('ae-noconsent', 'ae-noconsent-1');
    await nothingStarted('ae-noconsent');
  });

  it('an opt-out (DELETE with CUSTOMER_OPT_OUT) or a removal by the network is never auto-enrolled again', async () => {
    await settings({ mode: 'ALL', autoEnrol: true });
    await customer('ae-opt');
    await card('ae-opt', 'ae-opt-1');
    await ended('ae-opt', 1);
    const removal = await p.call('DELETE', '/v1/ctp/entities/ae-opt', { reason: 'CUSTOMER_OPT_OUT' });
    expect(removal.status, JSON.stringify(removal.body)).toBe(202);
    expect(await ended('ae-opt', 2)).toEqual([
      'CTP_REGISTER_ENTITY_AND_KIT:ae-opt-1:SUCCESS',
      'CTP_REMOVE_ENTITY::SUCCESS',
    ]);
    await card('ae-opt', 'ae-opt-2');
    expect(await pendingOf('ae-opt')).toBe(0);
    expect(await operationsOf('ae-opt')).toHaveLength(2);

    await customer('ae-netrm');
    await card('ae-netrm', 'ae-netrm-1');
    await ended('ae-netrm', 1);
    p.sim.simulator.setConsumerStatus(TENANT, 'ae-netrm', 'REMOVED');
    const deadline = Date.now() + 10_000;
    while ((await ctpStatus('ae-netrm')).ctpEntityStatus !== 'REMOVED') {
      if (Date.now() > deadline) throw new Error('the entity never became REMOVED');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await card('ae-netrm', 'ae-netrm-2');
    expect(await pendingOf('ae-netrm')).toBe(0);
    expect(await operationsOf('ae-netrm')).toHaveLength(1);

    // A plain removal (no opt-out) is not remembered: the next new card enrols again.
    await customer('ae-plain');
    await card('ae-plain', 'ae-plain-1');
    await ended('ae-plain', 1);
    expect((await p.call('DELETE', '/v1/ctp/entities/ae-plain')).status).toBe(202);
    await ended('ae-plain', 2);
    await card('ae-plain', 'ae-plain-2', PANS.visa2);
    expect((await ended('ae-plain', 3)).at(-1)).toBe('CTP_REGISTER_ENTITY_AND_KIT:ae-plain-2:SUCCESS');
  });

  it('a card committed by an api killed right after the commit still enrols', async () => {
    await settings({ mode: 'ALL', autoEnrol: true });
    await customer('ae-kill');
    const api = await spawnApi(p.workerEnv);
    await card('ae-kill', 'ae-kill-1', PANS.visa, api.call);
    await api.kill();
    expect(await ended('ae-kill', 1)).toEqual(['CTP_REGISTER_ENTITY_AND_KIT:ae-kill-1:SUCCESS']);
  });
});
