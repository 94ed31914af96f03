import { CTP_EVENTS } from './events.ts';
import {
  EVENT_RULES,
  NETWORK_CHANGE_RULES,
  RECONCILE_REPORTS,
  RECONCILE_RULES,
  type SideRule,
} from './rules.ts';
import { NETWORK_STATUSES } from './statuses.ts';
import { TRACE_TRANSITIONS } from './transitions.ts';

/**
 * Mermaid state diagrams generated from the transition tables, so the documentation cannot
 * drift from the code: `docs/lifecycle.md` is written by `pnpm docs:lifecycle` and a test
 * fails when the committed file differs from what the tables say.
 */

type Edge = readonly [from: string, to: string, label: string];

function sideEdges(event: string, side: SideRule, how: string): Edge[] {
  if (side.pending === null) return [];
  const pending = side.pending;
  const edges: Edge[] = side.from.map((from) => [from, pending, `${event}${how}`] as const);
  if (side.success !== null) edges.push([pending, side.success, `${event} SUCCESS`]);
  for (const from of side.from) edges.push([pending, from, `${event} FAILED (revert)`]);
  return edges;
}

function networkEdges(): Edge[] {
  return NETWORK_STATUSES.flatMap((to) =>
    NETWORK_CHANGE_RULES[to].map((from) => [from, to, `network: ${to}`] as const),
  );
}

function reconcileEdges(): Edge[] {
  return RECONCILE_REPORTS.flatMap((report) => {
    const rule = RECONCILE_RULES[report];
    return rule.from.map((from) => [from, rule.to, `reconcile: network ${report}`] as const);
  });
}

function entityEdges(): Edge[] {
  return [
    ...CTP_EVENTS.flatMap((e) => sideEdges(e, EVENT_RULES[e].entity, '')),
    ...networkEdges(),
    ...reconcileEdges(),
  ];
}

function kitEdges(): Edge[] {
  const own = CTP_EVENTS.flatMap((event) => {
    const rule = EVENT_RULES[event];
    return [
      ...(rule.kit === null ? [] : sideEdges(event, rule.kit, '')),
      ...(rule.allKits === null ? [] : sideEdges(event, rule.allKits, ' (with its entity)')),
    ];
  });
  const consumerRemoved: Edge[] = NETWORK_CHANGE_RULES.REMOVED.map((from) => [
    from,
    'REMOVED',
    'network: consumer REMOVED',
  ]);
  return [...own, ...networkEdges(), ...consumerRemoved, ...reconcileEdges()];
}

function traceEdges(): Edge[] {
  return Object.entries(TRACE_TRANSITIONS).flatMap(([from, tos]) =>
    tos.map(
      (to) =>
        [
          from,
          to,
          to === 'SUCCESS' ? 'webhook or /status: SUCCESS' : 'webhook or /status: FAILED, or deadline',
        ] as const,
    ),
  );
}

function render(initial: string, edges: Edge[], terminal: readonly string[] = []): string {
  const seen = new Set<string>();
  const lines = ['stateDiagram-v2', `    [*] --> ${initial}`];
  for (const [from, to, label] of edges) {
    const line = `    ${from} --> ${to}: ${label}`;
    if (seen.has(line)) continue;
    seen.add(line);
    lines.push(line);
  }
  for (const state of terminal) lines.push(`    ${state} --> [*]`);
  return lines.join('\n');
}

export function entityDiagram(): string {
  return render('UNREGISTERED', entityEdges());
}

export function kitDiagram(): string {
  return render('UNREGISTERED', kitEdges());
}

export function traceDiagram(): string {
  return render('IN_PROGRESS', traceEdges(), ['SUCCESS', 'FAILED']);
}

/** All edges of a diagram, for tests that check the diagrams against the transition functions. */
export const diagramEdges = { entity: entityEdges, kit: kitEdges, trace: traceEdges } as const;
