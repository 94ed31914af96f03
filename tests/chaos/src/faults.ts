import { say } from './clock.ts';

/**
 * Simulator fault sets (`POST /__sim/faults`, a partial set laid over the current one). Rates
 * are high enough that every kind happens many times in a run, low enough that operations
 * still get through between faults. `slow` puts the latency around the client's 1 s timeout:
 * some answers arrive, some time out after the simulator has done the work.
 */
export const FAULTS = {
  transport: { rate5xx: 0.2, rate429: 0.1, retryAfterSeconds: 1, lostAnswerRate: 0.2 },
  slow: { latencyMs: { min: 200, max: 1_800 } },
  webhooks: {
    webhookDropRate: 0.3,
    webhookDuplicateRate: 0.3,
    webhookDelayMs: { min: 0, max: 2_500 },
    webhookBeforeAcceptRate: 0.2,
  },
  rejections: { rejectionRate: 0.15 },
  everything: {
    rate5xx: 0.15,
    rate429: 0.1,
    retryAfterSeconds: 1,
    lostAnswerRate: 0.15,
    latencyMs: { min: 0, max: 1_500 },
    webhookDropRate: 0.3,
    webhookDuplicateRate: 0.3,
    webhookDelayMs: { min: 0, max: 2_500 },
    webhookBeforeAcceptRate: 0.2,
    rejectionRate: 0.1,
  },
  off: {
    rejectionRate: 0,
    rate5xx: 0,
    rate429: 0,
    retryAfterSeconds: 1,
    latencyMs: { min: 0, max: 0 },
    lostAnswerRate: 0,
    webhookDropRate: 0,
    webhookDuplicateRate: 0,
    webhookDelayMs: { min: 0, max: 0 },
    webhookBeforeAcceptRate: 0,
  },
} as const;
export type FaultSet = keyof typeof FAULTS;

export async function setFaults(simUrl: string, name: FaultSet): Promise<void> {
  const response = await fetch(`${simUrl}/__sim/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(FAULTS[name]),
    signal: AbortSignal.timeout(5_000),
  });
  if (!response.ok)
    throw new Error(`POST /__sim/faults (${name}) answered ${response.status}: ${await response.text()}`);
  say(`simulator faults: ${name} ${name === 'off' ? '' : JSON.stringify(FAULTS[name])}`);
}
