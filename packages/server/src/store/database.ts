import { mkdirSync } from 'node:fs';
import type SQLite from 'better-sqlite3';
import { join, resolve } from 'node:path';
import {
  CamelCasePlugin,
  CompiledQuery,
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type SqliteDialectConfig,
} from 'kysely';
import {
  ACCOUNT_CHANGES_LISTENER,
  postgresAccountChanges,
  sqliteAccountChanges,
  type AccountChangeFeed,
} from './account-changes.js';
import { migrationProvider } from './migrations/index.js';
import type { Tables } from './tables.js';

export interface DatabaseOptions {
  /** Empty for SQLite in `dataDir`, or a `postgres://` URL. */
  databaseUrl: string;
  dataDir: string;
  poolSize: number;
  /** Errors of idle pooled connections (PostgreSQL restarts, network drops): reported, not fatal. */
  onError?: (err: Error) => void;
}

export interface Database {
  readonly db: Kysely<Tables>;
  readonly dialect: 'sqlite' | 'postgres';
  readonly accountChanges: AccountChangeFeed;
  ping(): Promise<void>;
  migrate(): Promise<string[]>;
  close(): Promise<void>;
}

const PG_INT8 = 20;

/** Opens the configured database; only its own driver is loaded. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const dialect = options.databaseUrl ? 'postgres' : 'sqlite';
  const opened = dialect === 'postgres' ? await postgresDialect(options) : await sqliteDialect(options.dataDir);
  const db = new Kysely<Tables>({ dialect: opened.dialect, plugins: [new CamelCasePlugin()] });
  const { accountChanges } = opened;
  return {
    db,
    dialect,
    accountChanges,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async migrate() {
      const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
      if (error)
        throw new Error(`Cannot migrate the ${dialect} database: ${(error as Error).message}`, { cause: error });
      return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    },
    async close() {
      await accountChanges.close();
      await db.destroy();
    },
  };
}

interface OpenedDialect {
  dialect: SqliteDialect | PostgresDialect;
  accountChanges: AccountChangeFeed;
}

async function sqliteDialect(dataDir: string): Promise<OpenedDialect> {
  const { default: SQLite } = await import('better-sqlite3');
  mkdirSync(dataDir, { recursive: true });
  const file = new SQLite(resolve(join(dataDir, 'parley.db')));
  // WAL lets the CLI and other readers work while the server writes; the busy timeout makes a
  // writer wait for a concurrent one instead of failing.
  file.pragma('journal_mode = WAL');
  file.pragma('busy_timeout = 5000');
  file.pragma('synchronous = NORMAL');
  file.pragma('foreign_keys = ON');
  return {
    dialect: new SharedFileSqliteDialect({ database: withStatementCache(file) }),
    accountChanges: sqliteAccountChanges(file),
  };
}

/**
 * Kysely prepares every query anew; preparing costs more than running most of ours. The same SQL
 * text reuses its prepared statement (one connection, queries never interleave, so sharing is safe).
 */
function withStatementCache(file: SQLite.Database): SqliteDialectConfig['database'] {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => file.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        // Queries built with variable shapes (IN lists) would grow the cache without end: bound it.
        if (statements.size >= 1000) statements.clear();
        statements.set(sql, (statement = file.prepare(sql)));
      }
      return statement;
    },
  } as SqliteDialectConfig['database'];
}

/**
 * SQLite for a file that other processes (the CLI, a second server) write too. Transactions take
 * the write lock when they begin (`BEGIN IMMEDIATE`), so a transaction that reads then writes waits
 * for a concurrent writer instead of failing on a stale snapshot; and migrations run in one such
 * transaction (SQLite's DDL is transactional), so two processes starting at once migrate one after
 * the other.
 */
class SharedFileSqliteDialect extends SqliteDialect {
  constructor(private readonly sqliteConfig: SqliteDialectConfig) {
    super(sqliteConfig);
  }

  override createDriver(): SqliteDriver {
    return new ImmediateTransactionSqliteDriver(this.sqliteConfig);
  }

  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateTransactionSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

async function postgresDialect(options: DatabaseOptions): Promise<OpenedDialect> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize,
    // Millisecond timestamps are bigint columns; they fit a JS number exactly.
    types: { getTypeParser: (oid, format) => (oid === PG_INT8 ? Number : pg.types.getTypeParser(oid, format)) },
    connectionTimeoutMillis: 10_000,
  });
  // Without a listener, a connection dropped while idle would crash the process; the pool replaces it.
  pool.on('error', (err) => options.onError?.(err));
  const accountChanges = postgresAccountChanges(
    () =>
      new pg.Client({
        connectionString: options.databaseUrl,
        connectionTimeoutMillis: 10_000,
        application_name: ACCOUNT_CHANGES_LISTENER,
      }),
    (err) => options.onError?.(err as Error),
  );
  return { dialect: new PostgresDialect({ pool }), accountChanges };
}

/** Whether an error is a unique-constraint violation, on either database. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
