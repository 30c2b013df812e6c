import { deepStrictEqual } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cpuLayout } from '../lib/cpu.js';
import { fixed, megabytes, perSecond, plusMs, times } from '../lib/format.js';
import { historyRows, planHistory } from '../lib/history-seed.js';
import { runMeteredLoad } from '../lib/load.js';
import { autocannonNote, databaseNotes, placementNotes, troubleNotes, unpinnedStores } from '../lib/notes.js';
import { parseLoadOptions, positiveIntegers, recordedOptions } from '../lib/options.js';
import { profiledRoundLabel, profileParley, profilesData, profileTables } from '../lib/profile-table.js';
import { repoRoot } from '../lib/process.js';
import { cpuCells, roundsTable, spreadCell } from '../lib/rounds-table.js';
import { announceRounds, interleavedRounds, summarizeRounds } from '../lib/rounds.js';
import { startParley, startServer, UNLIMITED_TIERS, withParleyStores } from '../lib/servers.js';
import { ratio } from '../lib/stats.js';
import { seedStore } from '../lib/store-seed.js';
import { targetRows } from '../lib/target-table.js';

const TARGETS = { p99Ms: 5, throughput: 0.5, latencyAt: [1, 16] };
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
// Parley's default page: what a client opening a conversation asks for.
const PAGE_SIZE = 50;
const PROFILE_CONNECTIONS = 16;

function parseOptions(argv) {
  const { options, values } = parseLoadOptions(argv, {
    defaults: { duration: 5, rounds: 5, warmup: 1, connections: [1, 16, 64] },
    extra: {
      messages: { type: 'string', default: '1000000' },
      'conversation-messages': { type: 'string', default: '5000' },
      'per-conversation': { type: 'string', default: '100' },
    },
  });
  const counts = positiveIntegers(values, ['messages', 'conversation-messages', 'per-conversation']);
  if (counts['conversation-messages'] > counts.messages)
    throw new Error('--conversation-messages must be at most --messages');
  return {
    ...options,
    messages: counts.messages,
    measured: counts['conversation-messages'],
    perConversation: counts['per-conversation'],
  };
}

/** One GET outside the load: the page must be the measured conversation's newest messages, whole and in order. */
async function check(target, expected) {
  const res = await fetch(`${target.url}${target.path}`, { headers: target.headers });
  const text = await res.text();
  const result = { status: res.status, bodyBytes: Buffer.byteLength(text) };
  if (res.status !== 200) throw new Error(`${target.label}: status ${res.status}: ${text.slice(0, 200)}`);
  const page = JSON.parse(text);
  Object.assign(result, {
    items: page.items?.length,
    hasMore: page.hasMore,
    oldestFirst: page.items.every((m, i) => i === 0 || page.items[i - 1].id < m.id),
  });
  try {
    deepStrictEqual(page, expected);
  } catch (err) {
    throw new Error(
      `${target.label}: the page is not the seeded conversation's newest ${PAGE_SIZE} messages\n${err.message.slice(0, 2000)}`,
    );
  }
  return result;
}

const measure = (target, connections, seconds) =>
  runMeteredLoad({
    serverPid: target.pid(),
    url: `${target.url}${target.path}`,
    method: 'GET',
    headers: target.headers,
    connections,
    seconds,
  });

