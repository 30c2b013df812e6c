import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuLayout, cpuSeconds } from '../lib/cpu.js';
import { FAKE } from '../lib/fake-openai.js';
import { fixed, megabytes, perSecond, plusMs, times } from '../lib/format.js';
import { runLoad } from '../lib/load.js';
import { autocannonNote, placementNotes, troubleNotes } from '../lib/notes.js';
import { parseLoadOptions, recordedOptions } from '../lib/options.js';
import { profiledRoundLabel, profileParley, profilesData, profileTables } from '../lib/profile-table.js';
import { repoRoot } from '../lib/process.js';
import { cpuCells, roundsTable, spreadCell } from '../lib/rounds-table.js';
import { announceRounds, failedInRounds, interleavedRounds, summarizeRounds } from '../lib/rounds.js';
import { fakeUpstreamConfig, startParley, startServer, withParleyStores } from '../lib/servers.js';
import { ratio, summarize } from '../lib/stats.js';
import { targetRows } from '../lib/target-table.js';

const TARGETS = { throughput: 0.5, addedP50Ms: 0.3, addedP99Ms: 1, streamedBytes: 0.5, atConnections: 16 };
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
// Below this, a round's count of answers is too coarse a throughput figure (see lib/load.js).
const MIN_ANSWERS_PER_CONNECTION = 10;
const PATH = '/v1/chat/completions';
const MESSAGES = [{ role: 'user', content: 'hi' }];
const MODES = {
  json: { label: 'non-streaming', body: JSON.stringify({ model: FAKE.model, messages: MESSAGES }) },
  stream: {
    label: 'streaming',
    body: JSON.stringify({
      model: FAKE.model,
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    }),
  },
};
const LABELS = { direct: 'direct to the fake upstream', proxy: 'minimal proxy (undici Pool)', parley: 'Parley' };

function parseOptions(argv) {
  return parseLoadOptions(argv, {
    defaults: { duration: 5, rounds: 3, warmup: 1, connections: [1, 16, 256] },
    // The gateway keeps no conversation: a store adds nothing to measure.
    postgres: false,
  }).options;
}

/** One request outside the load, read to its end and checked, so that the load measures complete answers. */
async function check(target, mode) {
  const res = await fetch(`${target.url}${PATH}`, { method: 'POST', headers: target.headers, body: MODES[mode].body });
  const text = await res.text();
  const result = { status: res.status, bodyBytes: Buffer.byteLength(text) };
  const problems = res.status === 200 ? [] : [`status ${res.status}: ${text.slice(0, 200)}`];
  const expected = FAKE.token.repeat(FAKE.chunks);
  if (mode === 'json' && res.status === 200) {
    const body = JSON.parse(text);
    if (body.choices?.[0]?.message?.content !== expected) problems.push('the reply is not the fake upstream’s');
    result.usage = body.usage;
  } else if (res.status === 200) {
    const frames = text.split('\n\n').filter((f) => f.startsWith('data: '));
    const chunks = frames.filter((f) => f !== 'data: [DONE]').map((f) => JSON.parse(f.slice('data: '.length)));
    const deltas = chunks.map((c) => c.choices?.[0]?.delta?.content).filter(Boolean);
    Object.assign(result, {
      frames: frames.length,
      contentFrames: deltas.length,
      finish: chunks.find((c) => c.choices?.[0]?.finish_reason)?.choices[0].finish_reason ?? null,
      usage: chunks.find((c) => c.usage)?.usage ?? null,
      done: frames.at(-1) === 'data: [DONE]',
    });
    if (deltas.join('') !== expected) problems.push(`the reply is not the fake upstream’s (${deltas.length} tokens)`);
    if (!result.done) problems.push('the stream does not end with data: [DONE]');
    if (result.finish !== 'stop') problems.push(`finish_reason ${result.finish}`);
  }
  if (!result.usage) problems.push('no usage');
  if (problems.length) throw new Error(`${target.label}, ${MODES[mode].label}: ${problems.join('; ')}`);
  return result;
}

