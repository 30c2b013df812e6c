import type { AccountChanges, ApiKey, User } from './model.js';

/** Enough for every key of a large deployment; past it, the key read longest ago goes. */
const MAX_KNOWN_KEYS = 10_000;

export interface KeyOwner {
  key: ApiKey;
  user: User;
}

/**
 * API keys and their owners as authentication last read them, kept until either changes: a
 * key-authenticated request then costs a hash and a lookup, not a query. Only keys that exist are
 * kept, so unknown keys cannot fill it.
 */
export class KnownKeys {
  private readonly byHash = new Map<string, KeyOwner>();
  private readonly hashesOf = new Map<string, Set<string>>();
  /** Counts changes: a read that began before one must not be kept. */
  private generation = 0;

  constructor(private readonly changes: AccountChanges) {
    changes.onChange((userId) => {
      this.generation++;
      if (userId === undefined) this.clear();
      else this.forget(userId);
    });
  }

  get(keyHash: string): KeyOwner | undefined {
    return this.changes.current() ? this.byHash.get(keyHash) : undefined;
  }

  /** Reads a key afresh, and keeps it when nothing changed meanwhile. */
  async load(keyHash: string, read: (keyHash: string) => Promise<KeyOwner | undefined>): Promise<KeyOwner | undefined> {
    const current = this.changes.current();
    const generation = this.generation;
    const found = await read(keyHash);
    if (found && current && generation === this.generation) this.keep(keyHash, found);
    return found;
  }

  private keep(keyHash: string, found: KeyOwner): void {
    if (this.byHash.size >= MAX_KNOWN_KEYS) {
      const [oldest] = this.byHash.keys();
      this.drop(oldest!);
    }
    this.byHash.set(keyHash, found);
    const hashes = this.hashesOf.get(found.user.id);
    if (hashes) hashes.add(keyHash);
    else this.hashesOf.set(found.user.id, new Set([keyHash]));
  }

  private drop(keyHash: string): void {
    const found = this.byHash.get(keyHash);
    if (!found) return;
    this.byHash.delete(keyHash);
    const hashes = this.hashesOf.get(found.user.id)!;
    hashes.delete(keyHash);
    if (!hashes.size) this.hashesOf.delete(found.user.id);
  }

  private forget(userId: string): void {
    for (const keyHash of this.hashesOf.get(userId) ?? []) this.byHash.delete(keyHash);
    this.hashesOf.delete(userId);
  }

  private clear(): void {
    this.byHash.clear();
    this.hashesOf.clear();
  }
}
