import { join } from 'node:path';
import { cpuLayout } from '../lib/cpu.js';
import { startCpuMeter } from '../lib/cpu-meter.js';
import { FAKE } from '../lib/fake-openai.js';
import { fixed, perSecond, plusMs, times } from '../lib/format.js';
import { databaseNotes, placementNotes, troubleNotes, unpinnedStores } from '../lib/notes.js';
import { parseLoadOptions, recordedOptions } from '../lib/options.js';
import { profiledRoundLabel, profileParley, profilesData, profileTables } from '../lib/profile-table.js';
import { repoRoot } from '../lib/process.js';
import { cpuCells, roundsTable, spreadCell } from '../lib/rounds-table.js';
import { announceRounds, failedInRounds, interleavedRounds, summarizeRounds } from '../lib/rounds.js';
import { fakeUpstreamConfig, startParley, startServer, withParleyStores } from '../lib/servers.js';
import { ratio } from '../lib/stats.js';
import { runStreamLoad, streamPool } from '../lib/stream-load.js';
import { targetRows } from '../lib/target-table.js';

const TARGETS = { throughput: 0.7, ttftOverheadP99Ms: 5, atConnections: 64 };
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
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
  const { options, values } = parseLoadOptions(argv, {
    defaults: { duration: 5, rounds: 5, warmup: 1, connections: [1, 64] },
    extra: { conversations: { type: 'string', default: '2000' } },
  });
  const conversations = Number(values.conversations);
  // Each connection writes to a conversation of its own, so that no exchange waits for another's reply.
  if (!Number.isInteger(conversations) || conversations < Math.max(...options.connections))
    throw new Error('--conversations must be at least the highest concurrency');
  return { ...options, conversations };
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

  const upstream = await startServer({
    args: [join(repoRoot, 'bench/lib/fake-openai.js')],
    env: { FAKE_CHUNKS: String(REPLY_TOKENS) },
    readyPath: '/v1/models',
    cpu: CLIENT_CPU,
    layout,
  });
  return withParleyStores(
    {
      scenario: 'chat',
      config: {
        ...fakeUpstreamConfig(upstream.url),
        // A title is asked of the model after a conversation's first exchange: one more upstream call, not chat's.
        chat: { generateTitles: false },
      },
      postgres: options.postgres,
    },
    async ({ scratch, stores, servers: parleys }) => {
      for (const store of stores) parleys.set(store.name, await startParley({ store, cpu: SERVER_CPU, layout }));

      process.stderr.write(`  creating ${options.conversations} conversations per store\n`);
      const targets = [];
      const checks = {};
      const sent = {};
      for (const store of stores) {
        const parley = () => parleys.get(store.name);
        const [checkConversation, ...conversations] = await createConversations(
          parley().url,
          store.key,
          options.conversations + 1,
        );
        sent[store.name] = new Map(conversations.map((id) => [id, 0]));
        const common = { store: store.name, key: store.key, pid: () => parley().child.pid };
        // Each target's name is its label: the results file keys the rounds by it.
        const gateway = {
          ...common,
          mode: 'gateway',
          name: `${store.label}: gateway`,
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
          name: `${store.label}: chat`,
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

      announceRounds({ runs: options.connections.length * targets.length, ...options });
      const clientPids = [process.pid, upstream.child.pid];
      const samples = {};
      const warmupFailures = [];
      // A pool of keep-alive connections per target, as many as the concurrency: one round at a time, so that a
      // concurrency's connections are all closed before the next one's open.
      for (const connections of options.connections) {
        const pools = new Map(targets.map((t) => [t, streamPool(t.url, connections)]));
        try {
          const done = await interleavedRounds({
            targets,
            ...options,
            connections: [connections],
            measure: (target, c, seconds) => measure(target, pools.get(target), c, seconds, clientPids),
          });
          Object.assign(samples, done.samples);
          warmupFailures.push(...done.warmupFailures);
        } finally {
          await Promise.all([...pools.values()].map((pool) => pool.close()));
        }
      }

      const lengths = {};
      for (const store of stores) {
        const target = targets.find((t) => t.store === store.name && t.mode === 'chat');
        lengths[store.name] = await afterLoad(target, sent[store.name]);
      }

      const profiles = [];
      if (options.profile) {
        const connections = TARGETS.atConnections;
        for (const store of stores) {
          const target = targets.find((t) => t.store === store.name && t.mode === 'chat');
          // One pool for the warm-up and the profiled round: the round opens no connection.
          let pool = null;
          try {
            const profiled = await profileParley({
              running: parleys.get(store.name),
              store,
              layout,
              cpu: SERVER_CPU,
              dir: join(scratch, `profile-${store.name}`),
              saveAs: join(repoRoot, 'bench/results', `chat-${store.name}.cpuprofile`),
              measure: (server, seconds) => {
                pool ??= streamPool(server.url, connections);
                return measure({ ...target, pid: () => server.child.pid }, pool, connections, seconds, clientPids);
              },
              warmupSeconds: options.warmupSeconds,
              seconds: options.seconds,
            });
            profiles.push({ label: target.label, connections, ...profiled });
          } finally {
            await pool?.close();
          }
        }
      }

      return report({
        options,
        layout,
        targets,
        stores,
        checks,
        samples,
        warmupFailures,
        lengths,
        profiles,
      });
    },
  );
}

function report({ options, layout, targets, stores, checks, samples, warmupFailures, lengths, profiles }) {
  const fields = ['requestsPerSecond', 'ttftP50Ms', 'ttftP99Ms', 'p50Ms', 'p99Ms', 'serverCpu', 'clientCpu', 'restCpu'];
  const { summary, problems } = summarizeRounds(samples, fields, targets);
  const overheads = {};
  for (const [connections, s] of Object.entries(summary)) {
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
    roundsTable({
      title:
        `chat against the gateway's streaming path in the same Parley process, ${REPLY_TOKENS}-token reply: ` +
        `median (min–max) of ${options.rounds} rounds × ${options.seconds} s`,
      connections: options.connections,
      targets,
      summary,
      cells: [
        spreadCell('req/s', 'requestsPerSecond', perSecond),
        spreadCell('TTFT p50 ms', 'ttftP50Ms', fixed(2)),
        spreadCell('TTFT p99 ms', 'ttftP99Ms', fixed(2)),
        spreadCell('total p50 ms', 'p50Ms', fixed(2)),
        spreadCell('total p99 ms', 'p99Ms', fixed(2)),
        ...cpuCells('load+fake CPU'),
      ],
    }),
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
  const { row, table, pass } = targetRows(stores);
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
    const failed = failedInRounds(
      summary,
      targets.filter((t) => t.store === store.name).map((t) => t.name),
    );
    return { text: `${failed} failed`, passed: failed === 0 };
  });
  row('stored: a question and a reply per message sent, replies read back whole', (store) => {
    const l = lengths[store.name];
    const passed = l.messagesStored === 2 * l.exchangesSent && l.repliesWrong === 0;
    return { text: `${l.messagesStored}/${2 * l.exchangesSent}, ${l.repliesWrong} wrong`, passed };
  });
  tables.push(table(stores.map((s) => s.label)));

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

  for (const profile of profiles) tables.push(...profileTables(profile, profiledRoundLabel(profile)));

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
    ...placementNotes({
      layout,
      serverCpu: SERVER_CPU,
      clientCpu: CLIENT_CPU,
      server: 'Parley',
      client: 'the load generator and the upstream fake',
      unpinned: unpinnedStores(stores),
      clientColumn: 'load+fake CPU',
    }),
    ...databaseNotes(stores),
    ...troubleNotes({ targets, layout, summary, problems, warmupFailures }),
  ];

  return {
    tables,
    notes,
    data: {
      config: { ...recordedOptions(options, layout), replyTokens: REPLY_TOKENS },
      targets: TARGETS,
      pass,
      summary,
      overheads,
      checks,
      lengths,
      profiles: profilesData(profiles),
      samples,
    },
  };
}
