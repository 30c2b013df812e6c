import { tightest, type LimitRule, type LimitState, type RateLimiter } from '../../core/shared-state.js';
import { ExpiringMap } from './expiring-map.js';

export class MemoryRateLimiter implements RateLimiter {
  constructor(private readonly counters: ExpiringMap<number>) {}

  async consume(rules: readonly LimitRule[]): Promise<LimitState> {
    const now = Date.now();
    const current = rules.map((rule) => this.counters.entry(rule.key, now));
    const allowed = rules.every((rule, i) => (current[i]?.value ?? 0) < rule.limit);
    const states = rules.map((rule, i) => {
      let entry = current[i];
      if (allowed) {
        if (entry) entry.value += 1;
        else {
          this.counters.set(rule.key, 1, rule.windowMs, now);
          entry = this.counters.entry(rule.key, now);
        }
      }
      const used = entry?.value ?? 0;
      return {
        limit: rule.limit,
        remaining: Math.max(0, rule.limit - used),
        resetMs: entry ? entry.expiresAt - now : rule.windowMs,
      };
    });
    return tightest(states, allowed);
  }

  async reset(key: string): Promise<void> {
    this.counters.delete(key);
  }
}
