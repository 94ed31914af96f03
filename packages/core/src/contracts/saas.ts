import { z } from 'zod';
import { isLuhnValid } from '../cards/pan.ts';
import { CTP_EVENTS } from '../lifecycle/events.ts';
import { NETWORK_STATUSES, TRACE_STATUSES } from '../lifecycle/statuses.ts';
import { billingAddressSchema, externalConsumerIdSchema, nameOnCardSchema } from './network-rules.ts';

/**
 * The CTP SaaS wire contract (`../shared/contracts/ctp-saas.md`) as zod schemas. The simulator
 * validates what it receives with them; our client validates what it sends and what it gets
 * back. Requests are strict (an unknown field is a bug on the sending side); answers are not
 * (a SaaS may add fields without breaking us).
 */

const id = z.string().min(1).max(128);
const digits = (min: number, max: number) => z.string().regex(new RegExp(`^[0-9]{${min},${max}}$`));
const countryCode = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 country code');

export const phoneSchema = z.strictObject({ countryCode: digits(1, 3), number: digits(4, 14) });

export const consentSchema = z.strictObject({
  accepted: z.boolean(),
  version: z.string().min(1).max(32),
  acceptedAt: z.iso.datetime({ offset: true }),
});

export const consumerSchema = z.strictObject({
  externalConsumerId: externalConsumerIdSchema,
  firstName: z.string().min(1).max(100),
  lastName: z.string().min(1).max(100),
  emails: z.array(z.email()).min(1).max(5),
  phones: z.array(phoneSchema).min(1).max(5),
  locale: z.string().regex(/^[a-z]{2}_[A-Z]{2}$/, 'locale like en_AE'),
  countryCode,
  consent: consentSchema.optional(),
});

/** The network's rules for a billing address (`network-rules.ts`). */
export const addressSchema = billingAddressSchema;

export const expirationDateSchema = z.strictObject({
  month: z.string().regex(/^(0[1-9]|1[0-2])$/, 'two-digit month'),
  year: z.string().regex(/^20[0-9]{2}$/, 'four-digit year'),
});

export const accountNumberSchema = z
  .string()
  .regex(/^[0-9]{13,19}$/, 'must be 13 to 19 digits')
  .refine(isLuhnValid, 'must pass the Luhn check');

export const paymentInstrumentSchema = z.strictObject({
  externalInstrumentId: id,
  accountNumber: accountNumberSchema,
  expirationDate: expirationDateSchema,
  nameOnCard: nameOnCardSchema,
  billingAddress: addressSchema,
});

const reason = z.string().max(500).optional();

export const addCustomerAndPaymentInstrumentRequestSchema = z.strictObject({
  consumer: consumerSchema,
  paymentInstrument: paymentInstrumentSchema,
});
export const addPaymentInstrumentRequestSchema = z.strictObject({
  externalConsumerId: externalConsumerIdSchema,
  clickToPayCustomerId: id,
  paymentInstrument: paymentInstrumentSchema,
});
export const removeCustomerRequestSchema = z.strictObject({
  externalConsumerId: externalConsumerIdSchema,
  clickToPayCustomerId: id,
  reason,
});
export const removePaymentInstrumentRequestSchema = z.strictObject({
  externalConsumerId: externalConsumerIdSchema,
  clickToPayCustomerId: id,
  clickToPayPaymentInstrumentId: id,
  externalInstrumentId: id,
  reason,
});
export const updateCustomerDataRequestSchema = z.strictObject({
  externalConsumerId: externalConsumerIdSchema,
  clickToPayCustomerId: id,
  consumer: consumerSchema,
});
export const updatePaymentInstrumentRequestSchema = z.strictObject({
  externalConsumerId: externalConsumerIdSchema,
  clickToPayCustomerId: id,
  clickToPayPaymentInstrumentId: id,
  paymentInstrument: paymentInstrumentSchema,
});

