import { type ApiClient, NoAnswer } from './api-client.ts';
import { say, sleep } from './clock.ts';
import { entityBody, kitBody } from './fixtures.ts';
import type { Random } from './random.ts';

/**
 * A portfolio batch per tenant, sent when the load starts, so that batch items are taken in,
 * fed, submitted (a few a job: `submit-items`) and resolved while processes are killed and
 * faults switched on and off. Its customers (`chaos-b…`, one card each, the records carried in
 * the items) are the batch's alone: the load's clients never touch them. The invariants then
 * check the batch's operations as any other (ended, equal to the network, started once at the
 * SaaS, announced once) and the batches themselves (check 6).
 */

export interface SubmittedBatch {
  readonly tenant: string;
  readonly batchId: string;
  readonly items: number;
  /** Uploads sent again (same `externalBatchId`) because one got no answer or a 5xx. */
  readonly resent: number;
}

/** The upload answers once every item is judged and its records written: seconds under chaos. */
const UPLOAD_TIMEOUT_MS = 30_000;
const PATIENCE_MS = 120_000;

/**
 * `rounds` batches per tenant of `items` new customers each, one round every `everyMs` while the
 * load runs (so batch work is under way through most of the chaos), the tenants side by side.
 */
export async function submitBatches(input: {
  clients: readonly ApiClient[];
  rounds: number;
  items: number;
  everyMs: number;
  random: Random;
  runId: string;
  stopped: () => boolean;
}): Promise<SubmittedBatch[]> {
  const submitted: SubmittedBatch[] = [];
  for (let round = 0; round < input.rounds && !input.stopped(); round++) {
    if (round > 0) await sleep(input.everyMs);
    submitted.push(
      ...(await Promise.all(
        input.clients.map((client) => submitBatch(client, round, input.items, input.random, input.runId)),
      )),
    );
  }
  return submitted;
}

async function submitBatch(
  client: ApiClient,
  round: number,
  items: number,
  random: Random,
  runId: string,
): Promise<SubmittedBatch> {
  const body = {
    externalBatchId: `${runId}-${client.tenant}-${round}`,
    items: Array.from({ length: items }, (_, i) => {
      const entityId = `chaos-b${round}-${String(i).padStart(3, '0')}`;
      return {
        entityId,
        kitNo: `${entityId}-k0`,
        customer: entityBody(entityId, random),
        card: kitBody(random),
      };
    }),
  };
  const deadline = Date.now() + PATIENCE_MS;
  for (let resent = 0; ; resent++) {
    try {
      const answer = await client.call('POST', '/v1/ctp/batches', body, {}, UPLOAD_TIMEOUT_MS);
      if (answer.status === 202 || answer.status === 200) {
        const batchId = String(answer.body.batchId);
        say(
          `batch ${batchId} of ${client.tenant}: ${items} items (answered ${answer.status} after ${resent} resends)`,
        );
        return { tenant: client.tenant, batchId, items, resent };
      }
      // A 409 is the same upload still being taken in by an api that lost its first connection.
      if (answer.status < 500 && answer.status !== 409)
        throw new Error(`batch upload answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    } catch (error) {
      if (!(error instanceof NoAnswer)) throw error;
    }
    if (Date.now() > deadline) throw new Error(`the batch of ${client.tenant} was never accepted`);
    await sleep(500);
  }
}
