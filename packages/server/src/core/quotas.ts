import type { Config } from '../config/schema.js';
import type { Tier } from './accounts/model.js';
import { RateLimited } from './errors.js';
import type { LimitRule, LimitState, RateLimiter } from './shared-state.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export type QuotaSubject = { userId: string; tier: Tier } | { ip: string };

/** A surface's own per-minute limits, which its document promises: counted besides the tier's quota. */
export interface SurfaceLimit {
  /** Names the surface's counters, apart from every other surface's. */
  surface: string;
  requestsPerMinute: number;
  anonymousRequestsPerMinute: number;
}

/** Request quotas: per minute and per day by tier for users, per minute by IP for anonymous callers. */
export class QuotaService {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly limits: Pick<Config, 'tiers' | 'anonymous'>,
  ) {}

  /**
   * Counts one request, against the surface's limit too when it has one; throws `RateLimited`
   * (counting nothing) when any limit is reached.
   */
  async take(subject: QuotaSubject, surface?: SurfaceLimit): Promise<LimitState> {
    const rules = this.rules(subject);
    if (surface) rules.push(surfaceRule(subject, surface));
    const state = await this.limiter.consume(rules);
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

function surfaceRule(subject: QuotaSubject, limit: SurfaceLimit): LimitRule {
  return 'ip' in subject
    ? { key: `quota:${limit.surface}:ip:${subject.ip}:m`, limit: limit.anonymousRequestsPerMinute, windowMs: MINUTE }
    : { key: `quota:${limit.surface}:user:${subject.userId}:m`, limit: limit.requestsPerMinute, windowMs: MINUTE };
}
