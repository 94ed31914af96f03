import { randomUUID } from 'node:crypto';
import { findPans } from '@ctp/core/cards';
import { saasErrorBodySchema } from '@ctp/core/contracts';
import { createLogger } from '@ctp/core/logging';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../src/testing.ts';
import {
  type Answer,
  accepted,
  admin,
  enrolled,
  OTHER_PAN,
  paymentInstrument,
  registration,
  type SaasClient,
  saasClient,
  settled,
  startReceiver,
} from './helpers.ts';

const PANS = ['4111111111111111', OTHER_PAN, '4012888888881881', '378282246310005', '4000056655665556'];

const lines: string[] = [];
const answers: Answer[] = [];
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let sim: RunningSimulator;
let client: SaasClient;

beforeAll(async () => {
  receiver = await startReceiver();
  sim = await startSimulator({
    webhookUrl: receiver.url,
    logger: createLogger({
      name: 'saas-sim',
      level: 'trace',
      destination: { write: (line: string) => void lines.push(line) },
    }),
  });
  client = saasClient(sim.url);
});
afterAll(async () => {
  await sim.close();
  await receiver.close();
});

async function keep(answer: Promise<Answer>): Promise<Answer> {
  const a = await answer;
  answers.push(a);
  return a;
}

describe('card numbers', () => {
  it('never come back: not in answers, /__sim/state, webhooks or log lines', async () => {
    const ids = await enrolled(client, 'c-p1', 'k-p1');
    const base = { externalConsumerId: 'c-p1', clickToPayCustomerId: ids.clickToPayCustomerId };
    await settled(
      client,
      accepted(
        await keep(
          client.send('CTP_ADD_KIT', { ...base, paymentInstrument: paymentInstrument('k-p2', PANS[1]) }),
        ),
      ).requestTraceId,
    );
    await settled(
      client,
      accepted(
        await keep(
          client.send('CTP_UPDATE_KIT', {
            ...base,
            clickToPayPaymentInstrumentId: ids.clickToPayPaymentInstrumentId,
            paymentInstrument: paymentInstrument('k-p1', PANS[2]),
          }),
        ),
      ).requestTraceId,
    );
    // Refusals of every kind, each carrying a PAN somewhere.
    await keep(client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-p1', 'k-p1', PANS[3])));
    await keep(client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-p2', 'k-p2', '4111111111111112')));
    const reg = registration('c-p3', 'k-p3', PANS[4]);
    await keep(
      client.send('CTP_REGISTER_ENTITY_AND_KIT', {
        ...reg,
        paymentInstrument: { ...reg.paymentInstrument, cvv: PANS[0] },
      }),
    );
    const key = randomUUID();
    accepted(await keep(client.send('CTP_REGISTER_ENTITY_AND_KIT', reg, { key })));
    await keep(client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-p4', 'k-p4', PANS[0]), { key }));
    await keep(client.getData('c-p1'));
    await sim.simulator.idle();

    const state = await admin(sim, 'GET', '/__sim/state');
    const everything = [
      ...answers.map((a) => a.text),
      state.text,
      ...receiver.deliveries.map((d) => d.raw),
      ...lines,
    ].join('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(receiver.deliveries.length).toBeGreaterThan(0);
    expect(findPans(everything)).toEqual([]);
    for (const pan of PANS) expect(everything).not.toContain(pan);
    expect(everything).toContain('"panLastFour":"1881"');
  });

  it('typed into another field are refused, not stored', async () => {
    const reg = registration('c-p5', 'k-p5');
    const answer = await client.send('CTP_REGISTER_ENTITY_AND_KIT', {
      ...reg,
      paymentInstrument: { ...reg.paymentInstrument, nameOnCard: `AISHA ${PANS[0]}` },
    });
    expect(answer.status).toBe(400);
    expect(saasErrorBodySchema.parse(answer.body).error.details).toEqual([
      { field: 'paymentInstrument.nameOnCard', message: 'must not contain a card number' },
    ]);
    expect(findPans(answer.text)).toEqual([]);
  });
});
