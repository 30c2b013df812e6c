import type { SharedState } from '../core/shared-state.js';
import { createMemorySharedState } from './memory/index.js';

/** Redis when a URL is configured (required for several instances), otherwise in-process. */
export async function createSharedState(
  options: { redisUrl: string; redisKeyPrefix: string; chat: { streamRetentionSeconds: number } },
  onError: (err: unknown) => void,
): Promise<SharedState> {
  const streamRetentionMs = options.chat.streamRetentionSeconds * 1000;
  if (!options.redisUrl) return createMemorySharedState(onError, { streamRetentionMs });
  // Loaded only when used: a single instance never needs the Redis client.
  const { createRedisSharedState } = await import('./redis/index.js');
  return createRedisSharedState({
    url: options.redisUrl,
    keyPrefix: options.redisKeyPrefix,
    onError,
    streamRetentionMs,
  });
}
