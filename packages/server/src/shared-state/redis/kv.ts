import type { Redis } from 'ioredis';
import type { KeyValue } from '../../core/shared-state.js';

export class RedisKeyValue implements KeyValue {
  constructor(private readonly redis: Redis) {}

  async get<T>(key: string): Promise<T | undefined> {
    const text = await this.redis.get(`kv:${key}`);
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const text = JSON.stringify(value);
    if (ttlMs === undefined) await this.redis.set(`kv:${key}`, text);
    else await this.redis.set(`kv:${key}`, text, 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(`kv:${key}`);
  }
}
