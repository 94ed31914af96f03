import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CTP_EVENTS, type CtpEvent } from './events.ts';
import { EVENT_RULES } from './rules.ts';
import {
  CTP_STATUSES,
  type CtpStatus,
  IN_PROGRESS_STATUSES,
  isOneOf,
  NETWORK_STATUSES,
  type TerminalTraceStatus,
  type TraceStatus,
} from './statuses.ts';
import {
  applyConsumerNetworkChange,
  applyNetworkChange,
  type CtpSnapshot,
  changeCardStatus,
  changeCustomerStatus,
  enrolmentRefusal,
  planOutcome,
  planRequest,
  type RequestPlan,
  resolveTrace,
} from './transitions.ts';

const KITS = ['K1', 'K2', 'K3'] as const;

type Action =
  | { kind: 'request'; event: CtpEvent; kit: (typeof KITS)[number] }
  | { kind: 'outcome'; outcome: TerminalTraceStatus }
  | { kind: 'consumerChange'; to: (typeof NETWORK_STATUSES)[number] }
  | { kind: 'kitChange'; kit: (typeof KITS)[number]; to: (typeof NETWORK_STATUSES)[number] };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      event: fc.constantFrom(...CTP_EVENTS),
      kit: fc.constantFrom(...KITS),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('outcome' as const),
      outcome: fc.constantFrom('SUCCESS' as const, 'FAILED' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('consumerChange' as const),
      to: fc.constantFrom(...NETWORK_STATUSES),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('kitChange' as const),
      kit: fc.constantFrom(...KITS),
      to: fc.constantFrom(...NETWORK_STATUSES),
    }),
  },
);

interface InFlight {
  readonly event: CtpEvent;
  readonly plan: RequestPlan;
  trace: TraceStatus;
}

const statusesOf = (s: CtpSnapshot): CtpStatus[] => [s.entity, ...Object.values(s.kits)];

