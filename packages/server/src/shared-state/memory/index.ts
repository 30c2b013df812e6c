import type { SharedState } from '../../core/shared-state.js';
import { MemoryBus } from './bus.js';
import { ExpiringMap } from './expiring-map.js';
import { MemoryKeyValue } from './kv.js';
import { MemoryRateLimiter } from './limiter.js';

/** Shared state for a single instance: everything lives in this process. */
export function createMemorySharedState(onError: (err: unknown) => void = (err) => console.error(err)): SharedState {
  const values = new ExpiringMap<string>();
  const counters = new ExpiringMap<number>();
  return {
    kind: 'memory',
    bus: new MemoryBus(onError),
    kv: new MemoryKeyValue(values),
    limiter: new MemoryRateLimiter(counters),
    async ping() {},
    async close() {
      values.close();
      counters.close();
    },
  };
}
