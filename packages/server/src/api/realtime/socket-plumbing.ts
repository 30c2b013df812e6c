/**
 * What every WebSocket of the server needs whatever its frames mean: frames handled in order with
 * backpressure, a budget of frames a second, and a heartbeat. Each socket class composes these and
 * keeps its own frames, authentication and close codes.
 */

const OPEN = 1;

/** Whether frames written to the socket still go out (not closing or closed). */
export function isOpen(socket: { readonly readyState: number }): boolean {
  return socket.readyState === OPEN;
}

/**
 * Frames handled one at a time, in the order they were read. With `maxPending` waiting, the socket
 * is not read until one is done: TCP then pushes back on the client instead of frames piling up here.
 */
export class FrameQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(
    private readonly socket: { pause(): void; resume(): void },
    private readonly maxPending: number,
    /** Whether the socket's end is decided: frames still waiting are then skipped, and it is not read again. */
    private readonly ended: () => boolean,
  ) {}

  /**
   * Handles a frame once those before it are done. `handle` answers its own failures: a rejection
   * would hold up every frame after it.
   */
  push(handle: () => Promise<void> | void): void {
    if (++this.pending === this.maxPending) this.socket.pause();
    this.tail = this.tail
      .then(() => (this.ended() ? undefined : handle()))
      .finally(() => {
        if (this.pending-- === this.maxPending && !this.ended()) this.socket.resume();
      });
  }

  /** Holds the frames read from now on until `work` is done; it is not a frame, so not counted as one. */
  waitFor(work: Promise<unknown>): void {
    this.tail = this.tail.then(() => work);
  }
}

/**
 * Frames one socket may send a second, of any kind: those beyond are dropped unread, so a flood
 * costs no parsing and no handling. Only the first dropped each second is told, or the answers
 * would be a flood of their own.
 */
export class FrameBudget {
  private secondStarted = 0;
  private spent = 0;

  constructor(
    private readonly perSecond: number,
    private readonly tellDropped: (message: string, retryAfterMs: number) => void,
  ) {}

  /** Counts a frame just read: false when it is one too many this second, to be dropped. */
  allows(): boolean {
    const now = Date.now();
    if (now - this.secondStarted >= 1000) {
      this.secondStarted = now;
      this.spent = 0;
    }
    if (++this.spent <= this.perSecond) return true;
    if (this.spent === this.perSecond + 1) {
      const message = `At most ${this.perSecond} frames a second; frames beyond are dropped`;
      this.tellDropped(message, this.secondStarted + 1000 - now);
    }
    return false;
  }
}

/**
 * A ping every interval; a socket that has not answered the last one by the next is gone (a peer
 * that vanished without closing, which TCP alone would notice only much later). It is terminated:
 * it would not answer a close handshake either.
 */
export class Heartbeat {
  private answered = true;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly socket: { ping(): void; terminate(): void; on(event: 'pong', listener: () => void): unknown },
    intervalMs: number,
    private readonly when: {
      /** The socket did not answer: what it takes part in ends, before it is terminated. */
      silent(): void;
      /** A ping went out: the time to check again what may have changed since the last one. */
      beat?(): void;
    },
  ) {
    socket.on('pong', () => (this.answered = true));
    this.timer = setInterval(() => this.beat(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    if (!this.answered) {
      this.stop();
      this.when.silent();
      this.socket.terminate();
      return;
    }
    this.answered = false;
    this.socket.ping();
    this.when.beat?.();
  }
}
