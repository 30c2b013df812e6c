import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { cpuLayout, cpuSeconds } from '../lib/cpu.js';
import { summarizeProfile } from '../lib/cpuprofile.js';
import { FAKE } from '../lib/fake-openai.js';
import { runLoad } from '../lib/load.js';
import { cleanEnv, PARLEY_MAIN, parleyCli } from '../lib/parley.js';
import { atExit, repoRoot, stopProcess } from '../lib/process.js';
import { startServer, UNLIMITED_TIERS } from '../lib/servers.js';
import { ratio, summarize } from '../lib/stats.js';

const TARGETS = { throughput: 0.5, addedP50Ms: 0.3, addedP99Ms: 1, streamedBytes: 0.5, atConnections: 16 };
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const SETTLE_MS = 300;
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

const parleyConfig = (upstream) => ({
  ...UNLIMITED_TIERS,
  channels: [
    { name: 'bench', provider: 'openai-compatible', baseUrl: `${upstream}/v1`, apiKeys: ['sk-bench'], models: ['*'] },
  ],
});

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '1,16,256' },
      profile: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
    },
  });
  const options = {
    seconds: Number(values.duration),
    rounds: Number(values.rounds),
    warmupSeconds: Number(values.warmup),
    connections: values.connections.split(',').map(Number),
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
    throw new Error('--connections takes a comma-separated list of positive integers, e.g. 1,16,256');
  return options;
}

