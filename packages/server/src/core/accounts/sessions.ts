import { randomUUID } from 'node:crypto';
import { Forbidden, Unauthorized } from '../errors.js';
import type { User, UserRepository } from './model.js';
import type { PasswordGuard } from './password-guard.js';
import type { SessionClaims, SessionRevocations, SessionTokens } from './ports.js';
import { hasPassword, normaliseUsername } from './rules.js';

export interface SessionOptions {
  lifetimeMs: number;
}

export interface Session {
  user: User;
  claims: SessionClaims;
  /** A fresh token when the presented one is old enough to be renewed (sliding sessions). */
  renewedToken?: string;
}

const INVALID_LOGIN = 'Invalid username or password';

export class SessionService {
  constructor(
    private readonly users: UserRepository,
    private readonly guard: PasswordGuard,
    private readonly tokens: SessionTokens,
    private readonly revocations: SessionRevocations,
    private readonly options: SessionOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async login(input: { username: string; password: string; ip: string }): Promise<{ user: User; token: string }> {
    const username = normaliseUsername(input.username);
    const user = await this.users.findByUsername(username);
    const ok = await this.guard.verify(username, user, input.password, input.ip);
    if (!user || !ok) throw new Unauthorized(INVALID_LOGIN);
    if (user.disabled) throw new Forbidden('This account is disabled');
    return { user, token: this.issue(user.id, randomUUID()) };
  }

  /** Signs a guest in: a guest has no password to log in with, so its session starts as it is created. */
  openGuest(user: User): string {
    if (hasPassword(user)) throw new Forbidden('Only a guest signs in without a password');
    return this.issue(user.id, randomUUID());
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
}
