import type { Redis } from 'ioredis';
import { tightest, type LimitRule, type LimitState, type RateLimiter } from '../../core/shared-state.js';

/**
 * Checks every counter, then increments all of them only if none is exhausted — in one round trip
 * and atomically, so instances sharing the Redis never overshoot a limit between them.
 * KEYS: counters. ARGV: limit and window (ms) of each counter in turn.
 * Returns: allowed flag, then count and ms-to-reset of each counter.
 */
const CONSUME = `
local allowed = 1
local counts = {}
for i = 1, #KEYS do
  counts[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  if counts[i] >= tonumber(ARGV[2 * i - 1]) then allowed = 0 end
end
local out = { allowed }
for i = 1, #KEYS do
  if allowed == 1 then
    counts[i] = redis.call('INCR', KEYS[i])
  end
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 then
    ttl = tonumber(ARGV[2 * i])
    if counts[i] > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
  out[#out + 1] = counts[i]
  out[#out + 1] = ttl
end
return out
`;

type WithConsume = Redis & { parleyConsume(numKeys: number, ...args: (string | number)[]): Promise<number[]> };

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: WithConsume;

  constructor(redis: Redis) {
    if (!('parleyConsume' in redis)) redis.defineCommand('parleyConsume', { lua: CONSUME });
    this.redis = redis as WithConsume;
  }

  async consume(rules: readonly LimitRule[]): Promise<LimitState> {
    const args: (string | number)[] = rules.map((r) => `limit:${r.key}`);
    for (const r of rules) args.push(r.limit, r.windowMs);
    const out = await this.redis.parleyConsume(rules.length, ...args);
    const states = rules.map((rule, i) => ({
      limit: rule.limit,
      remaining: Math.max(0, rule.limit - out[1 + 2 * i]!),
      resetMs: out[2 + 2 * i]!,
    }));
    return tightest(states, out[0] === 1);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(`limit:${key}`);
  }
}
