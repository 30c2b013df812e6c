import { deepStrictEqual } from 'node:assert';
import { rmSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { cpuLayout } from '../lib/cpu.js';
import { startCpuMeter } from '../lib/cpu-meter.js';
import { planHistory, seedPostgres, seedSqlite } from '../lib/history-seed.js';
import { runLoad } from '../lib/load.js';
import { postgresServer } from '../lib/postgres.js';
import { collectProfile, profileClock, profileTables } from '../lib/profile-table.js';
import { atExit, repoRoot, stopProcess } from '../lib/process.js';
import { parleyStores, startParley, startServer, UNLIMITED_TIERS } from '../lib/servers.js';
import { ratio, summarize } from '../lib/stats.js';

const TARGETS = { p99Ms: 5, throughput: 0.5, latencyAt: [1, 16] };
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const SETTLE_MS = 300;
// Parley's default page: what a client opening a conversation asks for.
const PAGE_SIZE = 50;
const PROFILE_CONNECTIONS = 16;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '1,16,64' },
      messages: { type: 'string', default: '1000000' },
      'conversation-messages': { type: 'string', default: '5000' },
      'per-conversation': { type: 'string', default: '100' },
      postgres: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
    },
  });
  const options = {
    seconds: Number(values.duration),
    rounds: Number(values.rounds),
    warmupSeconds: Number(values.warmup),
    connections: values.connections.split(',').map(Number),
    messages: Number(values.messages),
    measured: Number(values['conversation-messages']),
    perConversation: Number(values['per-conversation']),
    postgres: postgresServer(values.postgres),
    profile: values.profile,
    pin: !values['no-pin'],
  };
  if (
    !(options.seconds > 0) ||
    !(options.warmupSeconds >= 0) ||
    !Number.isInteger(options.rounds) ||
    options.rounds < 1
  )
    throw new Error('--duration (s) must be > 0, --warmup (s) ≥ 0, --rounds ≥ 1');
  if (!options.connections.every((c) => Number.isInteger(c) && c > 0))
    throw new Error('--connections takes a comma-separated list of positive integers, e.g. 1,16,64');
  const counts = [options.messages, options.measured, options.perConversation];
  if (!counts.every((n) => Number.isInteger(n) && n > 0) || options.measured > options.messages)
    throw new Error(
      '--messages, --conversation-messages (≤ --messages) and --per-conversation must be positive integers',
    );
  return options;
}

