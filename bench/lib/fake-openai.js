// A fake OpenAI-compatible upstream for the gateway benchmarks: `node bench/lib/fake-openai.js` listens on
// 127.0.0.1:$PORT. Every answer is serialised once at start and sent with one write, so that what a benchmark
// measures is the gateway in front of it, not the fake.
import http from 'node:http';
import { pathToFileURL } from 'node:url';

/**
 * What the fake answers, for the checks of a benchmark: the reply is TOKEN repeated CHUNKS times ($FAKE_CHUNKS,
 * 200 by default).
 */
export const FAKE = {
  model: 'bench-model',
  token: ' tok',
  chunks: Number(process.env.FAKE_CHUNKS) || 200,
  promptTokens: 8,
};
const content = FAKE.token.repeat(FAKE.chunks);
const usage = {
  prompt_tokens: FAKE.promptTokens,
  completion_tokens: FAKE.chunks,
  total_tokens: FAKE.promptTokens + FAKE.chunks,
};
const base = { id: 'chatcmpl-bench', created: 1_700_000_000, model: FAKE.model, system_fingerprint: null };

const completion = Buffer.from(
  JSON.stringify({
    ...base,
    object: 'chat.completion',
    choices: [
      { index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' },
    ],
    usage,
  }),
);

const chunk = (choices, extra) =>
  `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
const choice = (delta, finishReason = null) => ({ index: 0, delta, logprobs: null, finish_reason: finishReason });
const frames = Array.from({ length: FAKE.chunks }, (_, i) =>
  chunk([choice(i === 0 ? { role: 'assistant', content: FAKE.token } : { content: FAKE.token })]),
);
const finish = chunk([choice({}, 'stop')]);
const done = 'data: [DONE]\n\n';
// As OpenAI does: with stream_options.include_usage, one more chunk with no choices carries the usage.
const stream = Buffer.from(frames.join('') + finish + done);
const streamWithUsage = Buffer.from(frames.join('') + finish + chunk([], { usage }) + done);

const models = Buffer.from(
  JSON.stringify({ object: 'list', data: [{ id: FAKE.model, object: 'model', created: 0, owned_by: 'bench' }] }),
);

const JSON_TYPE = 'application/json';
// No content-length on the stream: it goes out chunked, as a real upstream's token stream does.
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

function answer(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'content-length': body.length });
  res.end(body);
}

export function startFakeOpenAi({ port, host = '127.0.0.1' }) {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') return answer(res, 200, JSON_TYPE, models);
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return answer(res, 404, JSON_TYPE, Buffer.from('{"error":{"message":"not found"}}'));
    }
    const parts = [];
    req.on('data', (part) => parts.push(part));
    req.on('end', () => {
      // A substring test, not JSON.parse: the request bodies are small and known, and parsing would be the
      // fake's main cost per request.
      const body = Buffer.concat(parts).toString('latin1');
      if (!/"stream"\s*:\s*true/.test(body)) return answer(res, 200, JSON_TYPE, completion);
      res.writeHead(200, SSE_HEADERS);
      res.end(/"include_usage"\s*:\s*true/.test(body) ? streamWithUsage : stream);
    });
  });
  // Load generators and gateways keep connections open between requests; never close one under them.
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await startFakeOpenAi({ port: Number(process.env.PORT) });
