// A store for the search benchmark: the bench user's conversations among other users', written straight into
// Parley's tables (lib/store-seed.js), in text whose words follow Zipf's law over a large vocabulary, as words in
// real text do, so that each query matches a realistic share of the messages: a common word many thousands,
// a rare one a few dozen. The seeder counts what each query must find, for the benchmark's checks.
import { monotonicFactory } from 'ulidx';
import { conversationRow, interleave, MESSAGE, messageRow, random } from './store-seed.js';

const MODEL = 'bench-model';
// Lengths of messages in characters, [min, max): short questions, longer replies.
const LENGTHS = [
  [20, 300],
  [100, 1500],
];
const SENTENCE_WORDS = [5, 15];
const TITLE_WORDS = [2, 6];
const VOCABULARY_SIZE = 20_000;
/** Zipf's exponent: the word of rank r comes up in proportion to 1 / r^s; near 1 in natural language. */
const ZIPF_EXPONENT = 1;

// The most frequent words, most frequent first: everyday English, with the words of a chat about software.
const HEAD = (
  'the of and to a in is it you that for on with as this was be have are not but what can or at from by all ' +
  'your how would there when which will one about more do if we they like so some time just use then also ' +
  'them than other only new first could into get make need way should these because any each which want ' +
  'work file code data user model question answer message example error value change thing here where well ' +
  'know see look help try run set add call return list read write test page line point case name start ' +
  'number part place show find give tell same while before after again every still through between under ' +
  'good great small large long short high low right left next last early late open close keep hold turn ' +
  'move play live believe bring happen begin seem feel leave mean put think come take go say people year ' +
  'day world life hand week system program problem fact group company country story lot book word business ' +
  'issue side kind head house service friend father power hour game end member law car city community ' +
  'request response function method class object string array table query index update delete create ' +
  'version release build deploy config option default network client browser script library package ' +
  'stream token reply context history chat prompt output input format parse render layout style button'
)
  .split(' ')
  .filter((word, i, all) => all.indexOf(word) === i);
const ONSETS = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z'].concat([
  'br',
  'ch',
  'cl',
  'dr',
  'fl',
  'gr',
  'pl',
  'pr',
  'sh',
  'sl',
  'st',
  'th',
  'tr',
]);
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'io', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 'm', 't', 'nd', 'st'];

/**
 * The queries measured, each with a word (or two) placed in the vocabulary at a rank that gives it the share of
 * messages wanted: a common word (about a fifth of them), two mid-frequency words (each in about a tenth, both
 * in about 1%), a rare word (a few dozen of 100,000). `none` is a word that only the other users wrote: nothing
 * of the bench user's matches, but the index holds a thousand matches of others' that the scope has to exclude.
 */
export const QUERIES = [
  { name: 'common', query: 'server', what: 'one common word' },
  { name: 'two words', query: 'memory cache', what: 'two mid-frequency words, both required' },
  { name: 'rare', query: 'kubernetes', what: 'one rare word' },
  { name: 'none', query: 'zeppelin', what: "a word only other users' messages hold" },
];
const PLACED = { server: 30, memory: 60, cache: 90, kubernetes: 12_000 };
const OTHERS_ONLY = 'zeppelin';
/** Share of the other users' messages that hold OTHERS_ONLY. */
const OTHERS_ONLY_SHARE = 0.01;
/** Matches listed by id up to this many (the largest page a search gives), for a check of the whole set. */
export const LISTED_MATCHES = 100;

const between = (next, [min, max]) => min + Math.floor(next() * (max - min));

/** VOCABULARY_SIZE distinct words, most frequent first: HEAD, then made-up words, with PLACED at their ranks. */
function vocabulary(next) {
  const placed = new Set([...Object.keys(PLACED), OTHERS_ONLY]);
  const words = HEAD.filter((w) => !placed.has(w));
  const seen = new Set([...words, ...placed]);
  const pick = (list) => list[Math.floor(next() * list.length)];
  while (words.length < VOCABULARY_SIZE - Object.keys(PLACED).length) {
    let word = '';
    for (let s = between(next, [2, 4]); s > 0; s--) word += pick(ONSETS) + pick(VOWELS) + (s === 1 ? pick(CODAS) : '');
    if (!seen.has(word)) {
      seen.add(word);
      words.push(word);
    }
  }
  for (const [word, rank] of Object.entries(PLACED).sort((a, b) => a[1] - b[1])) words.splice(rank - 1, 0, word);
  return words;
}

