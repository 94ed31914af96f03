import { findLeakedPans, maskPan } from '@ctp/core/cards';
import { batchCompletedNotificationSchema, notificationPayloadSchema } from '@ctp/core/contracts';
import type {
  EntityFact,
  Facts,
  KitFact,
  NetworkConsumer,
  NetworkFacts,
  NetworkTrace,
  OperationFact,
} from './facts.ts';

/**
 * The invariant checker: six checks over the facts of a settled run, each printed with what it
 * counted. The first breach stops the check with an `InvariantBreach` naming the check, the ids
 * involved and what was expected; nothing is averaged or tolerated.
 */

/** The entity a breach is about, so the run can print the operations that led there. */
export interface BreachSubject {
  readonly tenant: string;
  readonly entityId: string;
}

export class InvariantBreach extends Error {
  override readonly name = 'InvariantBreach';
  readonly check: number;
  readonly subject: BreachSubject | undefined;

  constructor(check: number, message: string, subject?: BreachSubject) {
    super(`invariant ${check} breached: ${message}`);
    this.check = check;
    this.subject = subject;
  }
}

export interface CheckReport {
  readonly check: number;
  readonly title: string;
  readonly counts: readonly string[];
}

const TERMINAL = ['SUCCESS', 'FAILED'];
const ON_NETWORK = ['ACTIVE', 'DISABLED', 'REMOVED'];

function tally(values: Iterable<string>): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return (
    [...counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([value, n]) => `${value} ${n}`)
      .join(', ') || 'none'
  );
}

const key = (tenant: string, id: string) => `${tenant}/${id}`;

/** 1. Every accepted operation exists and ended; so did every other operation (automatic updates). */
function operationsEnded(facts: Facts): string[] {
  const breach = (message: string, subject?: BreachSubject) => new InvariantBreach(1, message, subject);
  const byId = new Map(facts.operations.map((op) => [op.id, op]));
  for (const id of facts.acceptedOperationIds) {
    if (!byId.has(id)) throw breach(`operation ${id} was answered 202 but is not in ctp_operation`);
  }
  for (const op of facts.operations) {
    if (!TERMINAL.includes(op.status)) {
      throw breach(
        `operation ${op.id} (${op.tenant} ${op.event} ${op.entityId}${op.kitNo ? `/${op.kitNo}` : ''}) is ${op.status}, not SUCCESS or FAILED`,
        op,
      );
    }
  }
  const accepted = new Set(facts.acceptedOperationIds);
  return [
    `${facts.acceptedOperationIds.length} operations answered 202, all in ctp_operation`,
    `${facts.operations.length} operations in ctp_operation (${facts.operations.filter((op) => !accepted.has(op.id)).length} started by the platform itself: automatic updates), every one SUCCESS or FAILED`,
    `outcomes: ${tally(facts.operations.map((op) => op.status))}`,
    `events: ${tally(facts.operations.map((op) => op.event))}`,
  ];
}

/**
 * Whether a kit we hold as REMOVED may be absent from the network: the simulator drops a
 * consumer's instruments when the consumer is enrolled again after its removal (its README:
 * "a new enrolment (new ids, old instruments gone)"), so our REMOVED kit legitimately has no
 * instrument there. Accepted only when the network itself issued our instrument id for this very
 * kit, under a customer id that is no longer the consumer's current one: proof of the re-enrolment,
 * not a guess.
 */
function forgottenByReEnrolment(
  kit: KitFact,
  consumer: NetworkConsumer | undefined,
  traces: readonly NetworkTrace[],
) {
  if (consumer === undefined || kit.clickToPayPaymentInstrumentId === null) return false;
  return traces.some(
    (t) =>
      t.tenant === kit.tenant &&
      t.status === 'SUCCESS' &&
      t.externalConsumerId === kit.entityId &&
      t.externalInstrumentId === kit.kitNo &&
      t.clickToPayPaymentInstrumentId === kit.clickToPayPaymentInstrumentId &&
      t.clickToPayCustomerId !== undefined &&
      t.clickToPayCustomerId !== consumer.clickToPayCustomerId,
  );
}

