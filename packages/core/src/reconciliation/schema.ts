import { z } from 'zod';
import { externalIdSchema } from '../contracts/platform-api.ts';
import {
  DRIFT_ACTIONS,
  RECONCILIATION_STATUSES,
  RECONCILIATION_TRIGGERS,
} from '../entities/ctp-reconciliation.ts';

/**
 * `/v1/ctp/reconciliations` (platform contract, "Reconciliation with the network"): bodies,
 * answers and queries as zod schemas the api validates with and documents from.
 */

/** How many entity ids one request names at most (more: reconcile every entity, no ids). */
export const MAX_RECONCILE_ENTITY_IDS = 1_000;

export const reconcileBodySchema = z
  .strictObject({
    entityIds: z.array(externalIdSchema).min(1).max(MAX_RECONCILE_ENTITY_IDS).optional(),
    dryRun: z.boolean().optional(),
  })
  .meta({ id: 'ReconciliationInput' });

export const reconcileAcceptedSchema = z
  .object({ reconciliationId: z.uuid() })
  .meta({ id: 'ReconciliationAccepted' });

const count = z.number().int().min(0);

export const reconciliationViewSchema = z
  .object({
    reconciliationId: z.uuid(),
    status: z.enum(RECONCILIATION_STATUSES),
    dryRun: z.boolean(),
    counts: z.object({
      checked: count,
      agreed: count,
      drifted: count,
      repaired: count,
      errors: count,
      /** Ours: entities skipped because an operation was in flight, and how many the run holds. */
      skipped: count,
      total: count,
    }),
    /** Ours: `REQUEST` (`POST`) or `SCHEDULE` (one period of the schedule). */
    trigger: z.enum(RECONCILIATION_TRIGGERS),
    createdAt: z.iso.datetime(),
    completedAt: z.iso.datetime().optional(),
  })
  .meta({ id: 'Reconciliation' });

export const driftViewSchema = z
  .object({
    entityId: z.string(),
    kitNo: z.string().optional(),
    field: z.string(),
    ours: z.string().nullable(),
    network: z.string().nullable(),
    action: z.enum(DRIFT_ACTIONS),
  })
  .meta({ id: 'ReconciliationDrift' });

export const reconciliationPathSchema = z.object({ reconciliationId: z.string().max(64) });

export const pageQuerySchema = z.object({
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const reconciliationListSchema = z
  .object({ items: z.array(reconciliationViewSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'ReconciliationList' });

export const driftListSchema = z
  .object({ items: z.array(driftViewSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'ReconciliationDriftList' });
