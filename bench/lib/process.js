import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { constants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const live = new Set();
const cleanups = new Set();

/** Registers synchronous clean-up (temp dirs…) that must also run on Ctrl+C, when finally blocks do not. */
export function atExit(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/**
 * Runs `work(scratch)` with a new temporary directory of the scenario's, removed afterwards: also on Ctrl+C, when
 * the finally block does not run.
 */
export async function withScratch(scenario, work) {
  const scratch = await mkdtemp(join(tmpdir(), `parley-bench-${scenario}-`));
  const remove = () => rmSync(scratch, { recursive: true, force: true });
  const forget = atExit(remove);
  try {
    return await work(scratch);
  } finally {
    forget();
    remove();
  }
}

/** Last resort so that no server outlives the runner, whatever path it takes out (error, Ctrl+C, exit). */
export function cleanUp() {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  for (const fn of cleanups) {
    try {
      fn();
    } catch (err) {
      console.error(`clean-up failed: ${err.message}`);
    }
  }
  cleanups.clear();
}
process.once('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    cleanUp();
    process.exit(128 + constants.signals[signal]);
  });
}

/**
 * Spawns a process that the runner owns: it is killed when the runner exits, and the tail of its output is
 * kept (`child.output()`) to explain a failure to start.
 */
export function spawnTracked(command, args, options = {}) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let tail = '';
  const keep = (chunk) => (tail = (tail + chunk).slice(-4000));
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  child.output = () => tail.trim();
  // 'exit' rather than 'close': it is the moment the process ended, which is what shutdown timing wants.
  // A process that could not be spawned at all (ENOENT…) emits only 'error'.
  child.exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
    child.once('error', (err) => {
      keep(`\n${err.message}`);
      resolveExit({ code: null, signal: null });
    });
  }).finally(() => live.delete(child));
  return child;
}

/** A port that was free a moment ago; the OS picks it, so parallel runs do not collide. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Status code of one GET, or null when nothing answers (yet). A fresh connection each time: no pooling. */
export function probe(url, timeoutMs = 1000) {
  return new Promise((resolveStatus) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolveStatus(res.statusCode));
      res.once('error', () => resolveStatus(null));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolveStatus(null));
  });
}

/**
 * Polls `url` until it answers 200 and returns the time of that answer (performance.now()). Connection refused
 * and non-200 answers mean "not yet"; the child exiting or the timeout mean failure, and then the child is killed.
 */
export async function waitForHttp(url, { child, timeoutMs = 15_000, intervalMs = 5 } = {}) {
  const deadline = performance.now() + timeoutMs;
  let exited = null;
  child?.exited.then((status) => (exited = status));
  while (performance.now() < deadline) {
    if (exited) break;
    if ((await probe(url)) === 200) return performance.now();
    await sleep(intervalMs);
  }
  child?.kill('SIGKILL');
  const why = exited
    ? `exited (code ${exited.code}, signal ${exited.signal}) before ${url} answered 200`
    : `${url} did not answer 200 within ${timeoutMs} ms`;
  const output = child?.output();
  throw new Error(`${why}${output ? `\n--- output ---\n${output}` : ''}`);
}

/**
 * Sends `signal` and waits for the exit; returns how long it took and how the process ended. A process that
 * ignores the signal past the timeout is killed and reported as `killed: true`.
 */
export async function stopProcess(child, { signal = 'SIGTERM', timeoutMs = 15_000 } = {}) {
  const started = performance.now();
  child.kill(signal);
  const timeout = sleep(timeoutMs, 'timeout', { ref: false });
  if ((await Promise.race([child.exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    return { ms: null, ...(await child.exited), killed: true };
  }
  return { ms: performance.now() - started, ...(await child.exited), killed: false };
}

/** Resident set size of a live process in bytes, from /proc (Linux); null where that is not available. */
export async function rssBytes(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return kb ? Number(kb[1]) * 1024 : null;
  } catch {
    return null;
  }
}
