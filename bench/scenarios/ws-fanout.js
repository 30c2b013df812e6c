import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuLayout } from '../lib/cpu.js';
import { startCpuMeter } from '../lib/cpu-meter.js';
import { fixed, percent, perSecond, plusMs, spread, times } from '../lib/format.js';
import { databaseNotes, placementNotes, unpinnedStores } from '../lib/notes.js';
import { parseLoadOptions, positiveIntegers, recordedOptions } from '../lib/options.js';
import { collectProfile, profileClock, profilesData, profileTables } from '../lib/profile-table.js';
import { repoRoot, stopProcess } from '../lib/process.js';
import { startParley, startServer, UNLIMITED_TIERS, withParleyStores } from '../lib/servers.js';
import { serverMemory } from '../lib/server-memory.js';
import { ratio, summarize } from '../lib/stats.js';
import { targetRows } from '../lib/target-table.js';
import { MESSAGE_CHARS, startWsClients } from '../lib/ws-clients.js';

const TARGETS = { deliveryP99Ms: 50, memoryPerSocket: 1.5 };
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const SETTLE_MS = 500;
// Sockets opening at once: enough to connect thousands in seconds, few enough for the listen backlog.
const CONNECT_CONCURRENCY = 64;
const SETUP_PARALLEL = 16;
const PASSWORD = 'bench password 1';
// Parley's rules for groups (core/groups/rules.ts): the layout must fit them.
const MAX_OWNED_GROUPS = 50;
const MAX_GROUP_MEMBERS = 500;
// Open files the runner's children need beyond one per socket (modules, logs, the store, pipes).
const SPARE_FILES = 256;
const BASELINE_SCRIPT = join(repoRoot, 'bench/lib/ws-broadcast.js');
// Parley's default realtime.heartbeatMs: each socket is pinged, and its credentials checked again, this long after
// it connected, and so on.
const HEARTBEAT_MS = 30_000;

function parseOptions(argv) {
  const { options, values } = parseLoadOptions(argv, {
    defaults: { duration: 30, rounds: 3, warmup: 5 },
    extra: {
      sockets: { type: 'string', default: '5000' },
      rooms: { type: 'string', default: '100' },
      redis: { type: 'string' },
    },
  });
  // The rooms send one message a second each: a round is whole seconds, its warm-up one at least.
  if (!Number.isInteger(options.seconds) || !Number.isInteger(options.warmupSeconds) || options.warmupSeconds < 1)
    throw new Error('--duration and --warmup (whole seconds) and --rounds must be at least 1');
  const { sockets, rooms } = positiveIntegers(values, ['sockets', 'rooms']);
  if (sockets < 2 * rooms || sockets % rooms)
    throw new Error('--sockets must be a multiple of --rooms, with at least 2 sockets a room');
  const perRoom = sockets / rooms;
  if (perRoom > MAX_GROUP_MEMBERS)
    throw new Error(`a group room holds at most ${MAX_GROUP_MEMBERS} members: at most that many sockets a room`);
  // One user per socket of a room, each owning some of the rooms.
  if (rooms > MAX_OWNED_GROUPS * perRoom)
    throw new Error(`too many rooms for ${perRoom} users owning at most ${MAX_OWNED_GROUPS} groups each`);
  if (values.redis !== undefined) {
    if (!options.postgres) throw new Error('--redis goes with --postgres: it is the shared state of that Parley');
    if (!/^rediss?:\/\//.test(values.redis))
      throw new Error(`--redis takes a redis:// URL, e.g. redis://127.0.0.1:6379 (got ${values.redis})`);
  }
  return { ...options, sockets, rooms, perRoom, redis: values.redis };
}

/** The soft limit of open files of this process (its children inherit it); null off Linux. */
async function openFilesLimit() {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    return soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return null;
  }
}

