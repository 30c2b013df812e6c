import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake LLM upstream speaking the OpenAI, Anthropic and Gemini wire protocols over real loopback HTTP, so
 * that the official SDKs (and Parley's gateway) run against it unchanged. Deterministic, controllable, and
 * cheap on the hot path because it is also used to measure Parley's overhead.
 */

export interface FakeUpstreamOptions {
  /** Text the model "writes": the reply is this text split into chunks of `chunkSize` characters (default 'Hello from the fake upstream.' and 4). A function gets the parsed request body. */
  reply?: string | ((request: RecordedRequest) => string);
  chunkSize?: number;
  /** Delay between streamed chunks, ms (default 0). */
  chunkDelayMs?: number;
  /** Delay before the first byte of the response (headers included), ms — simulates a stall / first-token timeout. */
  firstTokenDelayMs?: number;
  /** false: never report token counts, even when asked for them, as some OpenAI-compatible servers (default true). */
  countsTokens?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** The request target as sent, query included (e.g. `/v1beta/models/m:streamGenerateContent?alt=sse`). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** true when the client closed the connection before the response ended */
  aborted: boolean;
  receivedAt: number;
}

export interface FakeUpstream {
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  url: string;
  requests: RecordedRequest[];
  /** The next `times` requests (default 1) fail with this HTTP status and a provider-shaped JSON error body (429 includes retry-after: 1). */
  failNext(status: number, times?: number): void;
  /** The next `times` streamed responses send `afterChunks` chunks, then destroy the socket. */
  dropNext(afterChunks: number, times?: number): void;
  /** Change options at runtime. */
  configure(options: Partial<FakeUpstreamOptions>): void;
  /**
   * Resolves with the next aborted request matching `match` — one already aborted but not yet handed out, or
   * the next to abort — and rejects after timeoutMs. Each aborted request is handed out once, in abort order.
   */
  waitForAbort(timeoutMs?: number, match?: (request: RecordedRequest) => boolean): Promise<RecordedRequest>;
  close(): Promise<void>;
}

export const DEFAULT_REPLY = 'Hello from the fake upstream.';
export const TOOL_TRIGGER = 'CALL_TOOL';
export const OPENAI_TOOL_CALL_ID = 'call_fake_1';
export const ANTHROPIC_TOOL_USE_ID = 'toolu_fake_1';
/** The tool call's arguments, in the pieces they are streamed in (OpenAI and Anthropic stream partial JSON). */
const TOOL_ARG_PIECES = ['{"city":', '"Paris"}'];
const TOOL_ARGS = { city: 'Paris' };
const EMBEDDING_DIMENSIONS = 8;

type Dialect = 'openai' | 'anthropic' | 'google';

/** What the model answers: a call to `tool`, or `text` (its chunks pre-escaped as JSON strings in `json`). */
interface Turn {
  tool?: string;
  text: string;
  json: string[];
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  rec: RecordedRequest;
  /** The response closed (finished, or the connection went away); stop writing. */
  closed: boolean;
  /** We broke the connection on purpose (dropNext): not a client abort. */
  dropped: boolean;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const MODELS_JSON = JSON.stringify({
  object: 'list',
  data: ['fake-model', 'fake-embedding'].map((id) => ({
    id,
    object: 'model',
    created: 1_700_000_000,
    owned_by: 'fake',
  })),
});

/** status → [OpenAI error type, OpenAI code, Anthropic error type, Google status] */
const ERROR_KINDS: Record<number, [string, string | null, string, string]> = {
  400: ['invalid_request_error', null, 'invalid_request_error', 'INVALID_ARGUMENT'],
  401: ['invalid_request_error', 'invalid_api_key', 'authentication_error', 'UNAUTHENTICATED'],
  403: ['invalid_request_error', 'unsupported_country_region_territory', 'permission_error', 'PERMISSION_DENIED'],
  404: ['invalid_request_error', 'not_found', 'not_found_error', 'NOT_FOUND'],
  429: ['requests', 'rate_limit_exceeded', 'rate_limit_error', 'RESOURCE_EXHAUSTED'],
  500: ['server_error', null, 'api_error', 'INTERNAL'],
  503: ['server_error', null, 'overloaded_error', 'UNAVAILABLE'],
  504: ['server_error', null, 'api_error', 'DEADLINE_EXCEEDED'],
  529: ['server_error', null, 'overloaded_error', 'UNAVAILABLE'],
};

const sse = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const anthropicEvent = (data: { type: string; [key: string]: unknown }) =>
  `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
// Gemini frames its SSE events with CRLF; keeping it exercises the clients' parsers as the real API does.
const geminiFrame = (data: unknown) => `data: ${JSON.stringify(data)}\r\n\r\n`;

/**
 * Serialises `shape` once around a hole, so each streamed chunk costs two string concatenations instead of a
 * JSON.stringify of the whole frame. The returned function takes the chunk already escaped as a JSON string.
 */
const HOLE = '\u0000hole\u0000';
function template<T>(render: (hole: string) => T, serialise: (frame: T) => string): (json: string) => string {
  const [pre = '', post = ''] = serialise(render(HOLE)).split(JSON.stringify(HOLE));
  return (json) => pre + json + post;
}

/** The text of a message's content in any of the three dialects (strings, part arrays, tool results). */
function textOf(value: any): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(textOf).join('');
  if (value && typeof value === 'object') return textOf(value.text ?? value.content);
  return '';
}

const tokensFor = (texts: string[]) => Math.max(1, Math.ceil(texts.reduce((n, t) => n + t.length, 0) / 4));

/** A deterministic unit vector from the text's char codes, rounded to float32 so that float and base64 agree. */
function embedText(text: string): number[] {
  const v = new Array<number>(EMBEDDING_DIMENSIONS).fill(0);
  for (let i = 0; i < text.length; i++) v[i % EMBEDDING_DIMENSIONS]! += text.charCodeAt(i) * (1 + (i % 3));
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Math.fround(x / norm));
}

function float32Base64(vector: number[]): string {
  const buf = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

/** OpenAI accepts a string, strings, a token array or token arrays. */
function embeddingInputs(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input)) return [];
  if (input.every((x) => typeof x === 'number')) return [input.join(' ')];
  return input.map((x) => (Array.isArray(x) ? x.join(' ') : String(x)));
}

function dialectOf(path: string): Dialect {
  if (path.startsWith('/v1beta/')) return 'google';
  return path === '/v1/messages' ? 'anthropic' : 'openai';
}

function errorBody(dialect: Dialect, status: number, message: string): string {
  const [type, code, anthropicType, googleStatus] =
    ERROR_KINDS[status] ??
    (status >= 500
      ? ['server_error', null, 'api_error', 'INTERNAL']
      : ['invalid_request_error', null, 'invalid_request_error', 'INVALID_ARGUMENT']);
  if (dialect === 'anthropic') return JSON.stringify({ type: 'error', error: { type: anthropicType, message } });
  if (dialect === 'google') return JSON.stringify({ error: { code: status, message, status: googleStatus } });
  return JSON.stringify({ error: { message, type, param: null, code } });
}

function sendJson(res: ServerResponse, status: number, json: string, headers?: Record<string, string>): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

function sendError(ctx: Ctx, status: number, message: string): void {
  const headers = status === 429 ? { 'retry-after': '1' } : undefined;
  sendJson(ctx.res, status, errorBody(dialectOf(ctx.req.url!.split('?')[0]!), status, message), headers);
}

/** Waits `ms`; false if the response closed meanwhile (the client went away), so the caller stops writing. */
function pause(ms: number, ctx: Ctx): Promise<boolean> {
  if (ctx.closed) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      ctx.res.off('close', onClose);
      resolve(true);
    }, ms);
    ctx.res.once('close', onClose);
  });
}

export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const opts: FakeUpstreamOptions = { ...options };
  const requests: RecordedRequest[] = [];
  const failures: number[] = [];
  const drops: number[] = [];
  const unclaimedAborts: RecordedRequest[] = [];
  const abortWaiters = new Set<{ match: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }>();
  let seq = 0;

  // One-entry memo: with a fixed reply every request reuses the same split and escaped chunks.
  let memo = { text: '', size: 0, json: [] as string[] };
  function textTurn(text: string): Turn {
    const size = Math.max(1, opts.chunkSize ?? 4);
    if (memo.text !== text || memo.size !== size) {
      const json: string[] = [];
      for (let i = 0; i < text.length; i += size) json.push(JSON.stringify(text.slice(i, i + size)));
      memo = { text, size, json };
    }
    return { text, json: memo.json };
  }

  /** The protocol-independent decision: answer a tool result, call the first tool, or write the reply. */
  function decide(
    rec: RecordedRequest,
    last: { text?: string; toolResult?: string } | undefined,
    firstTool: string | undefined,
  ): Turn {
    if (last?.toolResult !== undefined) return textTurn(`Tool said: ${last.toolResult}`);
    if (firstTool && last?.text?.includes(TOOL_TRIGGER)) return { tool: firstTool, text: '', json: [] };
    const reply = opts.reply ?? DEFAULT_REPLY;
    return textTurn(typeof reply === 'function' ? reply(rec) : reply);
  }

  const completionTokens = (turn: Turn) => (turn.tool ? TOOL_ARG_PIECES.length : turn.json.length);

  /** Streams head, then one chunk per `chunkDelayMs`, then tail; a pending dropNext cuts it after N chunks. */
  async function stream(ctx: Ctx, head: string, chunks: string[], tail: string): Promise<void> {
    const { res } = ctx;
    const drop = drops.shift();
    const delay = opts.chunkDelayMs ?? 0;
    res.writeHead(200, SSE_HEADERS);
    if (drop === undefined && delay <= 0) return void res.end(head + chunks.join('') + tail);
    res.flushHeaders();
    res.write(head);
    for (let i = 0; i < chunks.length && i !== drop; i++) {
      if (i > 0 && !(await pause(delay, ctx))) return;
      res.write(chunks[i]!);
    }
    if (drop === undefined) return void res.end(tail);
    // end() flushes what was written (it uncorks the socket) before the FIN; the chunked body never terminates,
    // so the client sees a truncated stream rather than a clean end.
    ctx.dropped = true;
    const socket = res.socket;
    socket?.end(() => socket.destroy());
  }

  function openaiChat(ctx: Ctx): void | Promise<void> {
    const body = ctx.rec.body;
    if (!Array.isArray(body?.messages)) return sendError(ctx, 400, "'messages' is a required property");
    const messages: any[] = body.messages;
    const last = messages.at(-1);
    const turn = decide(
      ctx.rec,
      last?.role === 'tool'
        ? { toolResult: textOf(last.content) }
        : last?.role === 'user'
          ? { text: textOf(last.content) }
          : undefined,
      body.tools?.[0]?.function?.name,
    );
    const prompt = tokensFor(messages.map((m) => textOf(m.content)));
    const completion = completionTokens(turn);
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    const finish = turn.tool ? 'tool_calls' : 'stop';
    const base = {
      id: `chatcmpl-fake-${++seq}`,
      object: body.stream ? 'chat.completion.chunk' : 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: String(body.model ?? 'fake-model'),
    };

    if (!body.stream) {
      const message = turn.tool
        ? {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: OPENAI_TOOL_CALL_ID,
                type: 'function',
                function: { name: turn.tool, arguments: TOOL_ARG_PIECES.join('') },
              },
            ],
          }
        : { role: 'assistant', content: turn.text, refusal: null };
      const choice = { index: 0, message, logprobs: null, finish_reason: finish };
      return sendJson(ctx.res, 200, JSON.stringify({ ...base, choices: [choice], usage }));
    }

    // With include_usage, OpenAI adds `usage: null` to every chunk and sends the totals in a last chunk
    // with empty `choices`.
    const includeUsage = body.stream_options?.include_usage === true && opts.countsTokens !== false;
    const chunk = (delta: unknown, finishReason: string | null = null) => ({
      ...base,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage && { usage: null }),
    });
    const head = sse(chunk({ role: 'assistant', content: '', refusal: null }));
    // As OpenAI does: the first tool-call delta carries id, type and name with empty arguments, later deltas
    // only argument pieces, each addressed by `index`.
    const chunks = turn.tool
      ? [
          sse(
            chunk({
              tool_calls: [
                { index: 0, id: OPENAI_TOOL_CALL_ID, type: 'function', function: { name: turn.tool, arguments: '' } },
              ],
            }),
          ),
          ...TOOL_ARG_PIECES.map((piece) => sse(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }))),
        ]
      : turn.json.map(template((hole) => chunk({ content: hole }), sse));
    const tail =
      sse(chunk({}, finish)) + (includeUsage ? sse({ ...base, choices: [], usage }) : '') + 'data: [DONE]\n\n';
    return stream(ctx, head, chunks, tail);
  }

  function openaiEmbeddings(ctx: Ctx): void {
    const body = ctx.rec.body;
    const inputs = embeddingInputs(body?.input);
    if (inputs.length === 0) return sendError(ctx, 400, "'input' is a required property");
    const base64 = body.encoding_format === 'base64';
    const data = inputs.map((text, index) => {
      const vector = embedText(text);
      return { object: 'embedding', index, embedding: base64 ? float32Base64(vector) : vector };
    });
    const tokens = tokensFor(inputs);
    const usage = { prompt_tokens: tokens, total_tokens: tokens };
    sendJson(ctx.res, 200, JSON.stringify({ object: 'list', data, model: String(body.model ?? ''), usage }));
  }

  function anthropicMessages(ctx: Ctx): void | Promise<void> {
    const body = ctx.rec.body;
    if (!Array.isArray(body?.messages)) return sendError(ctx, 400, 'messages: Field required');
    const messages: any[] = body.messages;
    const last = messages.at(-1);
    // Tool results come back inside a user message, as `tool_result` blocks.
    const result = Array.isArray(last?.content) ? last.content.find((b: any) => b?.type === 'tool_result') : undefined;
    const turn = decide(
      ctx.rec,
      last?.role !== 'user'
        ? undefined
        : result
          ? { toolResult: textOf(result.content) }
          : { text: textOf(last.content) },
      body.tools?.[0]?.name,
    );
    const input = tokensFor([textOf(body.system), ...messages.map((m) => textOf(m.content))]);
    const output = completionTokens(turn);
    const stopReason = turn.tool ? 'tool_use' : 'end_turn';
    const message = {
      id: `msg_fake_${++seq}`,
      type: 'message',
      role: 'assistant',
      model: String(body.model ?? 'fake-model'),
    };

    if (!body.stream) {
      const content = turn.tool
        ? [{ type: 'tool_use', id: ANTHROPIC_TOOL_USE_ID, name: turn.tool, input: TOOL_ARGS }]
        : [{ type: 'text', text: turn.text }];
      const full = {
        ...message,
        content,
        stop_reason: stopReason,
        stop_sequence: null,
        usage: { input_tokens: input, output_tokens: output },
      };
      return sendJson(ctx.res, 200, JSON.stringify(full));
    }

    const block = turn.tool
      ? { type: 'tool_use', id: ANTHROPIC_TOOL_USE_ID, name: turn.tool, input: {} }
      : { type: 'text', text: '' };
    const head =
      anthropicEvent({
        type: 'message_start',
        message: {
          ...message,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: input, output_tokens: 1 },
        },
      }) +
      anthropicEvent({ type: 'content_block_start', index: 0, content_block: block }) +
      anthropicEvent({ type: 'ping' });
    const delta = (d: unknown) => ({ type: 'content_block_delta', index: 0, delta: d });
    const chunks = turn.tool
      ? TOOL_ARG_PIECES.map((piece) => anthropicEvent(delta({ type: 'input_json_delta', partial_json: piece })))
      : turn.json.map(template((hole) => delta({ type: 'text_delta', text: hole }), anthropicEvent));
    const tail =
      anthropicEvent({ type: 'content_block_stop', index: 0 }) +
      anthropicEvent({
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: output },
      }) +
      anthropicEvent({ type: 'message_stop' });
    return stream(ctx, head, chunks, tail);
  }

  function geminiGenerate(ctx: Ctx, model: string, streaming: boolean): void | Promise<void> {
    const body = ctx.rec.body;
    if (!Array.isArray(body?.contents)) return sendError(ctx, 400, 'contents is not specified');
    const contents: any[] = body.contents;
    const last = contents.at(-1);
    const parts: any[] = Array.isArray(last?.parts) ? last.parts : [];
    // Tool results come back in a user turn as functionResponse parts; the AI SDK puts the text in `content`.
    const fn = parts.find((p) => p?.functionResponse)?.functionResponse;
    const response = fn?.response;
    const toolResult = fn
      ? typeof response?.content === 'string'
        ? response.content
        : JSON.stringify(response?.content ?? response)
      : undefined;
    const turn = decide(
      ctx.rec,
      (last?.role ?? 'user') !== 'user' ? undefined : fn ? { toolResult } : { text: textOf(parts) },
      body.tools?.find?.((t: any) => t?.functionDeclarations)?.functionDeclarations?.[0]?.name,
    );
    const prompt = tokensFor([textOf(body.systemInstruction?.parts), ...contents.map((c) => textOf(c?.parts))]);
    const completion = completionTokens(turn);
    const usageMetadata = {
      promptTokenCount: prompt,
      candidatesTokenCount: completion,
      totalTokenCount: prompt + completion,
    };
    const meta = { modelVersion: model, responseId: `fake-${++seq}` };
    const candidate = (partsOut: unknown[], finishReason?: string) => ({
      candidates: [{ content: { parts: partsOut, role: 'model' }, ...(finishReason && { finishReason }), index: 0 }],
    });
    const call = (name: string) => ({ functionCall: { name, args: TOOL_ARGS } });

    if (!streaming) {
      const out = candidate([turn.tool ? call(turn.tool) : { text: turn.text }], 'STOP');
      return sendJson(ctx.res, 200, JSON.stringify({ ...out, usageMetadata, ...meta }));
    }
    // Gemini sends a function call whole, in one chunk, and ends with a finishReason chunk carrying usage.
    const chunks = turn.tool
      ? [geminiFrame({ ...candidate([call(turn.tool)]), ...meta })]
      : turn.json.map(template((hole) => ({ ...candidate([{ text: hole }]), ...meta }), geminiFrame));
    const tail = geminiFrame({ ...candidate([{ text: '' }], 'STOP'), usageMetadata, ...meta });
    return stream(ctx, '', chunks, tail);
  }

  function geminiEmbed(ctx: Ctx, batch: boolean): void {
    const body = ctx.rec.body;
    if (batch) {
      if (!Array.isArray(body?.requests)) return sendError(ctx, 400, 'requests is not specified');
      const embeddings = body.requests.map((r: any) => ({ values: embedText(textOf(r?.content?.parts)) }));
      return sendJson(ctx.res, 200, JSON.stringify({ embeddings }));
    }
    if (!body?.content) return sendError(ctx, 400, 'content is not specified');
    sendJson(ctx.res, 200, JSON.stringify({ embedding: { values: embedText(textOf(body.content.parts)) } }));
  }

  function route(ctx: Ctx, path: string): void | Promise<void> {
    switch (`${ctx.req.method} ${path}`) {
      case 'POST /v1/chat/completions':
        return openaiChat(ctx);
      case 'GET /v1/models':
        return sendJson(ctx.res, 200, MODELS_JSON);
      case 'POST /v1/embeddings':
        return openaiEmbeddings(ctx);
      case 'POST /v1/messages':
        return anthropicMessages(ctx);
    }
    const gemini = ctx.req.method === 'POST' && /^\/v1beta\/models\/([^/:]+):(\w+)$/.exec(path);
    if (gemini) {
      const [, model = '', action] = gemini;
      if (action === 'generateContent') return geminiGenerate(ctx, model, false);
      if (action === 'streamGenerateContent') return geminiGenerate(ctx, model, true);
      if (action === 'embedContent') return geminiEmbed(ctx, false);
      if (action === 'batchEmbedContents') return geminiEmbed(ctx, true);
    }
    sendError(ctx, 404, `Unknown endpoint: ${ctx.req.method} ${path}`);
  }

  function onAbort(rec: RecordedRequest): void {
    rec.aborted = true;
    for (const waiter of abortWaiters) {
      if (waiter.match(rec)) return waiter.resolve(rec);
    }
    unclaimedAborts.push(rec);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    try {
      for await (const part of req) parts.push(part as Buffer);
    } catch {
      return; // the client went away mid-body
    }
    const raw = Buffer.concat(parts).toString('utf8');
    let body: any = raw || undefined;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      // Kept as text: a malformed body is recorded as sent and answered with a 400 by the endpoint.
    }
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      body,
      aborted: false,
      receivedAt: Date.now(),
    };
    requests.push(rec);
    const ctx: Ctx = { req, res, rec, closed: false, dropped: false };
    res.once('close', () => {
      ctx.closed = true;
      if (!res.writableFinished && !ctx.dropped) onAbort(rec);
    });

    const failure = failures.shift();
    if (opts.firstTokenDelayMs && !(await pause(opts.firstTokenDelayMs, ctx))) return;
    if (failure !== undefined) {
      const message = failure === 429 ? 'Rate limit reached (fake upstream)' : `Fake upstream failure ${failure}`;
      return sendError(ctx, failure, message);
    }
    await route(ctx, rec.path.split('?')[0]!);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, JSON.stringify({ error: { message: String(err) } }));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(status, times = 1) {
      for (let i = 0; i < times; i++) failures.push(status);
    },
    dropNext(afterChunks, times = 1) {
      for (let i = 0; i < times; i++) drops.push(afterChunks);
    },
    configure(changes) {
      Object.assign(opts, changes);
    },
    waitForAbort(timeoutMs = 5000, match = () => true) {
      const index = unclaimedAborts.findIndex(match);
      if (index >= 0) return Promise.resolve(unclaimedAborts.splice(index, 1)[0]!);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (rec: RecordedRequest) => {
            abortWaiters.delete(waiter);
            clearTimeout(timer);
            resolve(rec);
          },
        };
        const timer = setTimeout(() => {
          abortWaiters.delete(waiter);
          reject(new Error(`fake upstream: no aborted request within ${timeoutMs} ms`));
        }, timeoutMs);
        abortWaiters.add(waiter);
      });
    },
    async close() {
      // Idle keep-alive connections would otherwise hold close() open for the keep-alive timeout.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
