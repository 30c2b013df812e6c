import { randomUUID } from 'node:crypto';
import type { RateLimiter } from '../shared-state.js';
import { Forbidden, RateLimited, Unauthorized } from '../errors.js';
import type { User, UserRepository } from './model.js';
import type { PasswordHasher, SessionClaims, SessionRevocations, SessionTokens } from './ports.js';
import { normaliseUsername } from './rules.js';

export interface SessionOptions {
  lifetimeMs: number;
  loginThrottle: { perUsername: number; perIp: number; windowMs: number };
}

export interface Session {
  user: User;
  claims: SessionClaims;
  /** A fresh token when the presented one is old enough to be renewed (sliding sessions). */
  renewedToken?: string;
}

const INVALID_LOGIN = 'Invalid username or password';

export class SessionService {
  /** Verified against when the username is unknown, so the answer takes as long either way. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly users: UserRepository,
    private readonly passwords: PasswordHasher,
    private readonly tokens: SessionTokens,
    private readonly revocations: SessionRevocations,
    private readonly limiter: RateLimiter,
    private readonly options: SessionOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async login(input: { username: string; password: string; ip: string }): Promise<{ user: User; token: string }> {
    const username = normaliseUsername(input.username);
    const { loginThrottle } = this.options;
    const userKey = `login:user:${username}`;
    const throttle = await this.limiter.consume([
      { key: userKey, limit: loginThrottle.perUsername, windowMs: loginThrottle.windowMs },
      { key: `login:ip:${input.ip}`, limit: loginThrottle.perIp, windowMs: loginThrottle.windowMs },
    ]);
    if (!throttle.allowed) throw new RateLimited('Too many login attempts; try again later', throttle);

    const user = await this.users.findByUsername(username);
    const ok = user
      ? await this.passwords.verify(user.passwordHash, input.password)
      : await this.passwords.verify(await this.dummy(), input.password).then(() => false);
    if (!user || !ok) throw new Unauthorized(INVALID_LOGIN);
    if (user.disabled) throw new Forbidden('This account is disabled');
    await this.limiter.reset(userKey);
    return { user, token: this.issue(user.id, randomUUID()) };
  }

  /** The user behind a session token, checked against revocation, password changes and disabling. */
  async authenticate(token: string): Promise<Session> {
    const claims = this.tokens.verify(token);
    if (!claims) throw new Unauthorized('Session is invalid or has expired');
    const [user, revoked] = await Promise.all([
      this.users.findById(claims.userId),
      this.revocations.isRevoked(claims.sessionId, this.now()),
    ]);
    if (!user || revoked || claims.issuedAt < user.sessionsValidAfter) {
      throw new Unauthorized('Session is invalid or has expired');
    }
    if (user.disabled) throw new Forbidden('This account is disabled');
    const age = this.now() - claims.issuedAt;
    const renewAfter = Math.min(this.options.lifetimeMs / 2, 3_600_000);
    return age > renewAfter ? { user, claims, renewedToken: this.issue(user.id, claims.sessionId) } : { user, claims };
  }

  /** A new token for an existing session, e.g. after the user changed their password. */
  reissue(claims: SessionClaims): string {
    return this.issue(claims.userId, claims.sessionId);
  }

  /** Ends the session, including every renewal of it (a renewed token outlives the one presented). */
  async logout(claims: SessionClaims): Promise<void> {
    await this.revocations.revoke(claims.sessionId, this.now() + this.options.lifetimeMs);
  }

  get lifetimeMs(): number {
    return this.options.lifetimeMs;
  }

  private issue(userId: string, sessionId: string): string {
    return this.tokens.sign({ userId, sessionId, issuedAt: this.now() }, this.options.lifetimeMs);
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= this.passwords.hash(randomUUID());
    return this.dummyHash;
  }
}
