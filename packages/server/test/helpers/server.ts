import { createParley, type Parley } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { REDIS_URL, isolatedStores, type Isolated } from './env.js';
import { HttpClient } from './http.js';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

const GENEROUS = { requestsPerMinute: 100_000, requestsPerDay: 1_000_000, features: [], models: ['*'] };

/** Quotas far above what a test sends, unless the test is about quotas. */
export const generousLimits = {
  tiers: { free: GENEROUS, basic: GENEROUS, pro: GENEROUS, enterprise: GENEROUS },
  anonymous: { requestsPerMinute: 100_000 },
  loginThrottle: { perUsername: 10_000, perIp: 10_000, windowSeconds: 900 },
};

export interface TestServer {
  url: string;
  config: Config;
  parley: Parley;
  http: HttpClient;
  /** Stops the server; the stores are removed too unless kept for another server. */
  close(options?: { keepStores?: boolean }): Promise<void>;
}

/** A real server on a loopback port, with stores of its own; `overrides` are config keys (dotted). */
export async function startServer(
  overrides: Record<string, unknown> = {},
  stores: Isolated | undefined = undefined,
): Promise<TestServer> {
  stores ??= await isolatedStores();
  const config = loadConfig({
    env: {},
    overrides: {
      ...generousLimits,
      port: 0,
      host: '127.0.0.1',
      dataDir: stores.dataDir,
      databaseUrl: stores.databaseUrl,
      redisUrl: REDIS_URL,
      redisKeyPrefix: stores.redisKeyPrefix,
      secret: TEST_SECRET,
      logLevel: process.env.PARLEY_TEST_LOG_LEVEL ?? 'silent',
      ...overrides,
    },
  });
  const parley = await createParley(config);
  await parley.server.listen({ port: 0, host: '127.0.0.1' });
  const address = parley.server.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    config,
    parley,
    http: new HttpClient(url),
    async close(options = {}) {
      await parley.close();
      if (!options.keepStores) await stores!.cleanup();
    },
  };
}
