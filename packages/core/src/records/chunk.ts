import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { PanCipher } from '../cards/crypto.ts';
import type { EntityBody, KitBody } from '../contracts/platform-api.ts';
import { defineStatement, executeOnOrm } from '../operations/sql-session.ts';
import { type EntityColumns, entityFieldsChangedBy, insertNewEntities } from './entities.ts';
import { insertNewKits, kitFieldsChangedBy, type StoredCard } from './kits.ts';
import { sameJson } from './same-json.ts';

/**
 * The records a batch carries, a chunk of items at a time (`batches/store.ts`): what is new is
 * created set-based, what is there already and unchanged is left alone, and only what would
 * change goes through `putEntity`/`putKit` one record at a time (with their hooks).
 *
 * Why new records run no hook: the batch passes `syncOnEntityChange`/`syncOnKitChange`, which
 * queue nothing for a created record (there is nothing on the network to update), and a batch
 * does not auto-enrol the cards it creates (`syncOrEnrolOnKitChange` is the `PUT` route's hook;
 * the batch enrols its items itself). So creating them in bulk leaves out nothing that the one by
 * one path did. An unchanged record ran its hook with no changed field, which queues nothing
 * either. A record that would change keeps the one by one path, so its automatic update is
 * queued in its own transaction exactly as a `PUT` does.
 */

/** The records one item carries (the card under the item's kitNo). */
export interface CarriedRecords {
  readonly entityId: string;
  readonly kitNo: string;
  readonly customer?: EntityBody | undefined;
  readonly card?: KitBody | undefined;
}

interface StoredEntity extends EntityColumns {
  readonly pkey: string;
  readonly entityId: string;
}

interface StoredKit extends StoredCard {
  readonly kitNo: string;
  readonly entityPkey: string;
}

interface StoredRecords {
  readonly entities: readonly StoredEntity[];
  readonly kits: readonly StoredKit[];
}

/** The chunk's customers and cards as stored, in one statement (kits by kitNo, whoever holds them). */
const readStoredRecords = defineStatement<
  { tenant: string; entity_ids: string[]; kit_nos: string[] },
  StoredRecords
>(
  'records_chunk_read',
  `select
     (select coalesce(jsonb_agg(jsonb_build_object(
               'pkey', e.pkey::text, 'entityId', e.entity_id, 'firstName', e.first_name,
               'lastName', e.last_name, 'email', e.email, 'phoneCountryCode', e.phone_country_code,
               'phoneNumber', e.phone_number, 'address', e.address, 'locale', e.locale,
               'countryCode', e.country_code, 'consent', e.consent)), '[]'::jsonb)
        from business_entity e
       where e.tenant = $tenant::text and e.entity_id = any($entity_ids::text[])) as entities,
     (select coalesce(jsonb_agg(jsonb_build_object(
               'kitNo', k.kit_no, 'entityPkey', k.business_entity_fkey::text,
               'panCiphertext', k.pan_ciphertext, 'panKeyId', k.pan_key_id,
               'expiryMonth', k.expiry_month, 'expiryYear', k.expiry_year,
               'nameOnCard', k.name_on_card)), '[]'::jsonb)
        from kit k
       where k.tenant = $tenant::text and k.kit_no = any($kit_nos::text[])) as kits`,
);

/** What a chunk writes in bulk; the groups (by index) left to write one record at a time. */
export interface ChunkPlan {
  readonly newEntities: readonly {
    readonly group: number;
    readonly entityId: string;
    readonly body: EntityBody;
  }[];
  readonly newKits: readonly {
    readonly group: number;
    readonly entityId: string;
    readonly kitNo: string;
    readonly card: KitBody;
  }[];
  readonly oneByOne: ReadonlySet<number>;
}

/**
 * Judges each group (the items of one entity, in item order) against what is stored. A group
 * goes one by one, whole and in order as before, when any of its records is not simply new or
 * unchanged: a customer or card that would change (also one created earlier in the group and
 * carried again with other values), a card of an unknown entity or of another entity (`putKit`
 * refuses it with its own error), a kitNo carried by two entities of the chunk (the first to
 * write it wins, as before), a card stored under an old key (a `PUT` moves it onto the current
 * one).
 */
