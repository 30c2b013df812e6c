import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** The `--postgres` option: the URL of a PostgreSQL server that the benchmark may create a database on. */
export function postgresServer(url) {
  if (url === undefined) return null;
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!parsed || !['postgres:', 'postgresql:'].includes(parsed.protocol))
    throw new Error(
      `--postgres takes a postgres:// URL, e.g. postgres://postgres@127.0.0.1:5432/postgres (got ${url})`,
    );
  return parsed;
}

/**
 * A new, empty database on `server` for one run (`parley_bench_<scenario>_<random>`): the database named in
 * the URL is only where CREATE and DROP DATABASE are sent from, and nothing of it is read or changed.
 * `drop()` removes the run's database, closing what is still connected to it.
 */
export async function scratchDatabase(server, scenario) {
  const name = `parley_bench_${scenario}_${randomBytes(4).toString('hex')}`;
  const admin = () => {
    const url = new URL(server);
    if (url.pathname.length <= 1) url.pathname = '/postgres';
    return new pg.Client({ connectionString: url.href });
  };
  const client = admin();
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.href,
    async drop() {
      const c = admin();
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Waits until no other connection runs a query on the database at `url`: the queries of requests whose clients
 * left when a load stopped go on to their end, and would weigh on whatever is measured next. Resolves to how long
 * it waited, in ms, or null after `timeoutMs`.
 */
export async function waitForIdleDatabase(url, { intervalMs = 100, timeoutMs = 120_000 } = {}) {
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    while (performance.now() - started < timeoutMs) {
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()",
      );
      if (rows[0].n === 0) return performance.now() - started;
      await sleep(intervalMs);
    }
    return null;
  } finally {
    await client.end();
  }
}
