import { Migration } from '@mikro-orm/migrations';

export class Migration20261125000149_initial extends Migration {
  override name = 'Migration20261125000149_initial';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "business_entity" ("pkey" bigserial primary key, "tenant" varchar(64) not null, "entity_id" varchar(64) not null, "first_name" varchar(255) not null, "last_name" varchar(255) not null, "email" varchar(255) not null, "phone_country_code" varchar(8) not null, "phone_number" varchar(32) not null, "address" jsonb not null, "locale" varchar(35) not null, "country_code" varchar(2) not null, "consent" jsonb null, "version" int not null default 1, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "business_entity" add constraint "uq_business_entity_tenant_entity_id" unique ("tenant", "entity_id");`,
    );

    this.addSql(
      `create table "ctp_customer" ("pkey" bigserial primary key, "tenant" varchar(64) not null, "entity_id" varchar(64) not null, "clickToPayCustomerId" varchar(255) null, "ctp_entity_status" text not null, "business_entity_fkey" bigint not null, "version" int not null default 1, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "ctp_customer" add constraint "idx_ctp_customer_business_entity_fkey" unique ("business_entity_fkey");`,
    );
    this.addSql(
      `alter table "ctp_customer" add constraint "uq_ctp_customer_tenant_entity_id" unique ("tenant", "entity_id");`,
    );

    this.addSql(
      `create table "ctp_operation" ("id" uuid not null, "tenant" varchar(64) not null, "event" text not null, "entity_id" varchar(64) not null, "kit_number" varchar(64) null, "status" text not null default 'QUEUED', "attempts" int not null default 0, "error_code" varchar(64) null, "error_message" text null, "error_details" text null, "idempotency_key" varchar(255) null, "request_hash" varchar(64) null, "request_trace_id" varchar(255) null, "status_before" jsonb null, "reason" text null, "version" int not null default 1, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "completed_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `create index "idx_ctp_operation_tenant_entity_id" on "ctp_operation" ("tenant", "entity_id");`,
    );
    this.addSql(
      `alter table "ctp_operation" add constraint "uq_ctp_operation_tenant_idempotency_key" unique ("tenant", "idempotency_key");`,
    );
    this.addSql(
      `create unique index "uq_ctp_operation_in_flight" on "ctp_operation" ("tenant", "entity_id") where "status" in ('QUEUED', 'IN_PROGRESS');`,
    );

    this.addSql(
      `create table "ctp_outbox" ("id" bigserial primary key, "tenant" varchar(64) not null, "kind" text not null, "topic" varchar(128) not null, "operation_id" uuid null, "dedupe_key" varchar(255) not null, "payload" jsonb not null, "attempts" int not null default 0, "last_error" text null, "available_at" timestamptz not null default now(), "published_at" timestamptz null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(`alter table "ctp_outbox" add constraint "uq_ctp_outbox_dedupe_key" unique ("dedupe_key");`);
    this.addSql(
      `create index "idx_ctp_outbox_unpublished" on "ctp_outbox" ("id") where "published_at" is null;`,
    );

    this.addSql(
      `create table "ctp_requestIdTracking" ("pkey" bigserial primary key, "tenant" varchar(64) not null, "request_trace_ID" varchar(128) not null, "entity_id" varchar(64) not null, "kit_number" varchar(64) null, "event" text not null, "status_ctp" text not null, "operation_id" uuid not null, "error_code" varchar(64) null, "error_message" text null, "error_details" text null, "poll_attempts" int not null default 0, "next_poll_at" timestamptz null, "resolved_at" timestamptz null, "version" int not null default 1, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "ctp_requestIdTracking" add constraint "idx_ctp_requestIdTracking" unique ("request_trace_ID");`,
    );
    this.addSql(
      `alter table "ctp_requestIdTracking" add constraint "uq_ctp_request_id_tracking_operation_id" unique ("operation_id");`,
    );
    this.addSql(
      `create index "idx_ctp_request_id_tracking_due" on "ctp_requestIdTracking" ("next_poll_at") where "status_ctp" = 'IN_PROGRESS';`,
    );

    this.addSql(
      `create table "ctp_webhook_inbox" ("webhook_id" varchar(255) not null, "tenant" varchar(64) not null, "type" varchar(128) not null, "payload" jsonb not null, "received_at" timestamptz not null default now(), "processed_at" timestamptz null, "attempts" int not null default 0, "last_error" text null, primary key ("webhook_id"));`,
    );

    this.addSql(
      `create table "kit" ("pkey" bigserial primary key, "tenant" varchar(64) not null, "kit_no" varchar(64) not null, "business_entity_fkey" bigint not null, "pan_ciphertext" text not null, "pan_key_id" varchar(64) not null, "pan_first6" char(6) not null, "pan_last4" char(4) not null, "expiry_month" smallint not null, "expiry_year" smallint not null, "name_on_card" varchar(255) not null, "version" int not null default 1, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(`create index "idx_kit_business_entity_fkey" on "kit" ("business_entity_fkey");`);
    this.addSql(`alter table "kit" add constraint "uq_kit_tenant_kit_no" unique ("tenant", "kit_no");`);

    this.addSql(
      `create table "ctp_payment" ("pkey" bigserial primary key, "tenant" varchar(64) not null, "clickToPayPaymentInstumentId" varchar(255) null, "ctp_kit_status" text not null, "ctcustomer_pkey" bigint not null, "kit_pkey" bigint not null, "version" int not null default 1, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now());`,
    );
    this.addSql(`create index "idx_ctp_payment_ctcustomer_pkey" on "ctp_payment" ("ctcustomer_pkey");`);
    this.addSql(`alter table "ctp_payment" add constraint "idx_ctp_payment_kit" unique ("kit_pkey");`);

    this.addSql(
      `alter table "ctp_customer" add constraint "fk_ctp_customer_business_entity" foreign key ("business_entity_fkey") references "business_entity" ("pkey");`,
    );
    this.addSql(
      `alter table "ctp_customer" add constraint "ctp_customer_ctp_entity_status_check" check ("ctp_entity_status" in ('UNREGISTERED', 'REGISTRATION_IN_PROGRESS', 'ACTIVE', 'REMOVAL_IN_PROGRESS', 'REMOVED', 'DISABLED'));`,
    );

    this.addSql(
      `alter table "ctp_operation" add constraint "ctp_operation_event_check" check ("event" in ('CTP_REGISTER_ENTITY_AND_KIT', 'CTP_ADD_KIT', 'CTP_REMOVE_ENTITY', 'CTP_REMOVE_KIT', 'CTP_UPDATE_ENTITY', 'CTP_UPDATE_KIT'));`,
    );
    this.addSql(
      `alter table "ctp_operation" add constraint "ctp_operation_status_check" check ("status" in ('QUEUED', 'IN_PROGRESS', 'SUCCESS', 'FAILED'));`,
    );

    this.addSql(
      `alter table "ctp_outbox" add constraint "ctp_outbox_kind_check" check ("kind" in ('job', 'notification'));`,
    );

    this.addSql(
      `alter table "ctp_requestIdTracking" add constraint "fk_ctp_request_id_tracking_operation" foreign key ("operation_id") references "ctp_operation" ("id");`,
    );
    this.addSql(
      `alter table "ctp_requestIdTracking" add constraint "ctp_requestIdTracking_event_check" check ("event" in ('CTP_REGISTER_ENTITY_AND_KIT', 'CTP_ADD_KIT', 'CTP_REMOVE_ENTITY', 'CTP_REMOVE_KIT', 'CTP_UPDATE_ENTITY', 'CTP_UPDATE_KIT'));`,
    );
    this.addSql(
      `alter table "ctp_requestIdTracking" add constraint "ctp_requestIdTracking_status_ctp_check" check ("status_ctp" in ('IN_PROGRESS', 'SUCCESS', 'FAILED'));`,
    );

    this.addSql(
      `alter table "kit" add constraint "fk_kit_business_entity" foreign key ("business_entity_fkey") references "business_entity" ("pkey");`,
    );

    this.addSql(
      `alter table "ctp_payment" add constraint "fk_ctp_payment_ctp_customer" foreign key ("ctcustomer_pkey") references "ctp_customer" ("pkey");`,
    );
    this.addSql(
      `alter table "ctp_payment" add constraint "fk_ctp_payment_kit" foreign key ("kit_pkey") references "kit" ("pkey");`,
    );
    this.addSql(
      `alter table "ctp_payment" add constraint "ctp_payment_ctp_kit_status_check" check ("ctp_kit_status" in ('UNREGISTERED', 'REGISTRATION_IN_PROGRESS', 'ACTIVE', 'REMOVAL_IN_PROGRESS', 'REMOVED', 'DISABLED'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "ctp_customer" drop constraint "fk_ctp_customer_business_entity";`);
    this.addSql(`alter table "kit" drop constraint "fk_kit_business_entity";`);
    this.addSql(`alter table "ctp_payment" drop constraint "fk_ctp_payment_ctp_customer";`);
    this.addSql(
      `alter table "ctp_requestIdTracking" drop constraint "fk_ctp_request_id_tracking_operation";`,
    );
    this.addSql(`alter table "ctp_payment" drop constraint "fk_ctp_payment_kit";`);

    this.addSql(`drop table if exists "business_entity" cascade;`);
    this.addSql(`drop table if exists "ctp_customer" cascade;`);
    this.addSql(`drop table if exists "ctp_operation" cascade;`);
    this.addSql(`drop table if exists "ctp_outbox" cascade;`);
    this.addSql(`drop table if exists "ctp_requestIdTracking" cascade;`);
    this.addSql(`drop table if exists "ctp_webhook_inbox" cascade;`);
    this.addSql(`drop table if exists "kit" cascade;`);
    this.addSql(`drop table if exists "ctp_payment" cascade;`);
  }
}
