import { readFile } from 'node:fs/promises';
import { cpuSeconds } from './cpu.js';

// /proc/stat counts in clock ticks: USER_HZ, 100 on every Linux Node supports.
const TICKS_PER_SECOND = 100;

/**
 * CPU time the whole machine has spent busy so far (all cores, all processes), in seconds; null off Linux.
 * Interrupt time is left out: it is mostly the loopback traffic of the benchmark itself, counted to no process.
 * Steal is in: time the hypervisor gave to other machines is lost to this one as surely as another process's.
 */
async function machineBusySeconds() {
  try {
    const [, user, nice, system, , , , , steal] = (await readFile('/proc/stat', 'utf8'))
      .split('\n', 1)[0]
      .trim()
      .split(/\s+/)
      .map(Number);
    return (user + nice + system + steal) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

const sum = (values) => values.reduce((a, b) => (a == null || b == null ? null : a + b), 0);

/**
 * Starts counting CPU time; the function it resolves to, called after `seconds`, gives the share of one core
 * that the `server` process, the `client` processes together, and the rest of the machine used meanwhile (null
 * where the platform does not tell). The rest is what tells a round disturbed by something else on a shared
 * machine from a slow server.
 */
export async function startCpuMeter({ server, client }) {
  const read = async () => ({
    server: await cpuSeconds(server),
    client: sum(await Promise.all(client.map(cpuSeconds))),
    machine: await machineBusySeconds(),
  });
  const before = await read();
  return async (seconds) => {
    const after = await read();
    const used = Object.fromEntries(
      Object.keys(after).map((k) => [k, after[k] == null || before[k] == null ? null : after[k] - before[k]]),
    );
    const rest = sum([
      used.machine,
      used.server == null ? null : -used.server,
      used.client == null ? null : -used.client,
    ]);
    return {
      serverCpu: used.server == null ? null : used.server / seconds,
      clientCpu: used.client == null ? null : used.client / seconds,
      // Clock ticks are coarse: a quiet machine may come out a little below zero.
      restCpu: rest == null ? null : Math.max(0, rest) / seconds,
    };
  };
}
