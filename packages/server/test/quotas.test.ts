import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, signUp, type Account } from './helpers/accounts.js';
import { generousLimits, startServer, type TestServer } from './helpers/server.js';

const tight = { requestsPerMinute: 5, requestsPerDay: 8, features: [] };

describe('request quotas by tier', () => {
  let server: TestServer;
  let admin: Account;
  beforeAll(async () => {
    server = await startServer({ tiers: { ...generousLimits.tiers, free: tight } });
    admin = await signUp(server.http);
    await server.http.patch(`/api/v1/admin/users/${admin.id}`, { tier: 'pro' }, { bearer: admin.key });
  });
  afterAll(() => server.close());

  it('counts requests per user with RateLimit headers, then refuses with 429 and Retry-After', async () => {
    const account = await signUp(server.http); // signUp used 2 authenticated requests (key creation, counted)
    const used = 1;
    for (let i = used + 1; i <= tight.requestsPerMinute; i++) {
      const res = await server.http.get('/api/v1/me', { bearer: account.key });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBe(String(tight.requestsPerMinute));
      expect(res.headers.get('ratelimit-remaining')).toBe(String(tight.requestsPerMinute - i));
      expect(Number(res.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    }
    const refused = await server.http.get('/api/v1/me', { bearer: account.key });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');

    // The same user through a session is the same quota; other users are untouched.
    expect((await server.http.get('/api/v1/me', { cookie: account.cookie })).status).toBe(429);
    expect((await server.http.get('/api/v1/me', { bearer: admin.key })).status).toBe(200);
  });

  it('enforces the daily limit, and refused requests do not use it up', async () => {
    const account = await signUp(server.http);
    const limiter = server.parley.shared.limiter;
    // Spend the rest of today's quota across "minutes" by resetting only the minute window.
    let ok = 1;
    for (let attempt = 0; attempt < 20 && ok < tight.requestsPerDay; attempt++) {
      const res = await server.http.get('/api/v1/me', { bearer: account.key });
      if (res.status === 200) ok++;
      else await limiter.reset(`quota:user:${account.id}:m`);
    }
    expect(ok).toBe(tight.requestsPerDay);
    await limiter.reset(`quota:user:${account.id}:m`);
    const refused = await server.http.get('/api/v1/me', { bearer: account.key });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-limit')).toBe(String(tight.requestsPerDay));
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3600);
  });

  it('applies a new tier at once', async () => {
    const account = await signUp(server.http);
    await server.http.patch(`/api/v1/admin/users/${account.id}`, { tier: 'enterprise' }, { bearer: admin.key });
    const res = await server.http.get('/api/v1/me', { bearer: account.key });
    expect(res.headers.get('ratelimit-limit')).toBe(String(generousLimits.tiers.enterprise.requestsPerMinute));
  });
});

describe('anonymous quota', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ anonymous: { requestsPerMinute: 4 } });
  });
  afterAll(() => server.close());

  it('limits anonymous callers per IP', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await server.http.get('/api/v1/me')).status);
    // Unauthenticated requests to protected routes are still counted against the IP.
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    // A client cannot pick its own address: X-Forwarded-For is not believed by default.
    const spoofed = await server.http.get('/api/v1/me', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(spoofed.status).toBe(429);
    // Probes are never limited.
    expect((await server.http.get('/api/v1/health')).status).toBe(200);
    expect((await server.http.get('/healthz')).status).toBe(200);
  });
});

describe('login throttling', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ loginThrottle: { perUsername: 3, perIp: 10, windowSeconds: 900 } });
  });
  afterAll(() => server.close());

  const login = (username: string, password: string) => server.http.post('/api/v1/auth/login', { username, password });

  it('throttles attempts per username, even with the right password afterwards', async () => {
    await server.parley.core.users.create({ username: 'victim', password: PASSWORD });
    for (let i = 0; i < 3; i++) expect((await login('victim', 'wrong password')).status).toBe(401);
    const refused = await login('victim', PASSWORD);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(refused.sessionCookie).toBeUndefined();
  });

  it('lets a successful login reset the username counter', async () => {
    await server.parley.core.users.create({ username: 'forgetful', password: PASSWORD });
    const statuses = [];
    for (const password of [
      'wrong password',
      'wrong password',
      PASSWORD,
      'wrong password',
      'wrong password',
      PASSWORD,
    ]) {
      statuses.push((await login('forgetful', password)).status);
    }
    expect(statuses).toEqual([401, 401, 200, 401, 401, 200]);
  });

  it('throttles attempts per IP across usernames', async () => {
    // This IP made 9 counted attempts above (a refused attempt counts nowhere); the limit is 10.
    expect((await login('someone-else', 'any password')).status).toBe(401);
    expect((await login('another-one', 'any password')).status).toBe(429);
  });
});

describe('password confirmation throttling', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ loginThrottle: { perUsername: 3, perIp: 100, windowSeconds: 900 } });
  });
  afterAll(() => server.close());

  it('counts wrong current passwords like failed logins, so a stolen key cannot guess the password', async () => {
    const account = await signUp(server.http);
    const change = (currentPassword: string) =>
      server.http.patch('/api/v1/me', { password: 'a brand new password', currentPassword }, { bearer: account.key });
    expect((await change('guess one')).status).toBe(400);
    expect((await change('guess two')).status).toBe(400);
    expect((await change('guess three')).status).toBe(400);
    const refused = await change(PASSWORD);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    // Nothing changed: the old password still logs in once the window is cleared.
    await server.parley.shared.limiter.reset(`login:user:${account.username}`);
    expect(
      (await server.http.post('/api/v1/auth/login', { username: account.username, password: PASSWORD })).status,
    ).toBe(200);
  });
});
