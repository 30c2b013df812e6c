import { StringDecoder } from 'node:string_decoder';
import { Pool } from 'undici';
import {
  UpstreamError,
  type ChatDelta,
  type ChatMessage,
  type ChatRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type FinishReason,
  type ModelInfo,
  type RelayBatch,
  type RelayOptions,
  type TokenUsage,
} from '../../core/chat-model.js';
import { undescribedModel, type Provider, type ProviderKind } from './provider.js';
import { UpstreamExchange } from './upstream-exchange.js';

const ENDPOINTS = ['chat/completions', 'embeddings', 'models'] as const;
type Endpoint = (typeof ENDPOINTS)[number];

/**
 * A provider for upstreams that speak OpenAI's wire format (OpenAI, vLLM, llama.cpp server,
 * LM Studio, OpenRouter, Groq, Ollama's /v1 …), talking to them directly rather than through the
 * AI SDK: measured, the SDK spends ~40 µs of CPU per streamed chunk (schema validation, web
 * streams), a gateway's whole budget. Here a chunk costs one JSON.parse, on a pooled keep-alive
 * connection.
 */
export function openAiWireProvider(options: {
  kind: ProviderKind;
  /** The API root, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  apiKey: string;
  /** Extra headers for every call. */
  headers?: Record<string, string>;
}): Provider {
  const root = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  const pool = new Pool(root.origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  // Resolved once: a URL per request costs more than the rest of the request's set-up.
  const paths = Object.fromEntries(ENDPOINTS.map((e) => [e, new URL(e, root).pathname])) as Record<Endpoint, string>;

  async function call(method: 'GET' | 'POST', endpoint: Endpoint, body: unknown, signal: AbortSignal) {
    let response: UpstreamExchange;
    try {
      response = await UpstreamExchange.send(
        pool,
        { method, path: paths[endpoint], headers, body: body === undefined ? undefined : JSON.stringify(body) },
        signal,
      );
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new UpstreamError(`Upstream unreachable: ${(err as Error).message}`, true, undefined, { cause: err });
    }
    if (response.statusCode >= 400) throw await statusError(response);
    return response;
  }

  async function* chatBatches(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatDelta[]> {
    const stream = request.stream !== false;
    const response = await call('POST', 'chat/completions', wireBody(request, stream), signal);
    if (!stream) {
      yield [...fromCompletion((await response.json()) as WireCompletion)];
      return;
    }
    yield* streamed(response, signal, fromEventStream);
  }

  async function* relay(request: ChatRequest, signal: AbortSignal, options: RelayOptions): AsyncGenerator<RelayBatch> {
    const response = await call('POST', 'chat/completions', wireBody(request, true), signal);
    yield* streamed(response, signal, (body) => relayEventStream(body, signal, options));
  }

  /** What `read` makes of a streamed response, its failures as upstream errors. */
  async function* streamed<T>(
    response: UpstreamExchange,
    signal: AbortSignal,
    read: (body: AsyncIterable<Buffer>, signal: AbortSignal) => AsyncGenerator<T>,
  ): AsyncGenerator<T> {
    try {
      yield* read(response, signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof UpstreamError) throw err;
      throw new UpstreamError(`The upstream stream broke: ${(err as Error).message}`, true, undefined, {
        cause: err,
      });
    } finally {
      // A consumer that stops early (a client gone) must not leave the upstream response open.
      response.give();
    }
  }

  return {
    kind: options.kind,

    chatBatches,

    relay,

    async *chat(request, signal) {
      for await (const batch of chatBatches(request, signal)) yield* batch;
    },

    async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
      const body = {
        model: request.model,
        input: request.input,
        encoding_format: 'float',
        dimensions: request.dimensions,
      };
      const response = await call('POST', 'embeddings', body, signal);
      const result = (await response.json()) as {
        data: { index: number; embedding: number[] }[];
        usage?: { prompt_tokens?: number };
      };
      const embeddings = [...result.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      return { embeddings, promptTokens: result.usage?.prompt_tokens };
    },

    async listModels(signal: AbortSignal): Promise<ModelInfo[]> {
      const response = await call('GET', 'models', undefined, signal);
      const list = (await response.json()) as { data?: { id: string }[] };
      return (list.data ?? []).map((m) => undescribedModel(m.id, options.kind));
    },

    close: () => pool.close(),
  };
}

function wireBody(request: ChatRequest, stream: boolean) {
  const { toolChoice, responseFormat } = request;
  return {
    model: request.model,
    messages: request.messages.map(wireMessage),
    stream,
    ...(stream && { stream_options: { include_usage: true } }),
    ...(request.tools?.length && {
      tools: request.tools.map((t) => ({
        type: 'function',
        function: { name: t.name, description: t.description, parameters: t.parameters },
      })),
    }),
    ...(toolChoice !== undefined && {
      tool_choice:
        typeof toolChoice === 'string' ? toolChoice : { type: 'function', function: { name: toolChoice.name } },
    }),
    temperature: request.temperature,
    top_p: request.topP,
    max_tokens: request.maxTokens,
    stop: request.stop,
    seed: request.seed,
    presence_penalty: request.presencePenalty,
    frequency_penalty: request.frequencyPenalty,
    ...(responseFormat && {
      response_format:
        responseFormat.type === 'json_schema'
          ? {
              type: 'json_schema',
              json_schema: { name: responseFormat.name ?? 'response', schema: responseFormat.schema },
            }
          : responseFormat,
    }),
  };
}

function wireMessage(message: ChatMessage) {
  switch (message.role) {
    case 'system':
      return message;
    case 'user':
      return {
        role: 'user',
        ...(message.name && { name: message.name }),
        content:
          typeof message.content === 'string'
            ? message.content
            : message.content.map((p) =>
                p.type === 'text'
                  ? p
                  : { type: 'image_url', image_url: { url: p.url, ...(p.detail && { detail: p.detail }) } },
              ),
      };
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.toolCalls?.length && {
          tool_calls: message.toolCalls.map((c) => ({
            id: c.id,
            type: 'function',
            function: { name: c.name, arguments: c.arguments },
          })),
        }),
      };
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
  }
}

