import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

function hasTaskset() {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Where processes run. With taskset and two cores or more, the server under test gets core 0 to itself and the
 * load generator (this process) core 1, so that neither steals the other's time; elsewhere nothing is pinned.
 */
export function cpuLayout(enabled = true) {
  const pin = enabled && os.availableParallelism() >= 2 && os.platform() === 'linux' && hasTaskset();
  return {
    pinned: pin,
    /** [command, args] that start `command args` on `cpu` (all its threads: libuv pool, GC helpers). */
    on: (cpu, command, args) => (pin ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args]),
    /** Moves this process, every thread of it, to `cpu`. */
    pinSelf(cpu) {
      if (pin) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
    },
  };
}

// /proc/<pid>/stat counts in clock ticks: USER_HZ, 100 on every Linux Node supports.
const TICKS_PER_SECOND = 100;

/** CPU time (user + system, all threads) a process has used so far, in seconds; null off Linux. */
export async function cpuSeconds(pid) {
  if (pid === process.pid) {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after its closing one are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime (fields 14 and 15)
  } catch {
    return null;
  }
}

/**
 * Waits until `pid` has used less than `share` of a core over `windowMs`: work it had queued when the load
 * stopped (requests read before their clients left) is done. Resolves to how long it waited, in ms; gives up
 * after `timeoutMs` (and says so with null) rather than hold a run forever.
 */
export async function waitForIdleProcess(pid, { share = 0.05, windowMs = 200, timeoutMs = 60_000 } = {}) {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const before = await cpuSeconds(pid);
    await sleep(windowMs);
    const after = await cpuSeconds(pid);
    if (before == null || after == null || (after - before) / (windowMs / 1000) < share)
      return performance.now() - started;
  }
  return null;
}