/** Parley on a data directory that already holds the bench user; `nodeArgs` go before the script (--cpu-prof…). */
function startParley({ scratch, env, layout, nodeArgs = [] }) {
  return startServer({
    args: [...nodeArgs, PARLEY_MAIN, 'serve'],
    env,
    portVar: 'PARLEY_PORT',
    readyPath: '/readyz',
    cpu: SERVER_CPU,
    layout,
    // Parley also reads parley.config.* from its cwd: an empty directory keeps a stray one out.
    cwd: scratch,
  });
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
  if (problems.length) throw new Error(`${LABELS[target.name]}, ${MODES[mode].label}: ${problems.join('; ')}`);
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

  const scratch = await mkdtemp(join(tmpdir(), 'parley-bench-gateway-'));
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  const forget = atExit(removeScratch);
  try {
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

    const configFile = join(scratch, 'bench-config.json');
    await writeFile(configFile, JSON.stringify(parleyConfig(upstream.url), null, 2));
    const parleyEnv = {
      PARLEY_CONFIG: configFile,
      PARLEY_DATA_DIR: join(scratch, 'data'),
      PARLEY_HOST: '127.0.0.1',
      PARLEY_LOG_LEVEL: 'warn',
    };
    const cli = { cwd: scratch, env: cleanEnv(parleyEnv) };
    await parleyCli(['user', 'create', 'bench', '--password', 'bench password 1'], cli);
    const key = /^key: (pk_\S+)$/m.exec(await parleyCli(['key', 'create', 'bench'], cli))?.[1];
    if (!key) throw new Error('parley key create printed no key');
    let parley = await startParley({ scratch, env: parleyEnv, layout });

    const json = { 'content-type': 'application/json' };
    const targets = [
      { name: 'direct', url: direct.url, headers: json, serverPid: direct.child.pid, clientPids: [] },
      { name: 'proxy', url: proxy.url, headers: json, serverPid: proxy.child.pid, clientPids: [upstream.child.pid] },
      {
        name: 'parley',
        url: parley.url,
        headers: { ...json, authorization: `Bearer ${key}` },
        serverPid: parley.child.pid,
        clientPids: [upstream.child.pid],
      },
    ];

    const checks = {};
    for (const target of targets) {
      for (const mode of Object.keys(MODES)) checks[`${target.name} ${mode}`] = await check(target, mode);
    }

    const runs = Object.keys(MODES).length * options.connections.length * targets.length;
    const estimate = runs * (options.warmupSeconds + options.rounds * options.seconds);
    process.stderr.write(
      `  ${runs} runs of ${options.rounds} × ${options.seconds} s, about ${Math.ceil(estimate / 60)} min\n`,
    );

    // samples[mode][connections][target] = one result per round; warm-up runs only count their errors.
    const samples = {};
    const warmupErrors = [];
    let parleyOk = Object.keys(MODES).length; // the checks above
    for (const mode of Object.keys(MODES)) {
      samples[mode] = {};
      for (const connections of options.connections) {
        const byTarget = (samples[mode][connections] = Object.fromEntries(targets.map((t) => [t.name, []])));
        // Rounds interleave the targets, so that the noise of a shared machine falls on all of them alike.
        for (let round = 0; round <= options.rounds; round++) {
          for (const target of targets) {
            const seconds = round ? options.seconds : options.warmupSeconds;
            if (!seconds) continue;
            // A run ends by cutting its in-flight requests off; let the last server finish cleaning up (on a
            // core it may share with the next target) before measuring the next one.
            await sleep(SETTLE_MS);
            const sample = await measure(target, mode, connections, seconds);
            if (target.name === 'parley') parleyOk += sample.ok;
            if (round) byTarget[target.name].push(sample);
            else if (sample.non2xx || sample.errors)
              warmupErrors.push({ target: target.name, mode, connections, ...sample });
            const label = round ? `round ${round}/${options.rounds}` : 'warm-up';
            process.stderr.write(
              `  ${MODES[mode].label} c${connections} ${label}: ${target.name} ${sample.requestsPerSecond.toFixed(0)} req/s` +
                ` p50 ${sample.p50Ms?.toFixed(2)} ms${sample.non2xx || sample.errors ? ` (${sample.non2xx} non-2xx, ${sample.errors} errors)` : ''}\n`,
            );
          }
        }
      }
    }

    // Usage is recorded off the request path: give the last records a moment, then count them.
    await sleep(500);
    const ledger = await usageLedger(parley.url, key);

    const profiles = [];
    if (options.profile) {
      await stopProcess(parley.child);
      // One process per mode, so that each profile holds one mode's work only.
      for (const mode of Object.keys(MODES)) {
        const dir = join(scratch, `profile-${mode}`);
        await mkdir(dir);
        parley = await startParley({
          scratch,
          env: parleyEnv,
          layout,
          nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
        });
        const target = { ...targets[2], url: parley.url, serverPid: parley.child.pid };
        profiles.push(await profileRound(target, mode, parley.child, dir, options));
      }
    }
    return report({
      options,
      layout,
      targets,
      checks,
      samples,
      warmupErrors,
      ledger: { ...ledger, parleyOk },
      profiles,
    });
  } finally {
    forget();
    removeScratch();
  }
}

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

/**
 * One round of `mode` at the target concurrency under `--cpu-prof`, after a warm-up. Only the round's samples
 * are summarised: V8 stamps them with the monotonic clock that process.hrtime reads here too.
 */
async function profileRound(target, mode, child, dir, options) {
  const connections = TARGETS.atConnections;
  await measure(target, mode, connections, Math.max(options.warmupSeconds, 1));
  // The warm-up ends by cutting requests off, whose clean-up (a first one loads the tokenizer) is not the round's.
  await sleep(1000);
  const from = Number(process.hrtime.bigint() / 1000n);
  const sample = await measure(target, mode, connections, options.seconds);
  const to = Number(process.hrtime.bigint() / 1000n);
  // The profile is written when the process exits, as Parley does on SIGTERM.
  await stopProcess(child);
  const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`--cpu-prof wrote no profile\n${child.output()}`);
  const text = await readFile(join(dir, file), 'utf8');
  // Kept for a closer look in a profiler (Chrome DevTools, speedscope): the summary shows self time only.
  const saved = join(repoRoot, 'bench/results', `gateway-${mode}.cpuprofile`);
  await mkdir(dirname(saved), { recursive: true });
  await writeFile(saved, text);
  const raw = JSON.parse(text);
  const inside = from >= raw.startTime && to <= raw.endTime;
  return { mode, connections, sample, saved, windowed: inside, ...summarizeProfile(raw, inside ? { from, to } : {}) };
}

