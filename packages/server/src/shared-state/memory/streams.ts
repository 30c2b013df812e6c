import { deliver, type StreamBuffer, type StreamEnd, type StreamEvent } from '../../core/shared-state.js';

type Follower = (event: StreamEvent) => void;

interface Stream {
  deltas: string[];
  end?: StreamEnd;
  followers: Set<Follower>;
}

/** Streams of this process, delivered to followers synchronously as they are written. */
export class MemoryStreamBuffer implements StreamBuffer {
  private readonly streams = new Map<string, Stream>();
  private readonly expiries = new Set<NodeJS.Timeout>();

  constructor(
    private readonly retentionMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  append(streamId: string, seq: number, text: string): void {
    const stream = this.stream(streamId);
    stream.deltas.push(text);
    for (const follower of stream.followers) deliver(follower, { type: 'delta', seq, text }, this.onError);
  }

  end(streamId: string, end: StreamEnd): void {
    // Ending a stream nobody wrote or follows (one cut by a crash) leaves nothing to replay.
    const stream = this.streams.get(streamId);
    if (!stream) return;
    stream.end = end;
    const event: StreamEvent = { type: 'end', ...end };
    for (const follower of stream.followers) deliver(follower, event, this.onError);
    stream.followers.clear();
    const expiry = setTimeout(() => {
      this.expiries.delete(expiry);
      this.streams.delete(streamId);
    }, this.retentionMs);
    expiry.unref();
    this.expiries.add(expiry);
  }

  async follow(streamId: string, afterSeq: number, onEvent: (event: StreamEvent) => void): Promise<() => void> {
    const stream = this.stream(streamId);
    for (let seq = afterSeq + 1; seq <= stream.deltas.length; seq++) {
      deliver(onEvent, { type: 'delta', seq, text: stream.deltas[seq - 1]! }, this.onError);
    }
    if (stream.end) {
      deliver(onEvent, { type: 'end', ...stream.end }, this.onError);
      return () => {};
    }
    const follower: Follower = (event) => onEvent(event);
    stream.followers.add(follower);
    return () => {
      stream.followers.delete(follower);
      // A follower of a stream nobody ever wrote leaves nothing behind.
      if (!stream.end && stream.deltas.length === 0 && stream.followers.size === 0) this.streams.delete(streamId);
    };
  }

  async text(streamId: string): Promise<string | undefined> {
    return this.streams.get(streamId)?.deltas.join('');
  }

  close(): void {
    for (const expiry of this.expiries) clearTimeout(expiry);
    this.expiries.clear();
    this.streams.clear();
  }

  private stream(streamId: string): Stream {
    let stream = this.streams.get(streamId);
    if (!stream) this.streams.set(streamId, (stream = { deltas: [], followers: new Set() }));
    return stream;
  }
}
