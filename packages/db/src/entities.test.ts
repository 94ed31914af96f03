import { randomUUID } from 'node:crypto';
import {
  BusinessEntity,
  CtpCustomer,
  CtpOperation,
  CtpPayment,
  CtpRequestIdTracking,
  Kit,
} from '@ctp/core/entities';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './testing.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

async function persistEnrolledCard(entityId: string, kitNo: string): Promise<void> {
  const em = db.orm.em.fork();
  const businessEntity = em.create(BusinessEntity, {
    tenant: 'TENANT',
    entityId,
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: 'ada@example.com',
    phoneCountryCode: '971',
    phoneNumber: '500000000',
    address: { line1: '1 Main St', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
    locale: 'en-AE',
    countryCode: 'AE',
  });
  const kit = em.create(Kit, {
    tenant: 'TENANT',
    kitNo,
    businessEntity,
    panCiphertext: 'ciphertext',
    panKeyId: 'key-1',
    panFirst6: '411111',
    panLast4: '1111',
    expiryMonth: 12,
    expiryYear: 2030,
    nameOnCard: 'ADA LOVELACE',
  });
  const ctpCustomer = em.create(CtpCustomer, {
    tenant: 'TENANT',
    entityId,
    ctpEntityStatus: 'REGISTRATION_IN_PROGRESS',
    businessEntity,
  });
  em.create(CtpPayment, { tenant: 'TENANT', ctpKitStatus: 'REGISTRATION_IN_PROGRESS', ctpCustomer, kit });
  const operation = em.create(CtpOperation, {
    id: randomUUID(),
    tenant: 'TENANT',
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    entityId,
    kitNumber: kitNo,
    statusBefore: {
      before: { entity: 'UNREGISTERED', kits: { [kitNo]: 'UNREGISTERED' } },
      pending: { entity: 'REGISTRATION_IN_PROGRESS', kits: { [kitNo]: 'REGISTRATION_IN_PROGRESS' } },
    },
  });
  em.create(CtpRequestIdTracking, {
    tenant: 'TENANT',
    requestTraceId: randomUUID(),
    entityId,
    kitNumber: kitNo,
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    statusCtp: 'IN_PROGRESS',
    operation,
  });
  await em.flush();
}

describe('entities', () => {
  it('round-trip a registration in flight through the ORM', async () => {
    await persistEnrolledCard('entity-round-trip', 'kit-round-trip');
    const em = db.orm.em.fork();

    const payment = await em.findOneOrFail(
      CtpPayment,
      { kit: { kitNo: 'kit-round-trip' } },
      { populate: ['kit', 'ctpCustomer.businessEntity'] },
    );
    expect(payment.ctpKitStatus).toBe('REGISTRATION_IN_PROGRESS');
    expect(payment.kit.getEntity().panLast4).toBe('1111');
    expect(payment.ctpCustomer.getEntity().businessEntity.getEntity().address.city).toBe('Dubai');
    expect(typeof payment.pkey).toBe('string');

    const operation = await em.findOneOrFail(CtpOperation, { entityId: 'entity-round-trip' });
    expect(operation).toMatchObject({ status: 'QUEUED', attempts: 0, version: 1 });
    expect(operation.statusBefore?.before.kits['kit-round-trip']).toBe('UNREGISTERED');
  });

  it('bump the version and updated_at on every change', async () => {
    await persistEnrolledCard('entity-versioned', 'kit-versioned');
    const em = db.orm.em.fork();
    const customer = await em.findOneOrFail(CtpCustomer, { entityId: 'entity-versioned' });
    const { updatedAt } = customer;

    customer.ctpEntityStatus = 'ACTIVE';
    customer.clickToPayCustomerId = 'visa-consumer-1';
    await em.flush();

    expect(customer.version).toBe(2);
    expect(customer.updatedAt.getTime()).toBeGreaterThanOrEqual(updatedAt.getTime());
  });
});
