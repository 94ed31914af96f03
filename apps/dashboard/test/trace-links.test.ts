import { requestOperation } from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEntity } from '../../worker/test/fixtures.ts';
import { buildDashboard, type TestDashboard } from './helpers.ts';

// With TRACING_UI_URL set, the console links each traced operation to its trace (Jaeger's
// `/trace/{traceId}`), on the entity page and in the overview's in-flight list.

const TENANT = 'ENBDTABBY';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
let db: TestDatabase;
const dashboards: TestDashboard[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await seedEntity(db.orm, TENANT, 'e-traced', ['k-traced']);
  await seedEntity(db.orm, TENANT, 'e-untraced', ['k-untraced']);
  await requestOperation(db.orm.em, {
    tenant: TENANT,
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    entityId: 'e-traced',
    kitNo: 'k-traced',
    traceparent: TRACEPARENT,
  });
  await requestOperation(db.orm.em, {
    tenant: TENANT,
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    entityId: 'e-untraced',
    kitNo: 'k-untraced',
  });
});

afterAll(async () => {
  for (const dashboard of dashboards) await dashboard.close();
  await db?.drop();
});

async function page(path: string, tracingUiUrl?: string): Promise<string> {
  const dashboard = buildDashboard(db.orm, tracingUiUrl === undefined ? {} : { tracingUiUrl });
  dashboards.push(dashboard);
  const cookie = await dashboard.login();
  const answer = await dashboard.app.request(path, { headers: { cookie } });
  expect(answer.status).toBe(200);
  return answer.text();
}

const traceLinks = (html: string) => [...html.matchAll(/<a class="trace" href="([^"]+)"/g)].map((m) => m[1]);

describe('trace links', () => {
  it('link a traced operation to its trace in the tracing UI', async () => {
    const ui = 'http://localhost:16686/trace/{traceId}';
    expect(traceLinks(await page(`/entities/${TENANT}/e-traced`, ui))).toEqual([
      `http://localhost:16686/trace/${TRACE_ID}`,
    ]);
    expect(traceLinks(await page('/', ui))).toEqual([`http://localhost:16686/trace/${TRACE_ID}`]);
  });

  it('show none for an operation without a trace, or without TRACING_UI_URL', async () => {
    expect(
      traceLinks(await page(`/entities/${TENANT}/e-untraced`, 'http://localhost:16686/trace/{traceId}')),
    ).toEqual([]);
    expect(traceLinks(await page(`/entities/${TENANT}/e-traced`))).toEqual([]);
  });
});
