// A store full of history for the history benchmark, written straight into the tables Parley's migrations made
// (the API would take hours for a million messages): conversations of the bench user, their messages
// interleaved in time as many conversations' are, with ULIDs ordered by creation time as Parley's own.
import { monotonicFactory } from 'ulidx';
import { conversationRow, interleave, MESSAGE, messageRow, random } from './store-seed.js';

const MODEL = 'bench-model';
const WORDS = (
  'the a of to and in is it you that for on with as this was be have are not but what can or at from by all ' +
  'your how would there when which will one about more do if we they like so some time just question answer ' +
  'model server message conversation token stream history reply context because should could example code'
).split(' ');
// Lengths of messages in characters, [min, max): short questions, longer replies.
const LENGTHS = { user: [20, 300], assistant: [100, 1500] };

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
  const order = interleave(counts, next);
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
    const row = messageRow({
      id: newId(at),
      conversationId: conversationIds[c],
      ownerId,
      k,
      content,
      parentId: last[c]?.[MESSAGE.id] ?? null,
      at,
      model: MODEL,
    });
    last[c] = row;
    if (c === 0) {
      newest.push(row);
      if (newest.length > plan.pageSize) newest.shift();
    }
    yield row;
  }
  plan.conversationRows = conversationIds.map((id, c) =>
    conversationRow({
      id,
      ownerId,
      title: `Conversation ${c + 1}`,
      messageCount: made[c],
      last: last[c],
      createdAt: start - n + c,
    }),
  );
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

/** The plan's rows, for `seedStore` (lib/store-seed.js). */
export const historyRows = (plan) => ({ messages: messageRows(plan), conversations: () => plan.conversationRows });
