import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { buildServer } from './api/server.js';
import type { ChannelConfig, Config } from './config/schema.js';
import { resolveSecret } from './config/secret.js';
import { createCore, type Core } from './core/index.js';
import type { SharedState } from './core/shared-state.js';
import { argon2PasswordHasher } from './crypto/passwords.js';
import { createJwtSessionTokens } from './crypto/session-tokens.js';
import { createSecretBox } from './crypto/secret-box.js';
import { listModelFiles } from './llm/model-files.js';
import { createProvider } from './llm/providers/index.js';
import { Router } from './llm/router.js';
import { tokenCounter } from './llm/tokens.js';
import { createSharedState } from './shared-state/index.js';
import { createSpeechEngines } from './speech/index.js';
import { openDatabase, type Database } from './store/database.js';
import { LocalBlobStore } from './store/blobs/local.js';
import { SqlApiKeyRepository } from './store/repositories/api-keys.js';
import { SqlBotRepository } from './store/repositories/bots.js';
import { SqlChannelRepository } from './store/repositories/channels.js';
import { SqlConversationRepository } from './store/repositories/conversations.js';
import { SqlFileRepository } from './store/repositories/files.js';
import { SqlGroupRepository } from './store/repositories/groups.js';
import { SqlSessionRevocations } from './store/repositories/revoked-sessions.js';
import { SqlSearchRepository } from './store/repositories/search.js';
import { SqlTriggerRepository } from './store/repositories/triggers.js';
import { SqlUsageRepository } from './store/repositories/usage.js';
import { SqlUserRepository } from './store/repositories/users.js';
import { SqlWebhookRepository } from './store/repositories/webhooks.js';
import { createWebhookTransport } from './net/webhook-transport.js';

function localChannel(path: string, id: string): ChannelConfig {
  return {
    name: `models:${id}`,
    provider: 'local',
    baseUrl: path,
    apiKeys: [],
    models: [id],
    priority: 0,
    weight: 1,
    strategy: 'priority',
    enabled: true,
    dailyQuota: 0,
  };
}

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
  // Before any store opens, so that a speech provider misconfigured stops the start at once.
  const speech = createSpeechEngines(config.speech);
  const webhookTransport = createWebhookTransport({
    allowlist: config.webhooks.allowlist,
    timeoutMs: config.webhooks.timeoutMs,
    userAgent: `Parley-Webhooks/${VERSION}`,
  });
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
    onError: onBackgroundError,
  });
  let shared: SharedState | undefined;
  try {
    await database.migrate();
    shared = await createSharedState(config, onBackgroundError);
  } catch (err) {
    await database.close();
    throw err;
  }
  const secretBox = createSecretBox(secret);
  // Routing reads channels through the core, which reports their health from routing: each refers
  // to the other only when called, after both exist.
  const router: Router = new Router({
    routing: config.routing,
    models: config.models,
    loadChannels: () => core.channels.all(),
    secretBox,
    limiter: shared.limiter,
    createProvider,
  });
  const channelsTopic = 'channels.changed';
  const unsubscribe = await shared.bus.subscribe(channelsTopic, () => router.reload());
  // Models pulled with `parley models pull` are served as local models, each under its file name.
  const pulled = (await listModelFiles(config.dataDir)).map((file) => localChannel(file.path, file.id));
  const core: Core = createCore(
    { ...config, channels: [...config.channels, ...pulled] },
    {
      users: new SqlUserRepository(database.db, database.dialect, database.accountChanges),
      apiKeys: new SqlApiKeyRepository(database.db, database.accountChanges),
      accountChanges: database.accountChanges,
      passwords: argon2PasswordHasher,
      sessionTokens: createJwtSessionTokens(secret),
      sessionRevocations: new SqlSessionRevocations(database.db),
      shared,
      channels: new SqlChannelRepository(database.db),
      usage: new SqlUsageRepository(database.db),
      bots: new SqlBotRepository(database.db),
      conversations: new SqlConversationRepository(database.db, database.dialect),
      groups: new SqlGroupRepository(database.db),
      files: new SqlFileRepository(database.db),
      search: new SqlSearchRepository(database.db, database.dialect),
      blobs: new LocalBlobStore(join(config.dataDir, 'files')),
      secretBox,
      webhooks: new SqlWebhookRepository(database.db, database.dialect),
      webhookTransport,
      triggers: new SqlTriggerRepository(database.db),
      gateway: router,
      tokenCounter,
      channelHealth: (id) => router.healthOf(id),
      channelsChanged: async () => {
        router.reload();
        await shared.bus.publish(channelsTopic, {});
      },
      onBackgroundError,
      speech,
    },
  );
  try {
    await core.bots.seedBuiltins();
  } catch (err) {
    await unsubscribe();
    await router.close();
    await shared.close();
    await database.close();
    throw err;
  }
  return {
    config,
    database,
    shared,
    core,
    async close() {
      await core.replies.close();
      await unsubscribe();
      await router.close();
      await core.usage.drain();
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
    // Only a serving process generates replies, and so recovers those a crash cut (never the CLI).
    await runtime.core.replies.start();
    // Replies in progress end (saved, marked interrupted) before requests drain: their followers
    // are requests in flight that would otherwise hold the shutdown open.
    server.addHook('preClose', async () => runtime.core.replies.close());
    await runtime.core.webhookWorker.start();
    return {
      ...runtime,
      server,
      async close() {
        await server.close();
        await runtime.core.webhookWorker.close();
        await runtime.close();
      },
    };
  } catch (err) {
    await runtime.close();
    throw err;
  }
}
