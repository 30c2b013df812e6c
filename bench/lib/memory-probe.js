// Loaded into a server under test with `node --expose-gc --import <this file>`: on SIGUSR2 it collects garbage
// (a full collection) and then writes process.memoryUsage() to $BENCH_MEMORY_FILE, so that a benchmark reads the
// memory the process holds rather than whatever garbage it has not collected yet. The server's code is untouched.
import { writeFileSync } from 'node:fs';

let readings = 0;
process.on('SIGUSR2', () => {
  globalThis.gc();
  writeFileSync(process.env.BENCH_MEMORY_FILE, JSON.stringify({ reading: ++readings, ...process.memoryUsage() }));
});