/** Draws word indices (ranks − 1) by Zipf's law: a binary search of the cumulative distribution. */
function zipf(size, next) {
  const cumulative = new Float64Array(size);
  let total = 0;
  for (let r = 0; r < size; r++) cumulative[r] = total += 1 / (r + 1) ** ZIPF_EXPONENT;
  return () => {
    const u = next() * total;
    let lo = 0;
    let hi = size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * The store: each owner (`{ userId, messages }`, the bench user first) gets `messages` in conversations of
 * `perConversation`, made just before the first message; the messages follow `stepMs` apart up to `end`, all
 * owners' conversations interleaved at random. The same seed gives the same text and ids on every store.
 */
export function planSearchStore({ owners, perConversation, end, stepMs = 30_000, seed = 1 }) {
  const next = random(seed);
  const counts = [];
  const ownerOf = [];
  owners.forEach((owner, o) => {
    for (let left = owner.messages; left > 0; left -= perConversation) {
      counts.push(Math.min(perConversation, left));
      ownerOf.push(o);
    }
  });
  const order = interleave(counts, next);
  const start = end - order.length * stepMs;
  const newId = monotonicFactory(next);
  const conversationIds = counts.map((_, c) => newId(start - counts.length + c));
  return { owners, ownerOf, order, conversationIds, start, stepMs, seed, words: vocabulary(next) };
}

/** What a query must find in the bench user's scope, and in the whole store. */
function emptyCounts() {
  return { scopeMessages: 0, storeMessages: 0, scopeConversations: 0, listed: [], conversationIds: new Set() };
}

/**
 * The plan's rows for `seedStore` (lib/store-seed.js): messages in creation order, then the conversations. Once
 * the messages are written, `plan.expected[query name]` holds what each query of QUERIES must find: the bench
 * user's matching messages (their ids when no more than LISTED_MATCHES) and conversations (by a message or the
 * title), and the matching messages of the whole store.
 */
export function searchRows(plan) {
  const { owners, ownerOf, order, conversationIds, start, stepMs, words } = plan;
  const next = random(plan.seed + 1);
  const newId = monotonicFactory(next);
  const draw = zipf(words.length, next);
  // Each query word is a bit; a text's mask says which of them it holds.
  const queryWords = [...new Set(QUERIES.flatMap((q) => q.query.split(' ')))];
  const bitOf = new Map(queryWords.map((w, i) => [w, 1 << i]));
  const bitByIndex = new Map(words.map((w, i) => [i, bitOf.get(w)]).filter(([, bit]) => bit));
  const queryMasks = QUERIES.map((q) => q.query.split(' ').reduce((m, w) => m | bitOf.get(w), 0));

  /** `count` Zipf-drawn words, and the mask of the query words among them. */
  const drawWords = (count) => {
    const drawn = [];
    let mask = 0;
    for (let i = 0; i < count; i++) {
      const index = draw();
      mask |= bitByIndex.get(index) ?? 0;
      drawn.push(words[index]);
    }
    return { drawn, mask };
  };
  const capitalized = (list) => [list[0][0].toUpperCase() + list[0].slice(1), ...list.slice(1)].join(' ');

  /** Sentences up to `length` characters (the last one may end past it), `extra` put somewhere among their words. */
  const text = (length, extra) => {
    const sentences = [];
    let chars = 0;
    let mask = 0;
    while (chars < length) {
      const { drawn, mask: m } = drawWords(between(next, SENTENCE_WORDS));
      sentences.push(drawn);
      mask |= m;
      chars += drawn.reduce((sum, w) => sum + w.length + 1, 0);
    }
    if (extra) {
      const sentence = sentences[Math.floor(next() * sentences.length)];
      sentence.splice(Math.floor(next() * (sentence.length + 1)), 0, extra);
      mask |= bitOf.get(extra);
    }
    return { content: sentences.map((s) => `${capitalized(s)}.`).join(' '), mask };
  };

  const n = conversationIds.length;
  const titles = conversationIds.map(() => {
    const { drawn, mask } = drawWords(between(next, TITLE_WORDS));
    return { title: capitalized(drawn), mask };
  });
  const expected = Object.fromEntries(QUERIES.map((q) => [q.name, emptyCounts()]));
  const made = new Int32Array(n);
  const last = new Array(n).fill(null);

  function* messages() {
    for (let i = 0; i < order.length; i++) {
      const c = order[i];
      const k = made[c]++;
      const inScope = ownerOf[c] === 0;
      const { content, mask } = text(
        between(next, LENGTHS[k % 2]),
        !inScope && next() < OTHERS_ONLY_SHARE ? OTHERS_ONLY : null,
      );
      const row = messageRow({
        id: newId(start + i * stepMs),
        conversationId: conversationIds[c],
        ownerId: owners[ownerOf[c]].userId,
        k,
        content,
        parentId: last[c]?.[MESSAGE.id] ?? null,
        at: start + i * stepMs,
        model: MODEL,
      });
      last[c] = row;
      QUERIES.forEach((q, j) => {
        if ((mask & queryMasks[j]) !== queryMasks[j]) return;
        const e = expected[q.name];
        e.storeMessages++;
        if (!inScope) return;
        e.scopeMessages++;
        if (e.listed.length < LISTED_MATCHES) e.listed.push(row[MESSAGE.id]);
        e.conversationIds.add(row[MESSAGE.conversationId]);
      });
      yield row;
    }
    QUERIES.forEach((q, j) => {
      const e = expected[q.name];
      titles.forEach(({ mask }, c) => {
        if (ownerOf[c] === 0 && (mask & queryMasks[j]) === queryMasks[j]) e.conversationIds.add(conversationIds[c]);
      });
      e.scopeConversations = e.conversationIds.size;
    });
    plan.expected = expected;
  }

  const conversations = () =>
    conversationIds.map((id, c) =>
      conversationRow({
        id,
        ownerId: owners[ownerOf[c]].userId,
        title: titles[c].title,
        messageCount: made[c],
        last: last[c],
        createdAt: start - n + c,
      }),
    );
  return { messages: messages(), conversations };
}

/** The words of a text as both stores' tokenizers split them, for these texts of plain letters. */
export const wordsOf = (text) => new Set(text.toLowerCase().match(/\p{L}+/gu) ?? []);

/** The bench user's conversation ids. */
export const scopeConversationIds = (plan) => new Set(plan.conversationIds.filter((_, c) => plan.ownerOf[c] === 0));
