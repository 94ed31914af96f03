import { describe, expect, it } from 'vitest';
import { DEFAULT_DATABASE_URL, readDatabaseUrl } from './database-url.ts';

describe('readDatabaseUrl', () => {
  it('defaults to the local database', () => {
    expect(readDatabaseUrl({})).toBe(DEFAULT_DATABASE_URL);
  });

  it('takes DATABASE_URL when it is a PostgreSQL URL', () => {
    expect(readDatabaseUrl({ DATABASE_URL: 'postgres://u@db:5432/x' })).toBe('postgres://u@db:5432/x');
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => readDatabaseUrl({ DATABASE_URL: 'mysql://u@db/x' })).toThrow(/DATABASE_URL/);
    expect(() => readDatabaseUrl({ DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL/);
  });
});
