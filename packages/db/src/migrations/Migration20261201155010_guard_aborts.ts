import { Migration } from '@mikro-orm/migrations';

/**
 * A guarded write that finds its rows moved by another writer must abort its transaction, not
 * only write nothing: its step's other statements, and in a shared transaction its neighbours'
 * writes, go out in the same round trip as the commit, so a flag read after the commit came too
 * late (the commit had already kept the rest). `ctp_guard(false)` raises SQLSTATE `CTPLR`, which
 * `SqlSession` turns into `LostRace` and runs the step again from a fresh read.
 */
export class Migration20261201155010_guard_aborts extends Migration {
  override name = 'Migration20261201155010_guard_aborts';

  override up(): void | Promise<void> {
    this.addSql(`create function ctp_guard(applied boolean) returns boolean language plpgsql volatile as $$
begin
  if not applied then
    raise exception 'a guarded write found its rows changed by another writer; nothing was written'
      using errcode = 'CTPLR';
  end if;
  return true;
end
$$;`);
  }

  override down(): void | Promise<void> {
    this.addSql('drop function ctp_guard(boolean);');
  }
}
