// Notes that every scenario loading a server in rounds prints the same way: where things ran, how to read the
// CPU columns, and what went wrong.
import { percent } from './format.js';

/** Where the server under test and the load generator ran (`layout`: lib/cpu.js), and what the CPU columns mean. */
export function placementNotes({ layout, serverCpu, clientCpu, postgres }) {
  return [
    layout.pinned
      ? `pinned with taskset: the server under test on CPU ${serverCpu}, the load generator on CPU ${clientCpu}` +
        `${postgres ? '; the PostgreSQL server is not pinned' : ''}. CPU columns: share of one core during the round`
      : 'not pinned (no taskset, or fewer than 2 cores): servers and load generator share the cores',
    "'other CPU': what the rest of the machine used during the round (share of one core; everything but the server " +
      `under test and the load side${postgres ? ", the PostgreSQL server's work included" : ''}): high ` +
      'figures mark rounds disturbed by other work on a shared machine',
  ];
}

/**
 * What went wrong or limits a figure: databases made for the run, rounds where the load generator's core was
 * saturated (`summary` of lib/rounds.js: its figure is a lower bound), failed requests, failed warm-ups.
 */
export function troubleNotes({ stores, layout, summary, problems, warmupFailures }) {
  const notes = [];
  for (const store of stores.filter((s) => s.database))
    notes.push(`${store.label}: database ${store.database}, created for the run and dropped after it`);
  for (const [c, byTarget] of Object.entries(summary))
    for (const [name, s] of Object.entries(byTarget))
      if (layout.pinned && s.clientCpu?.median >= 0.9)
        notes.push(
          `${name}, c${c}: the load generator's core was saturated (${percent(s.clientCpu.median)}): a lower bound`,
        );
  for (const p of problems) notes.push(`FAILED REQUESTS: ${p}`);
  for (const w of warmupFailures)
    notes.push(`warm-up, ${w.target}, c${w.connections}: ${w.non2xx} non-2xx, ${w.errors} errors`);
  return notes;
}
