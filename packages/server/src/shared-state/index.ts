import type { SharedState } from '../core/shared-state.js';
import { createMemorySharedState } from './memory/index.js';
import { createRedisSharedState } from './redis/index.js';

/** Redis when a URL is configured (required for several instances), otherwise in-process. */
export async function createSharedState(options: { redisUrl: string; redisKeyPrefix: string }): Promise<SharedState> {
  if (!options.redisUrl) return createMemorySharedState();
  return createRedisSharedState({ url: options.redisUrl, keyPrefix: options.redisKeyPrefix });
}
