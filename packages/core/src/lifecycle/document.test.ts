import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { diagramEdges } from './diagrams.ts';
import { renderLifecycleDocument } from './document.ts';
import { CTP_EVENTS } from './events.ts';
import { CTP_STATUSES, TRACE_STATUSES } from './statuses.ts';
import { planOutcome, planRequest } from './transitions.ts';

const docPath = fileURLToPath(new URL('../../../../docs/lifecycle.md', import.meta.url));

describe('docs/lifecycle.md', () => {
  it('is what the transition tables generate (run `pnpm docs:lifecycle` after changing them)', () => {
    expect(readFileSync(docPath, 'utf8')).toBe(renderLifecycleDocument());
  });

  it('draws only known statuses', () => {
    for (const [from, to] of [...diagramEdges.entity(), ...diagramEdges.kit()]) {
      expect(CTP_STATUSES).toContain(from);
      expect(CTP_STATUSES).toContain(to);
    }
    for (const [from, to] of diagramEdges.trace()) {
      expect(TRACE_STATUSES).toContain(from);
      expect(TRACE_STATUSES).toContain(to);
    }
  });

  it('draws every entity move that planRequest and planOutcome make', () => {
    const drawn = new Set(diagramEdges.entity().map(([from, to]) => `${from}->${to}`));
    for (const event of CTP_EVENTS) {
      for (const entity of CTP_STATUSES) {
        const plan = planRequest(event, { entity, kits: { K: 'UNREGISTERED' } }, 'K');
        if (!plan.ok) continue;
        const pending = plan.value.pending;
        if (pending.entity !== entity) expect(drawn).toContain(`${entity}->${pending.entity}`);
        for (const outcome of ['SUCCESS', 'FAILED'] as const) {
          const next = planOutcome(event, outcome, plan.value, pending).entity;
          if (next !== pending.entity) expect(drawn).toContain(`${pending.entity}->${next}`);
        }
      }
    }
  });
});