interface WireToolCall {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}
interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
}
interface WireChunk {
  model?: string;
  choices?: {
    delta?: {
      role?: string;
      content?: string | null;
      reasoning_content?: string | null;
      reasoning?: string | null;
      tool_calls?: WireToolCall[];
    };
    finish_reason?: string | null;
  }[];
  usage?: WireUsage | null;
  error?: { message?: string };
}
interface WireCompletion {
  choices?: { message?: { content?: string | null; tool_calls?: WireToolCall[] }; finish_reason?: string | null }[];
  usage?: WireUsage;
}

/** Parses `data:` events as they arrive; the deltas of one upstream read (often many) make one batch. */
async function* fromEventStream(body: AsyncIterable<Buffer>, signal: AbortSignal): AsyncGenerator<ChatDelta[]> {
  // Decoded read by read; a character split across two reads is held back until it is whole.
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let reason: FinishReason | undefined;
  let usage: TokenUsage | undefined;
  let done = false;
  for await (const bytes of readsUntil(body, () => done)) {
    const batch: ChatDelta[] = [];
    const text = decoder.write(bytes);
    const buffer = carry ? carry + text : text;
    // Lines are cut out by index; only the unfinished last line is carried to the next read.
    let start = 0;
    let end: number;
    while ((end = buffer.indexOf('\n', start)) !== -1) {
      const lineEnd = buffer.charCodeAt(end - 1) === 13 ? end - 1 : end;
      const lineStart = start;
      start = end + 1;
      if (!buffer.startsWith('data:', lineStart)) continue;
      const dataStart = buffer.charCodeAt(lineStart + 5) === 32 ? lineStart + 6 : lineStart + 5;
      if (lineEnd - dataStart === 6 && buffer.startsWith('[DONE]', dataStart)) {
        batch.push({ type: 'finish', reason: reason ?? 'stop', usage });
        done = true;
        break;
      }
      const chunk = JSON.parse(buffer.slice(dataStart, lineEnd)) as WireChunk;
      if (chunk.error) throw new UpstreamError(chunk.error.message ?? 'The upstream reported an error', true);
      const choice = chunk.choices?.[0];
      if (choice) {
        const delta = choice.delta;
        if (delta?.content) batch.push({ type: 'text', text: delta.content });
        if (delta?.tool_calls) for (const call of delta.tool_calls) batch.push(toolCallDelta(call));
        if (choice.finish_reason) reason = finishReason(choice.finish_reason);
      }
      if (chunk.usage) usage = tokenUsage(chunk.usage);
    }
    carry = start < buffer.length ? buffer.slice(start) : '';
    if (batch.length) yield batch;
  }
  if (done) return;
  if (signal.aborted) throw signal.reason;
  // Some servers end without [DONE]; a finish reason means the answer was complete.
  if (reason) {
    yield [{ type: 'finish', reason, usage }];
    return;
  }
  throw new UpstreamError('The upstream ended its stream before finishing the answer', true);
}

