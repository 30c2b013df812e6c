// The least a Node gateway can do: `node bench/lib/minimal-proxy.js` listens on 127.0.0.1:$PORT and forwards
// every request to $UPSTREAM (an origin) through an undici Pool, piping the answer back as it arrives. No
// auth, no parsing: the baseline that a real gateway's overhead is measured against.
import http from 'node:http';
import { Pool } from 'undici';

// Headers about one hop's connection, which a proxy must not pass on (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers, drop) {
  const kept = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name) && name !== drop) kept[name] = value;
  return kept;
}

// As many upstream connections as the highest concurrency benchmarked, so that requests never queue in the pool.
const pool = new Pool(process.env.UPSTREAM, { connections: 256, pipelining: 1 });

const server = http.createServer(async (req, res) => {
  let body;
  // A client that goes away mid-answer must not leave an upstream connection stuck behind a paused body.
  res.once('close', () => res.writableFinished || body?.destroy());
  try {
    const upstream = await pool.request({
      method: req.method,
      path: req.url,
      headers: endToEnd(req.headers, 'host'),
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    });
    body = upstream.body.on('error', (err) => res.destroy(err));
    if (res.destroyed) return body.destroy();
    res.writeHead(upstream.statusCode, endToEnd(upstream.headers));
    // pipe, not stream.pipeline: on Node 20 pipeline makes an AbortSignal per call and aborts it with a
    // DOMException when done, which halved this proxy's throughput.
    body.pipe(res);
  } catch (err) {
    if (res.destroyed) return;
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`upstream failed: ${err.message}`);
  }
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
