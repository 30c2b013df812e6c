// Notes that every scenario loading a server in rounds prints the same way: how it loads, where things ran, how to
// read the CPU columns, and what went wrong.
import { percent } from './format.js';
import { failureCounts } from './rounds.js';

/** How an autocannon load (lib/load.js) ran, in `interleavedRounds` (lib/rounds.js). */
export const autocannonNote = (options) =>
  `load: autocannon in the runner process, ${options.connections.join('/')} connections, one request in flight each; ` +
  `${options.warmupSeconds} s warm-up per target and concurrency, then ${options.rounds} rounds interleaving the targets`;

/**
 * Where the server under test (`server`) and the load side (`client`) ran (`layout`: lib/cpu.js), and what the CPU
 * columns mean. `unpinned` names the servers the run started outside taskset's reach (PostgreSQL…); `clientColumn`,
 * a CPU column of the load side that is worth reading as a limit; `during`, what the CPU columns cover; `otherCpu`,
 * whether the tables show what the rest of the machine used.
 */
export function placementNotes({
  layout,
  serverCpu,
  clientCpu,
  server = 'the server under test',
  client = 'the load generator',
  unpinned = [],
  clientColumn = null,
  during = 'the round',
  otherCpu = true,
}) {
  const elsewhere = unpinned.join(' and ');
  const notes = [
    layout.pinned
      ? `pinned with taskset: ${server} on CPU ${serverCpu}, ${client} on CPU ${clientCpu}` +
        `${unpinned.length ? `; ${elsewhere} ${unpinned.length > 1 ? 'are' : 'is'} not pinned` : ''}. ` +
        `CPU columns: share of one core during ${during}` +
        `${clientColumn ? ` ('${clientColumn}' near 100% means the client side, not the server, was the limit)` : ''}`
      : 'not pinned (no taskset, or fewer than 2 cores): the servers and the load side share the cores',
  ];
  if (otherCpu)
    notes.push(
      "'other CPU': what the rest of the machine used during the round (share of one core; everything but the server " +
        `under test and the load side${unpinned.length ? `, that of ${elsewhere} included` : ''}): high ` +
        'figures mark rounds disturbed by other work on a shared machine',
    );
  return notes;
}

/** The database servers of a run's stores: started outside it, so not pinned. */
export const unpinnedStores = (stores) => (stores.some((s) => s.database) ? ['the PostgreSQL server'] : []);

/** Databases made for the run, which it drops again. */
export const databaseNotes = (stores) =>
  stores
    .filter((s) => s.database)
    .map((s) => `${s.label}: database ${s.database}, created for the run and dropped after it`);

/**
 * What went wrong or limits a figure in rounds of `targets` (`{ name, label }`): rounds where the load generator's
 * core was saturated (`summary` of lib/rounds.js: its figure is a lower bound), failed requests, failed warm-ups.
 */
export function troubleNotes({ targets, layout, summary, problems, warmupFailures }) {
  const labels = new Map(targets.map((t) => [t.name, t.label]));
  const notes = [];
  for (const [c, byTarget] of Object.entries(summary))
    for (const [name, s] of Object.entries(byTarget))
      if (layout.pinned && s.clientCpu?.median >= 0.9)
        notes.push(
          `${labels.get(name)}, c${c}: the load generator's core was saturated (${percent(s.clientCpu.median)}): a lower bound`,
        );
  for (const p of problems) notes.push(`FAILED REQUESTS: ${p}`);
  for (const w of warmupFailures) notes.push(`warm-up, ${w.target}, c${w.connections}: ${failureCounts(w)}`);
  return notes;
}