export async function run(argv) {
  const options = parseOptions(argv);
  const layout = cpuLayout(options.pin);
  // The load generator is this process, on its own core; the servers under test share the other, one loaded at a time.
  layout.pinSelf(CLIENT_CPU);

  return withParleyStores(
    { scenario: 'history', config: UNLIMITED_TIERS, postgres: options.postgres },
    async ({ scratch, stores, servers }) => {
      // One plan for every store: the same seed gives the same rows, ids included.
      const end = Date.now();
      const seeding = {};
      let page = null;
      for (const store of stores) {
        const plan = planHistory({
          ownerId: store.userId,
          messages: options.messages,
          measured: options.measured,
          perConversation: options.perConversation,
          pageSize: PAGE_SIZE,
          end,
        });
        process.stderr.write(`  seeding ${store.label} with ${options.messages} messages\n`);
        seeding[store.name] = {
          ...(await seedStore(store, () => historyRows(plan))),
          conversations: plan.conversationRows.length,
        };
        // Each store's bench user has an id of its own (the CLI made it): each store is checked against its own page.
        store.page = plan.page;
        store.measuredId = plan.conversationIds[0];
        page ??= plan.page;
      }

      const targets = [];
      const pageFile = join(scratch, 'page.json');
      await writeFile(pageFile, JSON.stringify(page));
      const baseline = await startServer({
        args: [join(repoRoot, 'bench/lib/memory-history.js')],
        env: { PAGE_FILE: pageFile },
        readyPath: `/api/v1/conversations/${stores[0].measuredId}/messages`,
        cpu: SERVER_CPU,
        layout,
      });
      servers.set('baseline', baseline);
      targets.push({
        name: 'baseline',
        label: 'bare Fastify route, page in memory',
        path: `/api/v1/conversations/${stores[0].measuredId}/messages`,
        headers: {},
        expected: page,
        url: baseline.url,
        pid: () => baseline.child.pid,
      });
      for (const store of stores) {
        servers.set(store.name, await startParley({ store, cpu: SERVER_CPU, layout }));
        const target = {
          name: store.name,
          label: `Parley, ${store.label}`,
          path: `/api/v1/conversations/${store.measuredId}/messages`,
          headers: { authorization: `Bearer ${store.key}` },
          expected: store.page,
          pid: () => servers.get(store.name).child.pid,
        };
        Object.defineProperty(target, 'url', { get: () => servers.get(store.name).url, enumerable: true });
        targets.push(target);
      }

      const checks = {};
      for (const target of targets) checks[target.label] = await check(target, target.expected);

      announceRounds({ runs: options.connections.length * targets.length, ...options });
      const { samples, warmupFailures } = await interleavedRounds({ targets, ...options, measure });

      const profiles = [];
      if (options.profile) {
        for (const store of stores) {
          const target = targets.find((t) => t.name === store.name);
          const profiled = await profileParley({
            running: servers.get(store.name),
            store,
            layout,
            cpu: SERVER_CPU,
            dir: join(scratch, `profile-${store.name}`),
            saveAs: join(repoRoot, 'bench/results', `history-${store.name}.cpuprofile`),
            measure: (server, seconds) =>
              measure({ ...target, url: server.url, pid: () => server.child.pid }, PROFILE_CONNECTIONS, seconds),
            warmupSeconds: options.warmupSeconds,
            seconds: options.seconds,
          });
          profiles.push({ label: target.label, connections: PROFILE_CONNECTIONS, ...profiled });
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
        stores,
        profiles,
      });
    },
  );
}