const fixed = (digits) => (v) => (v == null ? null : v.toFixed(digits));
const perSecond = (v) => (v == null ? null : v.toFixed(0));
const mbps = (v) => (v == null ? null : (v / 1e6).toFixed(1));
const percent = (v) => (v == null ? null : `${(v * 100).toFixed(0)}%`);
const spread = (s, unit) => (s.n ? `${unit(s.median)} (${unit(s.min)}–${unit(s.max)})` : null);
const times = (r) => (r == null ? null : `${r.toFixed(2)}×`);
const plusMs = (v) => (v == null ? null : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
const verdict = (text, passed) => (text == null ? null : `${text} ${passed ? 'PASS' : 'FAIL'}`);

function report({ options, layout, targets, checks, samples, warmupErrors, ledger, profiles }) {
  const fields = ['requestsPerSecond', 'p50Ms', 'p99Ms', 'bytesPerSecond', 'serverCpu', 'clientCpu'];
  const summary = {};
  const ratios = {};
  const problems = [];
  for (const [mode, byConnections] of Object.entries(samples)) {
    summary[mode] = {};
    ratios[mode] = {};
    for (const [connections, byTarget] of Object.entries(byConnections)) {
      const s = (summary[mode][connections] = {});
      for (const [name, list] of Object.entries(byTarget)) {
        s[name] = Object.fromEntries(fields.map((f) => [f, summarize(list.map((x) => x[f]))]));
        const bad = list.filter((x) => x.non2xx || x.errors);
        s[name].failures = bad.reduce((n, x) => n + x.non2xx + x.errors, 0);
        for (const x of bad) {
          const statuses = Object.entries(x.statuses).filter(([code]) => !code.startsWith('2'));
          problems.push(
            `${LABELS[name]}, ${MODES[mode].label}, c${connections}: ${x.non2xx} non-2xx` +
              `${statuses.length ? ` (${statuses.map(([c, n]) => `${c}×${n}`).join(', ')})` : ''}, ${x.errors} errors (${x.timeouts} timeouts)`,
          );
        }
      }
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

  const tables = Object.keys(samples).map((mode) => ({
    title: `gateway, ${MODES[mode].label}: POST ${PATH}, median (min–max) of ${options.rounds} rounds × ${options.seconds} s`,
    columns: [
      'target',
      'conns',
      'req/s',
      'p50 ms',
      'p99 ms',
      ...(mode === 'stream' ? ['MB/s relayed'] : []),
      'server CPU',
      'load+fake CPU',
      'failed',
    ],
    rows: options.connections.flatMap((c) =>
      targets.map(({ name }) => {
        const s = summary[mode][c][name];
        return [
          LABELS[name],
          c,
          spread(s.requestsPerSecond, perSecond),
          spread(s.p50Ms, fixed(2)),
          spread(s.p99Ms, fixed(2)),
          ...(mode === 'stream' ? [spread(s.bytesPerSecond, mbps)] : []),
          percent(s.serverCpu.median),
          percent(s.clientCpu.median),
          s.failures ? `${s.failures} !` : 0,
        ];
      }),
    ),
  }));

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
  const pass = {};
  const targetRows = [];
  const row = (label, cell) => {
    const cells = Object.keys(MODES).map(cell);
    pass[label] = cells.map((c) => c?.passed ?? null);
    targetRows.push([label, ...cells.map((c) => c && verdict(c.text, c.passed))]);
  };
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
    const failed = options.connections.reduce(
      (n, c) => n + targets.reduce((m, t) => m + summary[mode][c][t.name].failures, 0),
      0,
    );
    return { text: `${failed} failed`, passed: failed === 0 };
  });
  tables.push({
    title: 'targets (BENCH.md)',
    columns: ['target', ...Object.values(MODES).map((m) => m.label)],
    rows: targetRows,
  });

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

  for (const profile of profiles) tables.push(...profileTables(profile));

  const notes = [
    `load: autocannon in the runner process, ${options.connections.join('/')} connections, one request in flight each; ` +
      `${options.warmupSeconds} s warm-up per target and concurrency, then ${options.rounds} rounds interleaving the targets`,
    layout.pinned
      ? `pinned with taskset: the server under test (fake, proxy or Parley) on CPU ${SERVER_CPU}; the load generator and the ` +
        `gateways' upstream fake on CPU ${CLIENT_CPU}. CPU columns: share of one core during the round ('load+fake' near 100% means the client side, not the server, was the limit)`
      : 'not pinned (no taskset, or fewer than 2 cores): servers, fake and load generator share the cores',
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
  for (const [mode, byConnections] of Object.entries(summary)) {
    for (const [c, byTarget] of Object.entries(byConnections)) {
      for (const [name, s] of Object.entries(byTarget)) {
        if (layout.pinned && s.clientCpu.median >= 0.9)
          notes.push(
            `${LABELS[name]}, ${MODES[mode].label}, c${c}: the load generator’s core was saturated (${percent(s.clientCpu.median)}): a lower bound`,
          );
      }
    }
  }
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
  for (const p of problems) notes.push(`FAILED REQUESTS: ${p}`);
  for (const w of warmupErrors)
    notes.push(
      `warm-up, ${LABELS[w.target]}, ${MODES[w.mode].label}, c${w.connections}: ${w.non2xx} non-2xx, ${w.errors} errors`,
    );

  return {
    tables,
    notes,
    data: {
      config: { ...options, pinned: layout.pinned, fake: FAKE },
      targets: TARGETS,
      pass,
      summary,
      ratios,
      checks,
      ledger,
      profiles: profiles.map((profile) => ({ ...profile, byFunction: profile.byFunction.slice(0, 100) })),
      samples,
    },
  };
}

function profileTables(profile) {
  const busy = profile.busyMs;
  const share = (ms) => `${((ms / busy) * 100).toFixed(1)}%`;
  const self = new Map(profile.byOrigin.map((e) => [e.name, e.ms]));
  const charged = new Map(profile.byCaller.map((e) => [e.name, e.ms]));
  const origins = [...new Set([...charged.keys(), ...self.keys()])]
    .filter((name) => name !== '(idle)')
    .sort((a, b) => (charged.get(b) ?? 0) - (charged.get(a) ?? 0) || (self.get(b) ?? 0) - (self.get(a) ?? 0))
    .slice(0, 18);
  const where = profile.windowed ? 'the measured round only' : 'the whole process (the round could not be isolated)';
  return [
    {
      title:
        `Parley under --cpu-prof, ${MODES[profile.mode].label} c${profile.connections}, ${profile.sample.requestsPerSecond.toFixed(0)} req/s: ` +
        `main thread ${busy.toFixed(0)} ms busy of ${profile.totalMs.toFixed(0)} ms (${where}); ` +
        "'charged' adds the Node and V8 work each package's own frames called",
      columns: ['where', 'self ms', 'self', 'charged ms', 'charged'],
      rows: origins.map((name) => [
        name,
        (self.get(name) ?? 0).toFixed(0),
        share(self.get(name) ?? 0),
        (charged.get(name) ?? 0).toFixed(0),
        share(charged.get(name) ?? 0),
      ]),
    },
    {
      title: `top functions by self time, ${MODES[profile.mode].label}`,
      columns: ['function', 'self ms', 'of busy'],
      rows: profile.byFunction
        .filter((e) => e.name !== '(idle)')
        .slice(0, 20)
        .map((e) => [e.name, e.ms.toFixed(0), share(e.ms)]),
    },
  ];
}
