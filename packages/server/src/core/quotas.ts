import type { Config } from '../config/schema.js';
import type { Tier } from './accounts/model.js';
import { RateLimited } from './errors.js';
import type { LimitRule, LimitState, RateLimiter } from './shared-state.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export type QuotaSubject = { userId: string; tier: Tier } | { ip: string };

/** Request quotas: per minute and per day by tier for users, per minute by IP for anonymous callers. */
export class QuotaService {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly limits: Pick<Config, 'tiers' | 'anonymous'>,
  ) {}

  /** Counts one request; throws `RateLimited` (counting nothing) when a limit is reached. */
  async take(subject: QuotaSubject): Promise<LimitState> {
    const state = await this.limiter.consume(this.rules(subject));
    if (!state.allowed) throw new RateLimited('Rate limit exceeded; retry after the reset', state);
    return state;
  }

  private rules(subject: QuotaSubject): LimitRule[] {
    if ('ip' in subject) {
      return [{ key: `quota:ip:${subject.ip}:m`, limit: this.limits.anonymous.requestsPerMinute, windowMs: MINUTE }];
    }
    const tier = this.limits.tiers[subject.tier];
    return [
      { key: `quota:user:${subject.userId}:m`, limit: tier.requestsPerMinute, windowMs: MINUTE },
      { key: `quota:user:${subject.userId}:d`, limit: tier.requestsPerDay, windowMs: DAY },
    ];
  }
}
