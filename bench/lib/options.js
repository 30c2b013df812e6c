import { parseArgs } from 'node:util';
import { postgresServer } from './postgres.js';

/**
 * The options of a scenario that loads a server in rounds: --duration S per round, --rounds N, --warmup S, --profile
 * and --no-pin, with the scenario's `defaults` ({ duration, rounds, warmup, connections? }); --connections (a
 * comma-separated list) when the defaults name concurrencies, and --postgres URL unless `postgres` is false (a
 * scenario without a store). Its own options `extra` (parseArgs specs) come back as given in `values`.
 */
export function parseLoadOptions(argv, { defaults, extra = {}, postgres = true }) {
  const concurrent = defaults.connections !== undefined;
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: String(defaults.duration) },
      rounds: { type: 'string', default: String(defaults.rounds) },
      warmup: { type: 'string', default: String(defaults.warmup) },
      ...(concurrent && { connections: { type: 'string', default: defaults.connections.join(',') } }),
      ...(postgres && { postgres: { type: 'string' } }),
      profile: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      ...extra,
    },
  });
  const options = {
    seconds: Number(values.duration),
    rounds: Number(values.rounds),
    warmupSeconds: Number(values.warmup),
    ...(concurrent && { connections: values.connections.split(',').map(Number) }),
    ...(postgres && { postgres: postgresServer(values.postgres) }),
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
  if (concurrent && !options.connections.every((c) => Number.isInteger(c) && c > 0))
    throw new Error(
      `--connections takes a comma-separated list of positive integers, e.g. ${defaults.connections.join(',')}`,
    );
  return { options, values };
}

/** The named options of `values` as positive integers (keyed by name), or an error naming them all. */
export function positiveIntegers(values, names) {
  const numbers = Object.fromEntries(names.map((name) => [name, Number(values[name])]));
  if (!Object.values(numbers).every((n) => Number.isInteger(n) && n > 0))
    throw new Error(`${names.map((n) => `--${n}`).join(', ')} must be positive integers`);
  return numbers;
}

/** The options as a results file keeps them: the PostgreSQL server by its host only (its URL may hold a password). */
export const recordedOptions = (options, layout) => ({
  ...options,
  ...('postgres' in options && { postgres: options.postgres && options.postgres.host }),
  pinned: layout.pinned,
});
