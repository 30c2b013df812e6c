// Usage: node bench/run.js <scenario> [...args]   (what each scenario measures: BENCH.md)
// A scenario is bench/scenarios/<name>.js exporting `async run(args)` that resolves to
// { tables: [{ title, columns, rows }], notes?: string[], data } — tables and notes are printed, and all of it
// (with the machine) is written to bench/results/<name>.json.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatMachine, machineInfo } from './lib/machine.js';
import { cleanUp } from './lib/process.js';
import { printTable } from './lib/table.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const scenarioDir = join(benchDir, 'scenarios');
const available = (await readdir(scenarioDir)).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3));

const [scenario, ...args] = process.argv.slice(2);
if (!available.includes(scenario)) {
  console.error(scenario ? `unknown scenario: ${scenario}` : 'usage: npm run bench -- <scenario> [...args]');
  console.error(`available scenarios: ${available.sort().join(', ')}`);
  process.exit(2);
}

const machine = machineInfo();
console.log(`scenario: ${scenario}${args.length ? ` ${args.join(' ')}` : ''}`);
console.log(formatMachine(machine));

try {
  const startedAt = new Date().toISOString();
  const { run } = await import(pathToFileURL(join(scenarioDir, `${scenario}.js`)).href);
  const result = await run(args);
  for (const table of result.tables ?? []) printTable(table);
  if (result.notes?.length) console.log(`\n${result.notes.map((n) => `note: ${n}`).join('\n')}`);

  const resultsDir = join(benchDir, 'results');
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `${scenario}.json`);
  const record = { scenario, args, startedAt, finishedAt: new Date().toISOString(), machine, ...result };
  await writeFile(file, JSON.stringify(record, null, 2) + '\n');
  console.log(`\nwritten: ${file}`);
} catch (err) {
  // Plain Errors are the scenario's own reports (a server that did not start…); anything else is a bug: show where.
  const usage = String(err?.code).startsWith('ERR_PARSE_ARGS');
  console.error(`\nbench ${scenario} failed: ${err?.name === 'Error' || usage ? err.message : (err?.stack ?? err)}`);
  process.exitCode = usage ? 2 : 1;
} finally {
  cleanUp();
}
