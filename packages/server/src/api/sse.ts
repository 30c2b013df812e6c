import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

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
