import type { Customer } from './fixtures.ts';
import type { Random } from './random.ts';

/** The six CTP operations and a profile change, as the load sends them. */
export const ACTIONS = [
  'register',
  'addKit',
  'syncEntity',
  'syncKit',
  'removeKit',
  'removeEntity',
  'patchProfile',
] as const;
export type Action = (typeof ACTIONS)[number];

export interface CtpView {
  readonly ctpEntityStatus: string;
  readonly kits: readonly { readonly kitNo: string; readonly ctpKitStatus: string }[];
}

export interface Request {
  readonly action: Action;
  readonly method: 'POST' | 'DELETE' | 'PATCH';
  readonly path: string;
  readonly body?: unknown;
}

const e = (entityId: string) => `/v1/ctp/entities/${entityId}`;

export function requestFor(action: Action, customer: Customer, kitNo: string, patch: unknown): Request {
  const { entityId } = customer;
  switch (action) {
    case 'register':
      return { action, method: 'POST', path: `${e(entityId)}/registration`, body: { kitNo } };
    case 'addKit':
      return { action, method: 'POST', path: `${e(entityId)}/kits`, body: { kitNo } };
    case 'syncEntity':
      return { action, method: 'POST', path: `${e(entityId)}/sync` };
    case 'syncKit':
      return { action, method: 'POST', path: `${e(entityId)}/kits/${kitNo}/sync` };
    case 'removeKit':
      return { action, method: 'DELETE', path: `${e(entityId)}/kits/${kitNo}` };
    case 'removeEntity':
      return { action, method: 'DELETE', path: e(entityId) };
    case 'patchProfile':
      return { action, method: 'PATCH', path: `/v1/entities/${entityId}`, body: patch };
  }
}

const kitsIn = (view: CtpView, statuses: readonly string[]) =>
  view.kits.filter((k) => statuses.includes(k.ctpKitStatus)).map((k) => k.kitNo);

/**
 * Mostly what the lifecycle allows from the statuses just read (so most requests are accepted
 * and the records keep moving), sometimes anything at all (the api must refuse it with 409,
 * and a request racing another one gets 409 OPERATION_IN_PROGRESS). Actions not in `allowed`
 * are never chosen; null when nothing allowed fits.
 */
export function chooseAction(
  view: CtpView,
  customer: Customer,
  random: Random,
  allowed: ReadonlySet<Action>,
): { action: Action; kitNo: string } | null {
  const anyKit = random.pick(customer.kitNos);
  const only = (weights: Partial<Record<Action, number>>) =>
    Object.fromEntries(Object.entries(weights).filter(([action]) => allowed.has(action as Action))) as Record<
      Action,
      number
    >;
  const draw = (weights: Partial<Record<Action, number>>) => {
    const usable = only(weights);
    return Object.values(usable).some((w) => w > 0) ? random.weighted(usable) : null;
  };
  if (random.chance(0.1)) {
    const action = draw(Object.fromEntries(ACTIONS.map((a) => [a, 1])));
    return action === null ? null : { action, kitNo: anyKit };
  }
  const enrollable = kitsIn(view, ['UNREGISTERED', 'REMOVED']);
  const active = kitsIn(view, ['ACTIVE']);
  switch (view.ctpEntityStatus) {
    case 'UNREGISTERED':
    case 'REMOVED': {
      const action = draw({ register: 6, patchProfile: 1 });
      return action === null
        ? null
        : { action, kitNo: enrollable.length > 0 ? random.pick(enrollable) : anyKit };
    }
    case 'ACTIVE': {
      const action = draw({
        addKit: enrollable.length > 0 ? 3 : 0,
        syncEntity: 2,
        syncKit: active.length > 0 ? 2 : 0,
        removeKit: active.length > 0 ? 2 : 0,
        removeEntity: 1.5,
        patchProfile: 1.5,
      });
      if (action === null) return null;
      const kitNo =
        action === 'addKit' ? random.pick(enrollable) : active.length > 0 ? random.pick(active) : anyKit;
      return { action, kitNo };
    }
    default: {
      // An operation is in flight: a profile change queues an automatic update behind it, a
      // request is refused with 409 OPERATION_IN_PROGRESS. Mostly the client moves on.
      if (random.chance(0.6)) return null;
      const action = draw({ patchProfile: 2, syncEntity: 1 });
      return action === null ? null : { action, kitNo: anyKit };
    }
  }
}
