import { type Action, type CtpView, chooseAction, requestFor } from './actions.ts';
import { type ApiClient, NoAnswer } from './api-client.ts';
import { say, sleep } from './clock.ts';
import { address, type Customer, entityBody, kitBody } from './fixtures.ts';
import type { Random } from './random.ts';

export interface AcceptedOperation {
  readonly operationId: string;
  readonly tenant: string;
  readonly action: Action;
  readonly entityId: string;
}

/** What the load sent and what came back, for the summary and for invariant 1. */
export class LoadRecord {
  readonly accepted = new Map<string, AcceptedOperation>();
  /** Answers by kind: `202`, `409 INVALID_STATE`, `503 UNAVAILABLE`, `no answer`, ... */
  readonly answers = new Map<string, number>();
  readonly sent = new Map<Action, number>();
  readonly acceptedBy = new Map<Action, number>();
  reRegistrations = 0;
  /** Operation requests sent again with the same key because the first got no answer. */
  resent = 0;

  count(kind: string): void {
    this.answers.set(kind, (this.answers.get(kind) ?? 0) + 1);
  }
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function answerKind(status: number, body: Record<string, unknown>): string {
  const error = body.error as { code?: unknown } | undefined;
  return typeof error?.code === 'string' ? `${status} ${error.code}` : String(status);
}

/** The platform records first, before any chaos: PUT every entity and its cards in both tenants. */
export async function createRecords(
  clients: readonly ApiClient[],
  customers: readonly Customer[],
  random: Random,
) {
  for (const client of clients) {
    for (const customer of customers) {
      const entity = await client.call(
        'PUT',
        `/v1/entities/${customer.entityId}`,
        entityBody(customer.entityId, random),
      );
      if (entity.status >= 300)
        throw new Error(`PUT entity answered ${entity.status}: ${JSON.stringify(entity.body)}`);
      for (const kitNo of customer.kitNos) {
        const kit = await client.call(
          'PUT',
          `/v1/entities/${customer.entityId}/kits/${kitNo}`,
          kitBody(random),
        );
        if (kit.status >= 300) throw new Error(`PUT kit answered ${kit.status}: ${JSON.stringify(kit.body)}`);
      }
    }
  }
  const kits = customers.reduce((n, c) => n + c.kitNos.length, 0);
  say(`records: ${customers.length} entities and ${kits} kits in each of ${clients.length} tenants`);
}

function profilePatch(random: Random): Record<string, unknown> {
  switch (random.int(3)) {
    case 0:
      return { firstName: random.pick(['Aisha', 'Omar', 'Noor', 'Karim', 'Sami']) };
    case 1:
      return { address: address(random) };
    default:
      return { lastName: random.pick(['Khan', 'Saleh', 'Nasser']), address: address(random) };
  }
}

/**
 * One virtual client: reads an entity's CTP statuses, sends what it chose, and goes on; an api
 * that is down (killed, restarting) costs it a pause, not the run.
 */
async function virtualClient(input: {
  clients: readonly ApiClient[];
  customers: readonly Customer[];
  random: Random;
  record: LoadRecord;
  keyPrefix: string;
  allowed: ReadonlySet<Action>;
  stopped: () => boolean;
}) {
  const { random, record } = input;
  let sent = 0;
  const nextKey = () => {
    sent += 1;
    return `${input.keyPrefix}-${sent}`;
  };
  while (!input.stopped()) {
    try {
      await oneStep(input, nextKey);
    } catch (error) {
      if (!(error instanceof NoAnswer)) throw error;
      // Never answered, even after resending: the outcome is unknown to the client (the checker
      // still sees any operation it started, through ctp_operation).
      record.count('no answer');
      await sleep(300);
    }
    await sleep(20 + random.int(120));
  }
}

/** Read one entity's CTP statuses, choose, send, record the answer. */
async function oneStep(
  input: {
    clients: readonly ApiClient[];
    customers: readonly Customer[];
    random: Random;
    record: LoadRecord;
    allowed: ReadonlySet<Action>;
  },
  nextKey: () => string,
): Promise<void> {
  const { random, record } = input;
  const client = random.pick(input.clients);
  const customer = random.pick(input.customers);
  const read = await client.call('GET', `/v1/ctp/entities/${customer.entityId}`);
  if (read.status !== 200) {
    record.count(`read ${answerKind(read.status, read.body)}`);
    return;
  }
  const view = read.body as unknown as CtpView;
  const choice = chooseAction(view, customer, random, input.allowed);
  if (choice === null) return;
  const request = requestFor(choice.action, customer, choice.kitNo, profilePatch(random));
  bump(record.sent, choice.action);
  if (request.method === 'PATCH') {
    const answer = await client.call('PATCH', request.path, request.body);
    record.count(`PATCH ${answerKind(answer.status, answer.body)}`);
    return;
  }
  const answer = await client.operation(request.method, request.path, request.body, nextKey());
  record.resent += answer.resent;
  record.count(answerKind(answer.status, answer.body));
  if (answer.status !== 202) return;
  const operationId = String(answer.body.operationId);
  record.accepted.set(operationId, {
    operationId,
    tenant: client.tenant,
    action: choice.action,
    entityId: customer.entityId,
  });
  bump(record.acceptedBy, choice.action);
  if (choice.action === 'register' && view.ctpEntityStatus === 'REMOVED') record.reRegistrations += 1;
}

/** `concurrency` virtual clients until `stop` resolves. */
export async function driveLoad(input: {
  clients: readonly ApiClient[];
  customers: readonly Customer[];
  random: Random;
  concurrency: number;
  runId: string;
  allowed: ReadonlySet<Action>;
  until: Promise<void>;
}): Promise<LoadRecord> {
  const record = new LoadRecord();
  let stopped = false;
  void input.until.then(() => {
    stopped = true;
  });
  await Promise.all(
    Array.from({ length: input.concurrency }, (_, i) =>
      virtualClient({
        clients: input.clients,
        customers: input.customers,
        // Each virtual client draws from its own seeded stream, so one's timing does not shift another's choices.
        random: input.random.fork(i),
        record,
        keyPrefix: `${input.runId}-c${i}`,
        allowed: input.allowed,
        stopped: () => stopped,
      }),
    ),
  );
  return record;
}
