import { z } from 'zod';
import { CTP_EVENTS } from '../lifecycle/events.ts';
import { CTP_STATUSES, NETWORK_STATUSES, TRACE_STATUSES } from '../lifecycle/statuses.ts';
import { clientText } from './client-text.ts';
import { externalIdSchema } from './platform-api.ts';

/**
 * The M2P-compatible API (platform contract, "M2P-compatible API"): M2P's Click to Pay bodies
 * and answers, for clients written against M2P's module. Bodies are M2P's as documented; every
 * string is `clientText` (no NUL, no lone surrogate, no card number). Unlike our own routes the
 * bodies are not strict: a client written for M2P may send fields M2P ignores, and refusing
 * them would break the promise that such a client works unchanged. Unknown fields are dropped,
 * never stored or echoed.
 */

export const M2P_BASE_PATH = '/Yappay/click-to-pay/v1';

/** `TENANT`: M2P's tenant header; when sent it must name the API key's tenant. */
export const m2pHeadersSchema = z.object({
  tenant: clientText({ max: 64, trim: false })
    .optional()
    .meta({ description: "M2P's tenant header (e.g. ENBDTABBY); if sent, it must be the API key's tenant" }),
  'idempotency-key': clientText(
    { max: 255, trim: false },
    z
      .string()
      .regex(/^[\x21-\x7e]{1,255}$/, { message: 'must be 1 to 255 visible ASCII characters', abort: true }),
  )
    .optional()
    .meta({ description: 'The same key with the same request answers the first answer for 24 h' }),
});

/** Only on mutations' header schemas is the key meaningful; reads take the tenant header alone. */
export const m2pReadHeadersSchema = m2pHeadersSchema.pick({ tenant: true });

export const m2pConsentSchema = z
  .object({
    version: clientText({ max: 32 }),
    presenter: clientText({ max: 100 }).optional(),
    timeOfConsent: clientText({ max: 64, trim: false }, z.iso.datetime({ offset: true })),
  })
  .meta({
    id: 'M2pConsent',
    description:
      "Stored as the customer's consent (accepted, version, time) before the enrolment is requested; `presenter` is not kept (the network's consent has no such field)",
  });

// Field order is the validation order M2P documents: entityId, then kitNo.
export const m2pRegisterBodySchema = z
  .object({ entityId: externalIdSchema, kitNo: externalIdSchema, consent: m2pConsentSchema.optional() })
  .meta({
    id: 'M2pRegisterEntityAndKit',
    example: {
      entityId: '70752df2-8d98-4a0b-9a43-ed1e8f39d649',
      kitNo: '100000011561',
      consent: { version: '1.0', presenter: 'ENDTABBY', timeOfConsent: '2026-07-19T10:23:39.930Z' },
    },
  });
export type M2pRegisterBody = z.infer<typeof m2pRegisterBodySchema>;

export const m2pKitBodySchema = z.object({ entityId: externalIdSchema, kitNo: externalIdSchema }).meta({
  id: 'M2pEntityAndKit',
  example: { entityId: 'f25a9f38-682b-4094-b6e4-9671d500c49b', kitNo: '12346535' },
});

export const m2pEntityBodySchema = z
  .object({ entityId: externalIdSchema })
  .meta({ id: 'M2pEntity', example: { entityId: '918c3ed3-5cb0-4c2e-a80d-b70e1594de4b' } });

export const m2pTraceBodySchema = z
  .object({ requestTraceId: clientText({ max: 128, trim: false }) })
  .meta({ id: 'M2pRequestTrace', example: { requestTraceId: '351562ba-83cf-11ee-b962-0242ac120002' } });

/** M2P's `exception`. */
export const m2pExceptionSchema = z
  .object({
    detailMessage: z.string(),
    shortMessage: z.string(),
    errorCode: z.string(),
    languageCode: z.literal('en'),
  })
  .meta({ id: 'M2pException' });
export type M2pException = z.infer<typeof m2pExceptionSchema>;

/** An error answer: M2P's envelope with `result: null`. */
export const m2pErrorAnswerSchema = z
  .object({ result: z.null(), exception: m2pExceptionSchema, pagination: z.null() })
  .meta({ id: 'M2pErrorAnswer' });

/** A success answer: M2P's envelope around `result`. */
function envelope<T extends z.ZodType>(id: string, result: T) {
  return z.object({ result, exception: z.null(), pagination: z.null() }).meta({ id });
}

export const m2pMutationResultSchema = z.object({
  tenant: z.string(),
  entityId: z.string(),
  requestTraceId: z.string().nullable().meta({
    description:
      'The SaaS request trace, for `fetchRequestStatus`; null when the SaaS had not accepted the request within M2P_ACCEPT_WAIT_MS (the operation still runs: see `operationId`)',
  }),
  event: z.enum(CTP_EVENTS),
  operationId: z.uuid().meta({ description: 'The operation, as on `GET /v1/ctp/operations/{operationId}`' }),
});
export type M2pMutationResult = z.infer<typeof m2pMutationResultSchema>;
export const m2pMutationAnswerSchema = envelope('M2pMutationAnswer', m2pMutationResultSchema);

export const m2pRequestStatusSchema = z.object({
  status: z.enum(TRACE_STATUSES),
  event: z.enum(CTP_EVENTS),
  tenant: z.string(),
  entityId: z.string(),
  errorDetails: z.string().nullable(),
  clickToPayCustomerId: z.string().nullable(),
  clickToPayPaymentInstrumentId: z.string().nullable(),
  requestTraceId: z.string(),
});
export type M2pRequestStatus = z.infer<typeof m2pRequestStatusSchema>;
export const m2pRequestStatusAnswerSchema = envelope('M2pRequestStatusAnswer', m2pRequestStatusSchema);

const ctpStatus = z.enum([...new Set([...CTP_STATUSES, ...NETWORK_STATUSES])] as [string, ...string[]]);

export const m2pEntityDetailsSchema = z.object({
  entityId: z.string(),
  tenant: z.string(),
  customerInfo: z.object({
    emails: z.array(z.string()),
    mobileNumber: z.string().nullable(),
    firstName: z.string(),
    middleName: z.string().nullable(),
    lastName: z.string(),
    countryCode: z.string(),
    consent: z
      .object({ version: z.string(), presenter: z.string().nullable(), timeOfConsent: z.string() })
      .nullable(),
    locale: z.string(),
    ctpStatus,
    ctpExternalConsumerId: z.string(),
  }),
  paymentInstrumentInfo: z.array(
    z.object({
      kitNo: z.string(),
      cardNo: z.string().meta({
        description:
          "Masked: first 6 and last 4 digits (M2P's own sample shows the whole number; this service never answers one)",
      }),
      nameOnCard: z.string().nullable(),
      addressInfo: z
        .object({
          addressLine1: z.string(),
          addressLine2: z.string().nullable(),
          city: z.string(),
          state: z.string().nullable(),
          postalCode: z.string(),
          country: z.string(),
        })
        .nullable(),
      expirationDate: z.string().meta({ description: 'YYYY-MM' }),
      ctpStatus,
      ctpPaymentInstrumentId: z.string(),
    }),
  ),
});
export type M2pEntityDetails = z.infer<typeof m2pEntityDetailsSchema>;
export const m2pEntityDetailsAnswerSchema = envelope('M2pEntityDetailsAnswer', m2pEntityDetailsSchema);