function consumerOf(network: NetworkFacts, tenant: string, entityId: string): NetworkConsumer | undefined {
  return network.consumers[tenant]?.find((c) => c.externalConsumerId === entityId);
}

function compareEntity(entity: EntityFact, consumer: NetworkConsumer | undefined): string | null {
  const who = `${entity.tenant} entity ${entity.entityId}`;
  if (entity.status === 'UNREGISTERED') {
    return consumer === undefined
      ? null
      : `${who} is UNREGISTERED with us but the network holds it as ${consumer.status} (${consumer.clickToPayCustomerId})`;
  }
  if (!ON_NETWORK.includes(entity.status)) return `${who} is still ${entity.status} with us`;
  if (consumer === undefined) return `${who} is ${entity.status} with us but absent from the network`;
  if (consumer.status !== entity.status) {
    return `${who} is ${entity.status} with us but ${consumer.status} on the network`;
  }
  if (consumer.clickToPayCustomerId !== entity.clickToPayCustomerId) {
    return `${who}: our clickToPayCustomerId ${entity.clickToPayCustomerId} is not the network's ${consumer.clickToPayCustomerId}`;
  }
  return null;
}

function compareKit(kit: KitFact, consumer: NetworkConsumer | undefined, traces: readonly NetworkTrace[]) {
  const who = `${kit.tenant} kit ${kit.entityId}/${kit.kitNo}`;
  const instrument = consumer?.paymentInstruments.find((i) => i.externalInstrumentId === kit.kitNo);
  if (kit.status === 'UNREGISTERED') {
    return instrument === undefined
      ? null
      : `${who} is UNREGISTERED with us but the network holds it as ${instrument.status} (${instrument.clickToPayPaymentInstrumentId})`;
  }
  if (!ON_NETWORK.includes(kit.status)) return `${who} is still ${kit.status} with us`;
  if (instrument === undefined) {
    if (kit.status === 'REMOVED' && forgottenByReEnrolment(kit, consumer, traces)) return 'forgotten';
    return `${who} is ${kit.status} (${kit.clickToPayPaymentInstrumentId}) with us but absent from the network`;
  }
  if (instrument.status !== kit.status)
    return `${who} is ${kit.status} with us but ${instrument.status} on the network`;
  if (instrument.clickToPayPaymentInstrumentId !== kit.clickToPayPaymentInstrumentId) {
    return `${who}: our clickToPayPaymentInstrumentId ${kit.clickToPayPaymentInstrumentId} is not the network's ${instrument.clickToPayPaymentInstrumentId}`;
  }
  return null;
}

/** 2. Our statuses and ids equal the network's, record by record, both ways. */
function recordsEqualNetwork(facts: Facts): string[] {
  const { network } = facts;
  for (const entity of facts.entities) {
    const problem = compareEntity(entity, consumerOf(network, entity.tenant, entity.entityId));
    if (problem !== null) throw new InvariantBreach(2, problem, entity);
  }
  let forgotten = 0;
  for (const kit of facts.kits) {
    const problem = compareKit(kit, consumerOf(network, kit.tenant, kit.entityId), network.traces);
    if (problem === 'forgotten') forgotten += 1;
    else if (problem !== null) throw new InvariantBreach(2, problem, kit);
  }
  // The other way round: nothing on the network that we do not hold.
  const ours = new Set(facts.entities.map((e) => key(e.tenant, e.entityId)));
  const ourKits = new Set(facts.kits.map((k) => key(k.tenant, `${k.entityId}/${k.kitNo}`)));
  let consumers = 0;
  let instruments = 0;
  for (const [tenant, list] of Object.entries(network.consumers)) {
    for (const consumer of list) {
      consumers += 1;
      if (!ours.has(key(tenant, consumer.externalConsumerId))) {
        throw new InvariantBreach(
          2,
          `the network holds ${tenant} consumer ${consumer.externalConsumerId}, which we do not`,
        );
      }
      for (const instrument of consumer.paymentInstruments) {
        instruments += 1;
        if (!ourKits.has(key(tenant, `${consumer.externalConsumerId}/${instrument.externalInstrumentId}`))) {
          throw new InvariantBreach(
            2,
            `the network holds ${tenant} instrument ${consumer.externalConsumerId}/${instrument.externalInstrumentId}, which we do not`,
          );
        }
      }
    }
  }
  return [
    `${facts.entities.length} entities equal the network (status and clickToPayCustomerId): ${tally(facts.entities.map((e) => e.status))}`,
    `${facts.kits.length} kits equal the network (status and clickToPayPaymentInstrumentId): ${tally(facts.kits.map((k) => k.status))}`,
    `${forgotten} REMOVED kits absent from the network because their consumer was enrolled again (proved by the network's own traces)`,
    `${consumers} consumers and ${instruments} instruments on the network, every one ours`,
  ];
}

