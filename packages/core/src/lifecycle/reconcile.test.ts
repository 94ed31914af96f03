import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RECONCILE_REPORTS, type ReconcileReport } from './rules.ts';
import { CTP_STATUSES, IN_PROGRESS_STATUSES, isOneOf } from './statuses.ts';
import { reconcileSnapshot, reconcileStatus } from './transitions.ts';

describe('reconciliation with the network (RECONCILE_RULES)', () => {
  it('the network wins for a record it holds, whatever we thought', () => {
    expect(reconcileStatus('ACTIVE', 'DISABLED')).toEqual({ ok: true, value: 'DISABLED' });
    expect(reconcileStatus('DISABLED', 'ACTIVE')).toEqual({ ok: true, value: 'ACTIVE' });
    expect(reconcileStatus('UNREGISTERED', 'ACTIVE')).toEqual({ ok: true, value: 'ACTIVE' });
    expect(reconcileStatus('REMOVED', 'DISABLED')).toEqual({ ok: true, value: 'DISABLED' });
  });

  it('a record we hold on the network that the network removed or does not hold becomes REMOVED', () => {
    expect(reconcileStatus('ACTIVE', 'ABSENT')).toEqual({ ok: true, value: 'REMOVED' });
    expect(reconcileStatus('DISABLED', 'REMOVED')).toEqual({ ok: true, value: 'REMOVED' });
  });

  it('off the network on both sides agrees', () => {
    for (const ours of ['UNREGISTERED', 'REMOVED'] as const)
      for (const reported of ['REMOVED', 'ABSENT'] as const)
        expect(reconcileStatus(ours, reported)).toEqual({ ok: true, value: ours });
  });

  it('never overrides a record an operation owns, and otherwise ends where the network is', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CTP_STATUSES),
        fc.constantFrom(...RECONCILE_REPORTS),
        (ours, reported) => {
          const result = reconcileStatus(ours, reported);
          if (isOneOf(IN_PROGRESS_STATUSES, ours)) {
            expect(result).toMatchObject({ ok: false, error: { code: 'RECORD_IN_FLIGHT' } });
            return;
          }
          if (!result.ok) throw new Error('refused');
          const onNetwork = (s: string) => s === 'ACTIVE' || s === 'DISABLED';
          if (onNetwork(reported)) expect(result.value).toBe(reported);
          else expect(onNetwork(result.value)).toBe(false);
        },
      ),
    );
  });

  it('a consumer the network does not hold takes its kits along; a kit it does not list is absent', () => {
    const current = { entity: 'ACTIVE' as const, kits: { K1: 'ACTIVE' as const, K2: 'DISABLED' as const } };
    expect(reconcileSnapshot(current, { entity: 'ABSENT', kits: {} })).toEqual({
      ok: true,
      value: { entity: 'REMOVED', kits: { K1: 'REMOVED', K2: 'REMOVED' } },
    });
    const kits: Record<string, ReconcileReport> = { K1: 'DISABLED' };
    expect(reconcileSnapshot(current, { entity: 'ACTIVE', kits })).toEqual({
      ok: true,
      value: { entity: 'ACTIVE', kits: { K1: 'DISABLED', K2: 'REMOVED' } },
    });
    expect(
      reconcileSnapshot(
        { entity: 'ACTIVE', kits: { K1: 'REMOVAL_IN_PROGRESS' } },
        { entity: 'ACTIVE', kits },
      ),
    ).toMatchObject({ ok: false, error: { code: 'RECORD_IN_FLIGHT' } });
  });
});
