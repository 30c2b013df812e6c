import { rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { cleanEnv, PARLEY_MAIN } from '../lib/parley.js';
import { atExit, freePort, repoRoot, rssBytes, spawnTracked, stopProcess, waitForHttp } from '../lib/process.js';
import { ratio, summarize } from '../lib/stats.js';

const TARGETS = { startMs: 1000, rssBytes: 120e6 };
const MB = 1e6; // decimal, as in the BENCH.md target
const POLL_MS = 5;
const TIMEOUT_MS = 15_000;

// ESM like Parley itself, so that both pay the same module loader; cwd is the repo root so 'fastify' resolves.
const BASELINE_APP = `
import fastify from 'fastify';
const app = fastify();
app.get('/readyz', async () => ({ status: 'ready' }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
`;

/** One start → ready → idle → SIGTERM → exit cycle. */
async function measure({ command, args, env, portVar, cwd }, idleMs) {
  const port = await freePort();
  const started = performance.now();
  const child = spawnTracked(command, args, { cwd, env: cleanEnv({ ...env, [portVar]: String(port) }) });
  try {
    const ready = await waitForHttp(`http://127.0.0.1:${port}/readyz`, {
      child,
      timeoutMs: TIMEOUT_MS,
      intervalMs: POLL_MS,
    });
    await sleep(idleMs);
    const rss = await rssBytes(child.pid);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited while idle\n${child.output()}`);
    const stop = await stopProcess(child, { timeoutMs: TIMEOUT_MS });
    if (stop.killed) throw new Error(`did not exit within ${TIMEOUT_MS} ms of SIGTERM\n${child.output()}`);
    return { startMs: ready - started, rssBytes: rss, stopMs: stop.ms, exit: stop.code ?? stop.signal };
  } finally {
    child.kill('SIGKILL');
  }
}

export async function run(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { rounds: { type: 'string', default: '7' }, idle: { type: 'string', default: '2000' } },
  });
  const rounds = Number(values.rounds);
  const idleMs = Number(values.idle);
  if (!Number.isInteger(rounds) || rounds < 1 || !(idleMs >= 0))
    throw new Error('--rounds must be ≥ 1, --idle (ms) ≥ 0');

  const scratch = await mkdtemp(join(tmpdir(), 'parley-bench-startup-'));
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  const forget = atExit(removeScratch);
  try {
    const warmDir = join(scratch, 'warm');
    // Parley looks for parley.config.* in its cwd; an empty directory keeps a stray one out of the measurement.
    const parley = (dataDir) => ({
      command: process.execPath,
      args: [PARLEY_MAIN, 'serve'],
      cwd: scratch,
      portVar: 'PARLEY_PORT',
      env: { PARLEY_HOST: '127.0.0.1', PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: 'warn' },
    });
    const variants = {
      baseline: {
        label: 'baseline (empty Fastify)',
        spec: async () => ({
          command: process.execPath,
          args: ['--input-type=module', '-e', BASELINE_APP],
          cwd: repoRoot,
          portVar: 'PORT',
        }),
      },
      cold: {
        label: 'Parley cold (new data dir)',
        spec: async (i) => parley(await mkdtemp(join(scratch, `cold-${i}-`))),
      },
      // The warm-up round starts on an empty directory and creates it; every measured round then finds it ready.
      warm: { label: 'Parley warm (existing data dir)', spec: async () => parley(warmDir) },
    };
    await mkdir(warmDir);

    const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
    // Rounds interleave the variants so that the noise of a shared machine falls on all of them alike.
    for (let round = 0; round <= rounds; round++) {
      for (const [name, variant] of Object.entries(variants)) {
        const spec = await variant.spec(round);
        const sample = await measure(spec, idleMs);
        if (round > 0) samples[name].push(sample);
        const label = round ? `round ${round}/${rounds}` : 'warm-up';
        process.stderr.write(`  ${label}: ${name} ready in ${sample.startMs.toFixed(0)} ms\n`);
      }
    }
    return report(variants, samples, { rounds, warmupRounds: 1, idleMs, pollMs: POLL_MS });
  } finally {
    forget();
    removeScratch();
  }
}

const ms = (v) => (v == null ? null : v.toFixed(0));
const mb = (v) => (v == null ? null : (v / MB).toFixed(1));
const spread = (s, unit) => (s.n ? `${unit(s.median)} (${unit(s.min)}–${unit(s.max)})` : null);
const times = (r) => (r == null ? null : `${r.toFixed(2)}×`);
const verdict = (value, passed, unit) => (value == null ? null : `${unit(value)} ${passed ? 'PASS' : 'FAIL'}`);

function report(variants, samples, config) {
  const summary = {};
  for (const [name, list] of Object.entries(samples)) {
    summary[name] = {
      startMs: summarize(list.map((s) => s.startMs)),
      rssBytes: summarize(list.map((s) => s.rssBytes)),
      stopMs: summarize(list.map((s) => s.stopMs)),
      exits: list.map((s) => s.exit),
    };
  }
  const base = summary.baseline;
  const ratios = {};
  const pass = {};
  for (const name of ['cold', 'warm']) {
    const { startMs, rssBytes } = summary[name];
    ratios[name] = {
      startMs: ratio(startMs.median, base.startMs.median),
      rssBytes: ratio(rssBytes.median, base.rssBytes.median),
    };
    pass[name] = {
      startMs: startMs.median == null ? null : startMs.median <= TARGETS.startMs,
      rssBytes: rssBytes.median == null ? null : rssBytes.median <= TARGETS.rssBytes,
    };
  }

  const notes = [`median (min–max) of ${config.rounds} rounds after ${config.warmupRounds} warm-up; MB = 10^6 bytes`];
  notes.push('the baseline has no SIGTERM handler: its stop time is the default signal death, not a graceful shutdown');
  for (const name of ['cold', 'warm']) {
    const bad = summary[name].exits.filter((e) => e !== 0);
    if (bad.length) notes.push(`${variants[name].label}: ${bad.length} shutdown(s) did not exit 0 (${bad.join(', ')})`);
  }
  if (base.rssBytes.n === 0) notes.push('idle RSS unavailable: /proc/<pid>/status cannot be read on this platform');

  const tables = [
    {
      title: `startup: spawn → /readyz 200 (polled every ${config.pollMs} ms), RSS after ${config.idleMs} ms idle`,
      columns: ['variant', 'start ms', 'idle RSS MB', 'SIGTERM → exit ms', 'start ×base', 'RSS ×base'],
      rows: Object.entries(variants).map(([name, { label }]) => [
        label,
        spread(summary[name].startMs, ms),
        spread(summary[name].rssBytes, mb),
        spread(summary[name].stopMs, ms),
        name === 'baseline' ? null : times(ratios[name].startMs),
        name === 'baseline' ? null : times(ratios[name].rssBytes),
      ]),
    },
    {
      title: 'targets (BENCH.md), on the medians',
      columns: ['target', variants.cold.label, variants.warm.label],
      rows: [
        [
          `start ≤ ${TARGETS.startMs} ms`,
          ...['cold', 'warm'].map((n) => verdict(summary[n].startMs.median, pass[n].startMs, (v) => `${ms(v)} ms`)),
        ],
        [
          `idle RSS ≤ ${TARGETS.rssBytes / MB} MB`,
          ...['cold', 'warm'].map((n) => verdict(summary[n].rssBytes.median, pass[n].rssBytes, (v) => `${mb(v)} MB`)),
        ],
      ],
    },
  ];
  return { tables, notes, data: { config, targets: TARGETS, pass, summary, ratios, samples } };
}
