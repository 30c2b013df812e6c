import type { KeyValue } from '../../core/shared-state.js';
import { ExpiringMap } from './expiring-map.js';

export class MemoryKeyValue implements KeyValue {
  constructor(private readonly entries: ExpiringMap<string>) {}

  async get<T>(key: string): Promise<T | undefined> {
    const text = this.entries.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    this.entries.set(key, JSON.stringify(value), ttlMs);
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
