/**
 * Ports for state shared by every instance of the server. Each has an in-process implementation
 * (one instance) and a Redis implementation (many instances); see `shared-state/`.
 */

export type BusHandler = (message: unknown) => void;

/** Calls a subscriber; one that throws must not break delivery to the others, nor the process. */
export function deliver<T>(handler: (message: T) => void, message: T, onError: (err: unknown) => void): void {
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

/** How a streamed reply ended, as its followers learn it. */
export interface StreamEnd {
  status: 'complete' | 'error' | 'cancelled';
  error?: { code: string; message: string };
}

export type StreamEvent = { type: 'delta'; seq: number; text: string } | ({ type: 'end' } & StreamEnd);

/**
 * The deltas of replies being generated, kept so that a client that lost its connection (to this
 * instance or another) can re-attach and receive what it missed, then follow live. A stream is
 * kept for a while after its end, so a late re-attach replays it whole.
 */
export interface StreamBuffer {
  /** Appends the next delta; `seq` counts from 1 per stream, without gaps, in the writer's order. */
  append(streamId: string, seq: number, text: string): void;
  end(streamId: string, end: StreamEnd): void;
  /**
   * Calls `onEvent` with every delta after `afterSeq` — those buffered, then live ones — and then
   * the end. Resolves to a function that stops following.
   */
  follow(streamId: string, afterSeq: number, onEvent: (event: StreamEvent) => void): Promise<() => void>;
  /** The text buffered so far, or undefined when the stream is unknown (never started, or expired). */
  text(streamId: string): Promise<string | undefined>;
}

export interface SharedState {
  readonly kind: 'memory' | 'redis';
  readonly bus: Bus;
  readonly kv: KeyValue;
  readonly limiter: RateLimiter;
  readonly streams: StreamBuffer;
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
