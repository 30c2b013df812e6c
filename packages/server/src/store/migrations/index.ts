import type { Migration, MigrationProvider } from 'kysely';
import * as accounts from './0001_accounts.js';
import * as gateway from './0002_gateway.js';
import * as revokedSessions from './0003_revoked_sessions.js';
import * as conversations from './0004_conversations.js';
import * as outbox from './0005_outbox.js';
import * as webhooks from './0006_webhooks.js';
import * as groups from './0007_groups.js';
import * as profilesTriggers from './0008_profiles_triggers.js';
import * as search from './0009_search.js';
import * as accountChanges from './0010_account_changes.js';

/** Every migration, in order. One set serves SQLite and PostgreSQL. */
const migrations: Record<string, Migration> = {
  '0001_accounts': accounts,
  '0002_gateway': gateway,
  '0003_revoked_sessions': revokedSessions,
  '0004_conversations': conversations,
  '0005_outbox': outbox,
  '0006_webhooks': webhooks,
  '0007_groups': groups,
  '0008_profiles_triggers': profilesTriggers,
  '0009_search': search,
  '0010_account_changes': accountChanges,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
