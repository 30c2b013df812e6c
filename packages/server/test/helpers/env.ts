import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * Tests run against whatever the environment points at: SQLite by default, PostgreSQL when
 * PARLEY_DATABASE_URL is set, Redis shared state when PARLEY_REDIS_URL is set. Each test server
 * gets a database and a Redis key prefix of its own, so test files run in parallel.
 */
export const DATABASE_URL = process.env.PARLEY_DATABASE_URL ?? '';
export const REDIS_URL = process.env.PARLEY_REDIS_URL ?? '';
/** Redis for the tests that need it whatever the mode (multi-instance, Redis adapters). */
export const TEST_REDIS_URL = REDIS_URL || process.env.PARLEY_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

export const uniqueSuffix = () => randomBytes(6).toString('hex');

export interface Isolated {
  dataDir: string;
  databaseUrl: string;
  redisKeyPrefix: string;
  cleanup(): Promise<void>;
}

/** A fresh data directory, and a fresh PostgreSQL database when running on PostgreSQL. */
export async function isolatedStores(): Promise<Isolated> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-test-'));
  const suffix = uniqueSuffix();
  let databaseUrl = '';
  let dropDatabase = async () => {};
  if (DATABASE_URL) {
    const name = `parley_test_${suffix}`;
    await withAdminClient((client) => client.query(`CREATE DATABASE ${name}`));
    const url = new URL(DATABASE_URL);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDatabase = () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
  return {
    dataDir,
    databaseUrl,
    redisKeyPrefix: `parley-test:${suffix}:`,
    async cleanup() {
      await dropDatabase();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function withAdminClient(run: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.end();
  }
}

/** Whether Redis answers; on CI it must, so tests that need it never silently skip there. */
export async function redisAvailable(): Promise<boolean> {
  const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    if (process.env.CI) throw new Error(`Redis is required on CI and is not reachable at ${TEST_REDIS_URL}`);
    return false;
  } finally {
    client.disconnect();
  }
}
