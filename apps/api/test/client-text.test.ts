import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CallOptions,
  DEV_KEYS,
  dumpRecords,
  ENBD,
  entityBody,
  errorOf,
  kitBody,
  MASTERCARD,
  startTestApi,
  type TestApi,
  VISA,
} from './helpers.ts';

// Every text a client can write, on every route: a NUL byte, a lone surrogate or a card number
// in it is refused with 400 VALIDATION_FAILED naming the field, and nothing is written. Before,
// a NUL answered 503 (PostgreSQL's 08P01, read as an outage: clients retried forever) or 500
// (22P05 in jsonb), a lone surrogate was stored altered, and a card number in a name, an
// address, a key or an id was stored in the clear and echoed back.

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
  await api.call('PUT', '/v1/entities/ct-e', { json: entityBody() });
  await api.call('PUT', '/v1/entities/ct-e/kits/ct-k', { json: kitBody() });
});
afterAll(async () => {
  await api?.close();
});

/** The hostile values, each as the whole value and inside a plausible one. */
const HOSTILE = {
  NUL: (plain: string) => `${plain.slice(0, 1)}\u0000${plain.slice(1)}`,
  'lone surrogate': (plain: string) => `${plain.slice(0, 1)}\ud800${plain.slice(1)}`,
  'card number': () => VISA,
  'grouped card number': (plain: string) => `${plain.slice(0, 1)} 5555 5555 5555 4444`,
} as const;

/** Sets `value` at the dotted `path` of a copy of `body`. */
function withField(body: Record<string, unknown>, path: string, value: string): Record<string, unknown> {
  const copy = structuredClone(body);
  const parts = path.split('.');
  let node = copy;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts.at(-1) as string] = value;
  return copy;
}

const consent = { accepted: true, version: 'v1', acceptedAt: '2026-01-02T03:04:05Z' };
const fullEntity = entityBody({
  consent,
  address: {
    line1: '1 Sheikh Zayed Rd',
    line2: 'Tower 2',
    city: 'Dubai',
    state: 'DU',
    postalCode: '00000',
    countryCode: 'AE',
  },
});

/** Every string field of every body: route, the valid body, the field's dotted path. */
const BODY_FIELDS: readonly (readonly [string, string, Record<string, unknown>, string])[] = [
  ...[
    'firstName',
    'lastName',
    'email',
    'phone.countryCode',
    'phone.number',
    'address.line1',
    'address.line2',
    'address.city',
    'address.state',
    'address.postalCode',
    'address.countryCode',
    'locale',
    'countryCode',
    'consent.version',
    'consent.acceptedAt',
  ].flatMap((field) => [
    ['PUT', '/v1/entities/ct-new', fullEntity, field] as const,
    [
      'PATCH',
      '/v1/entities/ct-e',
      field.includes('.')
        ? { [field.split('.')[0] as string]: fullEntity[field.split('.')[0] as string] }
        : { [field]: fullEntity[field] },
      field,
    ] as const,
  ]),
  ...['nameOnCard', 'expiry.month', 'expiry.year'].flatMap((field) => [
    ['PUT', '/v1/entities/ct-e/kits/ct-k-new', kitBody(), field] as const,
    ['PUT', '/v1/entities/ct-e/kits/ct-k', kitBody({ pan: MASTERCARD }), field] as const,
  ]),
  ['POST', '/v1/ctp/entities/ct-e/registration', { kitNo: 'ct-k' }, 'kitNo'],
  ['POST', '/v1/ctp/entities/ct-e/kits', { kitNo: 'ct-k' }, 'kitNo'],
];

interface Case {
  readonly method: string;
  readonly path: string;
  readonly options: CallOptions;
  readonly field: string;
}

const BODY_CASES: [string, Case][] = BODY_FIELDS.flatMap(([method, path, body, field]) =>
  Object.entries(HOSTILE).map(([what, make]): [string, Case] => {
    const plain = field
      .split('.')
      .reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], body);
    return [
      `${method} ${path} ${field}: ${what}`,
      { method, path, options: { json: withField(body, field, make(String(plain))) }, field },
    ];
  }),
);

/**
 * Path parameters, raw in the URL: a NUL, a card number. (A URL cannot carry a lone surrogate:
 * its UTF-8 bytes do not decode, and the parameter stays the undecoded text.)
 */
const PATH_VALUES = {
  NUL: 'ct%00e',
  'card number': VISA,
  'grouped card number': '4111-1111-1111-1111',
} as const;

