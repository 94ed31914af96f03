import { z } from 'zod';
import { isLuhnValid } from '../cards/pan.ts';
import { ERROR_STATUS } from '../errors/domain-error.ts';
import { REPLACEMENT_REASONS } from '../lifecycle/rules.ts';
import { CARD_STATUSES, CTP_STATUSES, CUSTOMER_STATUSES } from '../lifecycle/statuses.ts';
import { clientText } from './client-text.ts';
import { fitBillingAddress, NETWORK_RULES } from './network-rules.ts';

/**
 * Our HTTP API's bodies and answers for the platform records (`/v1/entities/...`) and the error
 * body, as zod schemas (platform contract, "Platform records" and "Errors"). The api validates
 * with them and generates `/openapi.json` from them; `.meta({ id })` names an OpenAPI component.
 *
 * Field formats are the SaaS wire's (`saas.ts`: phone digits, `en_AE` locales, ISO country
 * codes), and a customer's address is one the network takes once cleaned (`fitBillingAddress`),
 * so a stored entity or kit can always be sent. Every string a client writes is `clientText`
 * (no NUL, no lone surrogate, no card number but in `pan`). Request bodies are strict: an
 * unknown field is a client bug and answers 400.
 */

/** A formatted value: the format is judged first and alone, then the rules of client text. */
const formatted = (pattern: RegExp, message: string, max: number) =>
  clientText({ max, trim: false }, z.string().regex(pattern, { message, abort: true }));

/** `entityId` and `kitNo`: 1–64 of [A-Za-z0-9._-], not only dots (`.`/`..` are not addressable in a URL). */
export const externalIdSchema = formatted(
  /^(?!\.+$)[A-Za-z0-9._-]{1,64}$/,
  'must be 1 to 64 characters of A-Z, a-z, 0-9, ".", "_" or "-"',
  64,
);

export const entityPathSchema = z.object({ entityId: externalIdSchema });
export const kitPathSchema = z.object({ entityId: externalIdSchema, kitNo: externalIdSchema });

