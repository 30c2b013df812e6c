import type { Generated } from 'kysely';

/**
 * Row shapes as Kysely sees them (camelCase; the CamelCasePlugin maps to snake_case columns).
 * Booleans are stored as 0/1 integers and times as integer milliseconds on both databases.
 */
export interface Tables {
  users: UsersTable;
  apiKeys: ApiKeysTable;
  instanceFlags: InstanceFlagsTable;
}

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

export interface ApiKeysTable {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  keyHash: string;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
  createdAt: number;
}

/** One-time facts about this installation, e.g. that the first admin has been claimed. */
export interface InstanceFlagsTable {
  name: string;
  createdAt: number;
}
