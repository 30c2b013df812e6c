import { randomUUID } from 'node:crypto';
import { RateLimited } from '../errors.js';
import type { RateLimiter } from '../shared-state.js';
import type { User } from './model.js';
import type { PasswordHasher } from './ports.js';
import { hasPassword } from './rules.js';

export interface PasswordThrottle {
  perUsername: number;
  perIp: number;
  windowMs: number;
}

/**
 * Every check of a password against an account — at login, and when a signed-in user confirms
 * theirs to change it — counts against the same per-username and per-IP limits, so no route is a
 * side door for guessing. A success clears the username's count.
 */
export class PasswordGuard {
  /** Verified against when there is no such user, so the answer takes as long either way. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly passwords: PasswordHasher,
    private readonly limiter: RateLimiter,
    private readonly throttle: PasswordThrottle,
  ) {}

  async verify(username: string, user: User | undefined, password: string, ip: string): Promise<boolean> {
    const userKey = `login:user:${username}`;
    const { perUsername, perIp, windowMs } = this.throttle;
    const state = await this.limiter.consume([
      { key: userKey, limit: perUsername, windowMs },
      { key: `login:ip:${ip}`, limit: perIp, windowMs },
    ]);
    if (!state.allowed) throw new RateLimited('Too many password attempts; try again later', state);
    // An account without a password (a guest) is answered like no account at all.
    if (!user || !hasPassword(user)) {
      await this.passwords.verify(await this.dummy(), password);
      return false;
    }
    const ok = await this.passwords.verify(user.passwordHash, password);
    if (ok) await this.limiter.reset(userKey);
    return ok;
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= this.passwords.hash(randomUUID());
    return this.dummyHash;
  }
}
