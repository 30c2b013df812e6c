import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let admin: Account;
let user: Account;
beforeAll(async () => {
  server = await startServer();
  admin = await signUp(server.http, 'theadmin');
  user = await signUp(server.http, 'plainuser');
});
afterAll(() => server.close());

const api = () => server.http;

describe('admin routes', () => {
  it('refuse non-admins with 403 and change nothing', async () => {
    const list = await api().get('/api/v1/admin/users', { bearer: user.key });
    expect(list.status).toBe(403);
    expect(list.body.error.code).toBe('FORBIDDEN');
    const promote = await api().patch(`/api/v1/admin/users/${user.id}`, { role: 'admin' }, { bearer: user.key });
    expect(promote.status).toBe(403);
    const me = await api().get('/api/v1/me', { bearer: user.key });
    expect(me.body.user.role).toBe('user');
  });

  it('refuse non-admins with a session cookie too', async () => {
    expect((await api().get('/api/v1/admin/users', { cookie: user.cookie })).status).toBe(403);
    expect((await api().get('/api/v1/admin/channels', { cookie: user.cookie })).status).toBe(403);
  });

  it('refuse anonymous callers with 401', async () => {
    expect((await api().get('/api/v1/admin/users')).status).toBe(401);
  });

  it('list users a page at a time, in creation order', async () => {
    for (let i = 0; i < 4; i++) await signUp(api());
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = await api().get(`/api/v1/admin/users${query}`, { bearer: admin.key });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      for (const u of page.body.items) expect(u).not.toHaveProperty('passwordHash');
      seen.push(...page.body.items.map((u: { id: string }) => u.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.length).toBeGreaterThanOrEqual(6);
    expect(seen[0]).toBe(admin.id);
    expect([...seen].sort()).toEqual(seen);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it.each([['?limit=0'], ['?limit=101'], ['?limit=abc'], ['?sort=name']])('refuse the query %s', async (query) => {
    const res = await api().get(`/api/v1/admin/users${query}`, { bearer: admin.key });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('change tier and role', async () => {
    const target = await signUp(api());
    const res = await api().patch(
      `/api/v1/admin/users/${target.id}`,
      { tier: 'pro', role: 'admin' },
      { bearer: admin.key },
    );
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ tier: 'pro', role: 'admin' });
    expect((await api().get('/api/v1/admin/users', { bearer: target.key })).status).toBe(200);
  });

  it('disable a user, whose session and keys are refused at once', async () => {
    const target = await signUp(api());
    // Used once, so that the server keeps the key: disabling must reach what it keeps.
    expect((await api().get('/api/v1/me', { bearer: target.key })).status).toBe(200);
    const res = await api().patch(`/api/v1/admin/users/${target.id}`, { disabled: true }, { bearer: admin.key });
    expect(res.status).toBe(200);
    expect(res.body.user.disabled).toBe(true);
    for (const credentials of [{ bearer: target.key }, { cookie: target.cookie }]) {
      const me = await api().get('/api/v1/me', credentials);
      expect(me.status).toBe(403);
      expect(me.body.error.code).toBe('FORBIDDEN');
    }
    const login = await api().post('/api/v1/auth/login', {
      username: target.username,
      password: 'correct horse battery',
    });
    expect(login.status).toBe(403);

    await api().patch(`/api/v1/admin/users/${target.id}`, { disabled: false }, { bearer: admin.key });
    expect((await api().get('/api/v1/me', { bearer: target.key })).status).toBe(200);
  });

  it('refuse to demote or disable the last active admin', async () => {
    const fresh = await startServer();
    try {
      const only = await signUp(fresh.http);
      for (const change of [{ role: 'user' }, { disabled: true }]) {
        const res = await fresh.http.patch(`/api/v1/admin/users/${only.id}`, change, { bearer: only.key });
        expect(res.status).toBe(409);
      }
      expect((await fresh.http.get('/api/v1/me', { bearer: only.key })).body.user.role).toBe('admin');
    } finally {
      await fresh.close();
    }
  });

  it.each([
    [{ role: 'root' }, 'role'],
    [{ tier: 'platinum' }, 'tier'],
    [{ disabled: 'true' }, 'disabled'],
    [{ username: 'renamed' }, 'username'],
  ])('refuse the change %j with 400', async (body, field) => {
    const res = await api().patch(`/api/v1/admin/users/${user.id}`, body, { bearer: admin.key });
    expect(res.status).toBe(400);
    expect(res.body.error.details.field).toBe(field);
  });

  it('answer 404 for an unknown user', async () => {
    const res = await api().patch(
      '/api/v1/admin/users/01UNKNOWNUSERID000000000000',
      { tier: 'pro' },
      { bearer: admin.key },
    );
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});
