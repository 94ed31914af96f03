import { LockMode } from '@mikro-orm/core';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { sql } from 'kysely';
import type { PanCipher } from '../cards/crypto.ts';
import type { KitAnswer, KitBody } from '../contracts/platform-api.ts';
import { BusinessEntity } from '../entities/business-entity.ts';
import { CtpOperation } from '../entities/ctp-operation.ts';
import { CtpPayment } from '../entities/ctp-payment.ts';
import { Kit } from '../entities/kit.ts';
import { DomainError, notFound } from '../errors/domain-error.ts';
import { inTransaction } from './transaction.ts';
import { kitView } from './views.ts';

/**
 * Every write of `kit` is in this module (the records' unit of work, and key rotation's
 * `storeReencryptedPan`).
 */

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

    const changed = existing === null ? [] : changedFields(cipher, existing, request);
    if (changed.includes('pan')) await refusePanChangeWhileQueued(tx, request);
    // Re-encrypted on every replace: a fresh IV, and the card moves onto the current key.
    const { ciphertext, keyId } = cipher.encrypt(body.pan, { tenant, kitNo });
    const columns = {
      panCiphertext: ciphertext,
      panKeyId: keyId,
      panFirst6: body.pan.slice(0, 6),
      panLast4: body.pan.slice(-4),
      expiryMonth: Number(body.expiry.month),
      expiryYear: Number(body.expiry.year),
      nameOnCard: body.nameOnCard,
    };
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

/** `GET /v1/entities/{entityId}/kits/{kitNo}`: the card, masked, and its CTP status. */
export async function getKit(em: EntityManager, { tenant, entityId, kitNo }: KitRequest): Promise<KitAnswer> {
  const fork = em.fork();
  const entity = await fork.findOne(BusinessEntity, { tenant, entityId });
  if (entity === null) throw notFound('entity');
  const kit = await fork.findOne(Kit, { tenant, kitNo, businessEntity: entity });
  if (kit === null) throw notFound('kit');
  return kitView(entityId, kit, await fork.findOne(CtpPayment, { kit }));
}

/** The fields a replace changes; a PAN stored under a key we no longer hold counts as changed. */
function changedFields(
  cipher: PanCipher,
  kit: Kit,
  { tenant, kitNo, body }: KitRequest & { body: KitBody },
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
