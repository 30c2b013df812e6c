import { repoRoot } from './process.js';

/** Where a function's code comes from: a package, a Node built-in module, a file of Parley, or V8 itself. */
function origin(url) {
  if (!url) return '(V8 builtins)';
  if (url.startsWith('node:')) {
    // node:internal/streams/readable → node:internal/streams; fetch is node:internal/deps/undici.
    const parts = url.split('/');
    return parts.length > 2 ? parts.slice(0, -1).join('/') : url;
  }
  const path = decodeURIComponent(url.replace(/^file:\/\//, ''));
  const inModules = path.lastIndexOf('/node_modules/');
  if (inModules >= 0) {
    const [scope, name] = path.slice(inModules + '/node_modules/'.length).split('/');
    return scope.startsWith('@') ? `${scope}/${name}` : scope;
  }
  return path.startsWith(repoRoot)
    ? `parley ${path.slice(repoRoot.length + 1).replace(/^packages\/server\/dist\//, '')}`
    : path;
}

function shortUrl(url) {
  return url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(`${repoRoot}/packages/server/dist/`, '');
}

/** Code that is not Node's or V8's own: a package or a file of Parley (or of the bench). */
const isUserCode = (url) => Boolean(url) && !url.startsWith('node:');

/**
 * Self time of a V8 .cpuprofile counting only the samples taken between `from` and `to` (µs on the profile's
 * clock; the whole profile when absent): by origin (package, node: module, Parley file), by function, and by
 * "caller" — each sample charged to the nearest package or Parley frame on its stack, so that the web streams,
 * fetch or JSON.parse a package calls count as that package's cost.
 */
export function summarizeProfile(profile, { from = -Infinity, to = Infinity } = {}) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n);
  const self = new Map();
  let t = profile.startTime;
  let total = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i];
    // A sample's duration is the gap to the next one (the last sample's is unknown: 0).
    const dt = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : 0;
    if (t < from || t > to) return;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });

  const byOrigin = new Map();
  const byFunction = new Map();
  const byCaller = new Map();
  const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
  let idle = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    if (functionName === '(idle)') idle += us;
    const where = functionName.startsWith('(') ? functionName : origin(url);
    add(byOrigin, where, us);
    add(
      byFunction,
      url ? `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}` : functionName || '(anonymous)',
      us,
    );
    let caller = nodes.get(id);
    while (caller && !isUserCode(caller.callFrame.url)) caller = parents.get(caller.id);
    add(byCaller, caller ? origin(caller.callFrame.url) : where, us);
  }
  const ranked = (map) =>
    [...map].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, share: us / (total || 1) }));
  return {
    totalMs: total / 1000,
    busyMs: (total - idle) / 1000,
    byOrigin: ranked(byOrigin),
    byCaller: ranked(byCaller),
    byFunction: ranked(byFunction),
  };
}
