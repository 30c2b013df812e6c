import type { Kysely, Selectable } from 'kysely';
import type { AccountChangeFeed } from '../account-changes.js';
import type { NewUser, Role, Tier, User, UserPatch, UserRepository } from '../../core/accounts/model.js';
import { NO_PASSWORD } from '../../core/accounts/rules.js';
import { Conflict } from '../../core/errors.js';
import type { OutboxEvent } from '../../core/events.js';
import { isUniqueViolation } from '../database.js';
import { compiledOnce } from '../compiled.js';
import { writeOutbox } from '../outbox.js';
import type { Tables, UsersTable } from '../tables.js';

export const FIRST_ADMIN_FLAG = 'first_admin';

export class SqlUserRepository implements UserRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly dialect: 'sqlite' | 'postgres',
    private readonly changes: Pick<AccountChangeFeed, 'changed'>,
  ) {}

  async insert(user: NewUser): Promise<User> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        let role: Role = user.role === 'admin' ? 'admin' : 'user';
        if (user.role === 'first-user-admin') {
          // Guests (no password) do not count: the first account someone registers still becomes admin.
          const anyone = await trx
            .selectFrom('users')
            .select('id')
            .where('passwordHash', '!=', NO_PASSWORD)
            .limit(1)
            .executeTakeFirst();
          if (!anyone) {
            // Concurrent first registrations all see an empty table; the flag's primary key lets one win.
            const claim = await trx
              .insertInto('instanceFlags')
              .values({ name: FIRST_ADMIN_FLAG, createdAt: user.createdAt })
              .onConflict((oc) => oc.column('name').doNothing())
              .executeTakeFirst();
            if (Number(claim.numInsertedOrUpdatedRows ?? 0) === 1) role = 'admin';
          }
        }
        const created: User = { ...user, role };
        await trx.insertInto('users').values(toRow(created)).execute();
        return created;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict('Username is already taken', 'username');
      throw err;
    }
  }

  /** Read on every session-authenticated request. */
  private readonly byId = compiledOnce(() => this.db.selectFrom('users').selectAll().where('id', '=', '').compile());

  async findById(id: string): Promise<User | undefined> {
    const [row] = (await this.db.executeQuery<Selectable<UsersTable>>(this.byId([id]))).rows;
    return row && toUser(row);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row && toUser(row);
  }

  async update(
    id: string,
    patch: UserPatch,
    options: { keepAnActiveAdmin?: boolean; outbox?: (updated: User) => OutboxEvent[] } = {},
  ): Promise<User | undefined> {
    const { isPublic, disabled, ...rest } = patch;
    const values = {
      ...rest,
      ...(isPublic === undefined ? {} : { isPublic: Number(isPublic) }),
      ...(disabled === undefined ? {} : { disabled: Number(disabled) }),
    };
    const apply = (db: Kysely<Tables>) =>
      db.updateTable('users').set(values).where('id', '=', id).returningAll().executeTakeFirst();
    if (!options.keepAnActiveAdmin && !options.outbox) {
      const row = await apply(this.db);
      if (row) this.changes.changed(id);
      return row && toUser(row);
    }

    const updated = await this.db.transaction().execute(async (trx) => {
      // Two admins demoting each other at once must not both succeed: on PostgreSQL the admin rows
      // are locked first; on SQLite the transaction holds the write lock from its start.
      if (options.keepAnActiveAdmin && this.dialect === 'postgres') {
        await trx
          .selectFrom('users')
          .select('id')
          .where('role', '=', 'admin')
          .where('disabled', '=', 0)
          .forUpdate()
          .execute();
      }
      const row = await apply(trx);
      if (options.keepAnActiveAdmin) {
        const { count } = await trx
          .selectFrom('users')
          .select((eb) => eb.fn.countAll<number>().as('count'))
          .where('role', '=', 'admin')
          .where('disabled', '=', 0)
          .executeTakeFirstOrThrow();
        if (Number(count) === 0) throw new Conflict('The last active admin cannot be demoted or disabled');
      }
      const updated = row && toUser(row);
      if (updated && options.outbox) await writeOutbox(trx, options.outbox(updated));
      return updated;
    });
    if (updated) this.changes.changed(id);
    return updated;
  }

  async addXp(
    id: string,
    points: number,
    levelOf: (xp: number) => number,
    outbox: (before: User, after: User) => OutboxEvent[],
  ): Promise<{ before: User; after: User } | undefined> {
    // XP changes on every reply and is read afresh where shown: it voids no key (see migration 0010).
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('users')
        .set((eb) => ({ xp: eb('xp', '+', points) }))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      if (!row) return undefined;
      const added = toUser(row);
      const before = { ...added, xp: added.xp - points };
      const level = Math.max(added.level, levelOf(added.xp));
      if (level !== added.level) await trx.updateTable('users').set({ level }).where('id', '=', id).execute();
      const after = { ...added, level };
      await writeOutbox(trx, outbox(before, after));
      return { before, after };
    });
  }

  async list({ limit, after }: { limit: number; after?: string }): Promise<User[]> {
    let query = this.db.selectFrom('users').selectAll().orderBy('id').limit(limit);
    if (after) query = query.where('id', '>', after);
    return (await query.execute()).map(toUser);
  }
}

function toRow(user: User) {
  return { ...user, isPublic: Number(user.isPublic), disabled: Number(user.disabled) };
}

export function toUser(row: Selectable<UsersTable>): User {
  return {
    ...row,
    role: row.role as Role,
    tier: row.tier as Tier,
    isPublic: row.isPublic === 1,
    disabled: row.disabled === 1,
  };
}