export function planChunk(
  cipher: PanCipher,
  tenant: string,
  groups: readonly (readonly CarriedRecords[])[],
  stored: StoredRecords,
): ChunkPlan {
  const entities = new Map(stored.entities.map((entity) => [entity.entityId, entity]));
  const kits = new Map(stored.kits.map((kit) => [kit.kitNo, kit]));
  const groupsOfKit = new Map<string, Set<number>>();
  groups.forEach((group, index) => {
    for (const records of group)
      if (records.card !== undefined)
        groupsOfKit.set(records.kitNo, (groupsOfKit.get(records.kitNo) ?? new Set()).add(index));
  });
  const newEntities: ChunkPlan['newEntities'][number][] = [];
  const newKits: ChunkPlan['newKits'][number][] = [];
  const oneByOne = new Set<number>();

  groups.forEach((group, index) => {
    const entityId = group[0]?.entityId ?? '';
    const storedEntity = entities.get(entityId);
    let created: EntityBody | undefined;
    const createdCards = new Map<string, KitBody>();
    const simple = group.every(({ kitNo, customer, card }) => {
      if (customer !== undefined) {
        if (storedEntity !== undefined) {
          if (entityFieldsChangedBy(storedEntity, customer).length > 0) return false;
        } else if (created === undefined) created = customer;
        else if (!sameJson(created, customer)) return false;
      }
      if (card === undefined) return true;
      if ((storedEntity === undefined && created === undefined) || (groupsOfKit.get(kitNo)?.size ?? 0) > 1)
        return false;
      const earlier = createdCards.get(kitNo);
      if (earlier !== undefined) return sameJson(earlier, card);
      const kit = kits.get(kitNo);
      if (kit === undefined) {
        createdCards.set(kitNo, card);
        return true;
      }
      return (
        kit.entityPkey === storedEntity?.pkey &&
        kit.panKeyId === cipher.currentKeyId &&
        kitFieldsChangedBy(cipher, kit, { tenant, kitNo, body: card }).length === 0
      );
    });
    if (!simple) {
      oneByOne.add(index);
      return;
    }
    if (created !== undefined) newEntities.push({ group: index, entityId, body: created });
    for (const [kitNo, card] of createdCards) newKits.push({ group: index, entityId, kitNo, card });
  });
  return { newEntities, newKits, oneByOne };
}

/**
 * Writes a chunk's new customers and cards: one transaction, one statement to read what is
 * stored, one to insert the new customers, one to insert the new cards, so the chunk's bulk
 * writes commit together or not at all. A record another request created since the read
 * (`on conflict do nothing`, not returned) sends its group one by one: `putEntity`/`putKit` then
 * replace it or refuse it, as if the batch had come after that request. Returns the groups (by
 * index) that the caller writes one record at a time, in order, through `putEntity`/`putKit`.
 */
export async function putNewRecords(
  em: EntityManager,
  cipher: PanCipher,
  tenant: string,
  groups: readonly (readonly CarriedRecords[])[],
): Promise<ReadonlySet<number>> {
  const entityIds = [...new Set(groups.flatMap((group) => group.map((records) => records.entityId)))];
  const kitNos = [
    ...new Set(
      groups.flatMap((group) => group.flatMap(({ kitNo, card }) => (card === undefined ? [] : [kitNo]))),
    ),
  ];
  if (entityIds.length === 0) return new Set();
  return em.fork().transactional(async (tx) => {
    const [stored = { entities: [], kits: [] }] = await executeOnOrm(
      tx,
      readStoredRecords({ tenant, entity_ids: entityIds, kit_nos: kitNos }),
    );
    const plan = planChunk(cipher, tenant, groups, stored);
    const oneByOne = new Set(plan.oneByOne);
    const created = await insertNewEntities(tx, tenant, plan.newEntities);
    for (const entity of plan.newEntities) if (!created.has(entity.entityId)) oneByOne.add(entity.group);
    const pkeys = new Map([
      ...stored.entities.map((entity) => [entity.entityId, entity.pkey] as const),
      ...created,
    ]);
    const kits = plan.newKits.flatMap(({ group, entityId, kitNo, card }) => {
      const entityPkey = pkeys.get(entityId);
      return oneByOne.has(group) || entityPkey === undefined ? [] : [{ kitNo, entityPkey, card }];
    });
    const inserted = await insertNewKits(tx, cipher, tenant, kits);
    for (const kit of plan.newKits) if (!inserted.has(kit.kitNo)) oneByOne.add(kit.group);
    return oneByOne;
  });
}
