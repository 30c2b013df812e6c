/** Password hashing (argon2id in `crypto/`). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

export interface SessionClaims {
  userId: string;
  /** Stays the same when a session is renewed, so logging out ends every renewal of it. */
  sessionId: string;
  issuedAt: number;
  expiresAt: number;
}

/** Signed, self-contained session tokens (JWT in `crypto/`). */
export interface SessionTokens {
  sign(claims: Omit<SessionClaims, 'expiresAt'>, lifetimeMs: number): string;
  /** The claims of a well-signed, unexpired token; undefined otherwise. */
  verify(token: string): SessionClaims | undefined;
}

/**
 * Sessions ended before their tokens expire (logout). Kept in the database, so that a logout holds
 * across restarts and for every instance.
 */
export interface SessionRevocations {
  revoke(sessionId: string, until: number): Promise<void>;
  isRevoked(sessionId: string, now: number): Promise<boolean>;
}
