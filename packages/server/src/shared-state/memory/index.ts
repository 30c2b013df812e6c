import type { SharedState } from '../../core/shared-state.js';
import { MemoryBus } from './bus.js';
import { ExpiringMap } from './expiring-map.js';
import { MemoryKeyValue } from './kv.js';
import { MemoryRateLimiter } from './limiter.js';
import { MemoryStreamBuffer } from './streams.js';

const DEFAULT_STREAM_RETENTION_MS = 600_000;

/** Shared state for a single instance: everything lives in this process. */
export function createMemorySharedState(
  onError: (err: unknown) => void = (err) => console.error(err),
  options: { streamRetentionMs?: number } = {},
): SharedState {
  const values = new ExpiringMap<string>();
  const counters = new ExpiringMap<number>();
  const streams = new MemoryStreamBuffer(options.streamRetentionMs ?? DEFAULT_STREAM_RETENTION_MS, onError);
  return {
    kind: 'memory',
    bus: new MemoryBus(onError),
    kv: new MemoryKeyValue(values),
    limiter: new MemoryRateLimiter(counters),
    streams,
    async ping() {},
    async close() {
      streams.close();
      values.close();
      counters.close();
    },
  };
}
