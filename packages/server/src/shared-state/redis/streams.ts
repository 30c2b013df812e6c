import type { Redis } from 'ioredis';
import { deliver, type Bus, type StreamBuffer, type StreamEnd, type StreamEvent } from '../../core/shared-state.js';

/** The longest a reply may take: its deltas are dropped after that even if its writer never ended it. */
const MAX_STREAM_MS = 24 * 3600_000;

type Published = { seq: number; text: string } | { end: StreamEnd };

/**
 * Each stream is a Redis list of its deltas (index i holds delta i + 1) plus an end marker, and a
 * pub/sub topic for followers. A follower subscribes before it reads the list, so that nothing
 * written in between is missed; what arrives both ways is told apart by its `seq`.
 */
export class RedisStreamBuffer implements StreamBuffer {
  constructor(
    private readonly redis: Redis,
    private readonly bus: Bus,
    private readonly retentionMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  append(streamId: string, seq: number, text: string): void {
    const key = deltasKey(streamId);
    const pipeline = this.redis.pipeline().rpush(key, text);
    if (seq === 1) pipeline.pexpire(key, MAX_STREAM_MS);
    pipeline.exec().catch(this.onError);
    this.bus.publish(topic(streamId), { seq, text } satisfies Published).catch(this.onError);
  }

  end(streamId: string, end: StreamEnd): void {
    this.redis
      .pipeline()
      .set(endKey(streamId), JSON.stringify(end), 'PX', this.retentionMs)
      .pexpire(deltasKey(streamId), this.retentionMs)
      .exec()
      .catch(this.onError);
    this.bus.publish(topic(streamId), { end } satisfies Published).catch(this.onError);
  }

  async follow(streamId: string, afterSeq: number, onEvent: (event: StreamEvent) => void): Promise<() => void> {
    let delivered = afterSeq;
    let ended = false;
    let live = false;
    const early: Published[] = [];
    const emit = (event: StreamEvent) => deliver(onEvent, event, this.onError);
    const receive = (published: Published) => {
      if (ended) return;
      if ('end' in published) {
        ended = true;
        emit({ type: 'end', ...published.end });
        void stop();
      } else if (published.seq === delivered + 1) {
        delivered = published.seq;
        emit({ type: 'delta', ...published });
      }
    };
    const unsubscribe = await this.bus.subscribe(topic(streamId), (message) => {
      if (live) receive(message as Published);
      else early.push(message as Published);
    });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await unsubscribe().catch(this.onError);
    };

    const [[deltasError, deltas], [endError, endText]] = (await this.redis
      .pipeline()
      .lrange(deltasKey(streamId), afterSeq, -1)
      .get(endKey(streamId))
      .exec()) as [[Error | null, string[]], [Error | null, string | null]];
    if (deltasError || endError) {
      await stop();
      throw deltasError ?? endError;
    }
    for (const text of deltas) receive({ seq: delivered + 1, text });
    // Deltas that arrived live meanwhile and are already in the list are skipped by their seq.
    for (const published of early) if (!('end' in published)) receive(published);
    if (endText !== null) receive({ end: JSON.parse(endText) as StreamEnd });
    else for (const published of early) if ('end' in published) receive(published);
    live = true;
    return () => void stop();
  }

  async text(streamId: string): Promise<string | undefined> {
    const [[, exists], [, deltas]] = (await this.redis
      .pipeline()
      .exists(deltasKey(streamId))
      .lrange(deltasKey(streamId), 0, -1)
      .exec()) as [[Error | null, number], [Error | null, string[]]];
    return exists ? deltas.join('') : undefined;
  }
}

const deltasKey = (streamId: string) => `stream:${streamId}`;
const endKey = (streamId: string) => `stream:${streamId}:end`;
const topic = (streamId: string) => `stream.${streamId}`;
