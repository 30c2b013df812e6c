import { createHash } from 'node:crypto';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, signUp } from './helpers/accounts.js';
import { DATABASE_URL } from './helpers/env.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const api = () => server.http;

describe('API keys', () => {
  it('shows the secret once, lists keys without it, and authenticates every route with it', async () => {
    const account = await signUp(api());
    const created = await api().post('/api/v1/keys', { name: 'ci runner' }, { cookie: account.cookie });
    expect(created.status).toBe(201);
    const { id, key, prefix } = created.body;
    expect(key).toMatch(/^pk_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(prefix)).toBe(true);

    const list = await api().get('/api/v1/keys', { bearer: key });
    expect(list.status).toBe(200);
    const listed = list.body.items.find((k: { id: string }) => k.id === id);
    expect(listed).toMatchObject({ name: 'ci runner', prefix, revokedAt: null, expiresAt: null });
    expect(JSON.stringify(list.body)).not.toContain(key);
    expect(JSON.stringify(list.body)).not.toMatch(/hash/i);

    const me = await api().get('/api/v1/me', { bearer: key });
    expect(me.body.user.id).toBe(account.id);
  });

  it('stores keys and passwords only as hashes', async () => {
    const account = await signUp(api());
    const db = server.parley.database.db;
    const keys = await db.selectFrom('apiKeys').selectAll().where('userId', '=', account.id).execute();
    const hashes = keys.map((k) => k.keyHash);
    expect(hashes).toContain(createHash('sha256').update(account.key).digest('hex'));
    for (const row of keys) expect(JSON.stringify(row)).not.toContain(account.key.slice(12));

    const user = await db.selectFrom('users').selectAll().where('id', '=', account.id).executeTakeFirstOrThrow();
    expect(user.passwordHash).toMatch(/^\$argon2id\$/);
    expect(JSON.stringify(user)).not.toContain(PASSWORD);
  });

  it('refuses a revoked key at once', async () => {
    const account = await signUp(api());
    const second = (await api().post('/api/v1/keys', { name: 'to revoke' }, { bearer: account.key })).body;
    expect((await api().get('/api/v1/me', { bearer: second.key })).status).toBe(200);
    const revoke = await api().delete(`/api/v1/keys/${second.id}`, { bearer: account.key });
    expect(revoke.status).toBe(204);
    const after = await api().get('/api/v1/me', { bearer: second.key });
    expect(after.status).toBe(401);
    expect(after.body.error).toMatchObject({ code: 'UNAUTHORIZED', message: 'API key has been revoked' });
    // Revoking twice: the key is no longer an active key of this user.
    expect((await api().delete(`/api/v1/keys/${second.id}`, { bearer: account.key })).status).toBe(404);
    const listed = (await api().get('/api/v1/keys', { bearer: account.key })).body.items;
    expect(listed.find((k: { id: string }) => k.id === second.id).revokedAt).toEqual(expect.any(Number));
  });

  it('refuses an expired key', async () => {
    const account = await signUp(api());
    const short = await api().post(
      '/api/v1/keys',
      { name: 'short-lived', expiresAt: Date.now() + 400 },
      { bearer: account.key },
    );
    expect(short.status).toBe(201);
    expect((await api().get('/api/v1/me', { bearer: short.body.key })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    const after = await api().get('/api/v1/me', { bearer: short.body.key });
    expect(after.status).toBe(401);
    expect(after.body.error.message).toBe('API key has expired');
  });

  it.each([
    [{}, 'name'],
    [{ name: '' }, 'name'],
    [{ name: 'x'.repeat(65) }, 'name'],
    [{ name: 'k', expiresAt: '2030-01-01' }, 'expiresAt'],
    [{ name: 'k', expiresAt: 1000 }, 'expiresAt'],
    [{ name: 'k', expiresAt: 1e300 }, 'expiresAt'],
    [{ name: 'k', expiresAt: 2 ** 60 }, 'expiresAt'],
    [{ name: 'k', scopes: ['*'] }, 'scopes'],
  ])('refuses %j with 400 and creates no key', async (body, field) => {
    const account = await signUp(api());
    const before = (await api().get('/api/v1/keys', { bearer: account.key })).body.items.length;
    const res = await api().post('/api/v1/keys', body, { bearer: account.key });
    expect(res.status).toBe(400);
    expect(res.body.error.details.field).toBe(field);
    expect((await api().get('/api/v1/keys', { bearer: account.key })).body.items.length).toBe(before);
  });

  it('caps the number of active keys per user', async () => {
    const account = await signUp(api());
    for (let i = 1; i < 50; i++) {
      expect((await api().post('/api/v1/keys', { name: `k${i}` }, { bearer: account.key })).status).toBe(201);
    }
    const over = await api().post('/api/v1/keys', { name: 'one too many' }, { bearer: account.key });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('CONFLICT');
  });

  it("never shows or revokes another user's keys", async () => {
    const alice = await signUp(api());
    const bob = await signUp(api());
    const aliceKeys = (await api().get('/api/v1/keys', { bearer: alice.key })).body.items;
    const bobKeys = (await api().get('/api/v1/keys', { bearer: bob.key })).body.items;
    const aliceIds = aliceKeys.map((k: { id: string }) => k.id);
    expect(bobKeys.some((k: { id: string }) => aliceIds.includes(k.id))).toBe(false);

    const attempt = await api().delete(`/api/v1/keys/${aliceIds[0]}`, { bearer: bob.key });
    expect(attempt.status).toBe(404);
    expect((await api().get('/api/v1/me', { bearer: alice.key })).body.user.id).toBe(alice.id);
  });
});

/**
 * A statement run on the server's database by another connection, as another server, the CLI or an
 * operator's SQL would.
 */
async function runElsewhere(statement: string, parameters: unknown[]): Promise<void> {
  const { databaseUrl, dataDir } = server.parley.config;
  if (DATABASE_URL) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query(statement, parameters);
    } finally {
      await client.end();
    }
    return;
  }
  const file = new SQLite(join(dataDir, 'parley.db'));
  try {
    file.prepare(statement.replace(/\$\d+/g, '?')).run(...parameters);
  } finally {
    file.close();
  }
}

