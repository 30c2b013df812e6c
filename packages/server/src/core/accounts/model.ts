import type { TierName } from '../../config/schema.js';
import type { OutboxEvent } from '../events.js';

export type Role = 'admin' | 'user';
export const ROLES = ['admin', 'user'] as const satisfies readonly Role[];
export type Tier = TierName;

/** A user as stored. `passwordHash` never leaves the core; surfaces get `PublicUser` shapes. */
export interface User {
  id: string;
  username: string;
  passwordHash: string;
  displayName: string;
  avatarUrl: string | null;
  isPublic: boolean;
  role: Role;
  tier: Tier;
  xp: number;
  level: number;
  disabled: boolean;
  /** Sessions issued before this instant (ms) are no longer valid, e.g. after a password change. */
  sessionsValidAfter: number;
  createdAt: number;
  updatedAt: number;
}

export type NewUser = Omit<User, 'role'> & { role: Role | 'first-user-admin' };

export type UserPatch = Partial<
  Pick<
    User,
    'displayName' | 'avatarUrl' | 'isPublic' | 'role' | 'tier' | 'disabled' | 'passwordHash' | 'sessionsValidAfter'
  >
> & { updatedAt: number };

export interface ApiKey {
  id: string;
  userId: string;
  name: string;
  /** The first characters of the secret, enough to recognise a key in a list. */
  prefix: string;
  keyHash: string;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
  createdAt: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Where users live; implemented in `store/`. */
export interface UserRepository {
  /**
   * Inserts a user. With role `first-user-admin` the user becomes admin if and only if it is the
   * first user with a password (guests do not count), decided atomically even under concurrent
   * registrations.
   */
  insert(user: NewUser): Promise<User>;
  findById(id: string): Promise<User | undefined>;
  findByUsername(username: string): Promise<User | undefined>;
  /**
   * Applies the patch. With `keepAnActiveAdmin`, refuses (Conflict) a change that would leave no
   * active admin, decided atomically against concurrent changes. The events `outbox` makes of the
   * updated user go to the outbox in the same transaction.
   */
  update(
    id: string,
    patch: UserPatch,
    options?: { keepAnActiveAdmin?: boolean; outbox?: (updated: User) => OutboxEvent[] },
  ): Promise<User | undefined>;
  /**
   * Adds XP, and raises the level to `levelOf` the new total (never lowers it), atomically; the
   * events `outbox` makes of the change go to the outbox in the same transaction.
   */
  addXp(
    id: string,
    points: number,
    levelOf: (xp: number) => number,
    outbox: (before: User, after: User) => OutboxEvent[],
  ): Promise<{ before: User; after: User } | undefined>;
  /** Users ordered by id (creation order), starting after the cursor id. */
  list(options: { limit: number; after?: string }): Promise<User[]>;
}

/**
 * News of changes to accounts (users and their API keys), wherever they are made, so that what was
 * read of them may be kept until they change.
 */
export interface AccountChanges {
  /** `listener` gets the id of a user whose account or keys changed, or nothing when any may have. */
  onChange(listener: (userId?: string) => void): void;
  /**
   * Whether every change is known now, any not yet told having been told first. False while changes
   * cannot be known (the news connection is down): then nothing read may be kept. Cheap: it is
   * asked on every request.
   */
  current(): boolean;
}

export interface ApiKeyRepository {
  insert(key: ApiKey): Promise<void>;
  listByUser(userId: string): Promise<ApiKey[]>;
  countActive(userId: string, now: number): Promise<number>;
  /** The key with this hash and its owner, in one lookup: this runs on every key-authenticated request. */
  findByHashWithUser(keyHash: string): Promise<{ key: ApiKey; user: User } | undefined>;
  /** Marks the key revoked if it belongs to the user (any user when `userId` is undefined). */
  revoke(id: string, userId: string | undefined, at: number): Promise<boolean>;
  touch(id: string, at: number): Promise<void>;
}
