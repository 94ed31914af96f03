import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * SQL safe by construction, and one writer per table, read from the sources themselves: a
 * regression fails here before it reaches a database. The rules look at the TypeScript syntax
 * tree (string and template literals, calls), not at comments.
 */

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      if (name === 'node_modules' || name === 'migrations') continue;
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(full);
    }
  };
  walk(join(ROOT, dir));
  return out;
}

const appSources = readdirSync(join(ROOT, 'apps')).flatMap((app) => sourcesUnder(`apps/${app}/src`));
const ALL_SOURCES = [...sourcesUnder('packages'), ...appSources];

/**
 * Where values must never be inlined: the lifecycle's operations, the records, the worker and
 * the api. (The dashboard's read-only queries and the CLI's PAN scan still go through the ORM's
 * `execute`; they are not on the hot path and are not covered yet.)
 */
const HOT_SOURCES = [
  ...sourcesUnder('packages/core/src/operations'),
  ...sourcesUnder('packages/core/src/reconciliation'),
  ...sourcesUnder('packages/core/src/records'),
  ...sourcesUnder('apps/worker/src'),
  ...sourcesUnder('apps/api/src'),
];

interface Literal {
  readonly file: string;
  readonly line: number;
  /** The literal's text, `${…}` where a template substitutes something. */
  readonly text: string;
  readonly node: ts.Node;
}

function visit(source: ts.SourceFile, each: (node: ts.Node) => void): void {
  const walk = (node: ts.Node) => {
    each(node);
    ts.forEachChild(node, walk);
  };
  walk(source);
}

function literalsOf(file: string, text: string): Literal[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Literal[] = [];
  const at = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
  visit(source, (node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))
      out.push({ file, line: at(node), text: node.text, node });
    else if (ts.isTemplateExpression(node))
      out.push({
        file,
        line: at(node),
        text: node.head.text + node.templateSpans.map((span) => `\${…}${span.literal.text}`).join(''),
        node,
      });
  });
  return out;
}

const SQL =
  /\b(select\s[\s\S]*\bfrom|insert\s+into|update\s+\S+[\s\S]*\sset\s|delete\s+from|with\s+\w+\s+as\s*\()\b/i;
const where = (file: string, line: number) => `${relative(ROOT, file)}:${line}`;

/** What a module's source breaks of the rules that keep values out of SQL text. */
export function inliningProblems(file: string, text = readFileSync(file, 'utf8')): string[] {
  const problems: string[] = [];
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const at = (node: ts.Node) => where(file, source.getLineAndCharacterOfPosition(node.getStart()).line + 1);
  const isSqlText = (node: ts.Node): boolean =>
    (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && SQL.test(node.text);
  visit(source, (node) => {
    // The ORM's quoting: `formatQuery` inlines values (the ORM's `execute(sql, params)` calls it).
    if (ts.isIdentifier(node) && node.text === 'formatQuery') problems.push(`${at(node)}: formatQuery`);
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'execute' &&
      node.arguments.length >= 2
    )
      problems.push(`${at(node)}: execute(sql, params) inlines its values (the ORM's formatQuery)`);
    // Kysely's escape hatches put text, not parameters, into the statement.
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'sql' &&
      ['raw', 'lit', 'unsafe'].includes(node.name.text)
    )
      problems.push(`${at(node)}: sql.${node.name.text} puts text into the statement`);
    // An untagged template that reads as SQL may only splice in constant fragments (UPPER_CASE).
    if (ts.isTemplateExpression(node) && !ts.isTaggedTemplateExpression(node.parent)) {
      const text = node.head.text + node.templateSpans.map((s) => ` x ${s.literal.text}`).join('');
      if (SQL.test(text)) {
        for (const span of node.templateSpans) {
          const e = span.expression;
          if (!(ts.isIdentifier(e) && /^[A-Z][A-Z0-9_]*$/.test(e.text)))
            problems.push(`${at(e)}: \${${e.getText(source)}} spliced into SQL text`);
        }
      }
    }
    // SQL text glued to something by `+`.
    if (
      ts.isBinaryExpression(node) &&
      node.operatorToken.kind === ts.SyntaxKind.PlusToken &&
      (isSqlText(node.left) || isSqlText(node.right))
    )
      problems.push(`${at(node)}: SQL text built by concatenation`);
  });
  return problems;
}

/** The one module that writes each table. */
const WRITER: Readonly<Record<string, string>> = {
  ctp_outbox: 'packages/core/src/operations/outbox.ts',
  ctp_operation: 'packages/core/src/operations/operation-writes.ts',
  ctp_requestidtracking: 'packages/core/src/operations/trace-writes.ts',
  ctp_webhook_inbox: 'packages/core/src/operations/inbox-writes.ts',
  ctp_status_history: 'packages/core/src/operations/history-writes.ts',
  ctp_customer: 'packages/core/src/operations/enrolment-writes.ts',
  ctp_payment: 'packages/core/src/operations/enrolment-writes.ts',
  ctp_pending_sync: 'packages/core/src/operations/automatic-sync.ts',
  ctp_kit_replacement: 'packages/core/src/operations/kit-replacement.ts',
  ctp_audit_log: 'packages/core/src/operations/admin-actions.ts',
  kit: 'packages/core/src/records/kits.ts',
  business_entity: 'packages/core/src/records/entities.ts',
  api_key: 'packages/core/src/auth/api-keys.ts',
  ctp_tenant_settings: 'packages/core/src/settings/store.ts',
  ctp_batch: 'packages/core/src/batches/store.ts',
  ctp_batch_item: 'packages/core/src/batches/store.ts',
  ctp_reconciliation: 'packages/core/src/reconciliation/store.ts',
  ctp_reconciliation_item: 'packages/core/src/reconciliation/store.ts',
  ctp_reconciliation_drift: 'packages/core/src/reconciliation/store.ts',
};

