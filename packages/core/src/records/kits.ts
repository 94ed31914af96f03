import { LockMode } from '@mikro-orm/core';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { sql } from 'kysely';
import type { PanCipher } from '../cards/crypto.ts';
import type { KitAnswer, KitBody, KitPatch, KitReplaceBody } from '../contracts/platform-api.ts';
import { BusinessEntity } from '../entities/business-entity.ts';
import { CtpOperation } from '../entities/ctp-operation.ts';
import { CtpPayment } from '../entities/ctp-payment.ts';
import { Kit } from '../entities/kit.ts';
import { DomainError, notFound } from '../errors/domain-error.ts';
import type { LifecycleError } from '../lifecycle/errors.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import type { ReplacementReason } from '../lifecycle/rules.ts';
import type { CardStatus } from '../lifecycle/statuses.ts';
import { changeCardStatus } from '../lifecycle/transitions.ts';
import { defineStatement, executeOnOrm } from '../operations/sql-session.ts';
import { changeOnce, type Idempotency } from './idempotency.ts';
import { inTransaction } from './transaction.ts';
import { kitView, maskedPan } from './views.ts';

/**
 * Every write of `kit` is in this module (the records' unit of work, and key rotation's
 * `storeReencryptedPan`).
 */

/**
 * A card's stored columns: its PAN encrypted under the cipher's current key (a fresh IV on every
 * write) with first 6 / last 4 for display, the expiry and the name on the card.
 */
function cardColumns(
  cipher: PanCipher,
  at: { readonly tenant: string; readonly kitNo: string },
  card: {
    readonly pan: string;
    readonly expiry: { readonly month: string; readonly year: string };
    readonly nameOnCard: string;
  },
) {
  const { ciphertext, keyId } = cipher.encrypt(card.pan, at);
  return {
    panCiphertext: ciphertext,
    panKeyId: keyId,
    panFirst6: card.pan.slice(0, 6),
    panLast4: card.pan.slice(-4),
    expiryMonth: Number(card.expiry.month),
    expiryYear: Number(card.expiry.year),
    nameOnCard: card.nameOnCard,
  };
}

/** Key rotation: the kit's PAN under the cipher's current key, in the caller's transaction. */
export async function storeReencryptedPan(
  tx: EntityManager,
  pkey: string,
  encrypted: { readonly ciphertext: string; readonly keyId: string },
): Promise<void> {
  await sql`update kit set pan_ciphertext = ${encrypted.ciphertext}, pan_key_id = ${encrypted.keyId},
      version = version + 1, updated_at = now() where pkey = ${pkey}::bigint`.execute(tx.getKysely());
}

/**
 * Platform records: cards (kits). The PAN is encrypted before it reaches an entity and never
 * leaves this function other than as ciphertext plus first 6 / last 4.
 */

export interface KitRequest {
  readonly tenant: string;
  readonly entityId: string;
  readonly kitNo: string;
}

export type KitField = 'pan' | 'expiry' | 'nameOnCard';

export interface KitChange extends KitRequest {
  readonly created: boolean;
  /** What a replace changed; empty when it wrote what was already there. */
  readonly changed: readonly KitField[];
  /** The card number's first 8 digits, for BIN eligibility (auto-enrolment); never stored. */
  readonly panPrefix: string;
}

/** Like `EntityChangeHook`: inside the card change's transaction, under the entity lock. */
export type KitChangeHook = (tx: EntityManager, change: KitChange) => Promise<unknown>;

/**
 * `PUT /v1/entities/{entityId}/kits/{kitNo}`: creates the card or replaces it. The entity row is
 * locked first (the lifecycle code takes the same lock), so a card is never replaced while a
 * CTP step of its entity reads it. A kitNo held by another entity of the tenant answers 404, as
 * the contract has a kit of another entity look like no kit at all.
 */
