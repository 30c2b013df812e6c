import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulidx';

const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let next = POOL_BYTES;

/**
 * Cryptographic random numbers in [0, 1), drawn from a pool refilled 4 KiB at a time: ulidx asks
 * for one byte per character, and one system call per byte costs more than the rest of an id.
 */
function pooledRandom(): number {
  if (next === POOL_BYTES) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++]! / 256;
}

/** ULIDs: sortable by creation time, so ids double as stable pagination cursors. */
export const newId: () => string = monotonicFactory(pooledRandom);