const personName = clientText({ max: 100 });
const countryCode = formatted(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code', 2);

export const platformPhoneSchema = z
  .strictObject({
    countryCode: formatted(/^[0-9]{1,3}$/, 'must be 1 to 3 digits', 3),
    number: formatted(/^[0-9]{4,14}$/, 'must be 4 to 14 digits', 14),
  })
  .meta({
    id: 'Phone',
    description: 'E.164 parts: country calling code and subscriber number, digits only',
    example: { countryCode: '971', number: '501234567' },
  });

/**
 * What the network takes is decided here, at the edge, before anything is stored or queued
 * (`fitBillingAddress`): an address that can be sent after cleaning (a long line wrapped, a
 * character the network refuses replaced) is taken as written, and its operations send and
 * record the cleaned form; one that cannot is refused, naming the field.
 */
export const platformAddressSchema = z
  .strictObject({
    line1: clientText({ max: 200 }),
    line2: clientText({ min: 0, max: 200 }).optional(),
    city: clientText({ max: NETWORK_RULES.cityMax }),
    state: clientText({ min: 0, max: 100 }).optional(),
    postalCode: clientText({ max: NETWORK_RULES.postalCodeMax }),
    countryCode,
  })
  .superRefine(
    (address, context) => {
      const fit = fitBillingAddress(address);
      if (!fit.ok)
        for (const { field, message } of fit.problems)
          context.addIssue({ code: 'custom', path: [field], message });
    },
    {
      // Judged once every field is well-formed; until then their own problems say enough.
      when: (payload) => payload.issues.length === 0,
    },
  )
  .meta({
    id: 'Address',
    description: `Lines of up to 200 characters are wrapped at word boundaries into the network's ${NETWORK_RULES.addressLines} lines of ${NETWORK_RULES.addressLineMax} (refused when they do not fit); characters the network refuses in an address are replaced in what is sent. Both are recorded as the operation's \`adjustments\`.`,
    example: { line1: '1 Sheikh Zayed Rd', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
  });

export const platformConsentSchema = z
  .strictObject({
    accepted: z.boolean(),
    version: clientText({ max: 32 }),
    acceptedAt: clientText({ max: 64, trim: false }, z.iso.datetime({ offset: true })),
  })
  .meta({ id: 'Consent' });

/**
 * A union, not `.nullable()`: the OpenAPI generator would otherwise make the shared `Consent`
 * component itself nullable, and with it the PUT body's field.
 */
const nullableConsent = z.union([platformConsentSchema, z.null()]);

const entityFields = {
  firstName: personName,
  lastName: personName,
  email: clientText({ max: 254, trim: false }, z.email()),
  phone: platformPhoneSchema,
  address: platformAddressSchema,
  locale: formatted(/^[a-z]{2}_[A-Z]{2}$/, 'must be a locale like en_AE', 5),
  countryCode,
};

/** `PUT /v1/entities/{entityId}`: the whole customer; an absent `consent` removes a stored one. */
export const entityBodySchema = z
  .strictObject({ ...entityFields, consent: platformConsentSchema.optional() })
  .meta({ id: 'EntityInput' });
export type EntityBody = z.infer<typeof entityBodySchema>;

/**
 * `PATCH /v1/entities/{entityId}`: any non-empty subset of the fields; `phone`, `address` and
 * `consent` are replaced whole, `consent: null` removes it.
 */
export const entityPatchSchema = z
  .strictObject({
    firstName: entityFields.firstName.optional(),
    lastName: entityFields.lastName.optional(),
    email: entityFields.email.optional(),
    phone: entityFields.phone.optional(),
    address: entityFields.address.optional(),
    locale: entityFields.locale.optional(),
    countryCode: entityFields.countryCode.optional(),
    consent: nullableConsent.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, {
    message: 'must change at least one field',
    // A body of only unknown fields is told about those, not also that it is empty.
    when: (payload) => payload.issues.length === 0,
  })
  .meta({ id: 'EntityPatch' });
export type EntityPatch = z.infer<typeof entityPatchSchema>;

/** The SaaS wire's expiry format: two-digit month, four-digit year. */
export const expirySchema = z
  .strictObject({
    month: formatted(/^(0[1-9]|1[0-2])$/, 'must be a two-digit month, 01 to 12', 2),
    year: formatted(/^20[0-9]{2}$/, 'must be a four-digit year, 20YY', 4),
  })
  .meta({ id: 'Expiry', example: { month: '12', year: '2029' } });
export type Expiry = z.infer<typeof expirySchema>;

/** A card is valid to the end of its expiry month (UTC); one that has expired cannot be enrolled. */
export function isExpired({ month, year }: Expiry, now: Date = new Date()): boolean {
  const current = now.getUTCFullYear() * 12 + now.getUTCMonth();
  return Number(year) * 12 + (Number(month) - 1) < current;
}

/**
 * The SaaS's account number rule (13–19 digits, Luhn-valid), with the format check aborting so
 * a malformed PAN gets one problem, not a second one for the Luhn check. No example value: an
 * example PAN would be a card number in `/openapi.json`, which answers must never carry.
 */
export const panSchema = z
  .string()
  .regex(/^[0-9]{13,19}$/, { message: 'must be 13 to 19 digits', abort: true })
  .refine(isLuhnValid, 'must pass the Luhn check')
  .meta({ description: 'The card number: 13 to 19 digits, Luhn-valid. Stored encrypted, answered masked.' });

/**
 * `PUT /v1/entities/{entityId}/kits/{kitNo}`. The PAN is encrypted at once and never answered;
 * it is the one field a card number may be in.
 */
export const kitBodySchema = z
  .strictObject({
    pan: panSchema,
    expiry: expirySchema.refine((expiry) => !isExpired(expiry), {
      message: 'the card has expired',
      // Judged only once month and year are well-formed; until then their own problems say enough.
      when: (payload) => payload.issues.length === 0,
    }),
    nameOnCard: clientText({ max: NETWORK_RULES.nameOnCardMax }),
  })
  .meta({ id: 'KitInput' });
export type KitBody = z.infer<typeof kitBodySchema>;

/** A card's expiry as a client writes it: well-formed, and not in the past. */
const currentExpirySchema = expirySchema.refine((expiry) => !isExpired(expiry), {
  message: 'the card has expired',
  // Judged only once month and year are well-formed; until then their own problems say enough.
  when: (payload) => payload.issues.length === 0,
});

/**
 * `PATCH /v1/entities/{entityId}/kits/{kitNo}`: a new expiry or name on card (the PAN changes by
 * `PUT` or a replacement). An `ACTIVE` kit sends the change to the network by itself.
 */
export const kitPatchSchema = z
  .strictObject({
    expiry: currentExpirySchema.optional(),
    nameOnCard: clientText({ max: NETWORK_RULES.nameOnCardMax }).optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, {
    message: 'must change at least one field',
    when: (payload) => payload.issues.length === 0,
  })
  .meta({ id: 'KitPatch' });
export type KitPatch = z.infer<typeof kitPatchSchema>;

export const cardStatusSchema = z.enum(CARD_STATUSES).meta({
  id: 'CardStatus',
  description:
    "The platform's card status: `BLOCKED` refuses new CTP enrolments until `ACTIVE` again; `CLOSED` is final and removes the card from Click to Pay by itself",
});
export const customerStatusSchema = z.enum(CUSTOMER_STATUSES).meta({
  id: 'CustomerStatus',
  description:
    "The platform's customer status: `CLOSED` removes the customer and all its cards from Click to Pay by itself and refuses enrolments until `ACTIVE` again",
});

/** `PUT /v1/entities/{entityId}/kits/{kitNo}/status`. */
export const kitStatusBodySchema = z
  .strictObject({ status: cardStatusSchema })
  .meta({ id: 'KitStatusInput' });
/** `PUT /v1/entities/{entityId}/status`. */
export const entityStatusBodySchema = z
  .strictObject({ status: customerStatusSchema })
  .meta({ id: 'EntityStatusInput' });

export const replacementReasonSchema = z.enum(REPLACEMENT_REASONS).meta({
  id: 'ReplacementReason',
  description:
    '`LOST_STOLEN`: the old card leaves Click to Pay first, then the new one is added; the others add the new card first, then remove the old one',
});

/** `POST /v1/entities/{entityId}/kits/{kitNo}/replace`: the new card; the old one is closed. */
export const kitReplaceBodySchema = z
  .strictObject({
    newKitNo: externalIdSchema,
    pan: panSchema,
    expiry: currentExpirySchema,
    nameOnCard: clientText({ max: NETWORK_RULES.nameOnCardMax }).optional(),
    reason: replacementReasonSchema,
  })
  .meta({ id: 'KitReplaceInput' });
export type KitReplaceBody = z.infer<typeof kitReplaceBodySchema>;

const ctpStatusSchema = z.enum(CTP_STATUSES);

/** A card replacement's plan: the steps that move the network from the old card to the new one. */
export const replacementViewSchema = z
  .object({
    replacementId: z.uuid(),
    entityId: z.string(),
    oldKitNo: z.string(),
    newKitNo: z.string(),
    reason: replacementReasonSchema,
    status: z.enum(['RUNNING', 'COMPLETED', 'FAILED']).meta({
      description:
        '`FAILED`: a step failed `REPLACEMENT_STEP_ATTEMPTS` times or cannot start; `error` says why and which card is where on Click to Pay',
    }),
    steps: z.array(
      z.object({
        step: z.enum(['REMOVE_OLD', 'ADD_NEW']),
        event: z.enum(['CTP_REMOVE_KIT', 'CTP_ADD_KIT']),
        kitNo: z.string(),
        status: z.enum(['PENDING', 'RUNNING', 'DONE', 'FAILED']),
      }),
    ),
    attempts: z
      .number()
      .int()
      .meta({ description: 'Operations started for the current step (its retries included)' }),
    operationId: z.uuid().nullable().meta({ description: "The current step's latest operation" }),
    error: z.string().nullable(),
    createdAt: z.iso.datetime({ offset: true }),
    updatedAt: z.iso.datetime({ offset: true }),
    completedAt: z.iso.datetime({ offset: true }).nullable(),
  })
  .meta({ id: 'KitReplacement' });
export type ReplacementView = z.infer<typeof replacementViewSchema>;

export const kitAnswerSchema = z
  .object({
    entityId: z.string(),
    kitNo: z.string(),
    pan: z.string().meta({
      description: 'First 6 and last 4 digits; the middle is always 6 asterisks (the length is not kept)',
      example: '411111******1111',
    }),
    expiry: expirySchema,
    nameOnCard: z.string(),
    status: cardStatusSchema,
    ctpKitStatus: ctpStatusSchema.meta({ description: '`UNREGISTERED` until the card enters CTP' }),
    clickToPayPaymentInstrumentId: z.string().nullable(),
    createdAt: z.iso.datetime({ offset: true }),
    updatedAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'Kit' });
export type KitAnswer = z.infer<typeof kitAnswerSchema>;

/** `201` of a replacement: the new card, and the plan moving the network to it (null: nothing to move). */
export const kitReplacedAnswerSchema = kitAnswerSchema
  .extend({ replacement: replacementViewSchema.nullable() })
  .meta({ id: 'KitReplaced' });
export type KitReplacedAnswer = z.infer<typeof kitReplacedAnswerSchema>;

export const entityAnswerSchema = z
  .object({
    entityId: z.string(),
    ...entityFields,
    consent: nullableConsent,
    status: customerStatusSchema,
    ctpEntityStatus: ctpStatusSchema.meta({ description: '`UNREGISTERED` until the entity enters CTP' }),
    clickToPayCustomerId: z.string().nullable(),
    kits: z.array(kitAnswerSchema),
    createdAt: z.iso.datetime({ offset: true }),
    updatedAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'Entity' });
export type EntityAnswer = z.infer<typeof entityAnswerSchema>;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as [
  keyof typeof ERROR_STATUS,
  ...(keyof typeof ERROR_STATUS)[],
];

/** One bad input field: dotted path in the body (`phone.number`) or the parameter's name. */
export const fieldProblemSchema = z.object({ field: z.string(), message: z.string() });
export type FieldProblem = z.infer<typeof fieldProblemSchema>;

/** Every non-2xx answer. `details` is a list of `FieldProblem` for `VALIDATION_FAILED`. */
export const errorAnswerSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      details: z.unknown().optional().meta({
        description:
          'VALIDATION_FAILED: `[{ field, message }]`, one per bad field; INVALID_STATE: the current entity and kit status',
      }),
    }),
  })
  .meta({
    id: 'Error',
    example: {
      error: {
        code: 'VALIDATION_FAILED',
        message: 'request is not valid',
        details: [{ field: 'phone.number', message: 'must be 4 to 14 digits' }],
      },
    },
  });
export type ErrorAnswer = z.infer<typeof errorAnswerSchema>;
