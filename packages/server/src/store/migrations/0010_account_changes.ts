import { PostgresAdapter, sql, type Kysely } from 'kysely';

/** The channel on which PostgreSQL announces changes of accounts, with the user's id as payload. */
export const ACCOUNT_CHANGES_CHANNEL = 'parley_account_changes';

const ANNOUNCED_USER_COLUMNS = [
  'username',
  'password_hash',
  'display_name',
  'avatar_url',
  'is_public',
  'role',
  'tier',
  'disabled',
  'sessions_valid_after',
].join(', ');

/**
 * Every server keeps what it read of API keys and their owners until they change. On PostgreSQL,
 * where several servers and the CLI share the database, triggers announce each change of a user or
 * of a key's standing to every listener, whoever made it. (On SQLite the file's data version tells
 * the server of changes by other processes; nothing is needed in the schema.) What changes on every
 * reply or request is not announced, since nothing read with a key depends on it: XP and level
 * (whoever shows them reads them afresh) and a key's last use.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql
    .raw(
      `create function account_changed() returns trigger language plpgsql as $$
      begin
        -- Each branch names only its own table's columns: a statement is planned when it first runs.
        if tg_table_name = 'users' then
          perform pg_notify('${ACCOUNT_CHANGES_CHANNEL}', coalesce(new.id, old.id));
        else
          perform pg_notify('${ACCOUNT_CHANGES_CHANNEL}', coalesce(new.user_id, old.user_id));
        end if;
        return null;
      end $$`,
    )
    .execute(db);
  await sql
    .raw(
      `create trigger users_changed after update of ${ANNOUNCED_USER_COLUMNS} or delete on users
        for each row execute function account_changed()`,
    )
    .execute(db);
  await sql
    .raw(
      `create trigger api_keys_changed after update of revoked_at, expires_at, key_hash, user_id or delete on api_keys
        for each row execute function account_changed()`,
    )
    .execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`drop trigger api_keys_changed on api_keys`.execute(db);
  await sql`drop trigger users_changed on users`.execute(db);
  await sql`drop function account_changed()`.execute(db);
}
