import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { cpuLayout } from '../lib/cpu.js';
import { startCpuMeter } from '../lib/cpu-meter.js';
import { FAKE } from '../lib/fake-openai.js';
import { postgresServer } from '../lib/postgres.js';
import { collectProfile, profileClock, profileTables } from '../lib/profile-table.js';
import { atExit, repoRoot, stopProcess } from '../lib/process.js';
import { parleyStores, startParley, startServer, UNLIMITED_TIERS } from '../lib/servers.js';
import { ratio, summarize } from '../lib/stats.js';
import { runStreamLoad, streamPool } from '../lib/stream-load.js';

const TARGETS = { throughput: 0.7, ttftOverheadP99Ms: 5, atConnections: 64 };
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const SETTLE_MS = 300;
const REPLY_TOKENS = 50;
const REPLY = FAKE.token.repeat(REPLY_TOKENS);
const QUESTION = 'hi';
const CREATE_PARALLEL = 16;
// After the load, the stored replies of this many conversations are read back and checked.
const REPLIES_CHECKED_IN = 20;

// How each stream's first token and end are recognised (see lib/stream-load.js). The gateway's first token is
// the first chunk whose delta content is not empty (one that only opens with the role does not count).
const MODES = {
  gateway: {
    what: 'POST /v1/chat/completions with stream: true (usage recorded, nothing else stored)',
    firstToken: /"content":"[^"]/,
    end: 'data: [DONE]',
  },
  chat: {
    what: 'POST /api/v1/conversations/:id/messages?stream=true (question and reply stored)',
    firstToken: 'event: delta',
    end: 'event: completed',
  },
};
const GATEWAY_BODY = JSON.stringify({
  model: FAKE.model,
  messages: [{ role: 'user', content: QUESTION }],
  stream: true,
  stream_options: { include_usage: true },
});
const CHAT_BODY = JSON.stringify({ content: QUESTION });

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '1,64' },
      conversations: { type: 'string', default: '2000' },
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
    conversations: Number(values.conversations),
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
    throw new Error('--connections takes a comma-separated list of positive integers, e.g. 1,64');
  if (!Number.isInteger(options.conversations) || options.conversations < Math.max(...options.connections))
    throw new Error('--conversations must be at least the highest concurrency');
  return options;
}

const json = (key) => ({ 'content-type': 'application/json', authorization: `Bearer ${key}` });

/** `count` new conversations of the bench user, a few requests at a time. */
async function createConversations(url, key, count) {
  const ids = [];
  for (let made = 0; made < count; made += CREATE_PARALLEL) {
    const batch = Array.from({ length: Math.min(CREATE_PARALLEL, count - made) }, async () => {
      const res = await fetch(`${url}/api/v1/conversations`, { method: 'POST', headers: json(key), body: '{}' });
      if (res.status !== 201) throw new Error(`POST /api/v1/conversations: ${res.status} ${await res.text()}`);
      return (await res.json()).conversation.id;
    });
    ids.push(...(await Promise.all(batch)));
  }
  return ids;
}

/**
 * Server-sent events of a whole body: [{ event, data }] (data parsed as JSON where it is). Blocks without data
 * (`retry:`, comments) dispatch no event.
 */
function parseEvents(text) {
  return text
    .split('\n\n')
    .map((block) =>
      Object.fromEntries(
        block
          .split('\n')
          .filter((line) => line.includes(':') && !line.startsWith(':'))
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
      ),
    )
    .filter((fields) => fields.data !== undefined)
    .map((fields) => {
      let data = fields.data;
      try {
        data = JSON.parse(data);
      } catch {
        // [DONE] and the like stay text.
      }
      return { event: fields.event ?? 'message', data };
    });
}

