import type { ChaosCounts } from './chaos.ts';
import { addFinding, allFindings } from './findings.ts';
import type { LoadRecord } from './load.ts';
import type { System } from './system.ts';

const line = (text: string) => process.stdout.write(`${text}\n`);

const listed = (map: ReadonlyMap<string, number>) =>
  [...map]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

export function printLoad(record: LoadRecord): void {
  line(
    `load: ${record.accepted.size} operations accepted (${record.reRegistrations} re-registrations after removal)`,
  );
  line(`  sent by action:     ${listed(record.sent)}`);
  line(`  accepted by action: ${listed(record.acceptedBy)}`);
  line(`  answers:            ${listed(record.answers)}`);
  line(`  operation requests resent with the same Idempotency-Key after no answer: ${record.resent}`);
}

export function printChaos(counts: ChaosCounts, system: System): void {
  line(
    `chaos: ${counts.workerKills} worker SIGKILLs, ${counts.apiKills} api SIGKILLs, ${counts.redisRestarts} Redis restarts, ` +
      `${counts.postgresCuts} PostgreSQL cuts (${counts.connectionsCut} connections), ${counts.faultSwitches} fault switches`,
  );
  for (const p of system.processes) {
    line(
      `  ${p.name.padEnd(9)} starts ${p.starts}, SIGKILLs ${p.kills}, exits by itself ${p.unexpectedExits}, lines ${p.log.lines}`,
    );
  }
}

export function printFindings(): void {
  const findings = allFindings();
  line(`findings (not invariants, but worth a look): ${findings.length === 0 ? 'none' : ''}`);
  for (const finding of findings) {
    line(`  at ${finding.at}: ${finding.what}`);
    for (const context of finding.context.slice(-5)) line(`      | ${context.slice(0, 300)}`);
  }
}

/**
 * The contract answers a dependency that is down with 503 UNAVAILABLE ("nothing was accepted"),
 * which a client may retry; a 500 tells it nothing. Not an invariant, but the client cannot act on it.
 */
export function reportServerErrors(record: LoadRecord): void {
  const internal = [...record.answers].filter(([kind]) => /(^|\s)500\b/.test(kind));
  const total = internal.reduce((n, [, count]) => n + count, 0);
  if (total > 0) {
    addFinding(
      `the api answered 500 INTERNAL ${total} times (${internal.map(([k, n]) => `${k}: ${n}`).join(', ')}); ` +
        'a dependency that is down should be 503 UNAVAILABLE (see api.log around the PostgreSQL cuts)',
    );
  }
}
