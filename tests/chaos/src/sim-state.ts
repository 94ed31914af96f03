import { z } from 'zod';
import type { NetworkFacts } from './facts.ts';

/** The part of `GET /__sim/state` the checker needs; the simulator's README documents the whole. */
const instrument = z.object({
  externalInstrumentId: z.string(),
  clickToPayPaymentInstrumentId: z.string(),
  status: z.string(),
});
const consumer = z.object({
  externalConsumerId: z.string(),
  clickToPayCustomerId: z.string(),
  status: z.string(),
  paymentInstruments: z.array(instrument),
});
const trace = z.object({
  tenant: z.string(),
  idempotencyKey: z.string(),
  requestTraceId: z.string(),
  event: z.string(),
  status: z.string(),
  externalConsumerId: z.string(),
  externalInstrumentId: z.string().optional(),
  clickToPayCustomerId: z.string().optional(),
  clickToPayPaymentInstrumentId: z.string().optional(),
});
const stateSchema = z.object({
  tenants: z.record(z.string(), z.object({ consumers: z.array(consumer) })),
  traces: z.array(trace),
  inProgress: z.number(),
  counters: z.object({
    work: z.object({ byIdempotencyKey: z.record(z.string(), z.record(z.string(), z.number())) }),
  }),
});

export async function readSimulatorState(simUrl: string): Promise<NetworkFacts & { inProgress: number }> {
  const response = await fetch(`${simUrl}/__sim/state`, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET /__sim/state answered ${response.status}`);
  const state = stateSchema.parse(await response.json());
  return {
    consumers: Object.fromEntries(Object.entries(state.tenants).map(([tenant, t]) => [tenant, t.consumers])),
    traces: state.traces,
    workByKey: state.counters.work.byIdempotencyKey,
    inProgress: state.inProgress,
  };
}
