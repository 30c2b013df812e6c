import { join } from 'node:path';
import { cpuLayout, waitForIdleProcess } from '../lib/cpu.js';
import { fixed, megabytes, perSecond } from '../lib/format.js';
import { runMeteredLoad } from '../lib/load.js';
import { autocannonNote, databaseNotes, placementNotes, troubleNotes, unpinnedStores } from '../lib/notes.js';
import { parseLoadOptions, positiveIntegers, recordedOptions } from '../lib/options.js';
import { waitForIdleDatabase } from '../lib/postgres.js';
import { profiledRoundLabel, profileParley, profilesData, profileTables } from '../lib/profile-table.js';
import { repoRoot } from '../lib/process.js';
import { cpuCells, roundsTable, spreadCell } from '../lib/rounds-table.js';
import { announceRounds, failedInRounds, interleavedRounds, summarizeRounds } from '../lib/rounds.js';
import {
  LISTED_MATCHES,
  planSearchStore,
  QUERIES,
  scopeConversationIds,
  searchRows,
  wordsOf,
} from '../lib/search-seed.js';
import { createUser, startParley, UNLIMITED_TIERS, withParleyStores } from '../lib/servers.js';
import { inStore, seedStore } from '../lib/store-seed.js';
import { targetRows } from '../lib/target-table.js';

const TARGETS = { p95Ms: 50, latencyAt: [1, 16] };
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const TYPES = ['messages', 'conversations'];
/** Parley's default page of results: what a search box asks for. */
const PAGE = 20;
const PROFILE_CONNECTIONS = 16;
const PROFILED_QUERY = 'common';
const DRAIN_NOTED_MS = 1000;
const NO_HYBRID =
  'not measured: Parley has no embedding provider for search yet, so there are no vectors to rank by meaning ' +
  "and nothing to fuse with the lexical ranks; every search answers mode 'lexical'";

function parseOptions(argv) {
  const { options, values } = parseLoadOptions(argv, {
    defaults: { duration: 5, rounds: 3, warmup: 1, connections: [1, 16] },
    extra: {
      messages: { type: 'string', default: '100000' },
      'other-messages': { type: 'string', default: '100000' },
      'other-users': { type: 'string', default: '4' },
      'per-conversation': { type: 'string', default: '50' },
    },
  });
  const counts = positiveIntegers(values, ['messages', 'other-messages', 'other-users', 'per-conversation']);
  return {
    ...options,
    messages: counts.messages,
    otherMessages: counts['other-messages'],
    otherUsers: counts['other-users'],
    perConversation: counts['per-conversation'],
  };
}

/** The other users share `total` messages as evenly as whole numbers allow. */
const shares = (total, users) =>
  Array.from({ length: users }, (_, i) => Math.floor(total / users) + (i < total % users ? 1 : 0));

/** What the store's lexical index holds once seeded: its documents, and on PostgreSQL their size. */
function indexSize(store) {
  return inStore(store, {
    sqlite: (db) => `${db.prepare('SELECT count(*) AS n FROM search_documents').get().n} documents`,
    postgres: async (client) => {
      const { rows } = await client.query(
        "SELECT (SELECT count(*) FROM message_search) AS n, pg_total_relation_size('message_search') AS m, pg_relation_size('conversations_search') AS c",
      );
      return `${rows[0].n} documents, ${megabytes(Number(rows[0].m))} MB with their GIN index + ${megabytes(Number(rows[0].c))} MB of titles`;
    },
  });
}

const search = (target, body) =>
  fetch(`${target.url()}/api/v1/search`, {
    method: 'POST',
    headers: target.headers,
    body: JSON.stringify(body),
  });

/**
 * One search outside the load, with the largest page: every result must be the bench user's and hold every word
 * of the query, as many as the seeder counted (up to the page), the very ones when they all fit, best first.
 */
