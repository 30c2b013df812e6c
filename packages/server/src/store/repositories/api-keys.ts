import type { Kysely } from 'kysely';
import type { AccountChangeFeed } from '../account-changes.js';
import type { ApiKey, ApiKeyRepository, User } from '../../core/accounts/model.js';
import { compiledOnce } from '../compiled.js';
import type { Tables } from '../tables.js';
import { toUser } from './users.js';

const USER_COLUMNS = [
  'id',
  'username',
  'passwordHash',
  'displayName',
  'avatarUrl',
  'isPublic',
  'role',
  'tier',
  'xp',
  'level',
  'disabled',
  'sessionsValidAfter',
  'createdAt',
  'updatedAt',
] as const;

type OwnerAlias<C extends string> = `owner${Capitalize<C>}`;

/** Owner columns get camelCase aliases, which the CamelCasePlugin maps back unchanged. */
const ownerAlias = <C extends (typeof USER_COLUMNS)[number]>(c: C) =>
  `owner${c[0]!.toUpperCase()}${c.slice(1)}` as OwnerAlias<C>;

export class SqlApiKeyRepository implements ApiKeyRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly changes: Pick<AccountChangeFeed, 'changed'>,
  ) {}

  async insert(key: ApiKey): Promise<void> {
    await this.db.insertInto('apiKeys').values(key).execute();
  }

  async listByUser(userId: string): Promise<ApiKey[]> {
    const rows = await this.db
      .selectFrom('apiKeys')
      .selectAll()
      .where('userId', '=', userId)
      .orderBy('id', 'desc')
      .execute();
    return rows;
  }

  async countActive(userId: string, now: number): Promise<number> {
    const { count } = await this.db
      .selectFrom('apiKeys')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('userId', '=', userId)
      .where('revokedAt', 'is', null)
      .where((eb) => eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', now)]))
      .executeTakeFirstOrThrow();
    return Number(count);
  }

  private readonly byHash = compiledOnce(() => this.byHashQuery('').compile());

  private byHashQuery(keyHash: string) {
    return this.db
      .selectFrom('apiKeys')
      .innerJoin('users', 'users.id', 'apiKeys.userId')
      .selectAll('apiKeys')
      .select(USER_COLUMNS.map((c) => `users.${c} as ${ownerAlias(c)}` as const))
      .where('apiKeys.keyHash', '=', keyHash);
  }

  async findByHashWithUser(keyHash: string): Promise<{ key: ApiKey; user: User } | undefined> {
    type Row = NonNullable<Awaited<ReturnType<ReturnType<typeof this.byHashQuery>['executeTakeFirst']>>>;
    const [row] = (await this.db.executeQuery<Row>(this.byHash([keyHash]))).rows;
    if (!row) return undefined;
    const key = {} as ApiKey;
    const owner = {} as Record<string, unknown>;
    for (const [column, value] of Object.entries(row)) {
      if (column.startsWith('owner')) owner[column[5]!.toLowerCase() + column.slice(6)] = value;
      else (key as unknown as Record<string, unknown>)[column] = value;
    }
    return { key, user: toUser(owner as Parameters<typeof toUser>[0]) };
  }

  async revoke(id: string, userId: string | undefined, at: number): Promise<boolean> {
    let query = this.db
      .updateTable('apiKeys')
      .set({ revokedAt: at })
      .where('id', '=', id)
      .where('revokedAt', 'is', null);
    if (userId !== undefined) query = query.where('userId', '=', userId);
    const revoked = await query.returning('userId').executeTakeFirst();
    if (revoked) this.changes.changed(revoked.userId);
    return revoked !== undefined;
  }

  async touch(id: string, at: number): Promise<void> {
    await this.db.updateTable('apiKeys').set({ lastUsedAt: at }).where('id', '=', id).execute();
  }
}