/** One load run against a target, with the CPU time each process spent meanwhile. */
async function measure(target, mode, connections, seconds) {
  const sides = { server: target.serverPid, client: [process.pid, ...target.clientPids] };
  const cpu = async () => ({
    server: await cpuSeconds(sides.server),
    client: (await Promise.all(sides.client.map(cpuSeconds))).reduce(
      (a, b) => (a == null || b == null ? null : a + b),
      0,
    ),
  });
  const before = await cpu();
  const result = await runLoad({
    url: `${target.url}${PATH}`,
    headers: target.headers,
    body: MODES[mode].body,
    connections,
    seconds,
  });
  const after = await cpu();
  const share = (side) => (after[side] == null ? null : (after[side] - before[side]) / result.seconds);
  return { ...result, serverCpu: share('server'), clientCpu: share('client') };
}

export async function run(argv) {
  const options = parseOptions(argv);
  const layout = cpuLayout(options.pin);
  // The load generator is this process: it and the upstream fake share one core, the server under test has the other.
  layout.pinSelf(CLIENT_CPU);

  const fakeArgs = { args: [join(repoRoot, 'bench/lib/fake-openai.js')], readyPath: '/v1/models', layout };
  // Two fakes: the one measured directly runs where the servers under test do; the gateways' upstream runs
  // beside the load generator, so that the gateway has its core to itself.
  const direct = await startServer({ ...fakeArgs, cpu: SERVER_CPU });
  const upstream = await startServer({ ...fakeArgs, cpu: CLIENT_CPU });
  const proxy = await startServer({
    args: [join(repoRoot, 'bench/lib/minimal-proxy.js')],
    env: { UPSTREAM: upstream.url },
    readyPath: '/v1/models',
    cpu: SERVER_CPU,
    layout,
  });

  return withParleyStores(
    { scenario: 'gateway', config: fakeUpstreamConfig(upstream.url), postgres: null },
    async ({ scratch, stores: [store], servers }) => {
      const parley = await startParley({ store, cpu: SERVER_CPU, layout });
      servers.set(store.name, parley);

      const json = { 'content-type': 'application/json' };
      const parleyTarget = (server) => ({
        name: 'parley',
        label: LABELS.parley,
        url: server.url,
        headers: { ...json, authorization: `Bearer ${store.key}` },
        serverPid: server.child.pid,
        clientPids: [upstream.child.pid],
      });
      const targets = [
        {
          name: 'direct',
          label: LABELS.direct,
          url: direct.url,
          headers: json,
          serverPid: direct.child.pid,
          clientPids: [],
        },
        {
          name: 'proxy',
          label: LABELS.proxy,
          url: proxy.url,
          headers: json,
          serverPid: proxy.child.pid,
          clientPids: [upstream.child.pid],
        },
        parleyTarget(parley),
      ];

      const checks = {};
      for (const target of targets) {
        for (const mode of Object.keys(MODES)) checks[`${target.name} ${mode}`] = await check(target, mode);
      }

      announceRounds({ runs: Object.keys(MODES).length * options.connections.length * targets.length, ...options });
      // samples[mode][connections][target name] = one result per round.
      const samples = {};
      const warmupFailures = [];
      let parleyOk = Object.keys(MODES).length; // the checks above
      for (const mode of Object.keys(MODES)) {
        const done = await interleavedRounds({
          targets: modeTargets(targets, mode),
          ...options,
          measure: async (target, connections, seconds) => {
            const sample = await measure(target, mode, connections, seconds);
            if (target.name === 'parley') parleyOk += sample.ok;
            return sample;
          },
        });
        samples[mode] = done.samples;
        warmupFailures.push(...done.warmupFailures.map((w) => ({ ...w, mode })));
      }

      // Usage is recorded off the request path: give the last records a moment, then count them.
      await sleep(500);
      const ledger = await usageLedger(parley.url, store.key);

      const profiles = [];
      if (options.profile) {
        const connections = TARGETS.atConnections;
        // One process per mode, so that each profile holds one mode's work only.
        for (const mode of Object.keys(MODES)) {
          const profiled = await profileParley({
            running: parley,
            store,
            layout,
            cpu: SERVER_CPU,
            dir: join(scratch, `profile-${mode}`),
            saveAs: join(repoRoot, 'bench/results', `gateway-${mode}.cpuprofile`),
            measure: (server, seconds) => measure(parleyTarget(server), mode, connections, seconds),
            warmupSeconds: options.warmupSeconds,
            seconds: options.seconds,
          });
          profiles.push({ mode, label: MODES[mode].label, connections, ...profiled });
        }
      }
      return report({
        options,
        layout,
        targets,
        checks,
        samples,
        warmupFailures,
        ledger: { ...ledger, parleyOk },
        profiles,
      });
    },
  );
}

