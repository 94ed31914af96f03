import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis } from '@ctp/core/queues';
import { createMigratedDatabase, type MigratedDatabase, readDatabaseUrl } from '@ctp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/cli.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = createRedis(REDIS_URL);
// Names of this file's own: the scan must find what is here and nothing of other test files.
const run_ = randomBytes(4).toString('hex');
const prefix = `ctp_scantest_${run_}`;
const redisKey = `{scan-pans-${run_}}:note`;
const PLANTED = 'card 4111 1111 1111 1111 rejected';
let clean: MigratedDatabase;
let leaky: MigratedDatabase;
let logDir: string;

beforeAll(async () => {
  [clean, leaky] = await Promise.all([
    createMigratedDatabase(readDatabaseUrl(), prefix),
    createMigratedDatabase(readDatabaseUrl(), prefix),
  ]);
  await leaky.orm.em
    .fork()
    .execute(
      `insert into ctp_audit_log (actor, action, target, details) values ('test', 'job.retry', ?, '{}')`,
      [PLANTED],
    );
  logDir = await mkdtemp(join(tmpdir(), 'scan-pans-'));
  await writeFile(join(logDir, 'clean.log'), '{"msg":"kit 411111******1111 saved"}\n');
});

afterAll(async () => {
  await redis.del(redisKey);
  redis.disconnect();
  await Promise.all([clean.drop(), leaky.drop(), rm(logDir, { recursive: true, force: true })]);
});

async function scan(args: string[], databaseUrl = clean.databaseUrl) {
  const out: string[] = [];
  const err: string[] = [];
  const exit = await run(['security', 'scan-pans', '--redis-pattern', `{scan-pans-${run_}}*`, ...args], {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    env: { REDIS_URL, DATABASE_URL: databaseUrl },
    signal: new AbortController().signal,
  });
  return { exit, stdout: out.join(''), stderr: err.join('') };
}

describe('ctp security scan-pans', () => {
  it('scans only DATABASE_URL by default', async () => {
    expect((await scan(['--logs', logDir], clean.databaseUrl)).exit).toBe(0);
    const leak = await scan(['--json'], leaky.databaseUrl);
    expect(leak.exit).toBe(1);
    const { counts, findings } = JSON.parse(leak.stdout);
    expect(counts.databases).toBe(1);
    expect(findings).toEqual([
      {
        where: `database ${leaky.databaseUrl.split('/').pop()}: ctp_audit_log.target`,
        masked: '411111******1111',
      },
    ]);
  });

  it('with --databases, scans every database whose name matches, and says which one holds a PAN', async () => {
    const result = await scan(['--databases', `${prefix}_%`, '--logs', logDir]);
    expect(result.exit).toBe(1);
    expect(result.stdout).toContain('in 2 databases');
    expect(result.stdout).toContain(
      `card number 411111******1111 in database ${leaky.databaseUrl.split('/').pop()}: ctp_audit_log.target`,
    );
    expect(result.stdout).not.toContain(clean.databaseUrl.split('/').pop());
    expect(result.stdout).not.toContain('4111111111111111');
  });

  it('also finds a PAN in Redis and in the logs next to the databases', async () => {
    await redis.set(redisKey, 'pan=5555555555554444');
    await writeFile(join(logDir, 'leak.log'), 'one\n{"msg":"declined 4012888888881881"}\n');
    try {
      const result = await scan(['--databases', `${prefix}_%`, '--logs', logDir, '--json']);
      expect(result.exit).toBe(1);
      const wheres = (JSON.parse(result.stdout).findings as { where: string }[]).map((f) => f.where);
      expect(wheres).toEqual(
        expect.arrayContaining([`redis value of ${redisKey}`, `${join(logDir, 'leak.log')}:2`]),
      );
    } finally {
      await redis.del(redisKey);
      await rm(join(logDir, 'leak.log'));
    }
  });

  it('passes when the matching databases hold no PAN', async () => {
    await leaky.orm.em.fork().execute(`delete from ctp_audit_log`);
    const result = await scan(['--databases', `${prefix}_%`, '--logs', logDir]);
    expect(result.stdout).toContain('in 2 databases');
    expect(result.stdout).toContain('no card number found');
    expect(result.exit).toBe(0);
  });

  it('fails when no database matches the pattern, rather than scanning nothing', async () => {
    const result = await scan(['--databases', `${prefix}_none_%`]);
    expect(result.exit).toBe(1);
    expect(result.stderr).toContain('no database matches');
  });
});
