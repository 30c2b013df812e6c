import type SQLite from 'better-sqlite3';
import type pg from 'pg';
import type { AccountChanges } from '../core/accounts/model.js';
import { ACCOUNT_CHANGES_CHANNEL } from './migrations/0010_account_changes.js';

/** The store's news of account changes: its own writes are told by the repositories that make them. */
export interface AccountChangeFeed extends AccountChanges {
  /** Tells of a change this process made, at once (other processes learn of it from the database). */
  changed(userId: string): void;
  close(): Promise<void>;
}

/** The `application_name` of each server's listening connection, as `pg_stat_activity` shows it. */
export const ACCOUNT_CHANGES_LISTENER = 'parley-account-changes';

/** How long to wait before listening again after the connection was lost. */
const RELISTEN_DELAY_MS = 1000;

function listeners() {
  const all: ((userId?: string) => void)[] = [];
  return {
    add: (listener: (userId?: string) => void) => void all.push(listener),
    tell: (userId?: string) => {
      for (const listener of all) listener(userId);
    },
  };
}

/** How long what another process committed to the SQLite file may go unseen. */
const DATA_VERSION_CHECK_MS = 1;

/**
 * SQLite: the file's data version changes whenever another connection (the CLI, another process)
 * commits, whatever it wrote. Any such commit counts as a change of every account. Reading the
 * version costs as much as a small query, so it is read at most once a millisecond: what another
 * process commits counts from the next millisecond.
 */
export function sqliteAccountChanges(file: SQLite.Database): AccountChangeFeed {
  const dataVersion = file.prepare('pragma data_version').pluck();
  let seen = dataVersion.get();
  let checkedAt = performance.now();
  const news = listeners();
  return {
    onChange: news.add,
    changed: news.tell,
    current() {
      const now = performance.now();
      if (now - checkedAt < DATA_VERSION_CHECK_MS) return true;
      checkedAt = now;
      const version = dataVersion.get();
      if (version !== seen) {
        seen = version;
        news.tell();
      }
      return true;
    },
    close: async () => {},
  };
}

/**
 * PostgreSQL: a connection of its own listens for the changes the database's triggers announce, by
 * anyone (see migration 0010). It is opened on first need, so that the CLI never holds one; while it
 * is down, no change can be known and nothing read is kept.
 */
export function postgresAccountChanges(connect: () => pg.Client, onError: (err: unknown) => void): AccountChangeFeed {
  const news = listeners();
  let client: pg.Client | undefined;
  let listening = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  function listen(): void {
    retry = undefined;
    const connection = connect();
    client = connection;
    connection.on('notification', (message) => news.tell(message.payload || undefined));
    const lost = (err?: unknown) => {
      if (client !== connection) return;
      if (err && !closed) onError(err);
      listening = false;
      client = undefined;
      news.tell();
      connection.end().catch(() => {});
      if (!closed) retry = setTimeout(listen, RELISTEN_DELAY_MS).unref();
    };
    connection.on('error', lost);
    connection.on('end', () => lost());
    connection
      .connect()
      .then(() => connection.query(`listen ${ACCOUNT_CHANGES_CHANNEL}`))
      .then(() => {
        if (client === connection) listening = true;
      }, lost);
  }

  return {
    onChange: news.add,
    changed: news.tell,
    current() {
      if (!client && !retry && !closed) listen();
      return listening;
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      const connection = client;
      client = undefined;
      listening = false;
      await connection?.end().catch(() => {});
    },
  };
}
