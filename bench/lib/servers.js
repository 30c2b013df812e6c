import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanEnv, PARLEY_MAIN, parleyCli } from './parley.js';
import { freePort, repoRoot, spawnTracked, stopProcess, waitForHttp, withScratch } from './process.js';
import { scratchDatabase } from './postgres.js';

/** Starts `node args` on `cpu` on a free port (passed in `portVar`) and waits until `readyPath` answers 200. */
export async function startServer({ args, env, portVar = 'PORT', readyPath, cpu, layout, cwd = repoRoot }) {
  const port = await freePort();
  const [command, commandArgs] = layout.on(cpu, process.execPath, args);
  const child = spawnTracked(command, commandArgs, { cwd, env: cleanEnv({ ...env, [portVar]: String(port) }) });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}${readyPath}`, { child });
  return { child, url };
}

/** `parley serve` on `cpu`; `nodeArgs` go before the script (--cpu-prof…). */
export function startParley({ store, cpu, layout, nodeArgs = [] }) {
  return startServer({
    args: [...nodeArgs, PARLEY_MAIN, 'serve'],
    env: store.env,
    portVar: 'PARLEY_PORT',
    readyPath: '/readyz',
    cpu,
    layout,
    // Parley also reads parley.config.* from its cwd: an empty directory keeps a stray one out.
    cwd: store.cwd,
  });
}

/** Tiers far above what a benchmark can send: the quota is checked on every request, never hit. */
export const UNLIMITED_TIERS = {
  tiers: Object.fromEntries(
    ['free', 'basic', 'pro', 'enterprise'].map((t) => [
      t,
      { requestsPerMinute: 100_000_000, requestsPerDay: 1_000_000_000 },
    ]),
  ),
  anonymous: { requestsPerMinute: 100_000_000 },
};

/** Writes Parley's config for a run into `scratch`; resolves to the file, for PARLEY_CONFIG. */
async function writeConfig(scratch, config) {
  const file = join(scratch, 'bench-config.json');
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

/** Parley's config for a run whose one channel is the fake upstream (lib/fake-openai.js) at `upstreamUrl`. */
export const fakeUpstreamConfig = (upstreamUrl) => ({
  ...UNLIMITED_TIERS,
  channels: [
    {
      name: 'bench',
      provider: 'openai-compatible',
      baseUrl: `${upstreamUrl}/v1`,
      apiKeys: ['sk-bench'],
      models: ['*'],
    },
  ],
});

/**
 * The stores a scenario runs Parley on: SQLite in a data directory under `scratch`, and with `postgres` (a
 * server URL) also a database created for the run. Each is migrated and holds the bench user with an API key,
 * all made with the CLI; `drop()` removes what the stores made outside `scratch`.
 */
export async function parleyStores({ scratch, configFile, postgres, scenario }) {
  const base = { PARLEY_CONFIG: configFile, PARLEY_HOST: '127.0.0.1', PARLEY_LOG_LEVEL: 'warn' };
  const stores = [{ name: 'sqlite', label: 'SQLite', env: { ...base, PARLEY_DATA_DIR: join(scratch, 'data-sqlite') } }];
  let database = null;
  if (postgres) {
    database = await scratchDatabase(postgres, scenario);
    stores.push({
      name: 'postgres',
      label: 'PostgreSQL',
      database: database.name,
      env: { ...base, PARLEY_DATA_DIR: join(scratch, 'data-postgres'), PARLEY_DATABASE_URL: database.url },
    });
  }
  for (const store of stores) {
    store.cwd = scratch;
    store.cli = (args) => parleyCli(args, { cwd: scratch, env: cleanEnv(store.env) });
    // The schema is Parley's own, made by its migrations: a scenario seeding tables writes into it.
    await store.cli(['migrate']);
    store.userId = await createUser(store, 'bench');
    const keyCreated = await store.cli(['key', 'create', 'bench']);
    store.key = /^key: (pk_\S+)$/m.exec(keyCreated)?.[1];
    if (!store.key) throw new Error(`the bench user's key was not created:\n${keyCreated}`);
  }
  return { stores, drop: async () => database?.drop() };
}

/**
 * Runs `work({ scratch, stores, servers })` in a scratch directory of the scenario's, on the stores of
 * `parleyStores` configured with `config`: afterwards, however the work ends, the servers it keeps in `servers` (a
 * Map) are stopped and the stores dropped.
 */
export function withParleyStores({ scenario, config, postgres }, work) {
  return withScratch(scenario, async (scratch) => {
    const servers = new Map();
    let stores = null;
    try {
      const configFile = await writeConfig(scratch, config);
      stores = await parleyStores({ scratch, configFile, postgres, scenario: scenario.replaceAll('-', '_') });
      return await work({ scratch, stores: stores.stores, servers });
    } finally {
      for (const server of servers.values()) await stopProcess(server.child);
      await stores?.drop();
    }
  });
}

/** Creates a user on a store of `parleyStores` with the CLI; resolves to its id. */
export async function createUser(store, username) {
  const created = await store.cli(['user', 'create', username, '--password', 'bench password 1']);
  const id = /\(id (\S+?),/.exec(created)?.[1];
  if (!id) throw new Error(`user ${username} was not created:\n${created}`);
  return id;
}
