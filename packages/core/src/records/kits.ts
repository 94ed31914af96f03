import { type EntityManager, LockMode } from '@mikro-orm/core';
import type { PanCipher } from '../cards/crypto.ts';
import type { KitAnswer, KitBody } from '../contracts/platform-api.ts';
import { BusinessEntity } from '../entities/business-entity.ts';
import { CtpPayment } from '../entities/ctp-payment.ts';
import { Kit } from '../entities/kit.ts';
import { notFound } from '../errors/domain-error.ts';
import { inTransaction } from './transaction.ts';
import { kitView } from './views.ts';

/**
 * Platform records: cards (kits). The PAN is encrypted before it reaches an entity and never
 * leaves this function other than as ciphertext plus first 6 / last 4.
 */

export interface KitRequest {
  readonly tenant: string;
  readonly entityId: string;
  readonly kitNo: string;
}

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
