import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, freshName, signUp } from './helpers/accounts.js';
import { isolatedStores } from './helpers/env.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const api = () => server.http;

describe('registration', () => {
  it('makes the first user admin and later users plain users', async () => {
    const first = await api().post('/api/v1/auth/register', { username: freshName('First'), password: PASSWORD });
    expect(first.status).toBe(201);
    expect(first.body.user).toMatchObject({ role: 'admin', tier: 'free', disabled: false, isPublic: false });
    expect(first.body.user.username).toBe(first.body.user.username.toLowerCase());
    expect(typeof first.body.user.createdAt).toBe('number');
    expect(first.body.user).not.toHaveProperty('passwordHash');

    const second = await api().post('/api/v1/auth/register', { username: freshName(), password: PASSWORD });
    expect(second.status).toBe(201);
    expect(second.body.user.role).toBe('user');
  });

  it('refuses a username already taken, whatever its case, with 409 CONFLICT', async () => {
    const name = freshName('Dup');
    expect((await api().post('/api/v1/auth/register', { username: name, password: PASSWORD })).status).toBe(201);
    const again = await api().post('/api/v1/auth/register', { username: name.toUpperCase(), password: PASSWORD });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'CONFLICT', details: { field: 'username' } });
  });

  it.each([
    ['too short', { username: 'ab', password: PASSWORD }, 'username'],
    ['bad characters', { username: 'a b!', password: PASSWORD }, 'username'],
    ['too long', { username: 'a'.repeat(33), password: PASSWORD }, 'username'],
    ['short password', { username: 'validname', password: 'short' }, 'password'],
    ['missing password', { username: 'validname' }, 'password'],
    ['wrong type', { username: 'validname', password: 12345678 }, 'password'],
    ['unknown field', { username: 'validname', password: PASSWORD, role: 'admin' }, 'role'],
  ])('refuses %s with a 400 naming the field, and creates nothing', async (_label, body, field) => {
    const res = await api().post('/api/v1/auth/register', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field } });
    const login = await api().post('/api/v1/auth/login', { username: 'validname', password: PASSWORD });
    expect(login.status).toBe(401);
  });

  it('refuses a password of only whitespace', async () => {
    const res = await api().post('/api/v1/auth/register', { username: freshName(), password: ' '.repeat(10) });
    expect(res.status).toBe(400);
    expect(res.body.error.details.field).toBe('password');
  });
});

describe('login and sessions', () => {
  it('sets an httpOnly SameSite=Lax cookie that authenticates /me, and logout ends it', async () => {
    const username = freshName();
    await api().post('/api/v1/auth/register', { username, password: PASSWORD });
    const login = await api().post('/api/v1/auth/login', { username: username.toUpperCase(), password: PASSWORD });
    expect(login.status).toBe(200);
    const setCookie = login.headers.getSetCookie()[0]!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Max-Age=604800/);
    const cookie = login.sessionCookie!;

    const me = await api().get('/api/v1/me', { cookie });
    expect(me.status).toBe(200);
    expect(me.body.user.username).toBe(username);

    // The same token also works as a bearer token (for SDKs and WebSocket clients).
    const token = cookie.split('=')[1]!;
    expect((await api().get('/api/v1/me', { bearer: token })).status).toBe(200);

    const logout = await api().post('/api/v1/auth/logout', undefined, { cookie });
    expect(logout.status).toBe(204);
    expect(logout.headers.getSetCookie()[0]).toMatch(/parley_session=;/);
    const after = await api().get('/api/v1/me', { cookie });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('UNAUTHORIZED');
  });

  it('answers a wrong password and an unknown user alike with 401', async () => {
    const { username } = await signUp(api());
    const wrong = await api().post('/api/v1/auth/login', { username, password: 'not the password' });
    const unknown = await api().post('/api/v1/auth/login', { username: 'nobody-here', password: PASSWORD });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
    expect(wrong.sessionCookie).toBeUndefined();
  });

  it('refuses requests without credentials, with a forged token, or a malformed header', async () => {
    expect((await api().get('/api/v1/me')).status).toBe(401);
    expect((await api().get('/api/v1/me', { cookie: 'parley_session=forged.token.value' })).status).toBe(401);
    expect((await api().get('/api/v1/me', { bearer: 'pk_not-a-real-key' })).status).toBe(401);
    const malformed = await api().get('/api/v1/me', { headers: { authorization: 'Basic abc' } });
    expect(malformed.status).toBe(401);
    expect(malformed.headers.get('www-authenticate')).toMatch(/Bearer/);
  });
});

