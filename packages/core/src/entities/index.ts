import { ApiKey } from './api-key.ts';
import { AuditLog } from './audit-log.ts';
import { BusinessEntity } from './business-entity.ts';
import { CtpBatch, CtpBatchItem } from './ctp-batch.ts';
import { CtpCustomer } from './ctp-customer.ts';
import { CtpKitReplacement } from './ctp-kit-replacement.ts';
import { CtpOperation } from './ctp-operation.ts';
import { CtpOutbox } from './ctp-outbox.ts';
import { CtpPayment } from './ctp-payment.ts';
import { CtpPendingSync } from './ctp-pending-sync.ts';
import { CtpReconciliation, CtpReconciliationDrift, CtpReconciliationItem } from './ctp-reconciliation.ts';
import { CtpRequestIdTracking } from './ctp-request-id-tracking.ts';
import { CtpStatusHistory } from './ctp-status-history.ts';
import { CtpTenantSettings } from './ctp-tenant-settings.ts';
import { CtpWebhookInbox } from './ctp-webhook-inbox.ts';
import { Kit } from './kit.ts';

export * from './api-key.ts';
export * from './audit-log.ts';
export * from './business-entity.ts';
export * from './ctp-batch.ts';
export * from './ctp-customer.ts';
export * from './ctp-kit-replacement.ts';
export * from './ctp-operation.ts';
export * from './ctp-outbox.ts';
export * from './ctp-payment.ts';
export * from './ctp-pending-sync.ts';
export * from './ctp-reconciliation.ts';
export * from './ctp-request-id-tracking.ts';
export * from './ctp-status-history.ts';
export * from './ctp-tenant-settings.ts';
export * from './ctp-webhook-inbox.ts';
export * from './kit.ts';
export * from './routines.ts';

/** Every entity, for the ORM's `entities` option. */
export const allEntities = [
  BusinessEntity,
  Kit,
  CtpCustomer,
  CtpPayment,
  CtpOperation,
  CtpRequestIdTracking,
  CtpOutbox,
  CtpWebhookInbox,
  ApiKey,
  AuditLog,
  CtpPendingSync,
  CtpStatusHistory,
  CtpTenantSettings,
  CtpKitReplacement,
  CtpBatch,
  CtpBatchItem,
  CtpReconciliation,
  CtpReconciliationItem,
  CtpReconciliationDrift,
] as const;