describe('API keys as the server keeps them between requests', () => {
  it("shows changes to a key's owner made through the API on the next request", async () => {
    const account = await signUp(api());
    expect((await api().get('/api/v1/me', { bearer: account.key })).body.user.displayName).not.toBe('Renamed');
    expect((await api().patch('/api/v1/me', { displayName: 'Renamed' }, { bearer: account.key })).status).toBe(200);
    expect((await api().get('/api/v1/me', { bearer: account.key })).body.user.displayName).toBe('Renamed');
  });

  it('shows changes made by another process, and refuses a key revoked there', async () => {
    const account = await signUp(api());
    expect((await api().get('/api/v1/me', { bearer: account.key })).body.user.tier).toBe('free');

    await runElsewhere('update users set tier = $1, display_name = $2 where id = $3', ['pro', 'Elsewhere', account.id]);
    // At once on SQLite; on PostgreSQL as soon as the database's notice arrives.
    await expect
      .poll(async () => (await api().get('/api/v1/me', { bearer: account.key })).body.user, { timeout: 2000 })
      .toMatchObject({ tier: 'pro', displayName: 'Elsewhere' });

    await runElsewhere('update api_keys set revoked_at = $1 where user_id = $2', [Date.now(), account.id]);
    await expect
      .poll(async () => (await api().get('/api/v1/me', { bearer: account.key })).status, { timeout: 2000 })
      .toBe(401);
  });

  it('refuses an unknown key every time, however often it is tried', async () => {
    const account = await signUp(api());
    const forged = `${account.key.slice(0, -4)}AAAA`;
    for (let i = 0; i < 3; i++) {
      const res = await api().get('/api/v1/me', { bearer: forged });
      expect(res.status).toBe(401);
      expect(res.body.error.message).toBe('Invalid API key');
    }
  });
});

// Only PostgreSQL has a connection to hear of changes on, which a server can lose.
if (DATABASE_URL) {
  describe('API keys kept on PostgreSQL', () => {
    it('keeps nothing while it cannot hear of changes, and listens again', async () => {
      const account = await signUp(api());
      expect((await api().get('/api/v1/me', { bearer: account.key })).status).toBe(200);
      /** The server's listening connections: how many there are, ended when `end` says so. */
      const listeners = async (end: boolean) => {
        const client = new pg.Client({ connectionString: server.parley.config.databaseUrl });
        await client.connect();
        try {
          const { rows } = await client.query(
            `select ${end ? 'pg_terminate_backend(pid)' : 'pid'} from pg_stat_activity
              where application_name = 'parley-account-changes' and datname = current_database()
                and query like 'listen %'`,
          );
          return rows.length;
        } finally {
          await client.end();
        }
      };
      // A key revoked while the server cannot hear of it sends it no notice.
      expect(await listeners(true)).toBe(1);
      await runElsewhere('update api_keys set revoked_at = $1 where user_id = $2', [Date.now(), account.id]);
      await expect
        .poll(async () => (await api().get('/api/v1/me', { bearer: account.key })).status, { timeout: 2000 })
        .toBe(401);
      // Listening again, it has forgotten what it kept before: the key stays refused.
      await expect.poll(() => listeners(false), { timeout: 5000, interval: 100 }).toBe(1);
      expect((await api().get('/api/v1/me', { bearer: account.key })).status).toBe(401);
    });
  });
}
