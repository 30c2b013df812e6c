import type { Generated } from 'kysely';
import type { ApiKey } from '../core/accounts/model.js';
import type { UsageRecord } from '../core/usage.js';

/**
 * Row shapes as Kysely sees them (camelCase; the CamelCasePlugin maps to snake_case columns).
 * Booleans are stored as 0/1 integers and times as integer milliseconds on both databases.
 */
export interface Tables {
  users: UsersTable;
  apiKeys: ApiKeysTable;
  instanceFlags: InstanceFlagsTable;
  channels: ChannelsTable;
  usageRecords: UsageRecordsTable;
  revokedSessions: RevokedSessionsTable;
}

/** Sessions ended by logout, kept until no token of theirs can still be valid. */
export interface RevokedSessionsTable {
  sessionId: string;
  expiresAt: number;
}

export interface ChannelsTable {
  id: string;
  name: string;
  provider: string;
  baseUrl: string;
  /** JSON array of sealed keys. */
  sealedApiKeys: string;
  /** JSON array of model ids. */
  models: string;
  priority: number;
  weight: number;
  strategy: string;
  enabled: number;
  dailyQuota: number;
  createdAt: number;
  updatedAt: number;
}

/** Usage records are stored exactly as the core models them. */
export type UsageRecordsTable = UsageRecord;

export interface UsersTable {
  id: string;
  username: string;
  passwordHash: string;
  displayName: string;
  avatarUrl: string | null;
  isPublic: number;
  role: string;
  tier: string;
  xp: Generated<number>;
  level: Generated<number>;
  disabled: Generated<number>;
  sessionsValidAfter: Generated<number>;
  createdAt: number;
  updatedAt: number;
}

/** Keys are stored exactly as the core models them. */
export type ApiKeysTable = ApiKey;

/** One-time facts about this installation, e.g. that the first admin has been claimed. */
export interface InstanceFlagsTable {
  name: string;
  createdAt: number;
}
