import OpenAI from 'openai';
import { signUp, type Account } from './accounts.js';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { startServer, type TestServer } from './server.js';

export interface Gateway {
  server: TestServer;
  upstreams: FakeUpstream[];
  admin: Account;
  /** The official OpenAI client, pointed at Parley with the admin's key. */
  openai: OpenAI;
  close(): Promise<void>;
}

/** Fast routing timers, so that failover and cooldown tests take milliseconds. */
export const testRouting = {
  firstTokenTimeoutMs: 400,
  completionTimeoutMs: 600,
  idleTimeoutMs: 1000,
  cooldownMs: [300, 600, 1200],
};

/**
 * Parley in front of `upstreams` fake OpenAI-compatible upstreams, one channel each: the first has
 * the highest priority. `overrides` are config keys, as for `startServer`.
 */
export async function startGateway(
  options: { upstreams?: number; channel?: Record<string, unknown>; overrides?: Record<string, unknown> } = {},
): Promise<Gateway> {
  const upstreams = await Promise.all(Array.from({ length: options.upstreams ?? 1 }, () => startFakeUpstream()));
  const channels = upstreams.map((upstream, i) => ({
    name: `fake-${i}`,
    provider: 'openai-compatible',
    baseUrl: `${upstream.url}/v1`,
    apiKeys: [`sk-upstream-${i}`],
    models: ['*'],
    priority: 100 - i,
    ...options.channel,
  }));
  const server = await startServer({ channels, routing: testRouting, ...options.overrides });
  const admin = await signUp(server.http);
  const openai = new OpenAI({ apiKey: admin.key, baseURL: `${server.url}/v1`, maxRetries: 0 });
  return {
    server,
    upstreams,
    admin,
    openai,
    async close() {
      await server.close();
      await Promise.all(upstreams.map((u) => u.close()));
    },
  };
}

/**
 * What chat tests share: titles off, since naming a conversation is one more upstream request that
 * would show up among those a test counts and reads; routing's timeouts at their defaults, since on a
 * loaded machine the fast test timers would fail replies over; and no cooldown, so that a test that
 * makes the upstream fail leaves it usable for the next.
 */
const chatDefaults: Record<string, unknown> = { 'chat.generateTitles': false, routing: { cooldownMs: [0] } };

/**
 * Parley in front of one fake upstream that serves `models`, with `chatDefaults` and then `overrides`
 * (config keys, as for `startServer`).
 */
export function startChatGateway(
  overrides: Record<string, unknown> = {},
  { models = ['fake-model'] } = {},
): Promise<Gateway> {
  return startGateway({ channel: { models }, overrides: { ...chatDefaults, ...overrides } });
}
