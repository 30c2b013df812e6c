import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/store/database.js';
import { SqlUserRepository } from '../src/store/repositories/users.js';
import pg from 'pg';
import { signUp } from './helpers/accounts.js';
import { DATABASE_URL, isolatedStores, type Isolated } from './helpers/env.js';
import { startServer } from './helpers/server.js';

const DATABASE_MODULE = fileURLToPath(new URL('../dist/store/database.js', import.meta.url));

/** Opens the database in a process of its own and migrates it; resolves with what it printed. */
function migrateInProcess(stores: Isolated): Promise<string> {
  const script = `
    const { openDatabase } = await import(${JSON.stringify(DATABASE_MODULE)});
    const db = await openDatabase({ databaseUrl: process.env.URL, dataDir: process.env.DIR, poolSize: 1 });
    try { await db.migrate(); console.log('migrated'); } catch (err) { console.log('failed: ' + err.message); } finally { await db.close(); }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, URL: stores.databaseUrl, DIR: stores.dataDir },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
}

describe('the database', () => {
  let stores: Isolated;
  beforeAll(async () => {
    stores = await isolatedStores();
  });
  afterAll(() => stores.cleanup());

  it('is migrated by several processes starting at once, one after the other', async () => {
    const outputs = await Promise.all([1, 2, 3, 4].map(() => migrateInProcess(stores)));
    expect(outputs).toEqual(['migrated', 'migrated', 'migrated', 'migrated']);
  });

  describe('users', () => {
    let database: Database;
    beforeAll(async () => {
      database = await openDatabase({ databaseUrl: stores.databaseUrl, dataDir: stores.dataDir, poolSize: 5 });
    });
    afterAll(() => database.close());

    it('makes exactly one admin of concurrent first registrations', async () => {
      const users = new SqlUserRepository(database.db, database.dialect, database.accountChanges);
      const now = Date.now();
      const created = await Promise.all(
        ['u1', 'u2', 'u3', 'u4', 'u5'].map((name) =>
          users.insert({
            id: `id-${name}`,
            username: name,
            passwordHash: 'x',
            displayName: name,
            avatarUrl: null,
            isPublic: false,
            role: 'first-user-admin',
            tier: 'free',
            xp: 0,
            level: 1,
            disabled: false,
            sessionsValidAfter: 0,
            createdAt: now,
            updatedAt: now,
          }),
        ),
      );
      expect(created.filter((u) => u.role === 'admin')).toHaveLength(1);
    });

    it('never lets two admins demoting each other at once leave no admin', async () => {
      const users = new SqlUserRepository(database.db, database.dialect, database.accountChanges);
      const admins = async () =>
        (await database.db.selectFrom('users').select('id').where('role', '=', 'admin').execute()).map((r) => r.id);
      const [first] = await admins();
      const second = first === 'id-u1' ? 'id-u2' : 'id-u1';
      await users.update(second, { role: 'admin', updatedAt: Date.now() });
      expect(await admins()).toHaveLength(2);
      const demote = (id: string) =>
        users.update(id, { role: 'user', updatedAt: Date.now() }, { keepAnActiveAdmin: true });
      const outcomes = await Promise.allSettled([demote(first!), demote(second)]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({ reason: { code: 'CONFLICT' } });
      expect(await admins()).toHaveLength(1);
    });
  });
});

// Only PostgreSQL has connections that a server can lose while idle.
if (DATABASE_URL) {
  describe('on PostgreSQL', () => {
    it('survives its idle connections being dropped', async () => {
      const server = await startServer();
      try {
        const account = await signUp(server.http);
        const dbName = new URL(server.config.databaseUrl).pathname.slice(1);
        const admin = new pg.Client({ connectionString: DATABASE_URL });
        await admin.connect();
        const { rowCount } = await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [dbName],
        );
        await admin.end();
        expect(rowCount).toBeGreaterThan(0);
        await new Promise((r) => setTimeout(r, 100));
        expect((await server.http.get('/api/v1/me', { bearer: account.key })).status).toBe(200);
      } finally {
        await server.close();
      }
    });
  });
}
