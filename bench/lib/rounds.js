import { setTimeout as sleep } from 'node:timers/promises';
import { summarize } from './stats.js';

/** A pause between runs, so that one run's last connections are closed before the next one's open. */
const SETTLE_MS = 300;

/** The requests of a run that failed: non-2xx answers, errors and, for streams (lib/stream-load.js), streams cut short. */
export const failedRequests = (sample) => sample.non2xx + sample.errors + (sample.incomplete ?? 0);

/** How a run's requests failed, in words. */
export const failureCounts = (sample) =>
  `${sample.non2xx} non-2xx, ${sample.errors} errors` +
  (sample.incomplete == null ? '' : `, ${sample.incomplete} streams without their end`);

// A run in which no request finished has no percentiles.
const ms = (v) => (v == null ? '—' : `${v.toFixed(2)} ms`);

/**
 * Loads each target (`{ name, label, drain? }`) at each concurrency: a warm-up of `warmupSeconds` (none when 0), then
 * `rounds` rounds of `seconds`. The rounds interleave the targets, so that the noise of a shared machine falls on
 * all of them alike. `measure(target, connections, seconds)` runs one load (lib/load.js) and resolves to its
 * figures; then `target.drain()`, when given, waits until the work the load left behind is done (its result, the
 * ms waited, is kept as the sample's `drainMs`). Resolves to `samples[connections][target name]` (one result per round) and the warm-ups that failed
 * requests (the warm-ups count for nothing else). Progress goes to stderr.
 */
export async function interleavedRounds({
  targets,
  connections: concurrencies,
  rounds,
  seconds,
  warmupSeconds,
  measure,
}) {
  const samples = {};
  const warmupFailures = [];
  for (const connections of concurrencies) {
    const byTarget = (samples[connections] = Object.fromEntries(targets.map((t) => [t.name, []])));
    for (let round = 0; round <= rounds; round++) {
      for (const target of targets) {
        const runSeconds = round ? seconds : warmupSeconds;
        if (!runSeconds) continue;
        await sleep(SETTLE_MS);
        const sample = await measure(target, connections, runSeconds);
        if (target.drain) sample.drainMs = await target.drain();
        if (round) byTarget[target.name].push(sample);
        else if (failedRequests(sample)) warmupFailures.push({ target: target.label, connections, ...sample });
        process.stderr.write(
          `  c${connections} ${round ? `round ${round}/${rounds}` : 'warm-up'}: ${target.label} ` +
            `${sample.requestsPerSecond.toFixed(0)} req/s p50 ${ms(sample.p50Ms)} p99 ${ms(sample.p99Ms)}` +
            `${failedRequests(sample) ? ` (${failureCounts(sample)})` : ''}\n`,
        );
      }
    }
  }
  return { samples, warmupFailures };
}

/**
 * The rounds of `interleavedRounds` summarised: `summary[connections][target name][field]` (median and min–max,
 * lib/stats.js) for each of `fields`, with `failures` (requests that failed, all rounds), and one line for each
 * round that failed requests, naming the target by its label.
 */
export function summarizeRounds(samples, fields, targets) {
  const labels = new Map(targets.map((t) => [t.name, t.label]));
  const summary = {};
  const problems = [];
  for (const [connections, byTarget] of Object.entries(samples)) {
    summary[connections] = {};
    for (const [name, list] of Object.entries(byTarget)) {
      const s = (summary[connections][name] = Object.fromEntries(
        fields.map((f) => [f, summarize(list.map((x) => x[f]))]),
      ));
      s.failures = list.reduce((n, x) => n + failedRequests(x), 0);
      for (const x of list.filter(failedRequests))
        problems.push(
          `${labels.get(name)}, c${connections}: ${failureCounts(x)} (statuses ${JSON.stringify(x.statuses)})`,
        );
    }
  }
  return { summary, problems };
}

/** The requests that failed in every round of `names` (targets' names) at every concurrency of a summary. */
export const failedInRounds = (summary, names) =>
  Object.values(summary).reduce((n, byTarget) => n + names.reduce((m, name) => m + byTarget[name].failures, 0), 0);

/** The estimate printed before the rounds start. */
export function announceRounds({ runs, rounds, seconds, warmupSeconds }) {
  const estimate = runs * (warmupSeconds + rounds * seconds + (SETTLE_MS / 1000) * (rounds + 1));
  process.stderr.write(`  ${runs} runs of ${rounds} × ${seconds} s, about ${Math.ceil(estimate / 60)} min\n`);
}