describe('PATCH /me', () => {
  it('changes the profile fields', async () => {
    const account = await signUp(api());
    const res = await api().patch(
      '/api/v1/me',
      { displayName: 'Ada L.', avatarUrl: 'https://example.com/a.png', isPublic: true },
      { bearer: account.key },
    );
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({
      displayName: 'Ada L.',
      avatarUrl: 'https://example.com/a.png',
      isPublic: true,
    });
    const cleared = await api().patch('/api/v1/me', { avatarUrl: null }, { bearer: account.key });
    expect(cleared.body.user.avatarUrl).toBeNull();
  });

  it.each([
    [{ displayName: '' }, 'displayName'],
    [{ displayName: 'x'.repeat(65) }, 'displayName'],
    [{ avatarUrl: 'javascript:alert(1)' }, 'avatarUrl'],
    [{ isPublic: 'yes' }, 'isPublic'],
    [{ role: 'admin' }, 'role'],
    [{ tier: 'enterprise' }, 'tier'],
  ])('refuses %j and changes nothing', async (body, field) => {
    const account = await signUp(api());
    const res = await api().patch('/api/v1/me', body, { bearer: account.key });
    expect(res.status).toBe(400);
    expect(res.body.error.details.field).toBe(field);
    const me = await api().get('/api/v1/me', { bearer: account.key });
    expect(me.body.user).toMatchObject({ displayName: account.username, avatarUrl: null, role: 'user', tier: 'free' });
  });

  it('changes the password only with the current one, and ends the other sessions', async () => {
    const account = await signUp(api());
    const other = (await api().post('/api/v1/auth/login', { username: account.username, password: PASSWORD }))
      .sessionCookie!;

    const missing = await api().patch('/api/v1/me', { password: 'a new password' }, { cookie: account.cookie });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details.field).toBe('currentPassword');
    const wrong = await api().patch(
      '/api/v1/me',
      { password: 'a new password', currentPassword: 'wrong password' },
      { cookie: account.cookie },
    );
    expect(wrong.status).toBe(400);
    expect((await api().post('/api/v1/auth/login', { username: account.username, password: PASSWORD })).status).toBe(
      200,
    );

    const changed = await api().patch(
      '/api/v1/me',
      { password: 'a new password', currentPassword: PASSWORD },
      { cookie: account.cookie },
    );
    expect(changed.status).toBe(200);
    // The session that made the change gets a fresh cookie; every other session is over.
    expect((await api().get('/api/v1/me', { cookie: changed.sessionCookie! })).status).toBe(200);
    expect((await api().get('/api/v1/me', { cookie: other })).status).toBe(401);
    expect((await api().get('/api/v1/me', { cookie: account.cookie })).status).toBe(401);
    expect((await api().post('/api/v1/auth/login', { username: account.username, password: PASSWORD })).status).toBe(
      401,
    );
    const relogin = await api().post('/api/v1/auth/login', { username: account.username, password: 'a new password' });
    expect(relogin.status).toBe(200);
  });
});

describe('logout', () => {
  it('still holds after a restart on the same stores', async () => {
    const stores = await isolatedStores();
    const first = await startServer({}, stores);
    const account = await signUp(first.http);
    expect((await first.http.post('/api/v1/auth/logout', undefined, { cookie: account.cookie })).status).toBe(204);
    await first.close({ keepStores: true });
    const second = await startServer({}, stores);
    try {
      expect((await second.http.get('/api/v1/me', { cookie: account.cookie })).status).toBe(401);
      expect((await second.http.get('/api/v1/me', { bearer: account.key })).status).toBe(200);
    } finally {
      await second.close();
    }
  });
});

describe('service info', () => {
  it('serves /service and /health without credentials', async () => {
    const service = await api().get('/api/v1/service');
    expect(service.status).toBe(200);
    expect(service.body).toEqual({ name: 'Parley', description: expect.any(String), socials: {} });
    const health = await api().get('/api/v1/health');
    expect(health.body).toEqual({ status: 'ok', service: 'Parley', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });
});

describe('closed registration', () => {
  it('refuses sign-ups with 403 when allowRegistration is false', async () => {
    const closed = await startServer({ allowRegistration: false });
    try {
      const res = await closed.http.post('/api/v1/auth/register', { username: freshName(), password: PASSWORD });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    } finally {
      await closed.close();
    }
  });
});
