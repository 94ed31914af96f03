import { describe, expect, it } from 'vitest';
import { notificationPayloadSchema } from '../contracts/notifications.ts';
import {
  buildFailureNotification,
  buildStatusChangedNotification,
  buildSuccessNotification,
} from './payloads.ts';

// The seed's samples ("Notifications"), with its elided ids filled in.
const SEED_SUCCESS = {
  business: 'ENBDTABBY',
  transactionType: 'CTP_REGISTER_ENTITY_AND_KIT',
  serverNotifyData: {
    entityId: '70752df2-0000-4000-8000-000000000001',
    kitNo: '100000011561',
    requestTraceId: '351562ba-0000-4000-8000-000000000002',
    requestStatus: 'SUCCESS',
    transactionType: 'CTP_REGISTER_ENTITY_AND_KIT',
    ctpEntityStatus: 'ACTIVE',
    ctpKitStatus: 'ACTIVE',
    ctpEntityId: '86e9d8c0-0000-4000-8000-000000000003',
    ctpKitId: '86e9d8c0-0000-4000-8000-000000000004',
    tenant: 'ENBDTABBY',
  },
};

const SEED_FAILURE = {
  business: 'ENBDTABBY',
  transactionType: 'CTP_REGISTER_ENTITY_AND_KIT',
  serverNotifyData: {
    entityId: '70752df2-0000-4000-8000-000000000001',
    requestTraceId: '351562ba-0000-4000-8000-000000000002',
    requestStatus: 'FAILED',
    transactionType: 'CTP_REGISTER_ENTITY_AND_KIT',
    message: 'CTP FAILURE: Request Rejected',
    errorDetails: 'issuer declined enrolment',
    tenant: 'ENBDTABBY',
  },
};

const operationId = '0b7e3a52-5f0e-4c0a-9a55-0c5a3f4d2e11';

describe('notification payload builders', () => {
  it('build the seed success payload, keys in the seed order, operationId appended', () => {
    const built = buildSuccessNotification({
      tenant: 'ENBDTABBY',
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      operationId,
      entityId: SEED_SUCCESS.serverNotifyData.entityId,
      kitNo: '100000011561',
      requestTraceId: SEED_SUCCESS.serverNotifyData.requestTraceId,
      ctpEntityStatus: 'ACTIVE',
      ctpKitStatus: 'ACTIVE',
      clickToPayCustomerId: SEED_SUCCESS.serverNotifyData.ctpEntityId,
      clickToPayPaymentInstrumentId: SEED_SUCCESS.serverNotifyData.ctpKitId,
    });
    expect(JSON.stringify(built)).toBe(
      JSON.stringify({
        ...SEED_SUCCESS,
        serverNotifyData: { ...SEED_SUCCESS.serverNotifyData, operationId },
      }),
    );
    expect(notificationPayloadSchema.safeParse(built).success).toBe(true);
  });

  it('build the seed failure payload with the "CTP FAILURE: " message prefix', () => {
    const built = buildFailureNotification({
      tenant: 'ENBDTABBY',
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      operationId,
      entityId: SEED_FAILURE.serverNotifyData.entityId,
      requestTraceId: SEED_FAILURE.serverNotifyData.requestTraceId,
      errorMessage: 'Request Rejected',
      errorDetails: 'issuer declined enrolment',
    });
    expect(JSON.stringify(built)).toBe(
      JSON.stringify({
        ...SEED_FAILURE,
        serverNotifyData: { ...SEED_FAILURE.serverNotifyData, operationId },
      }),
    );
    expect(notificationPayloadSchema.safeParse(built).success).toBe(true);
  });

  it('leave kit keys out of entity-level events and the trace out of a refused request', () => {
    const success = buildSuccessNotification({
      tenant: 'ENBDTABBY',
      event: 'CTP_UPDATE_ENTITY',
      operationId,
      entityId: 'e-1',
      kitNo: 'ignored-for-entity-events',
      requestTraceId: 't-1',
      ctpEntityStatus: 'ACTIVE',
      clickToPayCustomerId: 'c-1',
    });
    expect(Object.keys(success.serverNotifyData)).toEqual([
      'entityId',
      'requestTraceId',
      'requestStatus',
      'transactionType',
      'ctpEntityStatus',
      'ctpEntityId',
      'tenant',
      'operationId',
    ]);
    const failure = buildFailureNotification({
      tenant: 'ENBDTABBY',
      event: 'CTP_ADD_KIT',
      operationId,
      entityId: 'e-1',
      kitNo: 'k-1',
      errorMessage: 'Conflict',
      errorDetails: 'consumer already has this instrument',
    });
    expect(Object.keys(failure.serverNotifyData)).toEqual([
      'entityId',
      'kitNo',
      'requestStatus',
      'transactionType',
      'message',
      'errorDetails',
      'tenant',
      'operationId',
    ]);
  });

  it('build a CTP_STATUS_CHANGED payload for network-driven changes', () => {
    const built = buildStatusChangedNotification({
      tenant: 'ENBDTABBY',
      entityId: 'e-1',
      kitNo: 'k-1',
      ctpKitStatus: 'DISABLED',
      clickToPayCustomerId: 'c-1',
      clickToPayPaymentInstrumentId: 'p-1',
      occurredAt: '2026-11-23T10:00:05Z',
    });
    expect(built).toEqual({
      business: 'ENBDTABBY',
      transactionType: 'CTP_STATUS_CHANGED',
      serverNotifyData: {
        entityId: 'e-1',
        kitNo: 'k-1',
        transactionType: 'CTP_STATUS_CHANGED',
        ctpKitStatus: 'DISABLED',
        ctpEntityId: 'c-1',
        ctpKitId: 'p-1',
        tenant: 'ENBDTABBY',
        occurredAt: '2026-11-23T10:00:05Z',
      },
    });
    expect(notificationPayloadSchema.safeParse(built).success).toBe(true);
  });
});
