interface Entry<V> {
  value: V;
  expiresAt: number;
}

/** A map whose entries expire; a periodic sweep keeps expired entries from piling up. */
export class ExpiringMap<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepEveryMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  get(key: string, now = Date.now()): V | undefined {
    return this.entry(key, now)?.value;
  }

  /** The live entry, with its expiry; undefined when absent or expired. */
  entry(key: string, now = Date.now()): Entry<V> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, value: V, ttlMs?: number, now = Date.now()): void {
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : now + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  sweep(now = Date.now()): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.entries.clear();
  }
}
