import { Pool } from 'undici';
import { percentile } from './stats.js';

/**
 * Keep-alive connections to `origin` for the runs against one target: made once and reused from round to round,
 * so that no measured request pays for a TCP connect (at 64 connections, those first requests alone would be
 * more than the 1% that a p99 looks at).
 */
export function streamPool(origin, connections) {
  return new Pool(origin, { connections, pipelining: 1, bodyTimeout: 10_000, headersTimeout: 10_000 });
}

/** Longest text a RegExp marker is looked for across a chunk boundary. */
const REGEXP_REACH = 64;

/**
 * Finds `marker` in a stream of chunks, across chunk boundaries too: a string (compared as bytes), or a RegExp
 * (tested on the chunks as latin1 text, for what a fixed string cannot say, e.g. "content that is not empty").
 */
function markerFinder(marker) {
  if (marker instanceof RegExp) {
    let tail = '';
    return (chunk) => {
      const text = tail + chunk.toString('latin1');
      if (marker.test(text)) return true;
      tail = text.slice(-REGEXP_REACH);
      return false;
    };
  }
  const needle = Buffer.from(marker);
  const keep = needle.length - 1;
  let tail = Buffer.alloc(0);
  return (chunk) => {
    if (chunk.indexOf(needle) >= 0) return true;
    if (keep > 0 && tail.length > 0 && Buffer.concat([tail, chunk.subarray(0, keep)]).indexOf(needle) >= 0) return true;
    tail = chunk.length >= keep ? chunk.subarray(chunk.length - keep) : Buffer.concat([tail, chunk]).subarray(-keep);
    return false;
  };
}

/**
 * One request read to its end: when it was handed to the pool (on a kept-alive connection: sent), when
 * `firstToken` arrived, when the body ended, and whether `end` (the stream's last event) arrived at all.
 */
function timedRequest(pool, { method, path, headers, body }, { firstToken, end }) {
  const sent = performance.now();
  return pool.request({ method, path, headers, body }).then(
    ({ statusCode, body: stream }) =>
      new Promise((resolve) => {
        const sawFirst = markerFinder(firstToken);
        const sawEnd = markerFinder(end);
        let bytes = 0;
        let firstAt = null;
        let ended = false;
        stream.on('data', (chunk) => {
          bytes += chunk.length;
          if (firstAt === null && sawFirst(chunk)) firstAt = performance.now();
          if (!ended && sawEnd(chunk)) ended = true;
        });
        stream.once('end', () =>
          resolve({
            status: statusCode,
            bytes,
            ttftMs: firstAt && firstAt - sent,
            totalMs: performance.now() - sent,
            ended,
          }),
        );
        stream.once('error', (err) => resolve({ status: statusCode, bytes, error: err }));
      }),
    (err) => ({ status: null, bytes: 0, error: err }),
  );
}

/**
 * Closed-loop load of streamed answers for `seconds`: `connections` workers over `pool` keep one request each
 * in flight; `requestOf(worker, n)` gives worker's n-th request ({ method, path, headers, body }). A request
 * is ok when it answers 2xx and its body holds `end`; ttft is from sending it to the chunk holding
 * `firstToken`, total to the body's last byte. Requests still in flight at the deadline are read to their end
 * (so that the server is idle when the next run starts) but not counted, as autocannon cuts them off.
 */
export async function runStreamLoad({ pool, connections, seconds, requestOf, firstToken, end }) {
  const ttft = [];
  const total = [];
  const statuses = {};
  let ok = 0;
  let bytes = 0;
  let non2xx = 0;
  let errors = 0;
  let incomplete = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async (w) => {
    for (let n = 0; performance.now() < deadline; n++) {
      const r = await timedRequest(pool, requestOf(w, n), { firstToken, end });
      if (performance.now() > deadline) break;
      statuses[r.status ?? 'error'] = (statuses[r.status ?? 'error'] ?? 0) + 1;
      if (r.error) errors++;
      else if (r.status < 200 || r.status >= 300) non2xx++;
      else if (!r.ended || r.ttftMs === null) incomplete++;
      else {
        ok++;
        bytes += r.bytes;
        ttft.push(r.ttftMs);
        total.push(r.totalMs);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, w) => worker(w)));
  return {
    seconds,
    ok,
    requestsPerSecond: ok / seconds,
    bytesPerSecond: bytes / seconds,
    ttftP50Ms: percentile(ttft, 50),
    ttftP99Ms: percentile(ttft, 99),
    p50Ms: percentile(total, 50),
    p99Ms: percentile(total, 99),
    non2xx,
    errors,
    incomplete,
    statuses,
  };
}