/** 3. Each operation's work started once at the SaaS, under its id, and our trace is the SaaS's. */
function workOnce(facts: Facts): string[] {
  const breach = (message: string, subject?: BreachSubject) => new InvariantBreach(3, message, subject);
  const { workByKey, traces } = facts.network;
  let keys = 0;
  for (const [tenant, counts] of Object.entries(workByKey)) {
    for (const [idempotencyKey, count] of Object.entries(counts)) {
      keys += 1;
      if (count > 1)
        throw breach(`the SaaS started the work of ${tenant} key ${idempotencyKey} ${count} times`);
    }
  }
  const byId = new Map(facts.operations.map((op) => [op.id, op]));
  const traceByKey = new Map(traces.map((t) => [key(t.tenant, t.idempotencyKey), t]));
  let traced = 0;
  for (const op of facts.operations) {
    if (op.trace === null) continue;
    traced += 1;
    const count = workByKey[op.tenant]?.[op.id] ?? 0;
    if (count !== 1) {
      throw breach(
        `operation ${op.id} has request trace ${op.trace.requestTraceId} but the SaaS counted its work ${count} times`,
      );
    }
    compareTrace(op, traceByKey.get(key(op.tenant, op.id)));
  }
  for (const [tenant, counts] of Object.entries(workByKey)) {
    for (const idempotencyKey of Object.keys(counts)) {
      const op = byId.get(idempotencyKey);
      if (op === undefined || op.tenant !== tenant || op.trace === null) {
        throw breach(
          `the SaaS did the work of ${tenant} key ${idempotencyKey}, but ${op === undefined ? 'we have no such operation' : 'our operation has no request trace'}`,
        );
      }
    }
  }
  return [
    `${keys} idempotency keys with work at the SaaS, each started at most once`,
    `${traced} operations with a request trace: work counted exactly once under the operation id, trace id and outcome equal the SaaS's`,
    `${facts.operations.length - traced} operations without a trace (refused by the SaaS before any work): no work counted`,
  ];
}

function compareTrace(op: OperationFact, theirs: NetworkTrace | undefined): void {
  const ours = op.trace;
  if (ours === null) return;
  const breach = (message: string) => new InvariantBreach(3, `operation ${op.id}: ${message}`, op);
  if (theirs === undefined)
    throw breach(`the SaaS has no trace under its key (ours: ${ours.requestTraceId})`);
  if (theirs.requestTraceId !== ours.requestTraceId) {
    throw breach(`our request trace ${ours.requestTraceId} is not the SaaS's ${theirs.requestTraceId}`);
  }
  if (theirs.status !== ours.status)
    throw breach(`our trace is ${ours.status}, the SaaS's is ${theirs.status}`);
  if (op.status !== ours.status)
    throw breach(`the operation is ${op.status} but its trace is ${ours.status}`);
}

