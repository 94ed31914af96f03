import { elapsed, say } from './clock.ts';

/**
 * What the suite saw go wrong without causing it: a process that exited by itself, one that
 * did not come back after a restart. Findings are reported, not invariants: the system may
 * still end correct (a supervisor restarts what died), but each is worth a look.
 */
export interface Finding {
  readonly at: string;
  readonly what: string;
  readonly context: readonly string[];
}

const findings: Finding[] = [];

export function addFinding(what: string, context: readonly string[] = []): void {
  findings.push({ at: elapsed(), what, context });
  say(`FINDING: ${what}`);
}

export function allFindings(): readonly Finding[] {
  return findings;
}
