import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnNames, foreignKeys, indexDefinition, tableNames } from './catalog.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

// The seed's "Database Model", as the platform contract fixes it: names, case included.
const SEED_COLUMNS = {
  ctp_customer: ['pkey', 'entity_id', 'clickToPayCustomerId', 'ctp_entity_status', 'business_entity_fkey'],
  ctp_payment: ['pkey', 'clickToPayPaymentInstumentId', 'ctp_kit_status', 'ctcustomer_pkey', 'kit_pkey'],
  ctp_requestIdTracking: ['pkey', 'request_trace_ID', 'entity_id', 'kit_number', 'event', 'status_ctp'],
} as const;

const SEED_FOREIGN_KEYS = [
  {
    table: 'ctp_customer',
    column: 'business_entity_fkey',
    referencedTable: 'business_entity',
    referencedColumn: 'pkey',
  },
  {
    table: 'ctp_payment',
    column: 'ctcustomer_pkey',
    referencedTable: 'ctp_customer',
    referencedColumn: 'pkey',
  },
  { table: 'ctp_payment', column: 'kit_pkey', referencedTable: 'kit', referencedColumn: 'pkey' },
];

const SEED_INDEXES = [
  { name: 'idx_ctp_customer_business_entity_fkey', table: 'ctp_customer', columns: ['business_entity_fkey'] },
  { name: 'idx_ctp_payment_kit', table: 'ctp_payment', columns: ['kit_pkey'] },
  { name: 'idx_ctp_requestIdTracking', table: 'ctp_requestIdTracking', columns: ['request_trace_ID'] },
];

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

describe('the seed database model after migrating up', () => {
  it('has the seed tables and the platform tables they hang off', async () => {
    expect(await tableNames(db.orm)).toEqual(
      expect.arrayContaining([...Object.keys(SEED_COLUMNS), 'business_entity', 'kit']),
    );
  });

  it.each(Object.entries(SEED_COLUMNS))('%s has the seed columns, exact case', async (table, columns) => {
    expect(await columnNames(db.orm, table)).toEqual(expect.arrayContaining([...columns]));
  });

  it('has the seed foreign keys', async () => {
    expect(await foreignKeys(db.orm)).toEqual(expect.arrayContaining(SEED_FOREIGN_KEYS));
  });

  it.each(SEED_INDEXES)('has index $name on $table($columns)', async ({ name, table, columns }) => {
    // Unique: both relations are one-to-one and a trace id names one request.
    expect(await indexDefinition(db.orm, name)).toEqual({ table, columns, unique: true, predicate: null });
  });
});
