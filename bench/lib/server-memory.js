import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './process.js';

const PROBE = pathToFileURL(join(repoRoot, 'bench/lib/memory-probe.js')).href;
const READING_TIMEOUT_MS = 10_000;

async function lastReading(file) {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return { reading: 0 };
  }
}

/**
 * Memory readings of a server started with `nodeArgs` and `env` (see lib/memory-probe.js): `read(pid)` resolves
 * to its process.memoryUsage() (rss, heapUsed, external, arrayBuffers: bytes) just after a full garbage collection.
 * `file` is where the server writes them: one per server process.
 */
export function serverMemory(file) {
  return {
    nodeArgs: ['--expose-gc', '--import', PROBE],
    env: { BENCH_MEMORY_FILE: file },
    async read(pid) {
      const previous = (await lastReading(file)).reading;
      process.kill(pid, 'SIGUSR2');
      const deadline = performance.now() + READING_TIMEOUT_MS;
      while (performance.now() < deadline) {
        await sleep(20);
        const current = await lastReading(file);
        if (current.reading > previous) return current;
      }
      throw new Error(`no memory reading from process ${pid} within ${READING_TIMEOUT_MS} ms`);
    },
  };
}