/** The ORM's entities, for writes through the unit of work (`create`, `nativeUpdate`, …). */
const TABLE_OF_ENTITY: Readonly<Record<string, string>> = {
  CtpOutbox: 'ctp_outbox',
  CtpOperation: 'ctp_operation',
  CtpRequestIdTracking: 'ctp_requestidtracking',
  CtpWebhookInbox: 'ctp_webhook_inbox',
  CtpStatusHistory: 'ctp_status_history',
  CtpCustomer: 'ctp_customer',
  CtpPayment: 'ctp_payment',
  CtpPendingSync: 'ctp_pending_sync',
  CtpKitReplacement: 'ctp_kit_replacement',
  AuditLog: 'ctp_audit_log',
  Kit: 'kit',
  BusinessEntity: 'business_entity',
  ApiKey: 'api_key',
  CtpTenantSettings: 'ctp_tenant_settings',
  CtpReconciliation: 'ctp_reconciliation',
  CtpReconciliationItem: 'ctp_reconciliation_item',
  CtpReconciliationDrift: 'ctp_reconciliation_drift',
};

const WRITE =
  /\b(?:insert\s+into|delete\s+from)\s+("?[\w${}…]+"?)|\bupdate\s+("?[\w${}…]+"?)(?:\s+(?:as\s+)?[a-z]\w*)?\s+set\b/gi;
const ORM_WRITE = new Set([
  'create',
  'nativeUpdate',
  'nativeDelete',
  'nativeInsert',
  'insert',
  'insertMany',
  'upsert',
  'upsertMany',
]);

/** Every write of a table in `file`: `[table, where]`. */
export function writesIn(file: string, text = readFileSync(file, 'utf8')): [string, string][] {
  const out: [string, string][] = [];
  for (const literal of literalsOf(file, text)) {
    for (const match of literal.text.matchAll(WRITE)) {
      const table = (match[1] ?? match[2] ?? '').replaceAll('"', '').toLowerCase();
      out.push([table, where(file, literal.line)]);
    }
  }
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  visit(source, (node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ORM_WRITE.has(node.expression.name.text) &&
      node.arguments[0] !== undefined &&
      ts.isIdentifier(node.arguments[0]) &&
      TABLE_OF_ENTITY[node.arguments[0].text] !== undefined
    ) {
      const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      out.push([TABLE_OF_ENTITY[node.arguments[0].text] as string, where(file, line)]);
    }
  });
  return out;
}

describe('SQL is safe by construction', () => {
  it('no module of the hot path inlines a value into SQL text', () => {
    expect(HOT_SOURCES.length).toBeGreaterThan(20);
    expect(HOT_SOURCES.flatMap((file) => inliningProblems(file))).toEqual([]);
  });

  it('the rules catch what they are for', () => {
    const file = join(ROOT, 'packages/core/src/operations/example.ts');
    const bad = [
      "await em.execute('select 1 from kit where pkey = ?', [pkey]);",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text the rules read
      'const text = `select * from kit where kit_no = ${kitNo}`;',
      "const text = 'delete from kit where pkey = ' + pkey;",
      'platform.formatQuery(text, params);',
      'sql.raw(value);',
    ];
    for (const line of bad) expect(inliningProblems(file, line), line).toHaveLength(1);
    const good = [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text the rules read
      'const text = `select ${AGGREGATE_COLUMNS} from kit where pkey = $pkey::bigint`;',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text the rules read
      'await sql`select 1 from kit where pkey = ${pkey}`.execute(db);',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text the rules read
      'logger.info(`operation ${id} selected from the queue`);',
    ];
    for (const line of good) expect(inliningProblems(file, line), line).toEqual([]);
  });
});

describe('one writer per table', () => {
  it('every write of a table is in its module', () => {
    const misplaced = ALL_SOURCES.flatMap((file) =>
      writesIn(file)
        .filter(([table]) => WRITER[table] !== relative(ROOT, file))
        .map(([table, at]) => `${at}: writes ${table} (its writer: ${WRITER[table] ?? 'none'})`),
    );
    expect(misplaced).toEqual([]);
  });

  it('the map finds the writes (every table has its writer, and the ORM writes count)', () => {
    const found = new Set(ALL_SOURCES.flatMap((file) => writesIn(file).map(([table]) => table)));
    for (const table of Object.keys(WRITER)) expect(found, table).toContain(table);
    const file = join(ROOT, 'apps/worker/src/example.ts');
    expect(writesIn(file, 'tx.create(CtpOutbox, row);')).toEqual([
      ['ctp_outbox', 'apps/worker/src/example.ts:1'],
    ]);
  });
});
