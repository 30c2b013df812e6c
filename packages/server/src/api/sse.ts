import type { ServerResponse } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { Message } from '../core/conversations/model.js';
import type { ReplyEvent } from '../core/conversations/replies.js';

/** Keeps proxies and browsers from closing a quiet stream (the model may think for a while). */
const HEARTBEAT_MS = 15_000;

/**
 * A response body of server-sent events. Frames produced in the same turn of the event loop (all
 * those parsed from one upstream read, say) are corked and leave in one write, instead of one
 * system call per frame.
 */
export function eventStream(frames: AsyncIterable<string>, res: ServerResponse): Readable {
  let corked = false;
  const flush = () => {
    corked = false;
    res.uncork();
  };
  async function* batched() {
    for await (const frame of frames) {
      if (!corked) {
        corked = true;
        res.cork();
        setImmediate(flush);
      }
      yield frame;
    }
  }
  return Readable.from(batched(), { objectMode: false });
}

/** Headers of an event stream that no proxy should buffer or cache. */
export const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const;

/** Follows a reply (see `ReplyService.followReply`); resolves to a function that stops following. */
export type FollowReply = (onEvent: (event: ReplyEvent) => void) => Promise<() => void>;

/** The frames a surface streams a reply in, each a whole SSE event (or several). */
export interface ReplyFrames {
  /** Sent at once, so that the answer (headers included) begins before the first event is due. */
  opening: string;
  delta(event: { seq: number; text: string }): string;
  /** The last frame: the reply as it ended, complete or not. */
  end(message: Message): string;
  /** The last frame when the reply cannot be followed. */
  unfollowable: string;
}

/**
 * Answers with a reply's events in a surface's frames. A client that goes away stops following;
 * the reply goes on.
 */
export async function sendFollowedReply(
  reply: FastifyReply,
  options: { follow: FollowReply; frames: ReplyFrames; status?: number },
): Promise<FastifyReply> {
  const { frames } = options;
  const out = new PassThrough();
  reply.code(options.status ?? 200).headers(EVENT_STREAM_HEADERS);
  out.write(frames.opening);
  let unfollow: (() => void) | undefined;
  let closed = false;
  const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const finish = () => {
    closed = true;
    clearInterval(heartbeat);
    unfollow?.();
  };
  reply.raw.once('close', finish);
  reply.send(out);
  let stop: () => void;
  try {
    stop = await options.follow(onEvent);
  } catch (err) {
    // The answer has begun: the failure can only be told as the stream's last event.
    out.end(frames.unfollowable);
    finish();
    reply.log.error({ err }, 'following a reply failed');
    return reply;
  }
  if (closed) stop();
  else unfollow = stop;
  return reply;

  function onEvent(event: ReplyEvent) {
    if (closed) return;
    if (event.type === 'delta') {
      out.write(frames.delta(event));
      return;
    }
    out.end(frames.end(event.message));
    finish();
  }
}
