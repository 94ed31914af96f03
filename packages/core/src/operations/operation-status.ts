import type { CtpOperation } from '../entities/ctp-operation.ts';
import type { OperationStatus } from '../lifecycle/statuses.ts';
import { canMoveOperation } from '../lifecycle/transitions.ts';

/** Moves an operation through its lifecycle (`OPERATION_TRANSITIONS`); the only writer of its status. */
export function moveOperation(operation: CtpOperation, to: OperationStatus): void {
  if (!canMoveOperation(operation.status, to)) {
    throw new Error(`operation ${operation.id} cannot move from ${operation.status} to ${to}`);
  }
  operation.status = to;
  if (to === 'SUCCESS' || to === 'FAILED') operation.completedAt = new Date();
}