async function api(url, method, path, { body, key, cookie, expect = [200, 201] } = {}) {
  const headers = { ...(body && { 'content-type': 'application/json' }) };
  if (key) headers.authorization = `Bearer ${key}`;
  if (cookie) headers.cookie = cookie;
  const res = await fetch(`${url}/api/v1${path}`, { method, headers, body: body && JSON.stringify(body) });
  if (!expect.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return { res, body: await res.json() };
}

/** `fn` over `items`, a few at a time, in order. */
async function inBatches(items, fn) {
  const results = [];
  for (let i = 0; i < items.length; i += SETUP_PARALLEL)
    results.push(...(await Promise.all(items.slice(i, i + SETUP_PARALLEL).map(fn))));
  return results;
}

/**
 * The rooms of a store, made through Parley's API: `perRoom` users (the store's bench user and others signed
 * up), `rooms` group rooms without a bot (no message gets a reply), each owned by one of the users in turn and
 * joined by all the others with its invite code.
 */
async function makeRooms(url, store, { rooms, perRoom }) {
  const others = await inBatches(
    Array.from({ length: perRoom - 1 }, (_, i) => `member${i + 1}`),
    async (username) => {
      const { body } = await api(url, 'POST', '/auth/register', { body: { username, password: PASSWORD } });
      const { res } = await api(url, 'POST', '/auth/login', { body: { username, password: PASSWORD } });
      const cookie = res.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const key = (await api(url, 'POST', '/keys', { body: { name: 'ws-fanout' }, cookie })).body.key;
      return { id: body.user.id, key };
    },
  );
  const users = [{ id: store.userId, key: store.key }, ...others];
  const made = await inBatches(
    Array.from({ length: rooms }, (_, r) => r),
    async (r) => {
      const owner = users[r % perRoom];
      const { group } = (await api(url, 'POST', '/groups', { key: owner.key, body: { name: `room ${r}` } })).body;
      const { code } = (await api(url, 'POST', `/groups/${group.id}/invites`, { key: owner.key })).body;
      return { groupId: group.id, conversationId: group.conversationId, owner, code };
    },
  );
  const joins = made.flatMap((room) => users.filter((u) => u !== room.owner).map((user) => ({ room, user })));
  await inBatches(joins, ({ room, user }) =>
    api(url, 'POST', '/groups/join', { key: user.key, body: { code: room.code } }),
  );
  return { users, rooms: made };
}

/**
 * Where the sockets go: socket `r × perRoom + i` is user i's in room r, so that each room holds one socket of
 * each user and each user one socket in each room. Room r's messages are sent by its owner's socket there.
 */
function socketLayout({ users, rooms }) {
  const perRoom = users.length;
  const specs = rooms.flatMap((room, r) =>
    users.map((user) => ({ token: user.key, room: room.conversationId, roomIndex: r })),
  );
  const senders = rooms.map((_, r) => r * perRoom + (r % perRoom));
  return { specs, senders, senderSpecs: senders.map((i) => specs[i]) };
}

/** Opens sockets, all of them or the round fails. */
async function connectAll(client, url, specs, target) {
  const result = await client.call('connect', { url, specs, concurrency: CONNECT_CONCURRENCY });
  if (result.failed)
    throw new Error(
      `${target.label}: ${result.failed} of ${specs.length} sockets failed:\n${result.failures.join('\n')}`,
    );
  return result;
}

/** A fan-out that must deliver every message, once and as sent, to every socket of its room, and nothing else. */
function ensureDelivered(result, target, what) {
  const wrong = result.lost + result.repeated + result.invalid + result.replies;
  if (wrong)
    throw new Error(
      `${target.label}, ${what}: ${result.received} of ${result.expected} deliveries, ${result.repeated} repeated, ` +
        `${result.invalid} not as sent, ${result.replies} replies; errors ${JSON.stringify(result.errors)}, ` +
        `closes ${JSON.stringify(result.closed)}`,
    );
}

const addCounts = (into, counts) => counts.forEach((n, r) => (into[r] = (into[r] ?? 0) + n));

/**
 * One round against a target, on a server process of its own: prime the code paths with one socket a room
 * (connect, subscribe, a message), close them, read the memory; open all sockets, read the memory again; a
 * warm-up fan-out, checked whole; then the measured fan-out. With `profileDir`, the server runs under --cpu-prof
 * and its samples of the measured fan-out are summarised.
 */
async function runRound({ target, client, round, options, scratch, profileDir }) {
  const memory = serverMemory(join(scratch, `memory-${target.name}-${round}.json`));
  const profiling = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const server = await target.start({ nodeArgs: [...memory.nodeArgs, ...profiling], env: memory.env });
  const pid = server.child.pid;
  const sent = [];
  try {
    const tag = (what) => `${what}${String(round).padStart(2, '0')}`;
    await connectAll(client, server.url, target.senderSpecs, target);
    const prime = await client.call('fanOut', {
      tag: tag('p'),
      seconds: 1,
      senders: target.senders.map((_, r) => r),
    });
    await client.call('closeAll');
    addCounts(sent, prime.sentPerRoom);
    ensureDelivered(prime, target, 'priming');
    await sleep(SETTLE_MS);
    const before = await memory.read(pid);
    const connected = await connectAll(client, server.url, target.specs, target);
    await sleep(SETTLE_MS);
    const withSockets = await memory.read(pid);
    const warmup = await client.call('fanOut', {
      tag: tag('w'),
      seconds: options.warmupSeconds,
      senders: target.senders,
    });
    addCounts(sent, warmup.sentPerRoom);
    ensureDelivered(warmup, target, `round ${round}, warm-up`);
    // When the heartbeats of the sockets come (the same moments are marked on the baseline, which has none).
    const heartbeats = { from: connected.startedAt + HEARTBEAT_MS, to: connected.endedAt + HEARTBEAT_MS };
    const cpu = await startCpuMeter({ server: pid, client: [client.pid, process.pid] });
    const started = performance.now();
    const from = profileClock();
    const fanout = await client.call('fanOut', {
      tag: tag('m'),
      seconds: options.seconds,
      senders: target.senders,
      window: heartbeats,
    });
    const to = profileClock();
    const used = await cpu((performance.now() - started) / 1000);
    addCounts(sent, fanout.sentPerRoom);
    const afterLoad = await memory.read(pid);
    await client.call('closeAll');
    const sample = {
      ...fanout,
      ...used,
      deliveriesPerSecond: fanout.received / options.seconds,
      heartbeatSeconds: [heartbeats.from, heartbeats.to].map((t) => (t - fanout.startedAt) / 1000),
      connectSeconds: connected.seconds,
      rssBefore: before.rss,
      rssWithSockets: withSockets.rss,
      rssAfterLoad: afterLoad.rss,
      rssPerSocket: (withSockets.rss - before.rss) / options.sockets,
      heapPerSocket: (withSockets.heapUsed - before.heapUsed) / options.sockets,
      // What the process holds beyond V8's heap: sockets' native state, buffers, memory the allocator kept.
      outsideHeapPerSocket:
        (withSockets.rss - withSockets.heapTotal - (before.rss - before.heapTotal)) / options.sockets,
      warmup: { frameBytes: warmup.frameBytes, sentFrameBytes: warmup.sentFrameBytes, received: warmup.received },
    };
    const profile = profileDir
      ? await collectProfile({
          child: server.child,
          dir: profileDir,
          saveAs: join(repoRoot, 'bench/results', `ws-fanout-${target.name}.cpuprofile`),
          from,
          to,
        })
      : null;
    return { sample, sent, profile };
  } finally {
    await stopProcess(server.child);
  }
}

/** Every room's stored message count must be the count of messages sent to it (and no reply stored). */
async function storedCounts(target, layout, sent) {
  const parley = await target.start({ nodeArgs: [], env: {} });
  try {
    const counts = await inBatches(
      layout.rooms,
      async (room) =>
        (await api(parley.url, 'GET', `/conversations/${room.conversationId}`, { key: room.owner.key })).body
          .conversation.messageCount,
    );
    const wrong = counts.filter((n, r) => n !== sent[r]).length;
    const sum = (list) => list.reduce((a, b) => a + b, 0);
    return { rooms: counts.length, sent: sum(sent), stored: sum(counts), wrong };
  } finally {
    await stopProcess(parley.child);
  }
}

export async function run(argv) {
  const options = parseOptions(argv);
  const limit = await openFilesLimit();
  if (limit !== null && limit < options.sockets + SPARE_FILES)
    throw new Error(
      `${options.sockets} sockets need ${options.sockets + SPARE_FILES} open files in the server and in the load ` +
        `generator, over this shell's limit of ${limit}: raise it (ulimit -n ${options.sockets + SPARE_FILES}) and run again`,
    );
  const layout = cpuLayout(options.pin);
  // The runner only drives the load generator and reads figures between rounds: it stays beside the generator.
  layout.pinSelf(CLIENT_CPU);

  // Each user holds one socket in every room; the quota is checked on every connect, subscribe and message.
  const config = { ...UNLIMITED_TIERS, realtime: { maxSocketsPerUser: options.rooms } };
  return withParleyStores(
    { scenario: 'ws-fanout', config, postgres: options.postgres },
    async ({ scratch, stores }) => {
      let client = null;
      try {
        const postgres = stores.find((s) => s.name === 'postgres');
        if (postgres && options.redis) {
          Object.assign(postgres.env, {
            PARLEY_REDIS_URL: options.redis,
            // A namespace of the run's own in a Redis others may use; Parley's keys there all expire.
            PARLEY_REDIS_KEY_PREFIX: `parley_bench_ws_fanout_${randomBytes(4).toString('hex')}:`,
            PARLEY_SECRET: randomBytes(32).toString('hex'),
          });
          postgres.label = 'PostgreSQL + Redis';
        }

        const targets = [];
        const layouts = {};
        for (const store of stores) {
          process.stderr.write(
            `  ${store.label}: ${options.perRoom} users, ${options.rooms} group rooms, ${options.sockets} memberships\n`,
          );
          const setup = await startParley({ store, cpu: SERVER_CPU, layout });
          try {
            layouts[store.name] = await makeRooms(setup.url, store, options);
          } finally {
            await stopProcess(setup.child);
          }
          targets.push({
            name: store.name,
            label: `Parley, ${store.label}`,
            store,
            ...socketLayout(layouts[store.name]),
            start: ({ nodeArgs, env }) =>
              startParley({ store: { ...store, env: { ...store.env, ...env } }, cpu: SERVER_CPU, layout, nodeArgs }),
          });
        }
        // The same rooms and senders for the baseline: it takes any token, and reads none.
        targets.unshift({
          name: 'baseline',
          label: 'bare ws server',
          ...socketLayout(layouts.sqlite),
          start: ({ nodeArgs, env }) =>
            startServer({ args: [...nodeArgs, BASELINE_SCRIPT], env, readyPath: '/readyz', cpu: SERVER_CPU, layout }),
        });

        client = await startWsClients({ cpu: CLIENT_CPU, layout });
        const perRound = options.warmupSeconds + options.seconds + options.sockets / 500 + 10;
        process.stderr.write(
          `  ${options.rounds} rounds × ${targets.length} targets, about ${Math.ceil((options.rounds * targets.length * perRound) / 60)} min\n`,
        );

        const samples = Object.fromEntries(targets.map((t) => [t.name, []]));
        const sent = Object.fromEntries(targets.map((t) => [t.name, []]));
        // Rounds interleave the targets, so that the noise of a shared machine falls on all of them alike.
        for (let round = 1; round <= options.rounds; round++) {
          for (const target of targets) {
            const result = await runRound({ target, client, round, options, scratch });
            samples[target.name].push(result.sample);
            addCounts(sent[target.name], result.sent);
            const s = result.sample;
            process.stderr.write(
              `  round ${round}/${options.rounds}: ${target.label}: p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms, ` +
                `${(s.rssPerSocket / 1024).toFixed(1)} KiB/socket, other CPU ${((s.restCpu ?? 0) * 100).toFixed(0)}%` +
                `${s.lost ? `, ${s.lost} lost` : ''}\n`,
            );
          }
        }

        const profiles = [];
        if (options.profile) {
          for (const target of targets.filter((t) => t.store)) {
            const profileDir = join(scratch, `profile-${target.name}`);
            await mkdir(profileDir);
            const result = await runRound({ target, client, round: options.rounds + 1, options, scratch, profileDir });
            addCounts(sent[target.name], result.sent);
            profiles.push({ label: target.label, sample: result.sample, ...result.profile });
          }
        }

        const stored = {};
        for (const target of targets.filter((t) => t.store))
          stored[target.name] = await storedCounts(target, layouts[target.name], sent[target.name]);

        return report({ options, layout, targets, samples, stored, profiles });
      } finally {
        await client?.stop();
      }
    },
  );
}

const kib = (v) => (v == null ? null : (v / 1024).toFixed(2));
const mib = (v) => (v == null ? null : (v / 2 ** 20).toFixed(1));
const sizes = (list) => {
  const all = [...new Set(list.flat())].sort((a, b) => a - b);
  return all.length > 1 ? `${all[0]}–${all.at(-1)}` : String(all[0] ?? '—');
};

function report({ options, layout, targets, samples, stored, profiles }) {
  const fields = [
    'p50Ms',
    'p90Ms',
    'p99Ms',
    'p999Ms',
    'p99InWindowMs',
    'p99OutOfWindowMs',
    'maxMs',
    'ackP99Ms',
    'deliveriesPerSecond',
    'serverCpu',
    'clientCpu',
    'restCpu',
    'clientLoopP99Ms',
    'connectSeconds',
    'rssBefore',
    'rssWithSockets',
    'rssAfterLoad',
    'rssPerSocket',
    'heapPerSocket',
    'outsideHeapPerSocket',
  ];
  const summary = {};
  const problems = [];
  for (const [name, list] of Object.entries(samples)) {
    const s = (summary[name] = Object.fromEntries(fields.map((f) => [f, summarize(list.map((x) => x[f]))])));
    s.failures = 0;
    list.forEach((x, i) => {
      const failed = x.lost + x.repeated + x.invalid + x.replies;
      s.failures += failed;
      if (failed || Object.keys(x.errors).length || Object.keys(x.closed).length)
        problems.push(
          `${name}, round ${i + 1}: ${x.lost} lost, ${x.repeated} repeated, ${x.invalid} not as sent, ${x.replies} replies; ` +
            `error frames ${JSON.stringify(x.errors)}, sockets closed ${JSON.stringify(x.closed)}`,
        );
    });
  }
  const parleys = targets.filter((t) => t.store);
  const stores = parleys.map((t) => t.store);
  const med = (name, f) => summary[name][f].median;
  const ratios = Object.fromEntries(
    parleys.map((t) => [
      t.name,
      {
        p50: ratio(med(t.name, 'p50Ms'), med('baseline', 'p50Ms')),
        addedP50Ms: med(t.name, 'p50Ms') - med('baseline', 'p50Ms'),
        addedP99Ms: med(t.name, 'p99Ms') - med('baseline', 'p99Ms'),
        memoryPerSocket: ratio(med(t.name, 'rssPerSocket'), med('baseline', 'rssPerSocket')),
        heapPerSocket: ratio(med(t.name, 'heapPerSocket'), med('baseline', 'heapPerSocket')),
      },
    ]),
  );

  const deliveries = options.rooms * options.perRoom;
  const tables = [
    {
      title:
        `ws-fanout: ${options.sockets} sockets in ${options.rooms} rooms of ${options.perRoom}, one message a room a second ` +
        `(${options.rooms} messages/s, ${deliveries} deliveries/s); delivery latency from the send to each socket's ` +
        `receipt, median (min–max) of ${options.rounds} rounds × ${options.seconds} s`,
      columns: [
        'target',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'p99.9 ms',
        'max ms',
        'sent→ack p99',
        'deliveries/s',
        'server CPU',
        'load CPU',
        'other CPU',
        'failed',
      ],
      rows: targets.map((t) => {
        const s = summary[t.name];
        return [
          t.label,
          spread(s.p50Ms, fixed(2)),
          fixed(2)(s.p90Ms.median),
          spread(s.p99Ms, fixed(2)),
          fixed(1)(s.p999Ms.median),
          spread(s.maxMs, fixed(1)),
          fixed(2)(s.ackP99Ms.median),
          perSecond(s.deliveriesPerSecond.median),
          percent(s.serverCpu.median),
          percent(s.clientCpu.median),
          percent(s.restCpu.median),
          s.failures ? `${s.failures} !` : 0,
        ];
      }),
    },
    {
      title:
        'memory of the sockets: the server process after a full garbage collection, with no socket (after priming) and ' +
        `with the ${options.sockets} sockets connected and subscribed; per socket = the difference ÷ ${options.sockets} ` +
        "(JS heap: the live objects; outside it: RSS less V8's heap, i.e. native memory and what the allocator kept); " +
        'median (min–max) of the rounds',
      columns: [
        'target',
        'RSS before MiB',
        'RSS with sockets MiB',
        'RSS per socket KiB',
        'JS heap per socket KiB',
        'outside the JS heap per socket KiB',
        'RSS after the load MiB',
        'connect+subscribe s',
      ],
      rows: targets.map((t) => {
        const s = summary[t.name];
        return [
          t.label,
          mib(s.rssBefore.median),
          mib(s.rssWithSockets.median),
          spread(s.rssPerSocket, kib),
          spread(s.heapPerSocket, kib),
          spread(s.outsideHeapPerSocket, kib),
          mib(s.rssAfterLoad.median),
          spread(s.connectSeconds, fixed(1)),
        ];
      }),
    },
    {
      title:
        `heartbeats: Parley pings each socket and checks its credentials again ${HEARTBEAT_MS / 1000} s after it ` +
        'connected (realtime.heartbeatMs), and every 30 s after that: the p99 of the messages sent while the ' +
        'sockets’ heartbeats came and of the others (the same moments are marked on the baseline, which has no ' +
        'heartbeat); median (min–max) of the rounds',
      columns: ['target', 'heartbeats, s into the round', 'p99 then ms', 'p99 otherwise ms'],
      rows: targets.map((t) => {
        const s = summary[t.name];
        const [from, to] = [0, 1].map((i) => summarize(samples[t.name].map((x) => x.heartbeatSeconds[i])).median);
        const window =
          from >= options.seconds || to <= 0
            ? 'none'
            : `${Math.max(0, from).toFixed(1)}–${Math.min(options.seconds, to).toFixed(1)}`;
        return [t.label, window, spread(s.p99InWindowMs, fixed(2)), spread(s.p99OutOfWindowMs, fixed(2))];
      }),
    },
    {
      title:
        "each round: a round with high 'other CPU' (the rest of the machine, as a share of one core) was disturbed, " +
        'whatever the server did',
      columns: [
        'target',
        'round',
        'p50 ms',
        'p99 ms',
        'max ms',
        'RSS per socket KiB',
        'connect+subscribe s',
        'server CPU',
        'load CPU',
        'other CPU',
      ],
      rows: targets.flatMap((t) =>
        samples[t.name].map((x, i) => [
          t.label,
          i + 1,
          fixed(2)(x.p50Ms),
          fixed(2)(x.p99Ms),
          fixed(1)(x.maxMs),
          kib(x.rssPerSocket),
          fixed(1)(x.connectSeconds),
          percent(x.serverCpu),
          percent(x.clientCpu),
          percent(x.restCpu),
        ]),
      ),
    },
    {
      title: 'Parley against the bare ws server, on the medians',
      columns: [
        'store',
        'p50 ×baseline',
        'added p50 ms',
        'added p99 ms',
        'RSS per socket ×baseline',
        'heap per socket ×baseline',
      ],
      rows: parleys.map((t) => {
        const r = ratios[t.name];
        return [
          t.store.label,
          times(r.p50),
          plusMs(r.addedP50Ms),
          plusMs(r.addedP99Ms),
          times(r.memoryPerSocket),
          times(r.heapPerSocket),
        ];
      }),
    },
  ];

  const { row, table, pass } = targetRows(parleys);
  row(`p99 delivery ≤ ${TARGETS.deliveryP99Ms} ms`, (t) => {
    const v = med(t.name, 'p99Ms');
    return { text: `${v.toFixed(2)} ms`, passed: v <= TARGETS.deliveryP99Ms };
  });
  row(`memory per socket ≤ ${TARGETS.memoryPerSocket}× the baseline's`, (t) => {
    const v = ratios[t.name].memoryPerSocket;
    return {
      text: `${kib(med(t.name, 'rssPerSocket'))} KiB, ${times(v)}`,
      passed: v != null && v <= TARGETS.memoryPerSocket,
    };
  });
  row('every message to every socket of its room, once, as sent; no reply', (t) => {
    const failed = summary[t.name].failures;
    return { text: `${failed} wrong`, passed: failed === 0 };
  });
  row('stored: each room holds the messages sent to it, nothing more', (t) => {
    const s = stored[t.name];
    return { text: `${s.stored}/${s.sent}, ${s.wrong} rooms wrong`, passed: s.wrong === 0 && s.stored === s.sent };
  });
  tables.push(table(parleys.map((t) => t.store.label)));

  tables.push({
    title:
      'checked before each measured fan-out: every socket ready and subscribed; a warm-up fan-out in which every ' +
      `socket got every message of its room once, as sent (the frames' sizes must match across servers)`,
    columns: ['target', 'sockets', 'warm-up deliveries', 'message frame bytes', 'sent frame bytes'],
    rows: targets.map((t) => {
      const list = samples[t.name];
      return [
        t.label,
        options.sockets,
        list[0]?.warmup.received,
        sizes(list.map((x) => [...x.warmup.frameBytes, ...x.frameBytes])),
        sizes(list.map((x) => [...x.warmup.sentFrameBytes, ...x.sentFrameBytes])),
      ];
    }),
  });

  for (const profile of profiles)
    tables.push(
      ...profileTables(
        profile,
        `${profile.label}, the measured fan-out (p99 ${profile.sample.p99Ms.toFixed(2)} ms, ` +
          `${profile.sample.deliveriesPerSecond.toFixed(0)} deliveries/s)`,
      ),
    );

  const notes = [
    `layout: ${options.perRoom} users, each holding one socket in each of the ${options.rooms} rooms (so ` +
      `${options.rooms} sockets a user: realtime.maxSocketsPerUser is set to that); the rooms are group rooms without ` +
      'a bot (no message is answered, no model is involved), each owned by one of the users in turn and joined by the ' +
      "others with its invite code; a room's messages are sent by its owner's socket in it, which receives them too",
    `load: ${options.rounds} rounds interleaving the targets, each on a server process of its own: prime (one socket ` +
      'a room: connect, subscribe, one message; closed), memory reading, all sockets connected and subscribed ' +
      `(${CONNECT_CONCURRENCY} opening at a time), memory reading, a ${options.warmupSeconds} s warm-up fan-out ` +
      `(checked: every delivery, once, as sent), then the measured ${options.seconds} s`,
    `a message: a WebSocket \`message\` frame (${MESSAGE_CHARS} characters of text, with the send time in it) from ` +
      `the sender's socket; the rooms' sends are spread evenly over each second (one every ${(1000 / options.rooms).toFixed(1)} ms). ` +
      "delivery latency: from that send to a socket's receipt of the pushed `message` frame, for every socket of " +
      'the room, all timed by the one clock of the load generator; nearest-rank percentiles over all deliveries of a ' +
      "round. 'sent→ack': to the sender's `sent` answer",
    'the baseline (lib/ws-broadcast.js, a process of its own) speaks the same frames with no auth, no store and no ' +
      "heartbeat: on a `message` frame it writes a `message` frame shaped as Parley's to the room's sockets " +
      '(serialised once) and `sent` to the sender; the frame sizes above show they are the same',
    'memory: process.memoryUsage() read through lib/memory-probe.js (preloaded with --expose-gc: on SIGUSR2 a full ' +
      'garbage collection, then the reading), so that garbage not yet collected is not counted; the target is on RSS',
    `Parley pings every socket and checks its credentials again each realtime.heartbeatMs (30 s by default): a ` +
      `measured round of ${options.seconds} s ${options.seconds >= 30 ? 'holds each socket’s heartbeat once' : 'may hold none of them'}`,
    ...placementNotes({
      layout,
      serverCpu: SERVER_CPU,
      clientCpu: CLIENT_CPU,
      client: 'the load generator (lib/ws-clients.js, its own process) and the runner',
      unpinned: [...unpinnedStores(stores), ...(options.redis ? ['Redis'] : [])],
      during: 'the measured fan-out',
    }),
    ...databaseNotes(stores),
  ];
  for (const [name, s] of Object.entries(summary))
    if (s.clientLoopP99Ms.median >= 5)
      notes.push(
        `${name}: the load generator's event loop lagged (p99 ${s.clientLoopP99Ms.median.toFixed(1)} ms): its latencies are an upper bound`,
      );
  for (const p of problems) notes.push(`PROBLEMS: ${p}`);

  return {
    tables,
    notes,
    data: {
      config: {
        ...recordedOptions(options, layout),
        redis: options.redis && new URL(options.redis).host,
        messageChars: MESSAGE_CHARS,
      },
      targets: TARGETS,
      pass,
      summary,
      ratios,
      stored,
      profiles: profilesData(profiles),
      samples: Object.fromEntries(
        Object.entries(samples).map(([name, list]) => [name, list.map(({ sentPerRoom: _, ...x }) => x)]),
      ),
    },
  };
}
