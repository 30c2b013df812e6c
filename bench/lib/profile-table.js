import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarizeProfile } from './cpuprofile.js';
import { stopProcess } from './process.js';
import { startParley } from './servers.js';

/**
 * Stops a server started with `--cpu-prof --cpu-prof-dir dir` (V8 writes the profile as it exits), keeps the
 * profile at `saveAs` for a closer look in a profiler (the summary shows self time only), and summarises the
 * samples taken between `from` and `to` (µs of process.hrtime, the monotonic clock V8 stamps samples with).
 */
export async function collectProfile({ child, dir, saveAs, from, to }) {
  await stopProcess(child);
  const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`--cpu-prof wrote no profile\n${child.output()}`);
  const text = await readFile(join(dir, file), 'utf8');
  await mkdir(dirname(saveAs), { recursive: true });
  await writeFile(saveAs, text);
  const raw = JSON.parse(text);
  const windowed = from >= raw.startTime && to <= raw.endTime;
  return { saved: saveAs, windowed, ...summarizeProfile(raw, windowed ? { from, to } : {}) };
}

/** Now on process.hrtime's clock, in µs: the bounds `collectProfile` takes. */
export const profileClock = () => Number(process.hrtime.bigint() / 1000n);

/**
 * One more round under V8's profiler: stops `running` (the store's Parley), starts it again with --cpu-prof (the
 * profile written under `dir`, kept at `saveAs`), warms it up, then profiles one round. `measure(server, seconds)`
 * runs the load against the new server and resolves to its figures. Resolves to the round's figures (`sample`)
 * and its profile summarised; the profiled server is stopped.
 */
export async function profileParley({ running, store, layout, cpu, dir, saveAs, measure, warmupSeconds, seconds }) {
  await stopProcess(running.child);
  await mkdir(dir, { recursive: true });
  const server = await startParley({ store, cpu, layout, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
  await measure(server, Math.max(warmupSeconds, 1));
  await sleep(1000);
  const from = profileClock();
  const sample = await measure(server, seconds);
  const to = profileClock();
  return { sample, ...(await collectProfile({ child: server.child, dir, saveAs, from, to })) };
}

/** Two tables of a summarised profile: by package or Parley file (self and charged), and the top functions. */
export function profileTables(profile, label) {
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
        `Parley under --cpu-prof, ${label}: main thread ${busy.toFixed(0)} ms busy of ${profile.totalMs.toFixed(0)} ms ` +
        `(${where}); 'charged' adds the Node and V8 work each package's own frames called`,
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
      title: `top functions by self time, ${label}`,
      columns: ['function', 'self ms', 'of busy'],
      rows: profile.byFunction
        .filter((e) => e.name !== '(idle)')
        .slice(0, 20)
        .map((e) => [e.name, e.ms.toFixed(0), share(e.ms)]),
    },
  ];
}

/** What a profile of a load round is called in its tables: the target, its concurrency and its throughput. */
export const profiledRoundLabel = (profile) =>
  `${profile.label} c${profile.connections}, ${profile.sample.requestsPerSecond.toFixed(0)} req/s`;

/** Profiles as a results file keeps them: the top functions only (the tables show fewer still). */
export const profilesData = (profiles) =>
  profiles.map((profile) => ({ ...profile, byFunction: profile.byFunction.slice(0, 100) }));