/** Seeds a store and says how long it took and how much room it takes. */
async function seed(store, plan) {
  const started = performance.now();
  let bytes;
  if (store.name === 'sqlite') {
    const file = join(store.env.PARLEY_DATA_DIR, 'parley.db');
    seedSqlite(file, plan);
    bytes = statSync(file).size;
  } else {
    await seedPostgres(store.env.PARLEY_DATABASE_URL, plan);
    const client = new pg.Client({ connectionString: store.env.PARLEY_DATABASE_URL });
    await client.connect();
    try {
      bytes = Number((await client.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
    } finally {
      await client.end();
    }
  }
  return { seconds: (performance.now() - started) / 1000, bytes };
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

/** One load run against a target, with the CPU time each side spent meanwhile. */
async function measure(target, connections, seconds) {
  const cpu = await startCpuMeter({ server: target.pid(), client: [process.pid] });
  const result = await runLoad({
    url: `${target.url}${target.path}`,
    method: 'GET',
    headers: target.headers,
    connections,
    seconds,
  });
  return { ...result, ...(await cpu(result.seconds)) };
}

export async function run(argv) {
  const options = parseOptions(argv);
  const layout = cpuLayout(options.pin);
  // The load generator is this process, on its own core; the servers under test share the other, one loaded at a time.
  layout.pinSelf(CLIENT_CPU);

  const scratch = await mkdtemp(join(tmpdir(), 'parley-bench-history-'));
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  const forget = atExit(removeScratch);
  let stores = null;
  const servers = new Map();
  try {
    const configFile = join(scratch, 'bench-config.json');
    await writeFile(configFile, JSON.stringify(UNLIMITED_TIERS, null, 2));
    stores = await parleyStores({ scratch, configFile, postgres: options.postgres, scenario: 'history' });
    // One plan for every store: the same seed gives the same rows, ids included.
    const end = Date.now();
    const seeding = {};
    let page = null;
    for (const store of stores.stores) {
      const plan = planHistory({
        ownerId: store.userId,
        messages: options.messages,
        measured: options.measured,
        perConversation: options.perConversation,
        pageSize: PAGE_SIZE,
        end,
      });
      process.stderr.write(`  seeding ${store.label} with ${options.messages} messages\n`);
      seeding[store.name] = { ...(await seed(store, plan)), conversations: plan.conversationRows.length };
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
      readyPath: `/api/v1/conversations/${stores.stores[0].measuredId}/messages`,
      cpu: SERVER_CPU,
      layout,
    });
    servers.set('baseline', baseline);
    targets.push({
      name: 'baseline',
      label: 'bare Fastify route, page in memory',
      path: `/api/v1/conversations/${stores.stores[0].measuredId}/messages`,
      headers: {},
      expected: page,
      url: baseline.url,
      pid: () => baseline.child.pid,
    });
    for (const store of stores.stores) {
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

    const runs = options.connections.length * targets.length;
    const estimate = runs * (options.warmupSeconds + options.rounds * options.seconds);
    process.stderr.write(
      `  ${runs} runs of ${options.rounds} × ${options.seconds} s, about ${Math.ceil(estimate / 60)} min\n`,
    );

    // samples[connections][target name] = one result per round; warm-up runs only count their failures.
    const samples = {};
    const warmupFailures = [];
    for (const connections of options.connections) {
      const byTarget = (samples[connections] = Object.fromEntries(targets.map((t) => [t.name, []])));
      // Rounds interleave the targets, so that the noise of a shared machine falls on all of them alike.
      for (let round = 0; round <= options.rounds; round++) {
        for (const target of targets) {
          const seconds = round ? options.seconds : options.warmupSeconds;
          if (!seconds) continue;
          await sleep(SETTLE_MS);
          const sample = await measure(target, connections, seconds);
          if (round) byTarget[target.name].push(sample);
          else if (sample.non2xx || sample.errors)
            warmupFailures.push({ target: target.label, connections, ...sample });
          process.stderr.write(
            `  c${connections} ${round ? `round ${round}/${options.rounds}` : 'warm-up'}: ${target.label} ` +
              `${sample.requestsPerSecond.toFixed(0)} req/s p99 ${sample.p99Ms?.toFixed(2)} ms` +
              `${sample.non2xx || sample.errors ? ` (${sample.non2xx} non-2xx, ${sample.errors} errors)` : ''}\n`,
          );
        }
      }
    }

    const profiles = [];
    if (options.profile) {
      for (const store of stores.stores) {
        await stopProcess(servers.get(store.name).child);
        const dir = join(scratch, `profile-${store.name}`);
        await mkdir(dir);
        const parley = await startParley({
          store,
          cpu: SERVER_CPU,
          layout,
          nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
        });
        servers.set(store.name, parley);
        const target = targets.find((t) => t.name === store.name);
        await measure(target, PROFILE_CONNECTIONS, Math.max(options.warmupSeconds, 1));
        await sleep(1000);
        const from = profileClock();
        const sample = await measure(target, PROFILE_CONNECTIONS, options.seconds);
        const to = profileClock();
        const saveAs = join(repoRoot, 'bench/results', `history-${store.name}.cpuprofile`);
        profiles.push({
          label: target.label,
          connections: PROFILE_CONNECTIONS,
          sample,
          ...(await collectProfile({ child: parley.child, dir, saveAs, from, to })),
        });
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
      stores: stores.stores,
      profiles,
    });
  } finally {
    for (const server of servers.values()) await stopProcess(server.child);
    await stores?.drop();
    forget();
    removeScratch();
  }
}

const fixed = (digits) => (v) => (v == null ? null : v.toFixed(digits));
const perSecond = (v) => (v == null ? null : v.toFixed(0));
const mbps = (v) => (v == null ? null : (v / 1e6).toFixed(1));
const percent = (v) => (v == null ? null : `${(v * 100).toFixed(0)}%`);
const spread = (s, unit) => (s.n ? `${unit(s.median)} (${unit(s.min)}–${unit(s.max)})` : null);
const times = (r) => (r == null ? null : `${r.toFixed(2)}×`);
const plusMs = (v) => (v == null ? null : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
const verdict = (text, passed) => `${text} ${passed ? 'PASS' : 'FAIL'}`;

function report({ options, layout, targets, checks, samples, warmupFailures, seeding, stores, profiles }) {
  const fields = ['requestsPerSecond', 'p50Ms', 'p99Ms', 'bytesPerSecond', 'serverCpu', 'clientCpu', 'restCpu'];
  const summary = {};
  const ratios = {};
  const problems = [];
  for (const [connections, byTarget] of Object.entries(samples)) {
    const s = (summary[connections] = {});
    for (const [name, list] of Object.entries(byTarget)) {
      s[name] = Object.fromEntries(fields.map((f) => [f, summarize(list.map((x) => x[f]))]));
      s[name].failures = list.reduce((n, x) => n + x.non2xx + x.errors, 0);
      for (const x of list.filter((x) => x.non2xx || x.errors))
        problems.push(
          `${name}, c${connections}: ${x.non2xx} non-2xx, ${x.errors} errors (statuses ${JSON.stringify(x.statuses)})`,
        );
    }
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
    {
      title:
        `history: GET the newest ${PAGE_SIZE} of a conversation's ${options.measured} messages in a store of ` +
        `${options.messages}, median (min–max) of ${options.rounds} rounds × ${options.seconds} s`,
      columns: [
        'target',
        'conns',
        'req/s',
        'p50 ms',
        'p99 ms',
        'MB/s',
        'server CPU',
        'load CPU',
        'other CPU',
        'failed',
      ],
      rows: options.connections.flatMap((c) =>
        targets.map((t) => {
          const s = summary[c][t.name];
          return [
            t.label,
            c,
            spread(s.requestsPerSecond, perSecond),
            spread(s.p50Ms, fixed(2)),
            spread(s.p99Ms, fixed(2)),
            spread(s.bytesPerSecond, mbps),
            percent(s.serverCpu.median),
            percent(s.clientCpu.median),
            percent(s.restCpu.median),
            s.failures ? `${s.failures} !` : 0,
          ];
        }),
      ),
    },
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

  const pass = {};
  const targetRows = [];
  const row = (label, cell) => {
    const cells = stores.map(cell);
    pass[label] = cells.map((c) => c.passed);
    targetRows.push([label, ...cells.map((c) => verdict(c.text, c.passed))]);
  };
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
  tables.push({ title: 'targets (BENCH.md)', columns: ['target', ...stores.map((s) => s.label)], rows: targetRows });

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

  for (const profile of profiles)
    tables.push(
      ...profileTables(
        profile,
        `${profile.label} c${profile.connections}, ${profile.sample.requestsPerSecond.toFixed(0)} req/s`,
      ),
    );

  const notes = [
    `load: autocannon in the runner process, ${options.connections.join('/')} connections, one request in flight each; ` +
      `${options.warmupSeconds} s warm-up per target and concurrency, then ${options.rounds} rounds interleaving the targets`,
    `the store: ${options.messages} messages of the bench user in ${stores.length && seeding[stores[0].name].conversations} ` +
      `conversations (the measured one holds ${options.measured}, the others ${options.perConversation} each), ` +
      "inserted in creation order, each conversation's messages scattered among the others' (30 s apart, over " +
      `${((options.messages * 30) / 86400).toFixed(0)} days); ULIDs by creation time as Parley makes them; questions of ` +
      '20–300 characters, replies of 100–1500; SQLite checkpointed after the seed, PostgreSQL vacuumed and analysed (as autovacuum would)',
    `the request: GET /api/v1/conversations/:id/messages with Parley's default page (${PAGE_SIZE}, oldest first) and an ` +
      'API key; the baseline answers the same page (checked equal) from memory, serialised with JSON.stringify per request, no auth',
    `the p99 targets are read at c${TARGETS.latencyAt.join(' and c')}: in a closed loop the latency at high concurrency ` +
      'is mostly the wait behind the other requests in flight (about connections ÷ req/s)',
    layout.pinned
      ? `pinned with taskset: the server under test (baseline or Parley, one loaded at a time) on CPU ${SERVER_CPU}, the ` +
        `load generator on CPU ${CLIENT_CPU}${stores.length > 1 ? '; the PostgreSQL server is not pinned' : ''}. CPU columns: share of one core during the round`
      : 'not pinned (no taskset, or fewer than 2 cores): servers and load generator share the cores',
    "'other CPU': what the rest of the machine used during the round (share of one core; everything but the server " +
      `under test and the load side${stores.length > 1 ? ", the PostgreSQL server's work included" : ''}): high ` +
      'figures mark rounds disturbed by other work on a shared machine',
  ];
  for (const store of stores.filter((s) => s.database))
    notes.push(`${store.label}: database ${store.database}, created for the run and dropped after it`);
  for (const [c, byTarget] of Object.entries(summary))
    for (const [name, s] of Object.entries(byTarget))
      if (layout.pinned && s.clientCpu.median >= 0.9)
        notes.push(
          `${name}, c${c}: the load generator's core was saturated (${percent(s.clientCpu.median)}): a lower bound`,
        );
  for (const p of problems) notes.push(`FAILED REQUESTS: ${p}`);
  for (const w of warmupFailures)
    notes.push(`warm-up, ${w.target}, c${w.connections}: ${w.non2xx} non-2xx, ${w.errors} errors`);

  return {
    tables,
    notes,
    data: {
      config: {
        ...options,
        postgres: options.postgres && options.postgres.host,
        pinned: layout.pinned,
        pageSize: PAGE_SIZE,
      },
      targets: TARGETS,
      pass,
      summary,
      ratios,
      checks,
      seeding,
      profiles: profiles.map((profile) => ({ ...profile, byFunction: profile.byFunction.slice(0, 100) })),
      samples,
    },
  };
}
