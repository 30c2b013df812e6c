import { createRequire } from 'node:module';

/** The `ws` client, typed as far as these tests use it. */
interface WsClient {
  send(data: string | Buffer): void;
  close(code?: number): void;
  on(event: 'open', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => WsClient;

export type Frame = { type: string; [field: string]: any };

/** A WebSocket client that keeps every JSON frame it receives, for tests to wait for. */
export class FrameClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly taken = new Set<Frame>();
  private readonly listeners = new Set<() => void>();

  private constructor(private readonly ws: WsClient) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const listener of this.listeners) listener();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** Opens a socket to `path` of an http(s) base URL. */
  static async open(baseUrl: string, path: string): Promise<FrameClient> {
    const client = new FrameClient(new WebSocket(baseUrl.replace(/^http/, 'ws') + path));
    await new Promise<void>((resolve, reject) => {
      client.ws.on('open', resolve);
      client.ws.on('error', reject);
    });
    return client;
  }

  /** Sends a frame: a string as it is, anything else as JSON. */
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  close(): void {
    this.ws.close();
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
        reject(new Error(`no matching frame; got ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      if (!look()) this.listeners.add(look);
    });
  }

  /** The next frame of this type not taken yet. */
  next(type: string, timeoutMs?: number): Promise<Frame> {
    return this.take((f) => f.type === type, timeoutMs);
  }
}
