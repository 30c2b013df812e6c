import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/store/database.js';
import { SqlUserRepository } from '../src/store/repositories/users.js';
import { isolatedStores, type Isolated } from './helpers/env.js';

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
      const users = new SqlUserRepository(database.db);
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
      expect(await users.countAdmins({ excludingDisabled: true })).toBe(1);
    });
  });
});
