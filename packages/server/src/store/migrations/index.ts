import type { Migration, MigrationProvider } from 'kysely';
import * as accounts from './0001_accounts.js';
import * as gateway from './0002_gateway.js';

/** Every migration, in order. One set serves SQLite and PostgreSQL. */
const migrations: Record<string, Migration> = {
  '0001_accounts': accounts,
  '0002_gateway': gateway,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
