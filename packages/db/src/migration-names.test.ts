import { readdir } from 'node:fs/promises';
import { findPans } from '@ctp/core/cards';
import { describe, expect, it } from 'vitest';
import { migrationsPath } from './config.ts';

// A migration's name is stored in `mikro_orm_migrations` and printed by `pnpm db:migrate`. Its
// 14-digit timestamp is Luhn-valid one time in ten, and then `ctp security scan-pans` rightly
// reports it as a card number (the scan cannot know the digits are a date). Pick another second.
describe('migration file names', () => {
  it('carry no digit run that reads as a card number', async () => {
    const names = (await readdir(migrationsPath)).filter((file) => file.startsWith('Migration'));
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((name) => findPans(name).length > 0)).toEqual([]);
  });
});
