import { Redis } from 'ioredis';
import type { SharedState } from '../../core/shared-state.js';
import { maskUrlPassword } from '../../lib/urls.js';
import { RedisBus } from './bus.js';
import { RedisKeyValue } from './kv.js';
import { RedisRateLimiter } from './limiter.js';
import { RedisStreamBuffer } from './streams.js';

const DEFAULT_STREAM_RETENTION_MS = 600_000;

export interface RedisOptions {
  url: string;
  /** Namespaces every key and channel, so several deployments (or test runs) can share one Redis. */
  keyPrefix: string;
  /** Connection errors after start; ioredis reconnects by itself, so these are reports, not failures. */
  onError?: (err: unknown) => void;
  /** How long a finished stream stays replayable. */
  streamRetentionMs?: number;
}

/** Shared state for many instances: every instance that points at the same Redis sees the same state. */
export async function createRedisSharedState(options: RedisOptions): Promise<SharedState> {
  const connect = () => {
    const redis = new Redis(options.url, {
      lazyConnect: true,
      keyPrefix: options.keyPrefix,
      // Fail a command quickly when Redis is away instead of holding requests for long.
      maxRetriesPerRequest: 2,
      connectTimeout: 5000,
    });
    redis.on('error', (err: Error) => options.onError?.(err));
    return redis;
  };
  const client = connect();
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new Error(`Cannot connect to Redis at ${maskUrlPassword(options.url)}: ${(err as Error).message}`);
  }
  const report = (err: unknown) => options.onError?.(err);
  const bus = new RedisBus(client, connect, options.keyPrefix, report);
  return {
    kind: 'redis',
    bus,
    kv: new RedisKeyValue(client),
    limiter: new RedisRateLimiter(client),
    streams: new RedisStreamBuffer(client, bus, options.streamRetentionMs ?? DEFAULT_STREAM_RETENTION_MS, report),
    async ping() {
      await client.ping();
    },
    async close() {
      await bus.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
