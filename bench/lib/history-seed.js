// A store full of history for the history benchmark, written straight into the tables Parley's migrations made
// (the API would take hours for a million messages): conversations of the bench user, their messages
// interleaved in time as many conversations' are, with ULIDs ordered by creation time as Parley's own.
import Database from 'better-sqlite3';
import pg from 'pg';
import { monotonicFactory } from 'ulidx';

const MESSAGE_COLUMNS = [
  'id',
  'conversation_id',
  'sender_id',
  'role',
  'content',
  'attachments',
  'model',
  'prompt_tokens',
  'completion_tokens',
  'status',
  'error',
  'parent_id',
  'client_id',
  'created_at',
  'updated_at',
];
const MESSAGE_TYPES = [
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'int4',
  'int4',
  'text',
  'text',
  'text',
  'text',
  'int8',
  'int8',
];
const CONVERSATION_COLUMNS = [
  'id',
  'owner_id',
  'bot_id',
  'group_id',
  'title',
  'model',
  'system_prompt',
  'variables',
  'context_cleared_at',
  'message_count',
  'last_message_id',
  'last_message_preview',
  'last_message_at',
  'created_at',
  'updated_at',
];
const CONVERSATION_TYPES = [
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'int8',
  'int4',
  'text',
  'text',
  'int8',
  'int8',
  'int8',
];
const MODEL = 'bench-model';
const PREVIEW_CHARS = 200;
const WORDS = (
  'the a of to and in is it you that for on with as this was be have are not but what can or at from by all ' +
  'your how would there when which will one about more do if we they like so some time just question answer ' +
  'model server message conversation token stream history reply context because should could example code'
).split(' ');
// Lengths of messages in characters, [min, max): short questions, longer replies.
const LENGTHS = { user: [20, 300], assistant: [100, 1500] };
const SEED_BATCH = 20_000;

/** A small fast PRNG (mulberry32): the same seed gives the same store, on SQLite and PostgreSQL alike. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The history to seed: `messages` in all, `measured` of them in the conversation the benchmark reads (the first
 * one), the rest `perConversation` to a conversation. All conversations are made just before the first message;
 * the messages follow `stepMs` apart up to `end`, each slot going to a conversation at random, so that a
 * conversation's messages lie scattered among everyone else's (as in a store many people write to).
 */
