import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { buildServer } from './api/server.js';
import type { Config } from './config/schema.js';
import { resolveSecret } from './config/secret.js';
import { createCore, type Core } from './core/index.js';
import type { SharedState } from './core/shared-state.js';
import { argon2PasswordHasher } from './crypto/passwords.js';
import { createJwtSessionTokens } from './crypto/session-tokens.js';
import { createSharedState } from './shared-state/index.js';
import { openDatabase, type Database } from './store/database.js';
import { SqlApiKeyRepository } from './store/repositories/api-keys.js';
import { SqlUserRepository } from './store/repositories/users.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Stores, shared state and the core, wired together: what the server and the CLI both run on. */
export interface Runtime {
  config: Config;
  database: Database;
  shared: SharedState;
  core: Core;
  close(): Promise<void>;
}

export async function openRuntime(
  config: Config,
  onBackgroundError: (err: unknown) => void = (err) => console.error(err),
): Promise<Runtime> {
  const secret = resolveSecret(config);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
  });
  let shared: SharedState | undefined;
  try {
    await database.migrate();
    shared = await createSharedState(config, onBackgroundError);
  } catch (err) {
    await database.close();
    throw err;
  }
  const core = createCore(config, {
    users: new SqlUserRepository(database.db),
    apiKeys: new SqlApiKeyRepository(database.db),
    passwords: argon2PasswordHasher,
    sessionTokens: createJwtSessionTokens(secret),
    shared,
    onBackgroundError,
  });
  return {
    config,
    database,
    shared,
    core,
    async close() {
      await shared.close();
      await database.close();
    },
  };
}

export interface Parley extends Runtime {
  server: FastifyInstance;
}

/** The whole server, ready to `listen`. `close()` drains requests, then closes the stores. */
export async function createParley(
  config: Config,
  options: { logger?: FastifyServerOptions['logger'] } = {},
): Promise<Parley> {
  let reportBackgroundError = (err: unknown) => console.error(err);
  const runtime = await openRuntime(config, (err) => reportBackgroundError(err));
  try {
    const server = await buildServer({
      config,
      core: runtime.core,
      version: VERSION,
      logger: options.logger,
      checkReady: async () => {
        await Promise.all([runtime.database.ping(), runtime.shared.ping()]);
      },
    });
    reportBackgroundError = (err) => server.log.error({ err }, 'background task failed');
    return {
      ...runtime,
      server,
      async close() {
        await server.close();
        await runtime.close();
      },
    };
  } catch (err) {
    await runtime.close();
    throw err;
  }
}
