import { p } from '@mikro-orm/core';

/**
 * Column builders every table repeats. Builders are immutable, so sharing one instance
 * between entities is safe.
 */

/** The business a row belongs to; every query filters on it (tenant isolation). */
export const tenantColumn = p.string().length(64);

/** The platform's identifiers (entityId, kitNo) as clients send them. */
export const externalIdColumn = p.string().length(64);

/** Optimistic lock: a concurrent writer's flush fails instead of silently overwriting. */
export const versionColumn = p.integer().version();

/**
 * `onCreate` gives the entity its value before the row exists; the database default covers
 * rows written with plain SQL.
 */
export const createdAtColumn = p
  .datetime()
  .defaultRaw('now()')
  .onCreate(() => new Date());

export const updatedAtColumn = p
  .datetime()
  .defaultRaw('now()')
  .onCreate(() => new Date())
  .onUpdate(() => new Date());

/** bigint keys as strings: exact beyond 2^53 and JSON-serialisable, as `pg` returns int8. */
export const bigintPrimaryKey = p.bigint('string').primary().autoincrement();
