/**
 * Ports for state shared by every instance of the server. Each has an in-process implementation
 * (one instance) and a Redis implementation (many instances); see `shared-state/`.
 */

export type BusHandler = (message: unknown) => void;

/** Calls a subscriber; one that throws must not break delivery to the others, nor the process. */
export function deliver(handler: BusHandler, message: unknown, onError: (err: unknown) => void): void {
  try {
    handler(message);
  } catch (err) {
    onError(err);
  }
}

/** Publish/subscribe of domain events. Messages are JSON values. */
export interface Bus {
  publish(topic: string, message: unknown): Promise<void>;
  /** Returns a function that removes this subscription. */
  subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>>;
}

/** A small key-value cache with optional expiry; values are JSON values. */
export interface KeyValue {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface LimitRule {
  key: string;
  limit: number;
  windowMs: number;
}

export interface LimitState {
  allowed: boolean;
  /** The rule that is closest to (or past) its limit. */
  limit: number;
  remaining: number;
  /** Milliseconds until that rule's window resets. */
  resetMs: number;
}

/**
 * Fixed-window counters, one window per key starting at its first hit. `consume` is atomic across
 * all its rules: either every counter takes the hit, or (when any is exhausted) none does, so a
 * refused request never uses up another window.
 */
export interface RateLimiter {
  consume(rules: readonly LimitRule[]): Promise<LimitState>;
  reset(key: string): Promise<void>;
}

export interface SharedState {
  readonly kind: 'memory' | 'redis';
  readonly bus: Bus;
  readonly kv: KeyValue;
  readonly limiter: RateLimiter;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The state to report for several rules: the one with the fewest requests left, and among
 * exhausted ones the one that resets last (that is when a retry can succeed).
 */
export function tightest(states: readonly Omit<LimitState, 'allowed'>[], allowed: boolean): LimitState {
  let pick = states[0]!;
  for (const s of states) {
    if (s.remaining < pick.remaining || (s.remaining === pick.remaining && s.resetMs > pick.resetMs)) pick = s;
  }
  return { ...pick, allowed };
}
