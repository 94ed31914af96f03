import { Routine } from '@mikro-orm/core';

/**
 * `ctp_guard(applied)`: true, or the statement fails with SQLSTATE `CTPLR` (a lost race). The
 * lifecycle steps' guarded writes end with it (`StepWrites`): a step whose guarded rows were moved
 * by another writer must abort its transaction, not only write nothing, because its other
 * statements, and in a shared transaction its neighbours' writes, go out in the same round trip as
 * the commit. Declared here so the schema comparison knows it; created by a migration.
 */
export const ctpGuard = new Routine({
  name: 'ctp_guard',
  type: 'function',
  language: 'plpgsql',
  deterministic: false,
  params: { applied: { type: 'boolean' } },
  returns: { runtimeType: 'boolean', columnType: 'boolean' },
  body: `begin
  if not applied then
    raise exception 'a guarded write found its rows changed by another writer; nothing was written'
      using errcode = 'CTPLR';
  end if;
  return true;
end`,
});

/** Every routine, for the ORM's `routines` option. */
export const allRoutines = [ctpGuard];
