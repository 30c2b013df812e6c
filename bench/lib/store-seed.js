// Rows written straight into the tables Parley's migrations made, for the scenarios that need a store far larger
// than its API could fill in a run (a million messages would take hours): the row layouts, the shuffles that
// scatter conversations' messages in time, and the bulk writers for SQLite and PostgreSQL. The rows pass through
// the tables as Parley's own writes would, so whatever the schema keeps from them (SQLite's search triggers,
// PostgreSQL's expression indexes) is kept as well.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

const MESSAGE_COLUMNS = {
  id: 'text',
  conversation_id: 'text',
  sender_id: 'text',
  role: 'text',
  content: 'text',
  attachments: 'text',
  model: 'text',
  prompt_tokens: 'int4',
  completion_tokens: 'int4',
  status: 'text',
  error: 'text',
  parent_id: 'text',
  client_id: 'text',
  created_at: 'int8',
  updated_at: 'int8',
};
const CONVERSATION_COLUMNS = {
  id: 'text',
  owner_id: 'text',
  bot_id: 'text',
  group_id: 'text',
  title: 'text',
  model: 'text',
  system_prompt: 'text',
  variables: 'text',
  context_cleared_at: 'int8',
  message_count: 'int4',
  last_message_id: 'text',
  last_message_preview: 'text',
  last_message_at: 'int8',
  created_at: 'int8',
  updated_at: 'int8',
};
/** The positions in a message row (MESSAGE_COLUMNS order) that the seeders read back. */
export const MESSAGE = { id: 0, conversationId: 1, content: 4, createdAt: 13 };
const PREVIEW_CHARS = 200;
const SEED_BATCH = 20_000;

/** A small fast PRNG (mulberry32): the same seed gives the same store, on SQLite and PostgreSQL alike. */
export function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The conversation of each message slot, in creation order: `counts[c]` slots for conversation c, shuffled, so
 * that a conversation's messages lie scattered among everyone else's (as in a store many people write to).
 */
export function interleave(counts, next) {
  const total = counts.reduce((a, b) => a + b, 0);
  const order = new Int32Array(total);
  for (let c = 0, i = 0; c < counts.length; c++) order.fill(c, i, (i += counts[c]));
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const slot = order[i];
    order[i] = order[j];
    order[j] = slot;
  }
  return order;
}

/**
 * A complete message row as Parley writes one. `k` is the message's place in its conversation: even places are
 * the owner's questions, odd ones the model's replies (with the usage a reply at that depth would have).
 */
export function messageRow({ id, conversationId, ownerId, k, content, parentId, at, model }) {
  const reply = k % 2 === 1;
  return [
    id,
    conversationId,
    reply ? null : ownerId,
    reply ? 'assistant' : 'user',
    content,
    '[]',
    reply ? model : null,
    reply ? 20 + 40 * k : null,
    reply ? Math.ceil(content.length / 4) : null,
    'complete',
    null,
    parentId,
    null,
    at,
    at,
  ];
}

/** A conversation row whose counters and preview agree with its messages (`last`: its newest message row). */
export function conversationRow({ id, ownerId, title, messageCount, last, createdAt }) {
  return [
    id,
    ownerId,
    null,
    null,
    title,
    null,
    null,
    '{}',
    null,
    messageCount,
    last[MESSAGE.id],
    last[MESSAGE.content].slice(0, PREVIEW_CHARS),
    last[MESSAGE.createdAt],
    createdAt,
    last[MESSAGE.createdAt],
  ];
}

function* batches(rows, size) {
  let batch = [];
  for (const row of rows) {
    batch.push(row);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/**
 * Seeds Parley's SQLite file (migrated, and no server running on it) in large transactions of prepared inserts:
 * `messages` (rows in creation order), then the rows `conversations()` gives once they are written.
 */
export function seedSqlite(file, { messages, conversations }) {
  const db = new Database(file);
  try {
    // Nothing to lose if the machine stops mid-seed: the run starts over.
    db.pragma('synchronous = OFF');
    const insertAll = (table, columns) => {
      const names = Object.keys(columns);
      const insert = db.prepare(
        `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
      );
      return db.transaction((rows) => {
        for (const row of rows) insert.run(row);
      });
    };
    const insertMessages = insertAll('messages', MESSAGE_COLUMNS);
    for (const batch of batches(messages, SEED_BATCH)) insertMessages(batch);
    insertAll('conversations', CONVERSATION_COLUMNS)(conversations());
    // As a server's own checkpoints would have done by now: the reads find the rows in the file, not the WAL.
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** Seeds Parley's PostgreSQL database (migrated) as `seedSqlite` does: one INSERT … SELECT FROM unnest(arrays) per batch. */
export async function seedPostgres(url, { messages, conversations }) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SET synchronous_commit = off');
    const insertAll = async (table, columns, rows) => {
      const names = Object.keys(columns);
      const sql =
        `INSERT INTO ${table} (${names.join(', ')}) ` +
        `SELECT * FROM unnest(${Object.values(columns)
          .map((type, i) => `$${i + 1}::${type}[]`)
          .join(', ')})`;
      for (const batch of batches(rows, SEED_BATCH)) {
        await client.query(
          sql,
          names.map((_, i) => batch.map((row) => row[i])),
        );
      }
    };
    await insertAll('messages', MESSAGE_COLUMNS, messages);
    await insertAll('conversations', CONVERSATION_COLUMNS, conversations());
    // What autovacuum does to a table this size within minutes: statistics for the planner, the visibility map,
    // and the GIN indexes' pending entries merged into the index proper.
    await client.query('VACUUM ANALYZE messages');
    await client.query('VACUUM ANALYZE conversations');
  } finally {
    await client.end();
  }
}

/** Runs `query(client)` on a store's PostgreSQL database, or `query(db)` on its SQLite file, and closes it. */
export async function inStore(store, { sqlite, postgres }) {
  if (store.name === 'sqlite') {
    const db = new Database(sqliteFile(store), { readonly: true });
    try {
      return sqlite(db);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: store.env.PARLEY_DATABASE_URL });
  await client.connect();
  try {
    return await postgres(client);
  } finally {
    await client.end();
  }
}

const sqliteFile = (store) => join(store.env.PARLEY_DATA_DIR, 'parley.db');

/**
 * Seeds a store (one of `parleyStores`, migrated, its server not running) with `rows()`'s messages and
 * conversations; says how long it took and how much room the store takes then.
 */
export async function seedStore(store, rows) {
  const started = performance.now();
  if (store.name === 'sqlite') seedSqlite(sqliteFile(store), rows());
  else await seedPostgres(store.env.PARLEY_DATABASE_URL, rows());
  const seconds = (performance.now() - started) / 1000;
  const bytes = await inStore(store, {
    sqlite: () => statSync(sqliteFile(store)).size,
    postgres: async (client) =>
      Number((await client.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n),
  });
  return { seconds, bytes };
}