/** 4. Each outcome is on the stream once, under its operation id, with the outcome the database holds. */
function oneNotificationPerOutcome(facts: Facts): string[] {
  const breach = (message: string, subject?: BreachSubject) => new InvariantBreach(4, message, subject);
  const byOperation = new Map<string, { notificationId: string; status: string; tenant: string }[]>();
  let statusChanges = 0;
  for (const entry of facts.notifications) {
    let json: unknown;
    try {
      json = JSON.parse(entry.payload);
    } catch {
      throw breach(`stream entry ${entry.streamId} has a payload that is not JSON`);
    }
    // A batch's end is check 6's.
    if (batchCompletedNotificationSchema.safeParse(json).success) continue;
    const parsed = notificationPayloadSchema.safeParse(json);
    if (!parsed.success)
      throw breach(`stream entry ${entry.streamId} does not match the notification contract`);
    const data = parsed.data.serverNotifyData;
    if (!('operationId' in data)) {
      statusChanges += 1;
      continue;
    }
    const list = byOperation.get(data.operationId) ?? [];
    list.push({ notificationId: entry.notificationId, status: data.requestStatus, tenant: data.tenant });
    byOperation.set(data.operationId, list);
  }
  const known = new Set(facts.operations.map((op) => op.id));
  for (const operationId of byOperation.keys()) {
    if (!known.has(operationId))
      throw breach(`the stream announces operation ${operationId}, which we do not have`);
  }
  for (const op of facts.operations) {
    if (!TERMINAL.includes(op.status)) continue;
    const entries = byOperation.get(op.id) ?? [];
    const ids = [...new Set(entries.map((e) => e.notificationId))];
    if (ids.length !== 1) {
      throw breach(
        `operation ${op.id} (${op.status}) has ${ids.length} notification ids on the stream: [${ids.join(', ')}]`,
        op,
      );
    }
    if (ids[0] !== op.id)
      throw breach(`operation ${op.id} is announced under notificationId ${ids[0]}, not its own id`, op);
    if (entries.length !== 1) throw breach(`operation ${op.id} is on the stream ${entries.length} times`, op);
    const [entry] = entries;
    if (entry?.status !== op.status || entry.tenant !== op.tenant) {
      throw breach(
        `operation ${op.id} is ${op.tenant} ${op.status} but announced as ${entry?.tenant} ${entry?.status}`,
        op,
      );
    }
  }
  return [
    `${facts.notifications.length} stream entries, every one a valid notification payload`,
    `${byOperation.size} operation outcomes, each exactly once under notificationId = its operation id, with the database's outcome and tenant`,
    `${statusChanges} network status changes`,
  ];
}

/** 5. No card number in any line any process wrote. */
function noPanInLogs(facts: Facts): string[] {
  let lines = 0;
  for (const log of facts.logs) {
    for (const [index, line] of log.lines.entries()) {
      lines += 1;
      const pans = findLeakedPans(line);
      if (pans.length > 0) {
        const masked = pans.map((p) => maskPan(p.replace(/[ -]/g, ''))).join(', ');
        throw new InvariantBreach(5, `${log.source}:${index + 1} holds a card number (${masked})`);
      }
    }
  }
  return [
    `${lines} lines from ${facts.logs.length} processes (${facts.logs.map((l) => `${l.source.split('/').at(-1)} ${l.lines.length}`).join(', ')}): no Luhn-valid 13-19 digit run`,
  ];
}

const ITEM_ENDS = ['SUCCEEDED', 'FAILED', 'SKIPPED', 'REJECTED'];

/**
 * 6. Every uploaded batch ended with all its items, each item with its operation's outcome, and
 * is announced once (`CTP_BATCH_COMPLETED`, notificationId `batch:<id>`) with the counts its items
 * give. Its operations are checks 1–4's like any other.
 */
