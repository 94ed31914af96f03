import type { Facts, OperationFact } from './facts.ts';
import type { InvariantBreach } from './invariants.ts';

const describe = (op: OperationFact) =>
  `${op.event}${op.kitNo ? ` ${op.kitNo}` : ''} ${op.status}${op.errorCode ? ` ${op.errorCode}` : ''}`;

/**
 * The operations of the entity a breach names, oldest first: usually enough to see how the
 * records and the network came apart (which step failed, with which error). The same failure
 * in a row (a refusal again and again) is folded into one line, so the step that caused it stays
 * in view. The captured logs hold the rest; grep them for the operation ids.
 */
export function breachStory(breach: InvariantBreach, facts: Facts, lastRuns = 15): string[] {
  const subject = breach.subject;
  if (subject === undefined) return [];
  const ops = facts.operations
    .filter((op) => op.tenant === subject.tenant && op.entityId === subject.entityId)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const runs: OperationFact[][] = [];
  for (const op of ops) {
    const current = runs.at(-1);
    const first = current?.[0];
    const alike =
      first !== undefined &&
      op.status === 'FAILED' &&
      first.status === 'FAILED' &&
      first.event === op.event &&
      first.errorCode === op.errorCode;
    if (current !== undefined && alike) current.push(op);
    else runs.push([op]);
  }
  const shown = runs.slice(-lastRuns);
  return [
    `operations of ${subject.tenant} entity ${subject.entityId} (${ops.length}; the same failure in a row folded):`,
    ...shown.map((run) => {
      const [first] = run;
      const last = run.at(-1);
      if (first === undefined || last === undefined) return '';
      const trace = first.trace ? ` trace ${first.trace.requestTraceId}` : ' (no trace)';
      return run.length === 1
        ? `  ${first.createdAt} ${first.id} ${describe(first)}${trace}`
        : `  ${first.createdAt} … ${last.createdAt} ${run.length}× ${first.event} ${first.status}${first.errorCode ? ` ${first.errorCode}` : ''} (first ${first.id})`;
    }),
  ];
}
