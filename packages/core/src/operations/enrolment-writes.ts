/**
 * Every write of `ctp_customer` and `ctp_payment` (the CTP enrolment of an entity and of its
 * kits): the fragments of a step's statement (see `operation-writes.ts`). A new payment of an
 * entity enrolled in the same step takes the customer inserted by `customer_new`.
 */

/** `$customers_new`: `{ tenant, entityId, customerId, status, entityPkey }`. */
export const INSERT_CUSTOMERS_CTE = `customer_new as (
  insert into ctp_customer (tenant, entity_id, "clickToPayCustomerId", ctp_entity_status, business_entity_fkey,
         version, created_at, updated_at)
  select r.tenant, r."entityId", r."customerId", r.status, r."entityPkey", 1, now(), now()
    from jsonb_to_recordset($customers_new::jsonb) as r(tenant text, "entityId" text, "customerId" text,
         status text, "entityPkey" bigint)
   where (select applied from ok)
  returning pkey, business_entity_fkey)`;

/*
 * The updates below find their rows by the keys of their set as an array (`= any(array(…))`). An
 * update joined to its set only on `pkey = r.pkey` was planned as a hash join over a sequential
 * scan of the whole table (the set is estimated at 100 rows, so below some 35,000 rows the scan
 * looks cheaper than 100 probes): every resolve read every customer and payment (`BENCHMARKS.md`,
 * fourth session). With the keys as an array the table is read through its primary key from a
 * few pages on (`apps/worker/test/enrolment-update-plan.test.ts`).
 */

/** `$customers_set`: `{ pkey, status, customerId }`. */
export const UPDATE_CUSTOMERS_CTE = `customer_set as (
  update ctp_customer c set ctp_entity_status = r.status, "clickToPayCustomerId" = r."customerId",
         updated_at = now(), version = c.version + 1
    from jsonb_to_recordset($customers_set::jsonb) as r(pkey bigint, status text, "customerId" text)
   where c.pkey = any(array(select (e.value->>'pkey')::bigint from jsonb_array_elements($customers_set::jsonb) e))
     and c.pkey = r.pkey and (select applied from ok))`;

/**
 * `$payments_new`: `{ tenant, instrumentId, status, customerPkey, entityPkey, kitPkey }`; a null
 * `customerPkey` is the customer `customer_new` inserts for the entity `entityPkey` (the sets may
 * hold several steps' rows: `mergeSets`).
 */
export const INSERT_PAYMENTS_CTE = `payment_new as (
  insert into ctp_payment (tenant, "clickToPayPaymentInstumentId", ctp_kit_status, ctcustomer_pkey, kit_pkey,
         version, created_at, updated_at)
  select r.tenant, r."instrumentId", r.status,
         coalesce(r."customerPkey",
                  (select c.pkey from customer_new c where c.business_entity_fkey = r."entityPkey")),
         r."kitPkey", 1, now(), now()
    from jsonb_to_recordset($payments_new::jsonb) as r(tenant text, "instrumentId" text, status text,
         "customerPkey" bigint, "entityPkey" bigint, "kitPkey" bigint)
   where (select applied from ok))`;

/** `$payments_set`: `{ pkey, status, instrumentId }`. */
export const UPDATE_PAYMENTS_CTE = `payment_set as (
  update ctp_payment p set ctp_kit_status = r.status, "clickToPayPaymentInstumentId" = r."instrumentId",
         updated_at = now(), version = p.version + 1
    from jsonb_to_recordset($payments_set::jsonb) as r(pkey bigint, status text, "instrumentId" text)
   where p.pkey = any(array(select (e.value->>'pkey')::bigint from jsonb_array_elements($payments_set::jsonb) e))
     and p.pkey = r.pkey and (select applied from ok))`;