const ROUTES_WITH_IDS: readonly (readonly [string, string, CallOptions])[] = [
  ['PUT', '/v1/entities/{e}', { json: entityBody() }],
  ['PATCH', '/v1/entities/{e}', { json: { firstName: 'A' } }],
  ['GET', '/v1/entities/{e}', {}],
  ['PUT', '/v1/entities/{e}/kits/{k}', { json: kitBody() }],
  ['GET', '/v1/entities/{e}/kits/{k}', {}],
  ['POST', '/v1/ctp/entities/{e}/registration', { json: { kitNo: 'ct-k' } }],
  ['POST', '/v1/ctp/entities/{e}/kits', { json: { kitNo: 'ct-k' } }],
  ['DELETE', '/v1/ctp/entities/{e}', {}],
  ['DELETE', '/v1/ctp/entities/{e}/kits/{k}', {}],
  ['POST', '/v1/ctp/entities/{e}/sync', {}],
  ['POST', '/v1/ctp/entities/{e}/kits/{k}/sync', {}],
  ['GET', '/v1/ctp/entities/{e}', {}],
  ['GET', '/v1/ctp/entities/{e}/network', {}],
  ['GET', '/v1/ctp/traces/{t}', {}],
];

const PATH_CASES: [string, Case][] = ROUTES_WITH_IDS.flatMap(([method, template, options]) =>
  (['e', 'k', 't'] as const)
    .filter((id) => template.includes(`{${id}}`))
    .flatMap((id) =>
      Object.entries(PATH_VALUES).map(([what, value]): [string, Case] => {
        const path = template
          .replace('{e}', id === 'e' ? value : 'ct-e')
          .replace('{k}', id === 'k' ? value : 'ct-k')
          .replace('{t}', value);
        const field = { e: 'entityId', k: 'kitNo', t: 'requestTraceId' }[id];
        return [`${method} ${template} ${field}: ${what}`, { method, path, options, field }];
      }),
    ),
);

/** `Idempotency-Key` on every route that takes one (fetch itself refuses to send a NUL in a header). */
const KEY_CASES: [string, Case][] = ROUTES_WITH_IDS.filter(([, template]) => template.startsWith('/v1/ctp/'))
  .filter(([method]) => method !== 'GET')
  .flatMap(([method, template, options]) =>
    [VISA, `key-${MASTERCARD}`].map((key): [string, Case] => [
      `${method} ${template} Idempotency-Key: card number ${key.length}`,
      {
        method,
        path: template.replace('{e}', 'ct-e').replace('{k}', 'ct-k'),
        options: { ...options, headers: { 'idempotency-key': key } },
        field: 'idempotency-key',
      },
    ]),
  );

describe('client text', () => {
  it.each([...BODY_CASES, ...PATH_CASES, ...KEY_CASES])(
    '%s: 400 naming the field, nothing written',
    async (_, { method, path, options, field }) => {
      const before = await dumpRecords(api.db);
      const answer = await api.call(method, path, options);
      expect(answer.status, answer.text).toBe(400);
      const error = errorOf(answer);
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.fields).toContain(field);
      expect(await dumpRecords(api.db)).toBe(before);
    },
  );

  it('a NUL in a header never reaches the api: the HTTP parser refuses the request (400), nothing written', async () => {
    const before = await dumpRecords(api.db);
    const { hostname, port } = new URL(api.baseUrl);
    const head = [
      'POST /v1/ctp/entities/ct-e/sync HTTP/1.1',
      `Host: ${hostname}:${port}`,
      `Authorization: Bearer ${DEV_KEYS[ENBD]}`,
      'Idempotency-Key: key\u0000nul',
      'Content-Length: 0',
      'Connection: close',
    ];
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(Number(port), hostname, () => socket.write(`${head.join('\r\n')}\r\n\r\n`));
      socket.on('data', (chunk) => (text += chunk));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(await dumpRecords(api.db)).toBe(before);
  });

  it('keeps text trimmed, and judges lengths on the trimmed text', async () => {
    const answer = await api.call('PUT', '/v1/entities/ct-trim', {
      json: entityBody({ firstName: '  Aisha ', lastName: `${' '.repeat(5)}${'K'.repeat(100)}  ` }),
    });
    expect(answer.status, answer.text).toBe(201);
    expect(answer.body).toMatchObject({ firstName: 'Aisha', lastName: 'K'.repeat(100) });
    const blank = await api.call('PATCH', '/v1/entities/ct-trim', { json: { firstName: '   ' } });
    expect(blank.status).toBe(400);
    expect(errorOf(blank).fields).toEqual(['firstName']);
  });

  it('still takes text that only looks hostile: quotes, emoji, digits that are no card', async () => {
    const text = `O'Brien "x"; -- \u00e9\u{1F600} 1795566515239`;
    const answer = await api.call('PUT', '/v1/entities/ct-ok', { json: entityBody({ lastName: text }) });
    expect(answer.status, answer.text).toBe(201);
    expect(answer.body).toMatchObject({ lastName: text });
  });

  it('never echoes a refused card number', () => {
    expect(api.leakedPans()).toEqual([]);
  });
});
