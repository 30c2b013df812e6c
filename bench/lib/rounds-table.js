// The main table of a scenario loading servers in interleaved rounds (lib/rounds.js): which figures it shows is
// the scenario's; the rows, their label and concurrency, the CPU columns and the failed requests are the same.
import { percent, spread } from './format.js';

/**
 * A row per concurrency and target (`{ name, label }`): the label (under `labelHeader`), the concurrency, the
 * scenario's `cells` ([header, cell(s)] pairs, `s` the target's summary at that concurrency), then the requests
 * that failed.
 */
export function roundsTable({ title, labelHeader = 'target', connections, targets, summary, cells }) {
  return {
    title,
    columns: [labelHeader, 'conns', ...cells.map(([header]) => header), 'failed'],
    rows: connections.flatMap((c) =>
      targets.map((t) => {
        const s = summary[c][t.name];
        return [t.label, c, ...cells.map(([, cell]) => cell(s)), s.failures ? `${s.failures} !` : 0];
      }),
    ),
  };
}

/** A column of a figure's median with the rounds' min–max, in `unit` (lib/format.js). */
export const spreadCell = (header, field, unit) => [header, (s) => spread(s[field], unit)];

/**
 * The CPU columns, as shares of one core: the server under test, the load side (`loadHeader`: what runs there),
 * and unless `other` is false the rest of the machine.
 */
export const cpuCells = (loadHeader, { other = true } = {}) => [
  ['server CPU', (s) => percent(s.serverCpu.median)],
  [loadHeader, (s) => percent(s.clientCpu.median)],
  ...(other ? [['other CPU', (s) => percent(s.restCpu.median)]] : []),
];
