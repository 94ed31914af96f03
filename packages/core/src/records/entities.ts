import { LockMode } from '@mikro-orm/core';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { EntityAnswer, EntityBody, EntityPatch } from '../contracts/platform-api.ts';
import { BusinessEntity, type PostalAddress } from '../entities/business-entity.ts';
import { notFound } from '../errors/domain-error.ts';
import type { CustomerStatus } from '../lifecycle/statuses.ts';
import { changeCustomerStatus } from '../lifecycle/transitions.ts';
import { loadCtpRecordsOf } from '../operations/ctp-records.ts';
import { defineStatement, executeOnOrm } from '../operations/sql-session.ts';
import { changeOnce, type Idempotency } from './idempotency.ts';
import { type RecordWorkHook, recordStatusRefused } from './kits.ts';
import { sameJson } from './same-json.ts';
import { inTransaction } from './transaction.ts';
import { entityView } from './views.ts';

/**
 * Platform records: customers (entities). These use cases write `business_entity` only; the CTP
 * status columns (`ctp_customer`, `ctp_payment`) belong to the lifecycle code and are only read
 * here, for the answer.
 */

export type EntityField = keyof EntityBody;

export interface EntityChange {
  readonly tenant: string;
  readonly entityId: string;
  readonly created: boolean;
  /** The fields whose stored value changed; empty when a replace wrote what was already there. */
  readonly changed: readonly EntityField[];
}

/**
 * Called inside the change's transaction, after the row is written and before the commit, with
 * the transaction's EntityManager: what it writes (e.g. the outbox row of an automatic
 * `CTP_UPDATE_ENTITY`) commits or rolls back together with the change. The row lock on
 * `business_entity` is held while it runs.
 */
export type EntityChangeHook = (tx: EntityManager, change: EntityChange) => Promise<unknown>;

export interface EntityRequest {
  readonly tenant: string;
  readonly entityId: string;
}

/**
 * Takes the row lock every step on this entity takes first (the lifecycle code locks the same
 * row), so a profile change and a CTP operation on one entity never interleave.
 */
