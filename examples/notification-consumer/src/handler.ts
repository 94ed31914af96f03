import type { Logger } from '@ctp/core/logging';
import type { NotificationHandler } from '@ctp/core/notifications';

/**
 * Your business logic goes here. Rules of the road:
 * - Resolve only when the effect is durable (written to your database, sent to your API);
 *   then the entry is acknowledged. Throw to have it retried: after `claimIdleMs`, up to
 *   `maxDeliveries` times, then it goes to the group's dead-letter stream.
 * - Make it idempotent by `notificationId` (or by operationId + requestStatus): the library
 *   drops copies it has seen within its window, but a crash between your write and the
 *   acknowledgement redelivers the entry.
 * - Finish well within `claimIdleMs` (60 s by default), or another replica takes it over.
 * - Notifications of one entity may be handled out of order across replicas: compare
 *   statuses with what you hold rather than applying blindly.
 */
export function createHandler(logger: Logger): NotificationHandler {
  return async (notification) => {
    const log = logger.child({
      notificationId: notification.notificationId,
      streamId: notification.streamId,
    });
    switch (notification.kind) {
      case 'success': {
        const data = notification.payload.serverNotifyData;
        // e.g. mark the card as enrolled in Click to Pay in your card app.
        log.info(
          {
            tenant: data.tenant,
            event: data.transactionType,
            entityId: data.entityId,
            kitNo: data.kitNo,
            entityStatus: data.ctpEntityStatus,
            kitStatus: data.ctpKitStatus,
            operationId: data.operationId,
          },
          'CTP operation succeeded',
        );
        return;
      }
      case 'failure': {
        const data = notification.payload.serverNotifyData;
        // e.g. tell the customer enrolment failed, or open a case in your CRM.
        log.warn(
          {
            tenant: data.tenant,
            event: data.transactionType,
            entityId: data.entityId,
            kitNo: data.kitNo,
            message: data.message,
            operationId: data.operationId,
          },
          'CTP operation failed',
        );
        return;
      }
      case 'status_changed': {
        const data = notification.payload.serverNotifyData;
        // e.g. the network suspended a card: update your copy of its Click to Pay status.
        log.info(
          {
            tenant: data.tenant,
            entityId: data.entityId,
            kitNo: data.kitNo,
            entityStatus: data.ctpEntityStatus,
            kitStatus: data.ctpKitStatus,
            occurredAt: data.occurredAt,
          },
          'CTP status changed by the network',
        );
        return;
      }
    }
  };
}