function batchesEnded(facts: Facts): string[] {
  const breach = (message: string) => new InvariantBreach(6, message);
  const byId = new Map(facts.batches.map((b) => [b.id, b]));
  const operations = new Map(facts.operations.map((op) => [op.id, op]));
  for (const submitted of facts.submittedBatches) {
    const batch = byId.get(submitted.batchId);
    if (batch === undefined)
      throw breach(`batch ${submitted.batchId} was answered 202 but is not in ctp_batch`);
    if (batch.items.length !== submitted.items)
      throw breach(`batch ${batch.id} holds ${batch.items.length} items, ${submitted.items} were sent`);
  }
  const announced = new Map<
    string,
    { notificationId: string; counts: Record<string, number>; status: string }[]
  >();
  for (const entry of facts.notifications) {
    const parsed = batchCompletedNotificationSchema.safeParse(JSON.parse(entry.payload));
    if (!parsed.success) continue;
    const data = parsed.data.serverNotifyData;
    const list = announced.get(data.batchId) ?? [];
    list.push({ notificationId: entry.notificationId, counts: data.counts, status: data.status });
    announced.set(data.batchId, list);
  }
  let items = 0;
  for (const batch of facts.batches) {
    if (batch.status !== 'COMPLETED') throw breach(`batch ${batch.id} (${batch.tenant}) is ${batch.status}`);
    for (const item of batch.items) {
      items += 1;
      const which = `batch ${batch.id} item ${item.seq} (${item.entityId})`;
      if (!ITEM_ENDS.includes(item.status)) throw breach(`${which} is ${item.status}`);
      const op = item.operationId === null ? undefined : operations.get(item.operationId);
      if (item.status === 'SUCCEEDED' && op?.status !== 'SUCCESS')
        throw breach(
          `${which} SUCCEEDED but its operation ${item.operationId} is ${op?.status ?? 'missing'}`,
        );
      if (item.status === 'FAILED' && op !== undefined && op.status !== 'FAILED')
        throw breach(`${which} FAILED but its operation ${op.id} is ${op.status}`);
    }
    const entries = announced.get(batch.id) ?? [];
    if (entries.length !== 1) throw breach(`batch ${batch.id} is on the stream ${entries.length} times`);
    const [entry] = entries;
    if (entry?.notificationId !== `batch:${batch.id}`)
      throw breach(`batch ${batch.id} is announced under notificationId ${entry?.notificationId}`);
    const count = (status: string) => batch.items.filter((i) => i.status === status).length;
    const expected = {
      total: batch.items.length,
      succeeded: count('SUCCEEDED'),
      failed: count('FAILED'),
      skipped: count('SKIPPED'),
      rejected: count('REJECTED'),
    };
    for (const [name, value] of Object.entries(expected)) {
      if (entry.counts[name] !== value)
        throw breach(
          `batch ${batch.id} is announced with ${name} ${entry.counts[name]}, its items give ${value}`,
        );
    }
  }
  return [
    `${facts.batches.length} batches (${facts.submittedBatches.length} uploaded by the load), every one COMPLETED and announced once with its items' counts`,
    `${items} items: ${tally(facts.batches.flatMap((b) => b.items.map((i) => (i.reason === null ? i.status : `${i.status} ${i.reason}`))))}`,
  ];
}

const CHECKS: readonly [title: string, run: (facts: Facts) => string[]][] = [
  ['every accepted operation reached SUCCESS or FAILED', operationsEnded],
  ["our statuses and ids equal the network's, for every entity and kit", recordsEqualNetwork],
  ['the SaaS started each operation’s work once', workOnce],
  ['each outcome has exactly one notificationId on the stream', oneNotificationPerOutcome],
  ['no PAN in any captured log line', noPanInLogs],
  ["every batch ended, each item with its operation's outcome, announced once", batchesEnded],
];

/** Runs every check in order, printing each; throws `InvariantBreach` at the first breach. */
export function checkInvariants(facts: Facts, print: (line: string) => void = () => {}): CheckReport[] {
  const reports: CheckReport[] = [];
  for (const [index, [title, run]] of CHECKS.entries()) {
    const check = index + 1;
    let counts: string[];
    try {
      counts = run(facts);
    } catch (error) {
      print(`✗ ${check}. ${title}`);
      if (error instanceof InvariantBreach) print(`    BREACH: ${error.message}`);
      throw error;
    }
    print(`✓ ${check}. ${title}`);
    for (const line of counts) print(`    ${line}`);
    reports.push({ check, title, counts });
  }
  return reports;
}
