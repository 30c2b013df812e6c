import { describe, expect, it } from 'vitest';
import type { User, UserRepository } from '../src/core/accounts/model.js';
import type { SessionRevocations } from '../src/core/accounts/ports.js';
import { PasswordGuard } from '../src/core/accounts/password-guard.js';
import { SessionService } from '../src/core/accounts/sessions.js';
import { createJwtSessionTokens } from '../src/crypto/session-tokens.js';
import { createMemorySharedState } from '../src/shared-state/memory/index.js';

const HOUR = 3_600_000;
const LIFETIME = 7 * 24 * HOUR;

const user: User = {
  id: 'u1',
  username: 'ada',
  passwordHash: 'right',
  displayName: 'ada',
  avatarUrl: null,
  isPublic: false,
  role: 'user',
  tier: 'free',
  xp: 0,
  level: 1,
  disabled: false,
  sessionsValidAfter: 0,
  createdAt: 0,
  updatedAt: 0,
};

/** The session rules with in-memory ports and a clock the test moves. */
function sessions() {
  let now = Date.now();
  const revoked = new Map<string, number>();
  const users = { findById: async () => user, findByUsername: async () => user } as unknown as UserRepository;
  const revocations: SessionRevocations = {
    revoke: async (id, until) => void revoked.set(id, until),
    isRevoked: async (id, at) => (revoked.get(id) ?? 0) > at,
  };
  const guard = new PasswordGuard(
    { hash: async (p) => p, verify: async (hash, p) => hash === p },
    createMemorySharedState().limiter,
    { perUsername: 10, perIp: 10, windowMs: 60_000 },
  );
  const service = new SessionService(
    users,
    guard,
    createJwtSessionTokens('a-test-secret-that-is-long-enough-000'),
    revocations,
    { lifetimeMs: LIFETIME },
    () => now,
  );
  return { service, advance: (ms: number) => (now += ms) };
}

describe('sessions', () => {
  it('renews a token once it is an hour old, keeping the session', async () => {
    const { service, advance } = sessions();
    const { token } = await service.login({ username: 'ada', password: 'right', ip: '1' });
    expect((await service.authenticate(token)).renewedToken).toBeUndefined();
    advance(HOUR + 1);
    const renewed = await service.authenticate(token);
    expect(renewed.renewedToken).toBeDefined();
    const again = await service.authenticate(renewed.renewedToken!);
    expect(again.claims.sessionId).toBe(renewed.claims.sessionId);
  });

  it('ends every renewal of a session on logout, even one that outlives the token logged out with', async () => {
    const { service, advance } = sessions();
    const { token: original } = await service.login({ username: 'ada', password: 'right', ip: '1' });
    advance(2 * 24 * HOUR);
    const renewed = (await service.authenticate(original)).renewedToken!;
    await service.logout((await service.authenticate(original)).claims);
    // Past the original token's expiry, the renewed one would still be within its lifetime.
    advance(LIFETIME - 24 * HOUR);
    await expect(service.authenticate(renewed)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
