import { createHmac } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import type { SessionClaims, SessionTokens } from '../core/accounts/ports.js';

interface Payload {
  sub: string;
  sid: string;
  /** Issue time in ms: `iat` has only second precision, too coarse to order against a password change. */
  iatMs: number;
  exp: number;
}

/** HS256 JWTs signed with a key derived from the server secret (so the secret itself signs nothing). */
export function createJwtSessionTokens(secret: string): SessionTokens {
  const key = createHmac('sha256', secret).update('parley:session-tokens').digest();
  const sign = createSigner({ key, algorithm: 'HS256' });
  const verify = createVerifier({ key, algorithms: ['HS256'], cache: 10_000 });
  return {
    sign(claims, lifetimeMs) {
      const payload: Payload = {
        sub: claims.userId,
        sid: claims.sessionId,
        iatMs: claims.issuedAt,
        exp: Math.floor((claims.issuedAt + lifetimeMs) / 1000),
      };
      return sign(payload);
    },
    verify(token) {
      try {
        const p = verify(token) as Payload;
        if (typeof p.sub !== 'string' || typeof p.sid !== 'string' || typeof p.iatMs !== 'number') return undefined;
        return { userId: p.sub, sessionId: p.sid, issuedAt: p.iatMs, expiresAt: p.exp * 1000 } satisfies SessionClaims;
      } catch {
        return undefined;
      }
    },
  };
}
