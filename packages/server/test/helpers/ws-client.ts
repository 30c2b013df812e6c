import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { expect } from 'vitest';

/** The `ws` client, typed as far as these tests use it. */
interface WsClient {
  send(data: string | Buffer): void;
  close(code?: number): void;
  terminate(): void;
  on(event: 'open', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  _socket: Socket;
}
type WsOptions = {
  headers?: Record<string, string>;
  /** False to leave the server's pings unanswered, as a vanished client would. */
  autoPong?: boolean;
};
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string, options?: WsOptions) => WsClient;

export type OpenOptions = WsOptions & {
  /** Every frame must be smaller than this, for clients that refuse larger ones. */
  frameBytesUnder?: number;
};

export type Frame = { type: string; [field: string]: any };

/** A WebSocket client that keeps every JSON frame it receives, for tests to wait for and look through. */
export class FrameClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly taken = new Set<Frame>();
  private readonly listeners = new Set<() => void>();
  private lastId = 0;

  private constructor(
    private readonly ws: WsClient,
    frameBytesUnder = Infinity,
  ) {
    ws.on('message', (data, isBinary) => {
      // Every protocol tested here speaks JSON in text frames.
      expect(isBinary, 'a binary frame').toBe(false);
      expect(data.length, 'a frame too large for the client').toBeLessThan(frameBytesUnder);
      this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const listener of this.listeners) listener();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** A socket to `path` of an http(s) base URL, without waiting for it to open: for upgrades that may be refused. */
  static connect(baseUrl: string, path: string, { frameBytesUnder, ...options }: OpenOptions = {}): FrameClient {
    return new FrameClient(new WebSocket(baseUrl.replace(/^http/, 'ws') + path, options), frameBytesUnder);
  }

  /** Opens a socket to `path` of an http(s) base URL. */
  static async open(baseUrl: string, path: string, options: OpenOptions = {}): Promise<FrameClient> {
    const client = FrameClient.connect(baseUrl, path, options);
    await new Promise<void>((resolve, reject) => {
      client.ws.on('open', resolve);
      client.ws.on('error', reject);
    });
    return client;
  }

  /** Sends a frame: a string or bytes as they are, anything else as JSON. */
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /**
   * Sends a frame with an id (`r1`, `r2`, … on each socket), and resolves with the first frame whose
   * `ref` is that id: its answer, or an error.
   */
  request(frame: Record<string, unknown>): Promise<Frame> {
    const id = `r${++this.lastId}`;
    this.send({ ...frame, id });
    return this.take((f) => f.ref === id);
  }

  close(): void {
    this.ws.close();
  }

  /** Drops the connection without a closing handshake, as a client that crashed. */
  terminate(): void {
    this.ws.terminate();
  }

  /** Stops (or resumes) reading from the connection, so that what the server sends piles up as for a slow client. */
  pauseReading(): void {
    this.ws._socket.pause();
  }
  resumeReading(): void {
    this.ws._socket.resume();
  }

  /** The first frame received, before or after now, that matches and was not taken yet. */
  take(match: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const look = () => {
        const found = this.frames.find((f) => !this.taken.has(f) && match(f));
        if (!found) return false;
        this.taken.add(found);
        this.listeners.delete(look);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        this.listeners.delete(look);
        // Cut short: a streamed reply can run to megabytes of frames.
        reject(new Error(`no matching frame; got ${JSON.stringify(this.frames).slice(0, 2000)}`));
      }, timeoutMs);
      if (!look()) this.listeners.add(look);
    });
  }

  /** The next frame of this type not taken yet; without a type, the next frame not taken yet, in the order received. */
  next(type?: string, timeoutMs?: number): Promise<Frame> {
    return this.take((f) => type === undefined || f.type === type, timeoutMs);
  }

  /** The frames not taken yet, in the order received, up to the first of this type (included). */
  async until(type: string): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (;;) {
      const frame = await this.next();
      frames.push(frame);
      if (frame.type === type) return frames;
    }
  }

  /** Every frame of this type received so far, taken or not. */
  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }
}