export function planHistory({
  ownerId,
  messages,
  measured,
  perConversation,
  pageSize,
  stepMs = 30_000,
  end,
  seed = 1,
}) {
  const others = Math.ceil((messages - measured) / perConversation);
  const conversationCount = 1 + others;
  const next = random(seed);
  const counts = new Int32Array(conversationCount);
  counts[0] = measured;
  for (let c = 1; c < conversationCount; c++)
    counts[c] = Math.min(perConversation, messages - measured - (c - 1) * perConversation);
  const order = new Int32Array(messages);
  for (let c = 0, i = 0; c < conversationCount; c++) order.fill(c, i, (i += counts[c]));
  for (let i = messages - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const slot = order[i];
    order[i] = order[j];
    order[j] = slot;
  }
  const start = end - messages * stepMs;
  const newId = monotonicFactory(next);
  const conversationIds = Array.from({ length: conversationCount }, (_, c) => newId(start - conversationCount + c));
  const corpus = Array.from({ length: 200_000 }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
  return { ownerId, pageSize, stepMs, start, order, conversationIds, corpus, seed };
}

/**
 * Yields the message rows (values in MESSAGE_COLUMNS order) in creation order, then leaves on `plan` the
 * conversation rows (`plan.conversationRows`) and the newest page of the measured conversation as the native
 * API answers it (`plan.page`). Generates the same rows each time it runs on a plan made with the same seed.
 */
export function* messageRows(plan) {
  const { ownerId, order, conversationIds, corpus, start, stepMs } = plan;
  const next = random(plan.seed + 1);
  const newId = monotonicFactory(next);
  const n = conversationIds.length;
  const made = new Int32Array(n);
  const last = new Array(n).fill(null);
  const newest = [];
  for (let i = 0; i < order.length; i++) {
    const c = order[i];
    const k = made[c]++;
    const at = start + i * stepMs;
    const role = k % 2 === 0 ? 'user' : 'assistant';
    const [min, max] = LENGTHS[role];
    const length = min + Math.floor(next() * (max - min));
    const offset = Math.floor(next() * (corpus.length - length));
    const content = corpus.slice(offset, offset + length);
    const completionTokens = role === 'assistant' ? Math.ceil(length / 4) : null;
    const promptTokens = role === 'assistant' ? 20 + 40 * k : null;
    const row = [
      newId(at),
      conversationIds[c],
      role === 'user' ? ownerId : null,
      role,
      content,
      '[]',
      role === 'assistant' ? MODEL : null,
      promptTokens,
      completionTokens,
      'complete',
      null,
      last[c]?.[0] ?? null,
      null,
      at,
      at,
    ];
    last[c] = row;
    if (c === 0) {
      newest.push(row);
      if (newest.length > plan.pageSize) newest.shift();
    }
    yield row;
  }
  plan.conversationRows = conversationIds.map((id, c) => {
    const lastRow = last[c];
    const createdAt = start - n + c;
    return [
      id,
      ownerId,
      null,
      null,
      `Conversation ${c + 1}`,
      null,
      null,
      '{}',
      null,
      made[c],
      lastRow[0],
      lastRow[4].slice(0, PREVIEW_CHARS),
      lastRow[13],
      createdAt,
      lastRow[13],
    ];
  });
  plan.page = { items: newest.map(messageBody), hasMore: made[0] > plan.pageSize };
}

/** A message row as the native API answers it (the keys in the order of its schema). */
function messageBody(row) {
  const [id, conversationId, senderId, role, content, , model, promptTokens, completionTokens, status] = row;
  return {
    id,
    conversationId,
    senderId,
    role,
    content,
    attachments: [],
    model,
    usage:
      promptTokens === null ? null : { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
    status,
    error: null,
    parentId: row[11],
    clientId: null,
    createdAt: row[13],
    updatedAt: row[14],
  };
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

/** Seeds Parley's SQLite file (migrated, and no server running on it): large transactions of prepared inserts. */
export function seedSqlite(file, plan) {
  const db = new Database(file);
  try {
    // Nothing to lose if the machine stops mid-seed: the run starts over.
    db.pragma('synchronous = OFF');
    const insertAll = (table, columns) => {
      const insert = db.prepare(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      );
      return db.transaction((rows) => {
        for (const row of rows) insert.run(row);
      });
    };
    const messages = insertAll('messages', MESSAGE_COLUMNS);
    for (const batch of batches(messageRows(plan), SEED_BATCH)) messages(batch);
    insertAll('conversations', CONVERSATION_COLUMNS)(plan.conversationRows);
    // As a server's own checkpoints would have done by now: the reads find the rows in the file, not the WAL.
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** Seeds Parley's PostgreSQL database (migrated): one INSERT … SELECT FROM unnest(arrays) per batch of rows. */
export async function seedPostgres(url, plan) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SET synchronous_commit = off');
    const insertAll = async (table, columns, types, rows) => {
      const sql =
        `INSERT INTO ${table} (${columns.join(', ')}) ` +
        `SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;
      for (const batch of batches(rows, SEED_BATCH)) {
        await client.query(
          sql,
          columns.map((_, i) => batch.map((row) => row[i])),
        );
      }
    };
    await insertAll('messages', MESSAGE_COLUMNS, MESSAGE_TYPES, messageRows(plan));
    await insertAll('conversations', CONVERSATION_COLUMNS, CONVERSATION_TYPES, plan.conversationRows);
    // What autovacuum does to a table this size within minutes: statistics for the planner, the visibility map.
    await client.query('VACUUM ANALYZE messages');
    await client.query('VACUUM ANALYZE conversations');
  } finally {
    await client.end();
  }
}