/**
 * Relays an event stream read by read: the whole events of each read leave together, scanned rather
 * than parsed for what Parley must know or change — an error, the usage chunk, the finish, the
 * answer's text, the model's name — and otherwise as the upstream wrote them. Events before the
 * first token are parsed and held back, so that routing may still fail over until then; a role
 * chunk is added when the upstream sends none, as OpenAI's clients need one.
 */
async function* relayEventStream(
  body: AsyncIterable<Buffer>,
  signal: AbortSignal,
  options: RelayOptions,
): AsyncGenerator<RelayBatch> {
  let held = '';
  let started = false;
  let renamed: ((text: string) => string) | undefined;
  const state = { finished: false };
  let done = false;
  for await (const events of wholeEvents(readsUntil(body, () => done))) {
    // Only a last line without its blank line can still come: it follows [DONE], and goes.
    if (done) continue;
    let text = held + events;
    let head = '';
    if (!started) {
      const first = firstToken(text);
      if (!first) {
        held = text;
        continue;
      }
      held = '';
      started = true;
      renamed = renaming(text, first.chunk?.model, options.model);
      if (!first.role) head = roleEvent(first.chunk, options.model);
    }
    const batch = scan(text, options, state);
    text = renamed ? renamed(batch.text) : batch.text;
    done = batch.done === true;
    yield { ...batch, text: head + text };
  }
  if (done) return;
  if (signal.aborted) throw signal.reason;
  // As for deltas: an answer that ends without [DONE] but with a finish reason is complete.
  if (state.finished) {
    yield { text: DONE_EVENT, completion: () => '', done: true };
    return;
  }
  throw new UpstreamError('The upstream ended its stream before finishing the answer', true);
}

/**
 * The reads of a response body until the answer is whole, then the rest of the body read and
 * dropped: a response read to its end frees its connection for the next request, where one given
 * up would be closed. A failure meanwhile (an upstream that never ends, stopped by routing's idle
 * watch) is no failure of the answer.
 */
async function* readsUntil(body: AsyncIterable<Buffer>, whole: () => boolean): AsyncGenerator<Buffer> {
  try {
    for await (const bytes of body) if (!whole()) yield bytes;
  } catch (err) {
    if (!whole()) throw err;
  }
}

const DONE_EVENT = 'data: [DONE]\n\n';
const LF = 10;
const CR = 13;

/** The events of each read that are whole, and at the end a last one whose blank line never came. */
async function* wholeEvents(body: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const bytes of body) {
    const text = carry + decoder.write(bytes);
    const end = lastEventEnd(text);
    carry = text.slice(end);
    if (end) yield text.slice(0, end);
  }
  if (carry.endsWith('\n')) yield `${carry}\n`;
}