/** The request body schema of each operation event's endpoint. */
export const saasRequestSchemas = {
  CTP_REGISTER_ENTITY_AND_KIT: addCustomerAndPaymentInstrumentRequestSchema,
  CTP_ADD_KIT: addPaymentInstrumentRequestSchema,
  CTP_REMOVE_ENTITY: removeCustomerRequestSchema,
  CTP_REMOVE_KIT: removePaymentInstrumentRequestSchema,
  CTP_UPDATE_ENTITY: updateCustomerDataRequestSchema,
  CTP_UPDATE_KIT: updatePaymentInstrumentRequestSchema,
} as const;

export type SaasRequestBody<E extends keyof typeof saasRequestSchemas> = z.infer<
  (typeof saasRequestSchemas)[E]
>;

/**
 * Answers are bounded where we store them: `request_trace_ID` is varchar(128), `error_code`
 * varchar(64), the network ids varchar(255), `tenant` varchar(64). A longer value is refused
 * at the edge as not matching the contract, not stored until a column refuses it mid-step.
 */
const traceId = z.string().min(1).max(128);
const networkId = z.string().max(255);
const tenant = z.string().min(1).max(64);

export const acceptedResponseSchema = z.object({
  requestTraceId: traceId,
  status: z.literal('IN_PROGRESS'),
});
export type AcceptedResponse = z.infer<typeof acceptedResponseSchema>;

export const SAAS_ERROR_CODES = [
  'INVALID_REQUEST',
  'UNAUTHORIZED',
  'CONSUMER_NOT_FOUND',
  'PAYMENT_INSTRUMENT_NOT_FOUND',
  'REQUEST_NOT_FOUND',
  'CONFLICT',
  'IDEMPOTENCY_KEY_REUSED',
  'RATE_LIMITED',
  'INTERNAL',
  'UNAVAILABLE',
] as const;

export const saasErrorBodySchema = z.object({
  error: z.object({
    // Stored as `error_code` (varchar(64)); a longer one is read as "no contract error body".
    code: z.string().max(64),
    message: z.string(),
    details: z.array(z.unknown()).optional(),
  }),
});

export const traceErrorSchema = z.object({
  code: z.string().max(64),
  message: z.string(),
  details: z.string().optional(),
});

export const traceResultSchema = z.object({
  requestTraceId: traceId,
  event: z.enum(CTP_EVENTS),
  status: z.enum(TRACE_STATUSES),
  externalConsumerId: z.string(),
  externalInstrumentId: z.string().optional(),
  clickToPayCustomerId: networkId.optional(),
  clickToPayPaymentInstrumentId: networkId.optional(),
  error: traceErrorSchema.optional(),
  updatedAt: z.iso.datetime({ offset: true }),
});
export type TraceResult = z.infer<typeof traceResultSchema>;

const networkStatus = z.enum(NETWORK_STATUSES);

export const networkDataSchema = z.object({
  clickToPayCustomerId: z.string(),
  externalConsumerId: z.string(),
  status: networkStatus,
  consumer: z.object({
    firstName: z.string(),
    lastName: z.string(),
    emails: z.array(z.string()),
    phones: z.array(z.object({ countryCode: z.string(), number: z.string() })),
    locale: z.string(),
    countryCode: z.string(),
  }),
  paymentInstruments: z.array(
    z.object({
      clickToPayPaymentInstrumentId: z.string(),
      externalInstrumentId: z.string(),
      panLastFour: z.string().regex(/^[0-9]{4}$/),
      expirationDate: z.object({ month: z.string(), year: z.string() }),
      status: networkStatus,
    }),
  ),
});
export type NetworkData = z.infer<typeof networkDataSchema>;

export const webhookBodySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('request.completed'), tenant, data: traceResultSchema }),
  z.object({
    type: z.literal('consumer.status_changed'),
    tenant,
    data: z.object({
      externalConsumerId: z.string(),
      clickToPayCustomerId: z.string(),
      status: networkStatus,
      occurredAt: z.iso.datetime({ offset: true }),
    }),
  }),
  z.object({
    type: z.literal('payment_instrument.status_changed'),
    tenant,
    data: z.object({
      externalConsumerId: z.string(),
      externalInstrumentId: z.string(),
      clickToPayPaymentInstrumentId: z.string(),
      status: networkStatus,
      occurredAt: z.iso.datetime({ offset: true }),
    }),
  }),
]);
export type WebhookBody = z.infer<typeof webhookBodySchema>;