async function getJson(target, path) {
  const res = await fetch(`${target.url}${path}`, { headers: json(target.key) });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** One gateway stream outside the load, read to its end: the reply must be the fake's, whole. */
async function checkGateway(target) {
  const res = await fetch(`${target.url}/v1/chat/completions`, {
    method: 'POST',
    headers: json(target.key),
    body: GATEWAY_BODY,
  });
  const text = await res.text();
  const problems = res.status === 200 ? [] : [`status ${res.status}: ${text.slice(0, 200)}`];
  const chunks = parseEvents(text).map((e) => e.data);
  const deltas = chunks.filter((c) => typeof c === 'object').map((c) => c.choices?.[0]?.delta?.content ?? '');
  // The blocks that parseEvents makes events of, in the same order.
  const frames = text.split('\n\n').filter((block) => /^data:/m.test(block));
  const firstMarked = frames.findIndex((frame) => MODES.gateway.firstToken.test(frame));
  const firstText = chunks.findIndex((c) => c?.choices?.[0]?.delta?.content);
  const result = {
    status: res.status,
    bodyBytes: Buffer.byteLength(text),
    tokenFrames: deltas.filter(Boolean).length,
    reply: deltas.join(''),
    usage: chunks.find((c) => c?.usage)?.usage?.completion_tokens ?? null,
    done: chunks.at(-1) === '[DONE]',
  };
  if (result.reply !== REPLY) problems.push(`the reply is not the fake's (${result.reply.length} characters)`);
  if (firstMarked < 0 || firstMarked !== firstText)
    problems.push('the first-token marker does not single out the first chunk with text');
  if (!result.done) problems.push('the stream does not end with data: [DONE]');
  if (problems.length) throw new Error(`${target.label}: ${problems.join('; ')}`);
  return result;
}

/** One chat message outside the load: the streamed reply must be the fake's, and stored whole. */
async function checkChat(target, conversationId) {
  const res = await fetch(`${target.url}/api/v1/conversations/${conversationId}/messages?stream=true`, {
    method: 'POST',
    headers: json(target.key),
    body: CHAT_BODY,
  });
  const text = await res.text();
  const problems = res.status === 201 ? [] : [`status ${res.status}: ${text.slice(0, 200)}`];
  const events = parseEvents(text);
  const [question, started] = events.filter((e) => e.event === 'message').map((e) => e.data);
  const deltas = events.filter((e) => e.event === 'delta').map((e) => e.data);
  const last = events.at(-1);
  const stored = started && (await getJson(target, `/api/v1/messages/${started.id}`)).message;
  const result = {
    status: res.status,
    bodyBytes: Buffer.byteLength(text),
    tokenFrames: deltas.length,
    reply: deltas.map((d) => d.text).join(''),
    usage: last?.data?.message?.usage?.completionTokens ?? null,
    done: last?.event === 'completed',
    stored: stored && { status: stored.status, chars: stored.content.length },
  };
  if (question?.role !== 'user' || question.content !== QUESTION) problems.push('the first event is not the question');
  if (started?.role !== 'assistant' || started.status !== 'streaming') problems.push('no reply started');
  if (result.reply !== REPLY) problems.push(`the streamed reply is not the fake's (${result.reply.length} characters)`);
  if (!result.done || last.data.message.content !== REPLY)
    problems.push('the stream does not end with the reply completed');
  if (stored?.content !== REPLY || stored.status !== 'complete') problems.push('the stored reply is not complete');
  if (problems.length) throw new Error(`${target.label}: ${problems.join('; ')}`);
  return result;
}

/** One load run against a target, with the CPU time each side spent meanwhile. */
async function measure(target, pool, connections, seconds, clientPids) {
  const cpu = await startCpuMeter({ server: target.pid(), client: clientPids });
  const result = await runStreamLoad({
    pool,
    connections,
    seconds,
    requestOf: target.requestOf,
    firstToken: MODES[target.mode].firstToken,
    end: MODES[target.mode].end,
  });
  return { ...result, ...(await cpu(seconds)) };
}

/**
 * After the load, from what Parley stores: every conversation's length, and the replies of the first few
 * conversations (their newest page), which must all be complete and the fake's.
 */
async function afterLoad(target, sent) {
  const counts = new Map();
  let cursor = null;
  do {
    const page = await getJson(
      target,
      `/api/v1/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    for (const c of page.items) counts.set(c.id, c.messageCount);
    cursor = page.nextCursor;
  } while (cursor);
  const ids = [...sent.keys()];
  const exchanges = [...sent.values()];
  const stored = ids.map((id) => counts.get(id) ?? 0);
  const sum = (list) => list.reduce((a, b) => a + b, 0);
  let repliesRead = 0;
  let repliesWrong = 0;
  for (const id of ids.slice(0, REPLIES_CHECKED_IN)) {
    const { items } = await getJson(target, `/api/v1/conversations/${id}/messages`);
    const replies = items.filter((m) => m.role === 'assistant');
    repliesRead += replies.length;
    repliesWrong += replies.filter((m) => m.status !== 'complete' || m.content !== REPLY).length;
  }
  return {
    conversations: ids.length,
    exchangesSent: sum(exchanges),
    messagesStored: sum(stored),
    longest: Math.max(...stored),
    mean: sum(stored) / stored.length,
    repliesRead,
    repliesWrong,
  };
}

export async function run(argv) {
  const options = parseOptions(argv);
  const layout = cpuLayout(options.pin);
  // The load generator is this process: it and the upstream fake share one core, Parley has the other.
  layout.pinSelf(CLIENT_CPU);

  const scratch = await mkdtemp(join(tmpdir(), 'parley-bench-chat-'));
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  const forget = atExit(removeScratch);
  let stores = null;
  const parleys = new Map();
  try {
    const upstream = await startServer({
      args: [join(repoRoot, 'bench/lib/fake-openai.js')],
      env: { FAKE_CHUNKS: String(REPLY_TOKENS) },
      readyPath: '/v1/models',
      cpu: CLIENT_CPU,
      layout,
    });
    const configFile = join(scratch, 'bench-config.json');
    const config = {
      ...UNLIMITED_TIERS,
      channels: [
        {
          name: 'bench',
          provider: 'openai-compatible',
          baseUrl: `${upstream.url}/v1`,
          apiKeys: ['sk-bench'],
          models: ['*'],
        },
      ],
      // A title is asked of the model after a conversation's first exchange: one more upstream call, not chat's.
      chat: { generateTitles: false },
    };
    await writeFile(configFile, JSON.stringify(config, null, 2));
    stores = await parleyStores({ scratch, configFile, postgres: options.postgres, scenario: 'chat' });
    for (const store of stores.stores) parleys.set(store.name, await startParley({ store, cpu: SERVER_CPU, layout }));

    process.stderr.write(`  creating ${options.conversations} conversations per store\n`);
    const targets = [];
    const checks = {};
    const sent = {};
    for (const store of stores.stores) {
      const parley = () => parleys.get(store.name);
      const [checkConversation, ...conversations] = await createConversations(
        parley().url,
        store.key,
        options.conversations + 1,
      );
      sent[store.name] = new Map(conversations.map((id) => [id, 0]));
      const common = { store: store.name, key: store.key, pid: () => parley().child.pid };
      const gateway = {
        ...common,
        mode: 'gateway',
        label: `${store.label}: gateway`,
        requestOf: () => ({
          method: 'POST',
          path: '/v1/chat/completions',
          headers: json(store.key),
          body: GATEWAY_BODY,
        }),
      };
      // Round-robin over the conversations, so that they grow evenly and slowly; with more conversations than
      // connections, a conversation's previous exchange has ended before the next one starts.
      let turn = 0;
      const chat = {
        ...common,
        mode: 'chat',
        label: `${store.label}: chat`,
        requestOf: () => {
          const id = conversations[turn++ % conversations.length];
          sent[store.name].set(id, sent[store.name].get(id) + 1);
          return {
            method: 'POST',
            path: `/api/v1/conversations/${id}/messages?stream=true`,
            headers: json(store.key),
            body: CHAT_BODY,
          };
        },
      };
      for (const t of [gateway, chat]) Object.defineProperty(t, 'url', { get: () => parley().url, enumerable: true });
      checks[gateway.label] = await checkGateway(gateway);
      checks[chat.label] = await checkChat(chat, checkConversation);
      targets.push(gateway, chat);
    }

    const runs = options.connections.length * targets.length;
    const estimate = runs * (options.warmupSeconds + options.rounds * options.seconds);
    process.stderr.write(
      `  ${runs} runs of ${options.rounds} × ${options.seconds} s, about ${Math.ceil(estimate / 60)} min\n`,
    );

    const clientPids = [process.pid, upstream.child.pid];
    // samples[connections][target label] = one result per round; warm-up runs only count their failures.
    const samples = {};
    const warmupFailures = [];
    for (const connections of options.connections) {
      const byTarget = (samples[connections] = Object.fromEntries(targets.map((t) => [t.label, []])));
      const pools = new Map(targets.map((t) => [t, streamPool(t.url, connections)]));
      try {
        // Rounds interleave the targets, so that the noise of a shared machine falls on all of them alike.
        for (let round = 0; round <= options.rounds; round++) {
          for (const target of targets) {
            const seconds = round ? options.seconds : options.warmupSeconds;
            if (!seconds) continue;
            await sleep(SETTLE_MS);
            const sample = await measure(target, pools.get(target), connections, seconds, clientPids);
            const failed = sample.non2xx + sample.errors + sample.incomplete;
            if (round) byTarget[target.label].push(sample);
            else if (failed) warmupFailures.push({ target: target.label, connections, ...sample });
            process.stderr.write(
              `  c${connections} ${round ? `round ${round}/${options.rounds}` : 'warm-up'}: ${target.label} ` +
                `${sample.requestsPerSecond.toFixed(0)} req/s, ttft p99 ${sample.ttftP99Ms?.toFixed(2)} ms` +
                `${failed ? ` (${failed} failed)` : ''}\n`,
            );
          }
        }
      } finally {
        await Promise.all([...pools.values()].map((pool) => pool.close()));
      }
    }

    const lengths = {};
    for (const store of stores.stores) {
      const target = targets.find((t) => t.store === store.name && t.mode === 'chat');
      lengths[store.name] = await afterLoad(target, sent[store.name]);
    }

    const profiles = [];
    if (options.profile) {
      for (const store of stores.stores) {
        await stopProcess(parleys.get(store.name).child);
        const dir = join(scratch, `profile-${store.name}`);
        await mkdir(dir);
        parleys.set(
          store.name,
          await startParley({ store, cpu: SERVER_CPU, layout, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] }),
        );
        const target = targets.find((t) => t.store === store.name && t.mode === 'chat');
        profiles.push({
          label: target.label,
          ...(await profileRound(target, dir, options, clientPids, parleys.get(store.name))),
        });
      }
    }

    return report({
      options,
      layout,
      targets,
      stores: stores.stores,
      checks,
      samples,
      warmupFailures,
      lengths,
      profiles,
    });
  } finally {
    for (const parley of parleys.values()) await stopProcess(parley.child);
    await stores?.drop();
    forget();
    removeScratch();
  }
}

/** One chat round at the target concurrency under --cpu-prof, after a warm-up; only the round's samples count. */
async function profileRound(target, dir, options, clientPids, parley) {
  const connections = TARGETS.atConnections;
  const pool = streamPool(parley.url, connections);
  try {
    await measure(target, pool, connections, Math.max(options.warmupSeconds, 1), clientPids);
    await sleep(1000);
    const from = profileClock();
    const sample = await measure(target, pool, connections, options.seconds, clientPids);
    const to = profileClock();
    const saveAs = join(repoRoot, 'bench/results', `chat-${target.store}.cpuprofile`);
    return { connections, sample, ...(await collectProfile({ child: parley.child, dir, saveAs, from, to })) };
  } finally {
    await pool.close();
  }
}

const fixed = (digits) => (v) => (v == null ? null : v.toFixed(digits));
const perSecond = (v) => (v == null ? null : v.toFixed(0));
const percent = (v) => (v == null ? null : `${(v * 100).toFixed(0)}%`);
const spread = (s, unit) => (s.n ? `${unit(s.median)} (${unit(s.min)}–${unit(s.max)})` : null);
const times = (r) => (r == null ? null : `${r.toFixed(2)}×`);
const plusMs = (v) => (v == null ? null : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
const verdict = (text, passed) => `${text} ${passed ? 'PASS' : 'FAIL'}`;

function report({ options, layout, targets, stores, checks, samples, warmupFailures, lengths, profiles }) {
  const fields = ['requestsPerSecond', 'ttftP50Ms', 'ttftP99Ms', 'p50Ms', 'p99Ms', 'serverCpu', 'clientCpu', 'restCpu'];
  const summary = {};
  const overheads = {};
  const problems = [];
  for (const [connections, byTarget] of Object.entries(samples)) {
    const s = (summary[connections] = {});
    for (const [label, list] of Object.entries(byTarget)) {
      s[label] = Object.fromEntries(fields.map((f) => [f, summarize(list.map((x) => x[f]))]));
      s[label].failures = 0;
      for (const x of list) {
        const failed = x.non2xx + x.errors + x.incomplete;
        s[label].failures += failed;
        if (failed)
          problems.push(
            `${label}, c${connections}: ${x.non2xx} non-2xx, ${x.errors} errors, ${x.incomplete} streams without their end ` +
              `(statuses ${JSON.stringify(x.statuses)})`,
          );
      }
    }
    overheads[connections] = {};
    for (const store of stores) {
      const med = (mode, f) => s[targets.find((t) => t.store === store.name && t.mode === mode).label][f].median;
      overheads[connections][store.name] = {
        throughput: ratio(med('chat', 'requestsPerSecond'), med('gateway', 'requestsPerSecond')),
        ttftP50Ms: med('chat', 'ttftP50Ms') - med('gateway', 'ttftP50Ms'),
        ttftP99Ms: med('chat', 'ttftP99Ms') - med('gateway', 'ttftP99Ms'),
        totalP99Ms: med('chat', 'p99Ms') - med('gateway', 'p99Ms'),
      };
    }
  }

  const tables = [
    {
      title:
        `chat against the gateway's streaming path in the same Parley process, ${REPLY_TOKENS}-token reply: ` +
        `median (min–max) of ${options.rounds} rounds × ${options.seconds} s`,
      columns: [
        'target',
        'conns',
        'req/s',
        'TTFT p50 ms',
        'TTFT p99 ms',
        'total p50 ms',
        'total p99 ms',
        'server CPU',
        'load+fake CPU',
        'other CPU',
        'failed',
      ],
      rows: options.connections.flatMap((c) =>
        targets.map((t) => {
          const s = summary[c][t.label];
          return [
            t.label,
            c,
            spread(s.requestsPerSecond, perSecond),
            spread(s.ttftP50Ms, fixed(2)),
            spread(s.ttftP99Ms, fixed(2)),
            spread(s.p50Ms, fixed(2)),
            spread(s.p99Ms, fixed(2)),
            percent(s.serverCpu.median),
            percent(s.clientCpu.median),
            percent(s.restCpu.median),
            s.failures ? `${s.failures} !` : 0,
          ];
        }),
      ),
    },
    {
      title: 'chat against the gateway, on the medians (overheads in ms)',
      columns: ['store', 'conns', 'req/s ×gateway', 'TTFT overhead p50', 'TTFT overhead p99', 'total overhead p99'],
      rows: options.connections.flatMap((c) =>
        stores.map((store) => {
          const o = overheads[c][store.name];
          return [store.label, c, times(o.throughput), plusMs(o.ttftP50Ms), plusMs(o.ttftP99Ms), plusMs(o.totalP99Ms)];
        }),
      ),
    },
  ];

  const at = TARGETS.atConnections;
  const pass = {};
  const targetRows = [];
  const row = (label, cell) => {
    const cells = stores.map(cell);
    pass[label] = cells.map((c) => c?.passed ?? null);
    targetRows.push([label, ...cells.map((c) => c && verdict(c.text, c.passed))]);
  };
  if (options.connections.includes(at)) {
    row(`req/s ≥ ${TARGETS.throughput}× gateway at c${at}`, (store) => {
      const v = overheads[at][store.name].throughput;
      return { text: times(v), passed: v >= TARGETS.throughput };
    });
    row(`TTFT overhead p99 ≤ ${TARGETS.ttftOverheadP99Ms} ms at c${at}`, (store) => {
      const v = overheads[at][store.name].ttftP99Ms;
      return { text: `${plusMs(v)} ms`, passed: v <= TARGETS.ttftOverheadP99Ms };
    });
  }
  row('no failed requests in any round', (store) => {
    const failed = options.connections.reduce(
      (n, c) => n + targets.filter((t) => t.store === store.name).reduce((m, t) => m + summary[c][t.label].failures, 0),
      0,
    );
    return { text: `${failed} failed`, passed: failed === 0 };
  });
  row('stored: a question and a reply per message sent, replies read back whole', (store) => {
    const l = lengths[store.name];
    const passed = l.messagesStored === 2 * l.exchangesSent && l.repliesWrong === 0;
    return { text: `${l.messagesStored}/${2 * l.exchangesSent}, ${l.repliesWrong} wrong`, passed };
  });
  tables.push({ title: 'targets (BENCH.md)', columns: ['target', ...stores.map((s) => s.label)], rows: targetRows });

  tables.push({
    title: `checked before the load: one request each, read to the end (the reply must be the fake's ${REPLY_TOKENS} tokens, and chat's stored whole)`,
    columns: [
      'target',
      'status',
      'body bytes',
      'frames with text',
      'reply chars',
      'usage (completion)',
      'ended',
      'stored reply',
    ],
    rows: Object.entries(checks).map(([label, c]) => [
      label,
      c.status,
      c.bodyBytes,
      c.tokenFrames,
      c.reply.length,
      c.usage,
      c.done ? 'yes' : 'no',
      c.stored ? `${c.stored.status}, ${c.stored.chars} chars` : null,
    ]),
  });

  for (const profile of profiles)
    tables.push(
      ...profileTables(
        profile,
        `${profile.label} c${profile.connections}, ${profile.sample.requestsPerSecond.toFixed(0)} req/s`,
      ),
    );

  const notes = [
    ...Object.entries(MODES).map(([mode, m]) => `${mode}: ${m.what}`),
    `load: a closed loop of undici requests in the runner process (lib/stream-load.js), ${options.connections.join('/')} ` +
      `keep-alive connections with one request in flight each; ${options.warmupSeconds} s warm-up per target and ` +
      `concurrency, then ${options.rounds} rounds interleaving the targets; requests still in flight at the end of a ` +
      'round are read to their end, not counted',
    'TTFT (time to first token): from sending a request to the arrival of the chunk that holds the first token of ' +
      "the reply — for chat the first 'event: delta' frame (after the user message and the reply's start), for the " +
      'gateway the first chunk whose delta has content (a chunk that only opens with the role would not count). TTFT ' +
      "overhead = chat's TTFT percentile minus the gateway's, on the medians of the rounds, per store; both come from " +
      `the same Parley process and the same fake upstream reply (${REPLY_TOKENS} tokens sent in one write, which Parley ` +
      'relays as one batch: chat streams it as one delta frame). total = to the last byte of the stream',
    `at c${at} the closed loop keeps Parley's core saturated, so TTFT there includes the wait behind the other ` +
      'requests in flight: its overhead follows the throughput ratio; at c1 it is the per-request cost alone',
    ...stores.map((store) => {
      const l = lengths[store.name];
      return (
        `${store.label}: ${l.exchangesSent} messages sent round-robin over ${l.conversations} conversations ` +
        `(made before the load), which ended with ${l.mean.toFixed(1)} messages on average, ${l.longest} at most ` +
        `(${l.messagesStored} stored for ${2 * l.exchangesSent} expected: a question and its reply each); each ` +
        "chat request sends the conversation's history upstream (the gateway request one message). Read back " +
        `after the load: ${l.repliesRead} replies of ${REPLIES_CHECKED_IN} conversations, ${l.repliesWrong} not ` +
        "complete or not the fake's"
      );
    }),
    layout.pinned
      ? `pinned with taskset: Parley on CPU ${SERVER_CPU}; the load generator and the upstream fake on CPU ${CLIENT_CPU}` +
        `${stores.length > 1 ? '; the PostgreSQL server is not pinned (it runs wherever the OS puts it, beside either)' : ''}. ` +
        "CPU columns: share of one core during the round ('load+fake' near 100% means the client side was the limit)"
      : 'not pinned (no taskset, or fewer than 2 cores): Parley, fake and load generator share the cores',
    "'other CPU': what the rest of the machine used during the round (share of one core; everything but the server " +
      `under test and the load side${stores.length > 1 ? ", the PostgreSQL server's work included" : ''}): high ` +
      'figures mark rounds disturbed by other work on a shared machine',
  ];
  for (const store of stores.filter((s) => s.database))
    notes.push(`${store.label}: database ${store.database}, created for the run and dropped after it`);
  for (const [c, byTarget] of Object.entries(summary))
    for (const [label, s] of Object.entries(byTarget))
      if (layout.pinned && s.clientCpu.median >= 0.9)
        notes.push(
          `${label}, c${c}: the load generator's core was saturated (${percent(s.clientCpu.median)}): a lower bound`,
        );
  for (const p of problems) notes.push(`FAILED REQUESTS: ${p}`);
  for (const w of warmupFailures)
    notes.push(
      `warm-up, ${w.target}, c${w.connections}: ${w.non2xx} non-2xx, ${w.errors} errors, ${w.incomplete} incomplete`,
    );

  return {
    tables,
    notes,
    data: {
      config: {
        ...options,
        postgres: options.postgres && options.postgres.host,
        pinned: layout.pinned,
        replyTokens: REPLY_TOKENS,
      },
      targets: TARGETS,
      pass,
      summary,
      overheads,
      checks,
      lengths,
      profiles: profiles.map((profile) => ({ ...profile, byFunction: profile.byFunction.slice(0, 100) })),
      samples,
    },
  };
}