/**
 * Event boundaries (a blank line, LF or CRLF) are found from newline to newline: an event holds a
 * line or two, so a boundary is always near, where searching for one kind of blank line would cross
 * the whole text when the stream uses the other.
 */
function isBlankLineAt(text: string, newline: number): boolean {
  const before = text.charCodeAt(newline - 1);
  return before === LF || (before === CR && text.charCodeAt(newline - 2) === LF);
}

/** Where the last whole event ends; 0 when none has. */
function lastEventEnd(text: string): number {
  for (let i = text.lastIndexOf('\n'); i > 0; i = text.lastIndexOf('\n', i - 1)) {
    if (isBlankLineAt(text, i)) return i + 1;
  }
  return 0;
}

/** Where the event that holds `at` ends, its blank line included. */
function eventEnd(text: string, at: number): number {
  for (let i = text.indexOf('\n', at); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (isBlankLineAt(text, i)) return i + 1;
  }
  return text.length;
}

/** Where the event that holds `at` begins. */
function eventStart(text: string, at: number): number {
  for (let i = text.lastIndexOf('\n', at); i > 0; i = text.lastIndexOf('\n', i - 1)) {
    if (isBlankLineAt(text, i)) return i + 1;
  }
  return 0;
}

/** The data of one event (its `data:` lines), if it has any. */
function eventData(event: string): string | undefined {
  let data: string | undefined;
  for (const raw of event.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('data:')) continue;
    const value = line.slice(line.charCodeAt(5) === 32 ? 6 : 5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

/**
 * Parses events up to the first that carries a token (text, reasoning, a tool call, a finish, or the
 * end); undefined when none does yet. Says whether a role came with them.
 */
function firstToken(text: string): { chunk?: WireChunk; role: boolean } | undefined {
  let chunk: WireChunk | undefined;
  let role = false;
  for (let start = 0; start < text.length;) {
    const end = eventEnd(text, start);
    const data = eventData(text.slice(start, end));
    start = end;
    if (data === undefined) continue;
    if (data === '[DONE]') return { chunk, role };
    chunk = JSON.parse(data) as WireChunk;
    if (chunk.error) throw new UpstreamError(chunk.error.message ?? 'The upstream reported an error', true);
    const choice = chunk.choices?.[0];
    const delta = choice?.delta;
    if (delta?.role) role = true;
    if (delta?.content || delta?.reasoning_content || delta?.reasoning || delta?.tool_calls || choice?.finish_reason)
      return { chunk, role };
  }
  return undefined;
}

/** Renames the model in every event when the upstream names it otherwise than the caller did. */
function renaming(text: string, upstream: string | undefined, model: string): ((text: string) => string) | undefined {
  if (upstream === undefined || upstream === model) return undefined;
  const value = JSON.stringify(upstream);
  const written = [`"model":${value}`, `"model": ${value}`].find((field) => text.includes(field));
  if (!written) return undefined;
  const wanted = `"model":${JSON.stringify(model)}`;
  return (events) => events.replaceAll(written, wanted);
}

function roleEvent(chunk: WireChunk | undefined, model: string): string {
  const choices = [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }];
  return `data: ${JSON.stringify({ ...chunk, model, choices, usage: undefined })}\n\n`;
}

// A quoted name followed by a colon can only be a key: quotes inside JSON strings are escaped.
const ERROR = /"error"\s*:(?!\s*null)/g;
const USAGE = /"usage"\s*:\s*\{/g;
const CONTENT = /"content"\s*:\s*"((?:[^"\\]|\\.)*)"/g;
const FINISH = '"finish_reason"';

/**
 * The events of `text` up to [DONE], checked and changed as `relayEventStream` says. Each thing
 * looked for costs a pass over the text, so each is looked for in the cheapest way that is sure:
 * regular expressions with a literal head, and the finish only in the last chunk that has one.
 */
