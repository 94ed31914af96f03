import { loadConfig } from '@ctp/core/config';
import { createRedis } from '@ctp/core/queues';
import { serve } from '@hono/node-server';
import { Queue, Worker } from 'bullmq';
import { Hono } from 'hono';
import pg from 'pg';
import { Pool } from 'undici';

/**
 * The naive baseline (`bench/naive.ts` starts it): the exchanges of one registration in the real
 * pipeline (client → api, a BullMQ job, the SaaS call, its webhook, a stream entry) with the
 * fewest statements that can carry them. `node naive-app.ts api` takes registrations and
 * webhooks, `node naive-app.ts worker` calls the SaaS. No outbox, no locks, no validation, no
 * idempotency, no signature check, no job retries, no encryption of the card number: a floor to
 * measure against, not a design to copy.
 */

const config = loadConfig(process.env);
const db = new pg.Pool({ connectionString: config.DATABASE_URL });
const redis = createRedis(config.REDIS_URL);
const tenant = config.SAAS_SIM_TENANTS[0] ?? '';
const QUEUE = 'naive-register';
const serveReady = (app: Hono, port: number) => {
  app.get('/readyz', (c) => c.text('ok'));
  serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
};

if (process.argv[2] === 'api') {
  const queue = new Queue(QUEUE, {
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    defaultJobOptions: { removeOnComplete: true },
  });
  const app = new Hono();
  app.post('/naive/registration', async (c) => {
    const { customerId, cardId } = await c.req.json<{ customerId: string; cardId: string }>();
    const { rows } = await db.query<{ id: string }>(
      'insert into naive_operation (customer_id, card_id) values ($1, $2) returning id',
      [customerId, cardId],
    );
    const operationId = rows[0]?.id;
    await queue.add('register', { operationId });
    return c.json({ operationId }, 202);
  });
  app.post('/naive/webhook', async (c) => {
    const { type, data } = await c.req.json();
    if (type !== 'request.completed') return c.body(null, 204);
    // The webhook may beat the worker's UPDATE of the trace id: look again for a short while.
    for (let attempt = 0; attempt < 400; attempt++) {
      const { rows } = await db.query<{ id: string }>(
        `update naive_operation set status = $2, ctp_customer_id = $3, ctp_instrument_id = $4, updated_at = now()
         where trace_id = $1 returning id`,
        [data.requestTraceId, data.status, data.clickToPayCustomerId, data.clickToPayPaymentInstrumentId],
      );
      const operationId = rows[0]?.id;
      if (operationId !== undefined) {
        const payload = { operationId, event: 'CTP_REGISTER_ENTITY_AND_KIT', status: data.status };
        await redis.xadd(
          config.NOTIFICATION_STREAM,
          '*',
          'notificationId',
          operationId,
          'payload',
          JSON.stringify(payload),
        );
        return c.body(null, 204);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return c.body(null, 503); // the simulator delivers it again later
  });
  serveReady(app, config.API_PORT);
} else {
  const saas = new Pool(config.CTP_SAAS_BASE_URL, { connections: 32 });
  new Worker(
    QUEUE,
    async (job) => {
      const { rows } = await db.query(
        `select c.*, k.id as card_id, k.pan, k.exp_month, k.exp_year, k.name_on_card
         from naive_operation o join naive_customer c on c.id = o.customer_id join naive_card k on k.id = o.card_id
         where o.id = $1`,
        [job.data.operationId],
      );
      const r = rows[0];
      const address = {
        line1: r.line1,
        city: r.city,
        postalCode: r.postal_code,
        countryCode: r.country_code,
      };
      const body = {
        consumer: {
          externalConsumerId: r.id,
          firstName: r.first_name,
          lastName: r.last_name,
          emails: [r.email],
          phones: [{ countryCode: r.phone_country, number: r.phone_number }],
          locale: r.locale,
          countryCode: r.country_code,
        },
        paymentInstrument: {
          externalInstrumentId: r.card_id,
          accountNumber: r.pan,
          expirationDate: { month: r.exp_month, year: r.exp_year },
          nameOnCard: r.name_on_card,
          billingAddress: address,
        },
      };
      const response = await saas.request({
        method: 'POST',
        path: '/addCustomerAndPaymentInstrument',
        headers: {
          authorization: `Bearer ${config.CTP_SAAS_API_KEY}`,
          'x-tenant-id': tenant,
          'idempotency-key': job.data.operationId,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
      const accepted = (await response.body.json()) as { requestTraceId: string };
      if (response.statusCode !== 202) throw new Error(`SaaS answered ${response.statusCode}`);
      await db.query(
        `update naive_operation set trace_id = $2, status = 'IN_PROGRESS', updated_at = now() where id = $1`,
        [job.data.operationId, accepted.requestTraceId],
      );
    },
    { connection: redis, prefix: config.QUEUE_PREFIX, concurrency: config.WORKER_CONCURRENCY },
  );
  serveReady(new Hono(), config.WORKER_PORT);
}