/** The targets as one mode's rounds name them. */
const modeTargets = (targets, mode) => targets.map((t) => ({ ...t, label: `${t.label}, ${MODES[mode].label}` }));

/** The usage records Parley wrote for the bench user (all of them are this run's: the data dir is new). */
async function usageLedger(url, key) {
  const res = await fetch(`${url}/api/v1/usage?groupBy=model`, { headers: { authorization: `Bearer ${key}` } });
  if (res.status !== 200) return { error: `GET /api/v1/usage: ${res.status}` };
  const { items } = await res.json();
  return items.reduce((sum, row) => ({ records: sum.records + row.requests, errors: sum.errors + row.errors }), {
    records: 0,
    errors: 0,
  });
}

function report({ options, layout, targets, checks, samples, warmupFailures, ledger, profiles }) {
  const fields = ['requestsPerSecond', 'p50Ms', 'p99Ms', 'bytesPerSecond', 'serverCpu', 'clientCpu'];
  const summary = {};
  const ratios = {};
  const problems = {};
  for (const [mode, byConnections] of Object.entries(samples)) {
    ({ summary: summary[mode], problems: problems[mode] } = summarizeRounds(
      byConnections,
      fields,
      modeTargets(targets, mode),
    ));
    ratios[mode] = {};
    for (const [connections, s] of Object.entries(summary[mode])) {
      const med = (name, f) => s[name][f].median;
      ratios[mode][connections] = {
        throughput: ratio(med('parley', 'requestsPerSecond'), med('proxy', 'requestsPerSecond')),
        addedP50Ms: med('parley', 'p50Ms') - med('proxy', 'p50Ms'),
        addedP99Ms: med('parley', 'p99Ms') - med('proxy', 'p99Ms'),
        bytes: ratio(med('parley', 'bytesPerSecond'), med('proxy', 'bytesPerSecond')),
        proxyVsDirect: ratio(med('proxy', 'requestsPerSecond'), med('direct', 'requestsPerSecond')),
      };
    }
  }

  const tables = Object.keys(samples).map((mode) =>
    roundsTable({
      title: `gateway, ${MODES[mode].label}: POST ${PATH}, median (min–max) of ${options.rounds} rounds × ${options.seconds} s`,
      connections: options.connections,
      targets,
      summary: summary[mode],
      cells: [
        spreadCell('req/s', 'requestsPerSecond', perSecond),
        spreadCell('p50 ms', 'p50Ms', fixed(2)),
        spreadCell('p99 ms', 'p99Ms', fixed(2)),
        ...(mode === 'stream' ? [spreadCell('MB/s relayed', 'bytesPerSecond', megabytes)] : []),
        // The load side's meter counts the upstream fake too: the rest of the machine is not told apart.
        ...cpuCells('load+fake CPU', { other: false }),
      ],
    }),
  );

  tables.push({
    title: 'Parley against the minimal proxy, on the medians (added latency in ms)',
    columns: ['mode', 'conns', 'req/s ×proxy', 'added p50', 'added p99', 'MB/s ×proxy', 'proxy req/s ×direct'],
    rows: Object.keys(samples).flatMap((mode) =>
      options.connections.map((c) => {
        const r = ratios[mode][c];
        return [
          MODES[mode].label,
          c,
          times(r.throughput),
          plusMs(r.addedP50Ms),
          plusMs(r.addedP99Ms),
          mode === 'stream' ? times(r.bytes) : null,
          times(r.proxyVsDirect),
        ];
      }),
    ),
  });

  const at = TARGETS.atConnections;
  const worst = (mode, field) =>
    options.connections
      .map((c) => ({ c, v: ratios[mode][c][field] }))
      .reduce((a, b) => (a == null || b.v < a.v ? b : a), null);
  const { row, table, pass } = targetRows(Object.keys(MODES));
  row(`req/s ≥ ${TARGETS.throughput}× proxy at every concurrency`, (mode) => {
    const w = worst(mode, 'throughput');
    return { text: `worst ${times(w.v)} (c${w.c})`, passed: w.v >= TARGETS.throughput };
  });
  if (options.connections.includes(at)) {
    row(`added p50 ≤ ${TARGETS.addedP50Ms} ms at c${at}`, (mode) => {
      const v = ratios[mode][at].addedP50Ms;
      return { text: `${plusMs(v)} ms`, passed: v <= TARGETS.addedP50Ms };
    });
    row(`added p99 ≤ ${TARGETS.addedP99Ms} ms at c${at}`, (mode) => {
      const v = ratios[mode][at].addedP99Ms;
      return { text: `${plusMs(v)} ms`, passed: v <= TARGETS.addedP99Ms };
    });
  }
  row(`streamed bytes/s ≥ ${TARGETS.streamedBytes}× proxy at every concurrency`, (mode) => {
    if (mode !== 'stream') return null;
    const w = worst(mode, 'bytes');
    return { text: `worst ${times(w.v)} (c${w.c})`, passed: w.v >= TARGETS.streamedBytes };
  });
  row('no failed requests (non-2xx, errors) in any round', (mode) => {
    const failed = failedInRounds(
      summary[mode],
      targets.map((t) => t.name),
    );
    return { text: `${failed} failed`, passed: failed === 0 };
  });
  tables.push(table(Object.values(MODES).map((m) => m.label)));

  tables.push({
    title: 'checked before the load: one request each, read to the end (the reply must be the fake’s, whole)',
    columns: [
      'target',
      'mode',
      'status',
      'body bytes',
      'data: frames',
      'with text',
      'finish',
      'usage (prompt/completion)',
      '[DONE]',
    ],
    rows: Object.entries(checks).map(([key, c]) => {
      const [name, mode] = key.split(' ');
      return [
        LABELS[name],
        MODES[mode].label,
        c.status,
        c.bodyBytes,
        c.frames ?? null,
        c.contentFrames ?? null,
        c.finish ?? null,
        c.usage ? `${c.usage.prompt_tokens}/${c.usage.completion_tokens}` : null,
        c.done == null ? null : c.done ? 'yes' : 'no',
      ];
    }),
  });

  for (const profile of profiles) tables.push(...profileTables(profile, profiledRoundLabel(profile)));

  const notes = [
    autocannonNote(options),
    ...placementNotes({
      layout,
      serverCpu: SERVER_CPU,
      clientCpu: CLIENT_CPU,
      server: 'the server under test (fake, proxy or Parley)',
      client: "the load generator and the gateways' upstream fake",
      clientColumn: 'load+fake CPU',
      // The load side's meter here counts the upstream fake too: what is left is not measured apart.
      otherCpu: false,
    }),
    'latency: to the last byte of the response, from each response’s hrtime duration (autocannon’s own histogram keeps whole ms); nearest-rank percentiles over all responses of a round',
    'a non-streaming request is sent upstream non-streaming, by Parley and by the proxy alike: both relay one JSON answer',
    'MB/s: whole 2xx responses, headers included; Parley’s frames are not the same size as the fake’s (see body bytes below)',
  ];
  if (ledger.error) notes.push(`usage ledger not read: ${ledger.error}`);
  else
    notes.push(
      `usage ledger: ${ledger.records} records (${ledger.errors} not ok) for ${ledger.parleyOk} 2xx answers from Parley ` +
        '(records ≥ answers: requests cut off at the end of a round are recorded as cancelled)',
    );
  for (const [mode, byConnections] of Object.entries(samples)) {
    for (const [c, byTarget] of Object.entries(byConnections)) {
      for (const [name, list] of Object.entries(byTarget)) {
        const answers = summarize(list.map((x) => x.answersPerConnection)).median;
        if (answers >= MIN_ANSWERS_PER_CONNECTION) continue;
        const rps = summarize(list.map((x) => x.requestsPerSecond)).median;
        const enough = Math.ceil((MIN_ANSWERS_PER_CONNECTION * c) / rps);
        notes.push(
          `${LABELS[name]}, ${MODES[mode].label}, c${c}: ${answers.toFixed(1)} answers per connection per round, so ` +
            `its req/s is coarse (answers come in waves); --duration ${enough} would give ${MIN_ANSWERS_PER_CONNECTION}`,
        );
      }
    }
  }
  for (const mode of Object.keys(MODES))
    notes.push(
      ...troubleNotes({
        targets: modeTargets(targets, mode),
        layout,
        summary: summary[mode],
        problems: problems[mode],
        warmupFailures: warmupFailures.filter((w) => w.mode === mode),
      }),
    );

  return {
    tables,
    notes,
    data: {
      config: { ...recordedOptions(options, layout), fake: FAKE },
      targets: TARGETS,
      pass,
      summary,
      ratios,
      checks,
      ledger,
      profiles: profilesData(profiles),
      samples,
    },
  };
}
