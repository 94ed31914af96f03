import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, notFound } from '../errors/domain-error.ts';
import { M2P_ERRORS, m2pErrorKind, m2pExceptionOf } from './m2p-errors.ts';

const invalid = (event: string, ctpEntityStatus: string, ctpKitStatus?: string) =>
  m2pExceptionOf({
    code: 'INVALID_STATE',
    message: 'not allowed',
    details: { event, ctpEntityStatus, ...(ctpKitStatus === undefined ? {} : { ctpKitStatus }) },
  }).errorCode;

describe('the M2P error table', () => {
  it("uses M2P's own Y109 for an unknown entity and for one not on Click to Pay", () => {
    expect(m2pExceptionOf({ code: 'NOT_FOUND', message: notFound('entity').message })).toEqual({
      detailMessage: 'Not a registered Customer',
      shortMessage: 'Not a registered Customer',
      errorCode: 'Y109',
      languageCode: 'en',
    });
    for (const event of ['CTP_ADD_KIT', 'CTP_REMOVE_KIT', 'CTP_REMOVE_ENTITY'])
      for (const status of ['UNREGISTERED', 'REMOVED']) expect(invalid(event, status)).toBe('Y109');
  });

  it('names each refusal of the lifecycle by what M2P documents', () => {
    expect(invalid('CTP_REGISTER_ENTITY_AND_KIT', 'ACTIVE')).toBe('CTP_ALREADY_REGISTERED');
    expect(invalid('CTP_REGISTER_ENTITY_AND_KIT', 'UNREGISTERED', 'ACTIVE')).toBe('CTP_KIT_ALREADY_ENROLLED');
    expect(invalid('CTP_ADD_KIT', 'DISABLED', 'UNREGISTERED')).toBe('CTP_ENTITY_NOT_ACTIVE');
    expect(invalid('CTP_ADD_KIT', 'ACTIVE', 'ACTIVE')).toBe('CTP_KIT_ALREADY_ENROLLED');
    expect(invalid('CTP_REMOVE_KIT', 'ACTIVE', 'UNREGISTERED')).toBe('CTP_KIT_NOT_ACTIVE');
    expect(invalid('CTP_UPDATE_ENTITY', 'DISABLED')).toBe('CTP_INVALID_STATE');
  });

  it("says which field is bad first, in M2P's order", () => {
    const exception = m2pExceptionOf({
      code: 'VALIDATION_FAILED',
      message: 'request is not valid',
      details: [
        { field: 'entityId', message: 'is required' },
        { field: 'kitNo', message: 'is required' },
      ],
    });
    expect(exception).toMatchObject({
      detailMessage: 'entityId is required',
      errorCode: 'CTP_VALIDATION_FAILED',
    });
  });

  it('has a row for every code, and answers a code it does not know yet in the same shape', () => {
    for (const code of Object.keys(ERROR_STATUS))
      expect(m2pErrorKind({ code, message: '' }), code).not.toBeNull();
    // No two rows share a code: a client can tell every refusal apart.
    expect(new Set(Object.values(M2P_ERRORS).map((row) => row.errorCode)).size).toBe(
      Object.keys(M2P_ERRORS).length,
    );
    expect(m2pExceptionOf({ code: 'CTP_NOT_MAPPED_YET', message: 'a refusal without a row' })).toEqual({
      detailMessage: 'a refusal without a row',
      shortMessage: 'a refusal without a row',
      errorCode: 'CTP_NOT_MAPPED_YET',
      languageCode: 'en',
    });
  });
});