function lockEntity(tx: EntityManager, { tenant, entityId }: EntityRequest): Promise<BusinessEntity | null> {
  return tx.findOne(BusinessEntity, { tenant, entityId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
}

/** `PUT /v1/entities/{entityId}`: creates the customer or replaces every field of it. */
export function putEntity(
  em: EntityManager,
  request: EntityRequest & { readonly body: EntityBody },
  onChange?: EntityChangeHook,
): Promise<{ readonly created: boolean; readonly entity: EntityAnswer }> {
  return inTransaction(em, async (tx) => {
    const existing = await lockEntity(tx, request);
    const entity =
      existing ??
      tx.create(BusinessEntity, {
        tenant: request.tenant,
        entityId: request.entityId,
        ...columnsOf(request.body),
      });
    const changed = existing === null ? ENTITY_FIELDS : assign(existing, request.body, { replace: true });
    await tx.flush();
    if (onChange !== undefined) {
      await onChange(tx, { ...request, created: existing === null, changed });
    }
    return { created: existing === null, entity: await loadView(tx, entity) };
  });
}

/** `PATCH /v1/entities/{entityId}`: changes the given fields; nested objects are replaced whole. */
export function patchEntity(
  em: EntityManager,
  request: EntityRequest & { readonly patch: EntityPatch },
  onChange?: EntityChangeHook,
): Promise<EntityAnswer> {
  return inTransaction(em, async (tx) => {
    const entity = await lockEntity(tx, request);
    if (entity === null) throw notFound('entity');
    const changed = assign(entity, request.patch, { replace: false });
    await tx.flush();
    if (onChange !== undefined) await onChange(tx, { ...request, created: false, changed });
    return loadView(tx, entity);
  });
}

/** `GET /v1/entities/{entityId}`: the customer, its CTP status and its kits with theirs. */
export async function getEntity(em: EntityManager, request: EntityRequest): Promise<EntityAnswer> {
  const fork = em.fork();
  const entity = await fork.findOne(BusinessEntity, { tenant: request.tenant, entityId: request.entityId });
  if (entity === null) throw notFound('entity');
  return loadView(fork, entity);
}

async function loadView(em: EntityManager, entity: BusinessEntity): Promise<EntityAnswer> {
  const { customer, kits } = await loadCtpRecordsOf(em, entity);
  return entityView(entity, customer, [...kits.values()]);
}

const ENTITY_FIELDS: readonly EntityField[] = [
  'firstName',
  'lastName',
  'email',
  'phone',
  'address',
  'locale',
  'countryCode',
  'consent',
];

/** The stored form: optional parts absent rather than `undefined`. */
function postalAddress({ line2, state, ...required }: EntityBody['address']): PostalAddress {
  return {
    ...required,
    ...(line2 === undefined ? {} : { line2 }),
    ...(state === undefined ? {} : { state }),
  };
}

/** A customer's stored profile columns: the ORM entity's, or a row read in bulk. */
export type EntityColumns = Pick<
  BusinessEntity,
  | 'firstName'
  | 'lastName'
  | 'email'
  | 'phoneCountryCode'
  | 'phoneNumber'
  | 'address'
  | 'locale'
  | 'countryCode'
  | 'consent'
>;

function columnsOf(body: EntityBody): EntityColumns {
  return {
    firstName: body.firstName,
    lastName: body.lastName,
    email: body.email,
    phoneCountryCode: body.phone.countryCode,
    phoneNumber: body.phone.number,
    address: postalAddress(body.address),
    locale: body.locale,
    countryCode: body.countryCode,
    consent: body.consent ?? null,
  };
}

/**
 * Writes the given fields onto the entity and returns those whose value changed. With
 * `replace`, an absent `consent` removes the stored one (PUT); without, absent means "keep".
 */
function assign(
  entity: BusinessEntity,
  input: EntityPatch | EntityBody,
  { replace }: { replace: boolean },
): EntityField[] {
  const { changed, columns } = changesOf(entity, input, { replace });
  Object.assign(entity, columns);
  return changed;
}

/** The fields a `PUT` of `body` would change on a customer stored as `stored`. */
export function entityFieldsChangedBy(stored: EntityColumns, body: EntityBody): EntityField[] {
  return changesOf(stored, body, { replace: true }).changed;
}

/** The fields `input` changes on `stored`, and the columns that take new values. */
function changesOf(
  stored: EntityColumns,
  input: EntityPatch | EntityBody,
  { replace }: { replace: boolean },
): { changed: EntityField[]; columns: Partial<EntityColumns> } {
  const changed: EntityField[] = [];
  const columns: Partial<EntityColumns> = {};
  const scalar = (field: 'firstName' | 'lastName' | 'email' | 'locale' | 'countryCode') => {
    const value = input[field];
    if (value === undefined || value === stored[field]) return;
    columns[field] = value;
    changed.push(field);
  };
  scalar('firstName');
  scalar('lastName');
  scalar('email');
  scalar('locale');
  scalar('countryCode');
  if (
    input.phone !== undefined &&
    (input.phone.countryCode !== stored.phoneCountryCode || input.phone.number !== stored.phoneNumber)
  ) {
    columns.phoneCountryCode = input.phone.countryCode;
    columns.phoneNumber = input.phone.number;
    changed.push('phone');
  }
  if (input.address !== undefined && !sameJson(input.address, stored.address)) {
    columns.address = postalAddress(input.address);
    changed.push('address');
  }
  const consent = input.consent === undefined ? (replace ? null : undefined) : input.consent;
  if (consent !== undefined && !sameJson(consent, stored.consent ?? null)) {
    columns.consent = consent;
    changed.push('consent');
  }
  return { changed, columns };
}

const insertNewEntityRows = defineStatement<
  { tenant: string; rows: string },
  { pkey: string; entity_id: string }
>(
  'business_entity_insert_new',
  `insert into business_entity (tenant, entity_id, first_name, last_name, email, phone_country_code,
          phone_number, address, locale, country_code, consent, created_at, updated_at)
   select $tenant::text, r."entityId", r."firstName", r."lastName", r.email, r."phoneCountryCode",
          r."phoneNumber", r.address, r.locale, r."countryCode", r.consent, now(), now()
     from jsonb_to_recordset($rows::jsonb)
       as r("entityId" text, "firstName" text, "lastName" text, email text, "phoneCountryCode" text,
            "phoneNumber" text, address jsonb, locale text, "countryCode" text, consent jsonb)
   on conflict (tenant, entity_id) do nothing
   returning pkey, entity_id`,
);

/**
 * Creates many customers in one statement, in the caller's transaction (a batch's chunk,
 * `records/chunk.ts`), with the columns `putEntity` writes for a new one. One that exists by now
 * (created since the caller read) is left as it is and not returned: the caller writes it
 * through `putEntity`, as a replace. Returns the new rows' keys by entity id.
 */
export async function insertNewEntities(
  tx: EntityManager,
  tenant: string,
  entities: readonly { readonly entityId: string; readonly body: EntityBody }[],
): Promise<Map<string, string>> {
  if (entities.length === 0) return new Map();
  // In entity id order: two chunks inserting some of the same new entities wait for each other in
  // one order, never in a cycle.
  const rows = [...entities]
    .sort((a, b) => (a.entityId < b.entityId ? -1 : a.entityId > b.entityId ? 1 : 0))
    .map(({ entityId, body }) => ({ entityId, ...columnsOf(body) }));
  const inserted = await executeOnOrm(tx, insertNewEntityRows({ tenant, rows: JSON.stringify(rows) }));
  return new Map(inserted.map((row) => [row.entity_id, String(row.pkey)]));
}

/**
 * `PUT /v1/entities/{entityId}/status`: `changeCustomerStatus` decides; `CLOSED` hands the
 * customer's removal from Click to Pay (with all its cards) to `onWork` in the same transaction.
 */
export function setEntityStatus(
  em: EntityManager,
  request: EntityRequest & {
    readonly status: CustomerStatus;
    readonly idempotency?: Idempotency | undefined;
  },
  onWork?: RecordWorkHook,
): Promise<{ readonly answer: EntityAnswer; readonly replayed: boolean }> {
  const { tenant, entityId, idempotency, status } = request;
  const change = {
    tenant,
    entityId,
    action: 'entity.status' as const,
    target: `entity:${entityId}`,
    request: { status },
    idempotency,
  };
  return changeOnce(em, change, async (tx) => {
    const entity = await lockEntity(tx, request);
    if (entity === null) throw notFound('entity');
    const change = changeCustomerStatus(entity.status, request.status);
    if (!change.ok) throw recordStatusRefused(change.error, entity.status, request.status);
    if (change.value.changed) {
      entity.status = change.value.next;
      await tx.flush();
      if (change.value.starts !== null && onWork !== undefined)
        await onWork(tx, { tenant: request.tenant, entityId: request.entityId, event: change.value.starts });
    }
    return loadView(tx, entity);
  });
}