export function putKit(
  em: EntityManager,
  cipher: PanCipher,
  request: KitRequest & { readonly body: KitBody },
  onChange?: KitChangeHook,
): Promise<{ readonly created: boolean; readonly kit: KitAnswer }> {
  const { tenant, entityId, kitNo, body } = request;
  return inTransaction(em, async (tx) => {
    const entity = await tx.findOne(
      BusinessEntity,
      { tenant, entityId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (entity === null) throw notFound('entity');
    const existing = await tx.findOne(Kit, { tenant, kitNo }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (existing !== null && existing.businessEntity.pkey !== entity.pkey) throw notFound('kit');

    const changed = existing === null ? [] : kitFieldsChangedBy(cipher, existing, request);
    if (changed.includes('pan')) await refusePanChangeWhileQueued(tx, request);
    // Re-encrypted on every replace: a fresh IV, and the card moves onto the current key.
    const columns = cardColumns(cipher, { tenant, kitNo }, body);
    const kit = existing ?? tx.create(Kit, { tenant, kitNo, businessEntity: entity, ...columns });
    if (existing !== null) tx.assign(existing, columns);
    await tx.flush();
    if (onChange !== undefined)
      await onChange(tx, {
        tenant,
        entityId,
        kitNo,
        created: existing === null,
        changed,
        panPrefix: body.pan.slice(0, 8),
      });
    const payment = existing === null ? null : await tx.findOne(CtpPayment, { kit });
    return { created: existing === null, kit: kitView(entityId, kit, payment) };
  });
}

const insertNewKitRows = defineStatement<{ tenant: string; rows: string }, { kit_no: string }>(
  'kit_insert_new',
  `insert into kit (tenant, kit_no, business_entity_fkey, pan_ciphertext, pan_key_id, pan_first6, pan_last4,
          expiry_month, expiry_year, name_on_card, created_at, updated_at)
   select $tenant::text, r."kitNo", r."entityPkey", r."panCiphertext", r."panKeyId", r."panFirst6",
          r."panLast4", r."expiryMonth", r."expiryYear", r."nameOnCard", now(), now()
     from jsonb_to_recordset($rows::jsonb)
       as r("kitNo" text, "entityPkey" bigint, "panCiphertext" text, "panKeyId" text, "panFirst6" text,
            "panLast4" text, "expiryMonth" smallint, "expiryYear" smallint, "nameOnCard" text)
   on conflict (tenant, kit_no) do nothing
   returning kit_no`,
);

/**
 * Creates many cards in one statement, in the caller's transaction (a batch's chunk,
 * `records/chunk.ts`), with the columns `putKit` writes for a new one (`cardColumns`: the PAN
 * encrypted here, bound to its row; only ciphertext and first 6 / last 4 reach the statement).
 * A kitNo the tenant has by now (another request created it since the caller read) is left as it
 * is and not returned: the caller writes that card through `putKit`, which replaces it or refuses
 * it as another entity's. The foreign key's check takes a key-share lock on each entity row,
 * which waits for a lifecycle step holding that entity's lock (and makes it wait), so a new card
 * never appears in the middle of a step of its entity. Returns the kitNos created.
 */
export async function insertNewKits(
  tx: EntityManager,
  cipher: PanCipher,
  tenant: string,
  kits: readonly { readonly kitNo: string; readonly entityPkey: string; readonly card: KitBody }[],
): Promise<Set<string>> {
  if (kits.length === 0) return new Set();
  // In kitNo order: two chunks inserting some of the same new cards wait in one order, never in a cycle.
  const rows = [...kits]
    .sort((a, b) => (a.kitNo < b.kitNo ? -1 : a.kitNo > b.kitNo ? 1 : 0))
    .map(({ kitNo, entityPkey, card }) => ({
      kitNo,
      entityPkey,
      ...cardColumns(cipher, { tenant, kitNo }, card),
    }));
  const inserted = await executeOnOrm(tx, insertNewKitRows({ tenant, rows: JSON.stringify(rows) }));
  return new Set(inserted.map((row) => row.kit_no));
}

/** `GET /v1/entities/{entityId}/kits/{kitNo}`: the card, masked, and its CTP status. */
export async function getKit(em: EntityManager, { tenant, entityId, kitNo }: KitRequest): Promise<KitAnswer> {
  const fork = em.fork();
  const entity = await fork.findOne(BusinessEntity, { tenant, entityId });
  if (entity === null) throw notFound('entity');
  const kit = await fork.findOne(Kit, { tenant, kitNo, businessEntity: entity });
  if (kit === null) throw notFound('kit');
  return kitView(entityId, kit, await fork.findOne(CtpPayment, { kit }));
}

/** A card's stored columns that a replace compares: the ORM entity's, or a row read in bulk. */
export type StoredCard = Pick<
  Kit,
  'panCiphertext' | 'panKeyId' | 'expiryMonth' | 'expiryYear' | 'nameOnCard'
>;

/** The fields a replace changes; a PAN stored under a key we no longer hold counts as changed. */
export function kitFieldsChangedBy(
  cipher: PanCipher,
  kit: StoredCard,
  { tenant, kitNo, body }: { readonly tenant: string; readonly kitNo: string; readonly body: KitBody },
): KitField[] {
  const changed: KitField[] = [];
  let storedPan: string | undefined;
  try {
    storedPan = cipher.decrypt({ ciphertext: kit.panCiphertext, keyId: kit.panKeyId }, { tenant, kitNo });
  } catch {
    storedPan = undefined;
  }
  if (storedPan !== body.pan) changed.push('pan');
  if (kit.expiryMonth !== Number(body.expiry.month) || kit.expiryYear !== Number(body.expiry.year))
    changed.push('expiry');
  if (kit.nameOnCard !== body.nameOnCard) changed.push('nameOnCard');
  return changed;
}

/**
 * A queued operation sends this card's PAN on every attempt under one `Idempotency-Key`; a new
 * PAN between two attempts would be another request under that key. So a reissued card waits
 * until the operation has been accepted by the SaaS (a few seconds at most).
 */
async function refusePanChangeWhileQueued(
  tx: EntityManager,
  { tenant, entityId, kitNo }: KitRequest,
): Promise<void> {
  const queued = await tx.count(CtpOperation, { tenant, entityId, kitNumber: kitNo, status: 'QUEUED' });
  if (queued > 0) {
    throw new DomainError(
      'OPERATION_IN_PROGRESS',
      'an operation is sending this card to the network; change its PAN when it is accepted',
    );
  }
}

/** A change of one card, as `changeOnce` audits it when it carries an `Idempotency-Key`. */
function kitChange(
  { tenant, entityId, kitNo, idempotency }: KitRequest & { readonly idempotency?: Idempotency | undefined },
  action: 'kit.patch' | 'kit.status' | 'kit.replace',
) {
  return { tenant, entityId, action, target: `kit:${entityId}/${kitNo}`, idempotency };
}

/** The kit of an entity, both locked (the entity row first, as every lifecycle step does). */
async function lockKitOf(tx: EntityManager, { tenant, entityId, kitNo }: KitRequest) {
  const entity = await tx.findOne(
    BusinessEntity,
    { tenant, entityId },
    { lockMode: LockMode.PESSIMISTIC_WRITE },
  );
  if (entity === null) throw notFound('entity');
  const kit = await tx.findOne(
    Kit,
    { tenant, kitNo, businessEntity: entity },
    { lockMode: LockMode.PESSIMISTIC_WRITE },
  );
  if (kit === null) throw notFound('kit');
  return { entity, kit };
}

/**
 * `PATCH /v1/entities/{entityId}/kits/{kitNo}`: a new expiry or name on card. `onChange` (the
 * automatic `CTP_UPDATE_KIT`) runs in the same transaction with the fields that changed.
 */
export function patchKit(
  em: EntityManager,
  request: KitRequest & { readonly patch: KitPatch; readonly idempotency?: Idempotency | undefined },
  onChange?: KitChangeHook,
): Promise<{ readonly answer: KitAnswer; readonly replayed: boolean }> {
  const { tenant, entityId, kitNo, patch } = request;
  const change = { ...kitChange(request, 'kit.patch'), request: patch };
  return changeOnce(em, change, async (tx) => {
    const { kit } = await lockKitOf(tx, request);
    const changed: KitField[] = [];
    if (
      patch.expiry !== undefined &&
      (kit.expiryMonth !== Number(patch.expiry.month) || kit.expiryYear !== Number(patch.expiry.year))
    ) {
      kit.expiryMonth = Number(patch.expiry.month);
      kit.expiryYear = Number(patch.expiry.year);
      changed.push('expiry');
    }
    if (patch.nameOnCard !== undefined && patch.nameOnCard !== kit.nameOnCard) {
      kit.nameOnCard = patch.nameOnCard;
      changed.push('nameOnCard');
    }
    await tx.flush();
    if (onChange !== undefined)
      await onChange(tx, { tenant, entityId, kitNo, created: false, changed, panPrefix: kit.panFirst6 });
    return kitView(entityId, kit, await tx.findOne(CtpPayment, { kit }));
  });
}

/** The CTP work a record's status change starts (`RecordStatusRule.starts`). */
export interface RecordWork {
  readonly tenant: string;
  readonly entityId: string;
  readonly event: CtpEvent;
  readonly kitNo?: string;
}

/** Queues a status change's CTP work in its transaction (the api's `queueRecordWork`). */
export type RecordWorkHook = (tx: EntityManager, work: RecordWork) => Promise<unknown>;

/**
 * `PUT /v1/entities/{entityId}/kits/{kitNo}/status`: `changeCardStatus` decides; a change that
 * starts CTP work (`CLOSED`: the card's removal) hands it to `onWork` in the same transaction, so
 * a committed change always starts it and a rolled-back one never does.
 */
export function setKitStatus(
  em: EntityManager,
  request: KitRequest & { readonly status: CardStatus; readonly idempotency?: Idempotency | undefined },
  onWork?: RecordWorkHook,
): Promise<{ readonly answer: KitAnswer; readonly replayed: boolean }> {
  const { tenant, entityId, kitNo } = request;
  const change = { ...kitChange(request, 'kit.status'), request: { status: request.status } };
  return changeOnce(em, change, async (tx) => {
    const { kit } = await lockKitOf(tx, request);
    const change = changeCardStatus(kit.status, request.status);
    if (!change.ok) throw recordStatusRefused(change.error, kit.status, request.status);
    if (change.value.changed) {
      kit.status = change.value.next;
      await tx.flush();
      if (change.value.starts !== null && onWork !== undefined)
        await onWork(tx, { tenant, entityId, event: change.value.starts, kitNo });
    }
    return kitView(entityId, kit, await tx.findOne(CtpPayment, { kit }));
  });
}

/** A status change the records' lifecycle refused: `409 INVALID_STATE` with both statuses. */
export function recordStatusRefused(error: LifecycleError, status: string, requested: string): DomainError {
  return new DomainError('INVALID_STATE', error.message, { status, requested });
}

/** The replacement a `replaceKit` made, for its hook (the plan that moves the network). */
export interface KitReplaced {
  readonly tenant: string;
  readonly entityId: string;
  readonly oldKitNo: string;
  readonly newKitNo: string;
  readonly reason: ReplacementReason;
}

/** In the replacement's transaction: starts the plan if the old card is on Click to Pay (its id). */
export type KitReplacedHook = (tx: EntityManager, replaced: KitReplaced) => Promise<string | null>;

/**
 * `POST /v1/entities/{entityId}/kits/{kitNo}/replace`: the new card is created and the old one
 * closed (`changeCardStatus`) in one transaction with the plan that moves the network to the new
 * card (`onReplaced`). Refused, writing nothing: a closed customer, a closed card, a `newKitNo`
 * the tenant already has.
 */
export function replaceKit(
  em: EntityManager,
  cipher: PanCipher,
  request: KitRequest & { readonly body: KitReplaceBody; readonly idempotency?: Idempotency | undefined },
  onReplaced?: KitReplacedHook,
): Promise<{
  readonly answer: { readonly kit: KitAnswer; readonly replacementId: string | null };
  readonly replayed: boolean;
}> {
  const { tenant, entityId, kitNo, body } = request;
  const change = {
    ...kitChange(request, 'kit.replace'),
    request: { ...body, pan: maskedPan({ panFirst6: body.pan.slice(0, 6), panLast4: body.pan.slice(-4) }) },
  };
  return changeOnce(em, change, async (tx) => {
    const { entity, kit: old } = await lockKitOf(tx, request);
    if (entity.status !== 'ACTIVE')
      throw new DomainError(
        'CUSTOMER_NOT_ACTIVE',
        `the customer is ${entity.status}; its cards are not replaced`,
        {
          status: entity.status,
        },
      );
    const close = changeCardStatus(old.status, 'CLOSED');
    if (!close.ok || !close.value.changed)
      throw new DomainError('CARD_NOT_ACTIVE', 'a CLOSED card cannot be replaced', {
        kitNo,
        status: old.status,
      });
    if ((await tx.count(Kit, { tenant, kitNo: body.newKitNo })) > 0)
      throw new DomainError('KIT_ALREADY_EXISTS', `the card ${body.newKitNo} already exists`, {
        newKitNo: body.newKitNo,
      });
    old.status = close.value.next;
    const kit = tx.create(Kit, {
      tenant,
      kitNo: body.newKitNo,
      businessEntity: entity,
      ...cardColumns(
        cipher,
        { tenant, kitNo: body.newKitNo },
        { ...body, nameOnCard: body.nameOnCard ?? old.nameOnCard },
      ),
    });
    await tx.flush();
    const replacementId =
      onReplaced === undefined
        ? null
        : await onReplaced(tx, {
            tenant,
            entityId,
            oldKitNo: kitNo,
            newKitNo: body.newKitNo,
            reason: body.reason,
          });
    return { kit: kitView(entityId, kit, null), replacementId };
  });
}