describe('lifecycle over random event sequences', () => {
  it('never reaches an illegal status, reverts every FAILED, keeps terminal traces terminal', () => {
    fc.assert(
      fc.property(fc.array(actionArb, { minLength: 5, maxLength: 80, size: 'max' }), (actions) => {
        let state: CtpSnapshot = {
          entity: 'UNREGISTERED',
          kits: { K1: 'UNREGISTERED', K2: 'UNREGISTERED', K3: 'UNREGISTERED' },
        };
        let inFlight: InFlight | null = null;
        const finished: InFlight[] = [];

        for (const action of actions) {
          if (action.kind === 'request') {
            // The platform refuses a second operation on a busy entity before the lifecycle runs.
            if (inFlight !== null) continue;
            const planned = planRequest(action.event, state, action.kit);
            if (!planned.ok) {
              expect(planned.error.code).toBe('INVALID_STATE');
              continue;
            }
            for (const [kitNo, before] of Object.entries(planned.value.before.kits))
              expect(state.kits[kitNo]).toBe(before);
            state = {
              entity: planned.value.pending.entity,
              kits: { ...state.kits, ...planned.value.pending.kits },
            };
            inFlight = { event: action.event, plan: planned.value, trace: 'IN_PROGRESS' };
          } else if (action.kind === 'outcome') {
            // A late or duplicate outcome for a finished trace changes nothing.
            for (const done of finished) {
              const again = resolveTrace(done.trace, action.outcome);
              expect(again.ok).toBe(false);
            }
            if (inFlight === null) continue;
            const resolved = resolveTrace(inFlight.trace, action.outcome);
            expect(resolved.ok).toBe(true);
            const touched: CtpSnapshot = {
              entity: state.entity,
              kits: Object.fromEntries(
                Object.keys(inFlight.plan.before.kits).map((k) => [k, state.kits[k] ?? 'UNREGISTERED']),
              ),
            };
            const next = planOutcome(inFlight.event, action.outcome, inFlight.plan, touched);
            if (action.outcome === 'FAILED') {
              // Every record still owned by the operation goes back to where it came from.
              if (touched.entity === inFlight.plan.pending.entity)
                expect(next.entity).toBe(inFlight.plan.before.entity);
              for (const [kitNo, pending] of Object.entries(inFlight.plan.pending.kits)) {
                if (touched.kits[kitNo] === pending)
                  expect(next.kits[kitNo]).toBe(inFlight.plan.before.kits[kitNo]);
              }
            }
            state = { entity: next.entity, kits: { ...state.kits, ...next.kits } };
            inFlight.trace = action.outcome;
            finished.push(inFlight);
            inFlight = null;
          } else if (action.kind === 'consumerChange') {
            const changed = applyConsumerNetworkChange(state, action.to);
            if (changed.ok) state = changed.value;
          } else {
            const current = state.kits[action.kit] ?? 'UNREGISTERED';
            const changed = applyNetworkChange(current, action.to);
            if (changed.ok) state = { ...state, kits: { ...state.kits, [action.kit]: changed.value } };
          }

          for (const status of statusesOf(state)) expect(CTP_STATUSES).toContain(status);
          // Nothing is left *_IN_PROGRESS once no operation is in flight.
          if (inFlight === null) {
            for (const status of statusesOf(state)) expect(isOneOf(IN_PROGRESS_STATUSES, status)).toBe(false);
          }
          for (const done of finished) expect(['SUCCESS', 'FAILED']).toContain(done.trace);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses every event from a status its rule does not list, and accepts every listed one', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CTP_EVENTS),
        fc.constantFrom(...CTP_STATUSES),
        fc.constantFrom(...CTP_STATUSES),
        (event, entity, kit) => {
          const rule = EVENT_RULES[event];
          const result = planRequest(event, { entity, kits: { K1: kit } }, 'K1');
          const kitAllowed = rule.kit === null || rule.kit.from.includes(kit);
          expect(result.ok).toBe(rule.entity.from.includes(entity) && kitAllowed);
          if (!result.ok) expect(result.error).toMatchObject({ code: 'INVALID_STATE', entityStatus: entity });
        },
      ),
    );
  });
});

describe('lifecycle examples from the contract', () => {
  it('a registration that fails leaves entity and kit where they were', () => {
    const plan = planRequest(
      'CTP_REGISTER_ENTITY_AND_KIT',
      { entity: 'REMOVED', kits: { K1: 'UNREGISTERED' } },
      'K1',
    );
    if (!plan.ok) throw new Error(plan.error.message);
    expect(plan.value.pending).toEqual({
      entity: 'REGISTRATION_IN_PROGRESS',
      kits: { K1: 'REGISTRATION_IN_PROGRESS' },
    });
    expect(planOutcome('CTP_REGISTER_ENTITY_AND_KIT', 'FAILED', plan.value, plan.value.pending)).toEqual({
      entity: 'REMOVED',
      kits: { K1: 'UNREGISTERED' },
    });
    expect(planOutcome('CTP_REGISTER_ENTITY_AND_KIT', 'SUCCESS', plan.value, plan.value.pending)).toEqual({
      entity: 'ACTIVE',
      kits: { K1: 'ACTIVE' },
    });
  });

  it('an entity removal takes its kits on the network along, and a failure brings them all back', () => {
    const current: CtpSnapshot = { entity: 'ACTIVE', kits: { K1: 'ACTIVE', K2: 'DISABLED', K3: 'REMOVED' } };
    const plan = planRequest('CTP_REMOVE_ENTITY', current);
    if (!plan.ok) throw new Error(plan.error.message);
    expect(plan.value.pending).toEqual({
      entity: 'REMOVAL_IN_PROGRESS',
      kits: { K1: 'REMOVAL_IN_PROGRESS', K2: 'REMOVAL_IN_PROGRESS' },
    });
    expect(planOutcome('CTP_REMOVE_ENTITY', 'SUCCESS', plan.value, plan.value.pending)).toEqual({
      entity: 'REMOVED',
      kits: { K1: 'REMOVED', K2: 'REMOVED' },
    });
    expect(planOutcome('CTP_REMOVE_ENTITY', 'FAILED', plan.value, plan.value.pending)).toEqual({
      entity: 'ACTIVE',
      kits: { K1: 'ACTIVE', K2: 'DISABLED' },
    });
  });

  it('a kit event without a kit is refused, and an unknown kit counts as UNREGISTERED', () => {
    expect(planRequest('CTP_ADD_KIT', { entity: 'ACTIVE', kits: {} })).toMatchObject({
      ok: false,
      error: { code: 'KIT_REQUIRED' },
    });
    expect(planRequest('CTP_ADD_KIT', { entity: 'ACTIVE', kits: {} }, 'NEW')).toMatchObject({ ok: true });
  });

  it('a network change of a record we are not tracking on the network is stale', () => {
    expect(applyNetworkChange('UNREGISTERED', 'DISABLED')).toMatchObject({
      ok: false,
      error: { code: 'STALE_NETWORK_CHANGE' },
    });
    expect(applyNetworkChange('ACTIVE', 'ACTIVE')).toEqual({ ok: true, value: 'ACTIVE' });
    expect(
      applyConsumerNetworkChange({ entity: 'ACTIVE', kits: { K1: 'ACTIVE', K2: 'UNREGISTERED' } }, 'REMOVED'),
    ).toEqual({
      ok: true,
      value: { entity: 'REMOVED', kits: { K1: 'REMOVED', K2: 'UNREGISTERED' } },
    });
  });
});

describe('the platform records: card and customer status', () => {
  it('a CLOSED card is final and starts its removal; BLOCKED and ACTIVE start nothing', () => {
    expect(changeCardStatus('ACTIVE', 'CLOSED')).toEqual({
      ok: true,
      value: { next: 'CLOSED', changed: true, starts: 'CTP_REMOVE_KIT' },
    });
    expect(changeCardStatus('ACTIVE', 'BLOCKED')).toMatchObject({ ok: true, value: { starts: null } });
    expect(changeCardStatus('BLOCKED', 'ACTIVE')).toMatchObject({ ok: true, value: { starts: null } });
    expect(changeCardStatus('CLOSED', 'CLOSED')).toMatchObject({
      ok: true,
      value: { changed: false, starts: null },
    });
    for (const to of ['ACTIVE', 'BLOCKED'] as const)
      expect(changeCardStatus('CLOSED', to)).toMatchObject({
        ok: false,
        error: { code: 'RECORD_STATUS_NOT_ALLOWED' },
      });
  });

  it('a closed customer starts its removal and may be reopened, which starts nothing', () => {
    expect(changeCustomerStatus('ACTIVE', 'CLOSED')).toMatchObject({
      ok: true,
      value: { changed: true, starts: 'CTP_REMOVE_ENTITY' },
    });
    expect(changeCustomerStatus('CLOSED', 'ACTIVE')).toMatchObject({ ok: true, value: { starts: null } });
  });

  it('refuses enrolments of a card or customer that is not ACTIVE, and nothing else', () => {
    const records = { customer: 'ACTIVE', cards: { K1: 'BLOCKED', K2: 'CLOSED', K3: 'ACTIVE' } } as const;
    const current = {
      entity: 'ACTIVE',
      kits: { K1: 'UNREGISTERED', K2: 'ACTIVE', K3: 'UNREGISTERED' },
      records,
    } as const;
    expect(planRequest('CTP_ADD_KIT', current, 'K1')).toMatchObject({
      ok: false,
      error: { code: 'CARD_NOT_ACTIVE' },
    });
    expect(planRequest('CTP_ADD_KIT', current, 'K3').ok).toBe(true);
    expect(planRequest('CTP_REMOVE_KIT', current, 'K2').ok).toBe(true);
    const closed = { ...current, records: { ...records, customer: 'CLOSED' as const } };
    expect(planRequest('CTP_ADD_KIT', closed, 'K3')).toMatchObject({
      ok: false,
      error: { code: 'CUSTOMER_NOT_ACTIVE' },
    });
    expect(planRequest('CTP_REMOVE_ENTITY', closed).ok).toBe(true);
    expect(enrolmentRefusal('CTP_REGISTER_ENTITY_AND_KIT', closed.records)).toMatchObject({
      code: 'CUSTOMER_NOT_ACTIVE',
    });
    expect(enrolmentRefusal('CTP_UPDATE_KIT', closed.records, 'K2')).toBeNull();
  });
});