function report({ options, layout, targets, checks, samples, warmupFailures, seeding, stores, profiles }) {
  const fields = ['requestsPerSecond', 'p50Ms', 'p99Ms', 'bytesPerSecond', 'serverCpu', 'clientCpu', 'restCpu'];
  const { summary, problems } = summarizeRounds(samples, fields, targets);
  const ratios = {};
  for (const [connections, s] of Object.entries(summary)) {
    ratios[connections] = {};
    for (const store of stores) {
      const med = (name, f) => s[name][f].median;
      ratios[connections][store.name] = {
        throughput: ratio(med(store.name, 'requestsPerSecond'), med('baseline', 'requestsPerSecond')),
        addedP50Ms: med(store.name, 'p50Ms') - med('baseline', 'p50Ms'),
        addedP99Ms: med(store.name, 'p99Ms') - med('baseline', 'p99Ms'),
      };
    }
  }

  const tables = [
    roundsTable({
      title:
        `history: GET the newest ${PAGE_SIZE} of a conversation's ${options.measured} messages in a store of ` +
        `${options.messages}, median (min–max) of ${options.rounds} rounds × ${options.seconds} s`,
      connections: options.connections,
      targets,
      summary,
      cells: [
        spreadCell('req/s', 'requestsPerSecond', perSecond),
        spreadCell('p50 ms', 'p50Ms', fixed(2)),
        spreadCell('p99 ms', 'p99Ms', fixed(2)),
        spreadCell('MB/s', 'bytesPerSecond', megabytes),
        ...cpuCells('load CPU'),
      ],
    }),
    {
      title: 'Parley against the baseline, on the medians (added latency in ms)',
      columns: ['store', 'conns', 'req/s ×baseline', 'added p50', 'added p99'],
      rows: options.connections.flatMap((c) =>
        stores.map((store) => {
          const r = ratios[c][store.name];
          return [store.label, c, times(r.throughput), plusMs(r.addedP50Ms), plusMs(r.addedP99Ms)];
        }),
      ),
    },
  ];

  const { row, table, pass } = targetRows(stores);
  for (const c of TARGETS.latencyAt.filter((c) => options.connections.includes(c))) {
    row(`p99 ≤ ${TARGETS.p99Ms} ms at c${c}`, (store) => {
      const v = summary[c][store.name].p99Ms.median;
      return { text: `${v.toFixed(2)} ms`, passed: v <= TARGETS.p99Ms };
    });
  }
  row(`req/s ≥ ${TARGETS.throughput}× baseline at every concurrency`, (store) => {
    const worst = options.connections
      .map((c) => ({ c, v: ratios[c][store.name].throughput }))
      .reduce((a, b) => (a == null || b.v < a.v ? b : a), null);
    return { text: `worst ${times(worst.v)} (c${worst.c})`, passed: worst.v >= TARGETS.throughput };
  });
  row('no failed requests in any round', (store) => {
    const failed = options.connections.reduce((n, c) => n + summary[c][store.name].failures, 0);
    return { text: `${failed} failed`, passed: failed === 0 };
  });
  tables.push(table(stores.map((s) => s.label)));

  tables.push({
    title: 'seeded directly into the migrated store, then checked: one GET each, equal to the seeded page',
    columns: ['target', 'status', 'body bytes', 'items', 'hasMore', 'oldest first'],
    rows: Object.entries(checks).map(([label, c]) => [
      label,
      c.status,
      c.bodyBytes,
      c.items,
      String(c.hasMore),
      c.oldestFirst ? 'yes' : 'no',
    ]),
  });
  tables.push({
    title: 'the stores',
    columns: ['store', 'messages', 'conversations', 'seeded in s', 'size MB'],
    rows: stores.map((store) => {
      const s = seeding[store.name];
      return [store.label, options.messages, s.conversations, s.seconds.toFixed(1), (s.bytes / 1e6).toFixed(0)];
    }),
  });

  for (const profile of profiles) tables.push(...profileTables(profile, profiledRoundLabel(profile)));

  const notes = [
    autocannonNote(options),
    `the store: ${options.messages} messages of the bench user in ${stores.length && seeding[stores[0].name].conversations} ` +
      `conversations (the measured one holds ${options.measured}, the others ${options.perConversation} each), ` +
      "inserted in creation order, each conversation's messages scattered among the others' (30 s apart, over " +
      `${((options.messages * 30) / 86400).toFixed(0)} days); ULIDs by creation time as Parley makes them; questions of ` +
      '20–300 characters, replies of 100–1500; SQLite checkpointed after the seed, PostgreSQL vacuumed and analysed (as autovacuum would)',
    `the request: GET /api/v1/conversations/:id/messages with Parley's default page (${PAGE_SIZE}, oldest first) and an ` +
      'API key; the baseline answers the same page (checked equal) from memory, serialised with JSON.stringify per request, no auth',
    `the p99 targets are read at c${TARGETS.latencyAt.join(' and c')}: in a closed loop the latency at high concurrency ` +
      'is mostly the wait behind the other requests in flight (about connections ÷ req/s)',
    ...placementNotes({
      layout,
      serverCpu: SERVER_CPU,
      clientCpu: CLIENT_CPU,
      server: 'the server under test (baseline or Parley, one loaded at a time)',
      unpinned: unpinnedStores(stores),
    }),
    ...databaseNotes(stores),
    ...troubleNotes({ targets, layout, summary, problems, warmupFailures }),
  ];

  return {
    tables,
    notes,
    data: {
      config: { ...recordedOptions(options, layout), pageSize: PAGE_SIZE },
      targets: TARGETS,
      pass,
      summary,
      ratios,
      checks,
      seeding,
      profiles: profilesData(profiles),
      samples,
    },
  };
}