async function check(target) {
  const { type, query, expected, scope, userId } = target;
  const res = await search(target, { query: query.query, type, limit: LISTED_MATCHES });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${target.label}: status ${res.status}: ${text.slice(0, 200)}`);
  const { mode, results } = JSON.parse(text);
  const terms = query.query.split(' ');
  const wanted = type === 'messages' ? expected.scopeMessages : expected.scopeConversations;
  const ids = results.map((r) => (type === 'messages' ? r.message.id : r.conversation.id));
  const inScope =
    type === 'messages'
      ? results.every((r) => scope.has(r.message.conversationId))
      : results.every((r) => r.conversation.ownerId === userId && expected.conversationIds.has(r.conversation.id));
  // A conversation's snippet shows its first match: one of the words at least.
  const holdWords =
    type === 'messages'
      ? results.every((r) => terms.every((t) => wordsOf(r.message.content).has(t)))
      : results.every((r) => terms.some((t) => wordsOf(r.snippet).has(t)));
  const all = type === 'messages' ? new Set(expected.listed) : expected.conversationIds;
  const sameSet = wanted > LISTED_MATCHES ? null : ids.length === all.size && ids.every((id) => all.has(id));
  const ranked = results.every(
    (r, i) => r.score > 0 && r.score <= 1 && (i === 0 ? r.score === 1 : r.score <= results[i - 1].score),
  );
  const result = {
    status: res.status,
    mode,
    results: results.length,
    expected: Math.min(wanted, LISTED_MATCHES),
    bodyBytes: Buffer.byteLength(text),
    inScope,
    holdWords,
    sameSet,
    ranked,
  };
  if (
    mode !== 'lexical' ||
    result.results !== result.expected ||
    !inScope ||
    !holdWords ||
    sameSet === false ||
    !ranked
  )
    throw new Error(`${target.label}: the results are not what the store holds: ${JSON.stringify(result)}`);
  return result;
}

/**
 * Waits for the searches the load left running (PostgreSQL's queries, then Parley's own work) to end, so that the
 * next run starts on a quiet server; resolves to the ms waited, or null when it gave up.
 */
async function drain(store, pid) {
  const database = store.name === 'postgres' ? await waitForIdleDatabase(store.env.PARLEY_DATABASE_URL) : 0;
  const server = await waitForIdleProcess(pid);
  return database == null || server == null ? null : database + server;
}

const measure = (target, connections, seconds) =>
  runMeteredLoad({
    serverPid: target.pid(),
    url: `${target.url()}/api/v1/search`,
    method: 'POST',
    headers: target.headers,
    body: target.body,
    connections,
    seconds,
  });

export async function run(argv) {
  const options = parseOptions(argv);
  const layout = cpuLayout(options.pin);
  // The load generator is this process, on its own core; the servers under test share the other, one loaded at a time.
  layout.pinSelf(CLIENT_CPU);

  return withParleyStores(
    { scenario: 'search', config: UNLIMITED_TIERS, postgres: options.postgres },
    async ({ scratch, stores, servers }) => {
      const end = Date.now();
      const seeding = {};
      let expected = null;
      const otherShares = shares(options.otherMessages, options.otherUsers);
      for (const store of stores) {
        const others = [];
        for (let u = 1; u <= options.otherUsers; u++) others.push(await createUser(store, `other${u}`));
        // One seed for every store: the same text and ids, only the users' ids (made by the CLI) differ.
        const plan = planSearchStore({
          owners: [
            { userId: store.userId, messages: options.messages },
            ...others.map((userId, u) => ({ userId, messages: otherShares[u] })),
          ],
          perConversation: options.perConversation,
          end,
        });
        process.stderr.write(`  seeding ${store.label} with ${options.messages + options.otherMessages} messages\n`);
        seeding[store.name] = {
          ...(await seedStore(store, () => searchRows(plan))),
          conversations: plan.conversationIds.length,
          index: await indexSize(store),
        };
        store.expected = plan.expected;
        store.scope = scopeConversationIds(plan);
        expected ??= plan.expected;
      }

      const targets = [];
      for (const store of stores) {
        servers.set(store.name, await startParley({ store, cpu: SERVER_CPU, layout }));
        for (const type of TYPES)
          for (const query of QUERIES)
            targets.push({
              name: `${store.name} ${type} ${query.name}`,
              label: `${store.label}, ${type}, ${query.name}`,
              store,
              type,
              query,
              expected: store.expected[query.name],
              scope: store.scope,
              userId: store.userId,
              headers: { authorization: `Bearer ${store.key}`, 'content-type': 'application/json' },
              body: JSON.stringify({ query: query.query, type, limit: PAGE }),
              url: () => servers.get(store.name).url,
              pid: () => servers.get(store.name).child.pid,
              drain: () => drain(store, servers.get(store.name).child.pid),
            });
      }

      const checks = {};
      for (const target of targets) checks[target.name] = await check(target);

      announceRounds({ runs: options.connections.length * targets.length, ...options });
      const { samples, warmupFailures } = await interleavedRounds({ targets, ...options, measure });

      const profiles = [];
      if (options.profile) {
        for (const store of stores) {
          for (const type of TYPES) {
            const target = targets.find((t) => t.store === store && t.type === type && t.query.name === PROFILED_QUERY);
            const profiled = await profileParley({
              running: servers.get(store.name),
              store,
              layout,
              cpu: SERVER_CPU,
              dir: join(scratch, `profile-${store.name}-${type}`),
              saveAs: join(repoRoot, 'bench/results', `search-${store.name}-${type}.cpuprofile`),
              measure: (server, seconds) =>
                measure(
                  { ...target, url: () => server.url, pid: () => server.child.pid },
                  PROFILE_CONNECTIONS,
                  seconds,
                ),
              warmupSeconds: options.warmupSeconds,
              seconds: options.seconds,
            });
            profiles.push({ label: target.label, connections: PROFILE_CONNECTIONS, ...profiled });
          }
        }
      }

      return report({
        options,
        layout,
        targets,
        checks,
        samples,
        warmupFailures,
        seeding,
        expected,
        stores,
        profiles,
      });
    },
  );
}

function report({ options, layout, targets, checks, samples, warmupFailures, seeding, expected, stores, profiles }) {
  const fields = ['requestsPerSecond', 'p50Ms', 'p95Ms', 'p99Ms', 'serverCpu', 'clientCpu', 'restCpu', 'ok', 'drainMs'];
  const { summary, problems } = summarizeRounds(samples, fields, targets);
  // A round with no answer at all (every search outlasted it) has no percentiles.
  const p95Text = (s) => (s.p95Ms.median == null ? 'no answer' : `${fixed(2)(s.p95Ms.median)} ms`);
  const meets = (s) => s.p95Ms.median != null && s.p95Ms.median <= TARGETS.p95Ms;
  const total = options.messages + options.otherMessages;

  const tables = [
    roundsTable({
      title:
        `search: POST /api/v1/search (limit ${PAGE}) as the bench user, whose ${options.messages} messages are among ` +
        `${total} in the store; median (min–max) of ${options.rounds} rounds × ${options.seconds} s`,
      labelHeader: 'store, type, query',
      connections: options.connections,
      targets,
      summary,
      cells: [
        spreadCell('req/s', 'requestsPerSecond', perSecond),
        spreadCell('p50 ms', 'p50Ms', fixed(2)),
        spreadCell('p95 ms', 'p95Ms', fixed(2)),
        spreadCell('p99 ms', 'p99Ms', fixed(2)),
        [`p95 ≤ ${TARGETS.p95Ms} ms`, (s) => (meets(s) ? 'PASS' : 'FAIL')],
        ...cpuCells('load CPU'),
        ['answers', (s) => s.ok.values.reduce((a, b) => a + b, 0)],
      ],
    }),
    {
      title: "what each query matches (the seeder's counts; the same on every store)",
      columns: ['query', 'words', 'what', "bench user's messages", "bench user's conversations", "store's messages"],
      rows: QUERIES.map((q) => {
        const e = expected[q.name];
        return [q.name, q.query, q.what, e.scopeMessages, e.scopeConversations, e.storeMessages];
      }),
    },
  ];

  tables[0].rows.push(['hybrid (lexical + semantic), any store', '—', 'not measured', ...Array(9).fill('—')]);

  const { row, table, pass } = targetRows(stores);
  for (const type of TYPES)
    for (const c of TARGETS.latencyAt.filter((c) => options.connections.includes(c)))
      row(`p95 ≤ ${TARGETS.p95Ms} ms, ${type}, c${c} (the slowest query)`, (store) => {
        const worst = targets
          .filter((t) => t.store === store && t.type === type)
          .map((t) => ({ query: t.query.name, s: summary[c][t.name] }))
          .reduce((a, b) => ((b.s.p95Ms.median ?? Infinity) > (a.s.p95Ms.median ?? Infinity) ? b : a));
        return { text: `${p95Text(worst.s)} (${worst.query})`, passed: meets(worst.s) };
      });
  row('no failed requests in any round', (store) => {
    const failed = failedInRounds(
      summary,
      targets.filter((t) => t.store === store).map((t) => t.name),
    );
    return { text: `${failed} failed`, passed: failed === 0 };
  });
  row(`hybrid search p95 ≤ ${TARGETS.p95Ms} ms`, () => ({
    text: 'not measured (no embedding provider)',
    passed: null,
  }));
  tables.push(table(stores.map((s) => s.label)));

  tables.push({
    title:
      `seeded directly into the migrated store, then checked: one search each with limit ${LISTED_MATCHES}, its ` +
      "results all the bench user's, holding the words, as many as the seeder counted (the same ones when they fit)",
    columns: [
      'store, type, query',
      'status',
      'results',
      'expected',
      'body bytes',
      'in scope',
      'hold words',
      'same set',
      'ranked',
    ],
    rows: targets.map((t) => {
      const c = checks[t.name];
      const yes = (v) => (v == null ? '—' : v ? 'yes' : 'no');
      return [
        t.label,
        c.status,
        c.results,
        c.expected,
        c.bodyBytes,
        yes(c.inScope),
        yes(c.holdWords),
        yes(c.sameSet),
        yes(c.ranked),
      ];
    }),
  });
  tables.push({
    title: 'the stores',
    columns: ['store', 'messages', "bench user's", 'conversations', 'seeded in s', 'size MB', 'lexical index'],
    rows: stores.map((store) => {
      const s = seeding[store.name];
      return [store.label, total, options.messages, s.conversations, s.seconds.toFixed(1), megabytes(s.bytes), s.index];
    }),
  });
  for (const profile of profiles) tables.push(...profileTables(profile, profiledRoundLabel(profile)));

  const notes = [
    autocannonNote(options),
    `the store: the bench user's ${options.messages} messages in conversations of ${options.perConversation}, and ` +
      `${options.otherMessages} of ${options.otherUsers} other users, all interleaved in time; questions of 20–300 ` +
      'characters, replies of 100–1500, in sentences of words drawn by Zipf’s law from 20,000 (everyday and software ' +
      'English first, then made-up words); titles of 2–5 words. Written into the tables as Parley writes them: on ' +
      'SQLite the search triggers fill the FTS5 index row by row, on PostgreSQL the GIN expression indexes take each ' +
      'row, then VACUUM ANALYZE',
    `the request: POST /api/v1/search {query, type, limit: ${PAGE}} with the bench user's API key; a search matches ` +
      "every message holding all the words, the other users' too, and keeps those the user may read: the 'none' " +
      'query measures that scope alone',
    `the p95 target is read at c${TARGETS.latencyAt.join(' and c')}; in a closed loop the latency at c16 includes ` +
      'the wait behind the other requests in flight (about connections ÷ req/s)',
    `hybrid search: ${NO_HYBRID}. The BENCH.md row's hybrid figure waits for semantic search`,
    ...placementNotes({ layout, serverCpu: SERVER_CPU, clientCpu: CLIENT_CPU, unpinned: unpinnedStores(stores) }),
    ...databaseNotes(stores),
    ...troubleNotes({ targets, layout, summary, problems, warmupFailures }),
    ...drainNotes(options, targets, samples),
  ];

  return {
    tables,
    notes,
    data: {
      config: { ...recordedOptions(options, layout), page: PAGE },
      targets: TARGETS,
      hybrid: NO_HYBRID,
      pass,
      queries: QUERIES.map((q) => {
        const { scopeMessages, scopeConversations, storeMessages } = expected[q.name];
        return { ...q, scopeMessages, scopeConversations, storeMessages };
      }),
      summary,
      checks,
      seeding,
      profiles: profilesData(profiles),
      samples,
    },
  };
}

/**
 * The runs after which searches went on for more than DRAIN_NOTED_MS (their clients gone: a closed loop's
 * requests in flight when the round ended, which were waited for before the next run).
 */
function drainNotes(options, targets, samples) {
  const notes = [];
  for (const c of options.connections)
    for (const t of targets) {
      const waits = samples[c][t.name].map((x) => x.drainMs);
      if (waits.some((ms) => ms == null))
        notes.push(`${t.label}, c${c}: searches were still running long after a round ended (the wait gave up)`);
      else if (Math.max(...waits) > DRAIN_NOTED_MS)
        notes.push(
          `${t.label}, c${c}: after a round, the searches still in flight ran on for up to ` +
            `${(Math.max(...waits) / 1000).toFixed(1)} s; the next run started once they were done`,
        );
    }
  return notes;
}
