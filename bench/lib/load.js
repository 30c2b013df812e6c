import autocannon from 'autocannon';
import { startCpuMeter } from './cpu-meter.js';
import { percentile } from './stats.js';

/**
 * Closed-loop load with autocannon, in this process: `connections` keep one request each in flight (no
 * pipelining) for `seconds`. Latencies come from autocannon's per-response event, which carries the hrtime
 * duration as a float: its own histogram keeps whole milliseconds, too coarse for sub-millisecond overheads.
 * Latency is to the last byte of the response (for a stream, the whole stream).
 */
export function runLoad({ url, method = 'POST', headers, body, connections, seconds }) {
  const latencies = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url, method, headers, body, connections, pipelining: 1, duration: seconds, timeout: 10 },
      (err, result) => {
        if (err) return reject(err);
        const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
        resolve({
          seconds: result.duration,
          ok: result['2xx'],
          requestsPerSecond: result['2xx'] / result.duration,
          // Whole responses (headers and body) of 2xx answers.
          bytesPerSecond: result.throughput.total / result.duration,
          p50Ms: percentile(latencies, 50),
          p95Ms: percentile(latencies, 95),
          p99Ms: percentile(latencies, 99),
          meanMs: latencies.reduce((a, b) => a + b, 0) / (latencies.length || 1),
          // Few answers per connection make a coarse figure: connections that start together and are served
          // fairly finish in waves, and a round's count depends on where its end falls among them.
          answersPerConnection: result['2xx'] / connections,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statuses,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

/** `runLoad` against a server, with the share of a core that it, this process and the rest of the machine used meanwhile. */
export async function runMeteredLoad({ serverPid, ...load }) {
  const cpu = await startCpuMeter({ server: serverPid, client: [process.pid] });
  const result = await runLoad(load);
  return { ...result, ...(await cpu(result.seconds)) };
}