function scan(text: string, options: RelayOptions, state: { finished: boolean }): RelayBatch {
  let done = false;
  for (let at = text.indexOf('[DONE]'); at !== -1; at = text.indexOf('[DONE]', at + 6)) {
    const end = eventEnd(text, at);
    if (eventData(text.slice(eventStart(text, at), end)) !== '[DONE]') continue;
    text = text.slice(0, end);
    done = true;
    break;
  }
  for (const { index } of text.matchAll(ERROR)) {
    const chunk = parseEvent(text, index);
    if (chunk.error) throw new UpstreamError(chunk.error.message ?? 'The upstream reported an error', true);
  }
  let usage: TokenUsage | undefined;
  // From the last, so that a change leaves the places of the others as they were.
  for (const at of [...text.matchAll(USAGE)].map((match) => match.index).reverse()) {
    const { usage: counts, ...chunk } = parseEvent(text, at);
    if (counts) usage ??= tokenUsage(counts);
    if (options.includeUsage) continue;
    // Not asked for: a chunk of usage alone goes, one that also carries choices loses its usage.
    const kept = chunk.choices?.length ? `data: ${JSON.stringify({ ...chunk, model: options.model })}\n\n` : '';
    text = text.slice(0, eventStart(text, at)) + kept + text.slice(eventEnd(text, at));
  }
  // Chunks come in order, and one with a finish reason is the last with choices.
  const finish = text.lastIndexOf(FINISH);
  if (finish !== -1 && text.charCodeAt(valueAt(text, finish + FINISH.length)) === QUOTE) state.finished = true;
  return { text, completion: () => contentOf(text), usage, done };
}

const QUOTE = 34;

/** The answer's text in the chunks of `text`: every string value of a `content` key, in order. */
function contentOf(text: string): string {
  let completion = '';
  for (const [, piece] of text.matchAll(CONTENT)) {
    if (piece) completion += piece.includes('\\') ? (JSON.parse(`"${piece}"`) as string) : piece;
  }
  return completion;
}

/** Where the value after a key that ends at `at` begins: past the colon and any white space. */
function valueAt(text: string, at: number): number {
  const value = /^\s*:\s*/.exec(text.slice(at, at + 16));
  return value ? at + value[0].length : -1;
}

function parseEvent(text: string, at: number): WireChunk {
  return JSON.parse(eventData(text.slice(eventStart(text, at), eventEnd(text, at))) ?? '{}') as WireChunk;
}

function tokenUsage(usage: WireUsage): TokenUsage {
  return { promptTokens: usage.prompt_tokens ?? 0, completionTokens: usage.completion_tokens ?? 0 };
}

function* fromCompletion(completion: WireCompletion): Generator<ChatDelta> {
  const choice = completion.choices?.[0];
  const message = choice?.message;
  if (message?.content) yield { type: 'text', text: message.content };
  for (const call of message?.tool_calls ?? []) yield toolCallDelta(call);
  const usage = completion.usage;
  yield {
    type: 'finish',
    reason: finishReason(choice?.finish_reason ?? 'stop'),
    usage: usage && tokenUsage(usage),
  };
}

function toolCallDelta(call: WireToolCall): ChatDelta {
  return {
    type: 'tool-call',
    index: call.index ?? 0,
    ...(call.id && { id: call.id }),
    ...(call.function?.name && { name: call.function.name }),
    arguments: call.function?.arguments ?? '',
  };
}

function finishReason(reason: string): FinishReason {
  return reason === 'length' || reason === 'tool_calls' || reason === 'content_filter'
    ? reason
    : reason === 'function_call'
      ? 'tool_calls'
      : 'stop';
}

async function statusError(response: UpstreamExchange): Promise<UpstreamError> {
  const status = response.statusCode;
  const text = await response.text().catch(() => '');
  let message = `The upstream answered ${status}`;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    message = (typeof parsed.error === 'string' ? parsed.error : parsed.error?.message) ?? parsed.message ?? message;
  } catch {
    if (text) message = `${message}: ${text.slice(0, 200)}`;
  }
  return new UpstreamError(message, status === 408 || status === 429 || status >= 500, status);
}
