import { StringDecoder } from 'node:string_decoder';
import { Pool, type Dispatcher } from 'undici';
import {
  UpstreamError,
  type ChatDelta,
  type ChatMessage,
  type ChatRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type FinishReason,
  type ModelInfo,
  type TokenUsage,
} from '../../core/chat-model.js';
import { undescribedModel, type Provider, type ProviderKind } from './provider.js';

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
  const path = (endpoint: string) => new URL(endpoint, root).pathname;

  async function call(method: 'GET' | 'POST', endpoint: string, body: unknown, signal: AbortSignal) {
    let response: Dispatcher.ResponseData;
    try {
      response = await pool.request({
        method,
        path: path(endpoint),
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
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
      yield [...fromCompletion((await response.body.json()) as WireCompletion)];
      return;
    }
    try {
      yield* fromEventStream(response.body, signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof UpstreamError) throw err;
      throw new UpstreamError(`The upstream stream broke: ${(err as Error).message}`, true, undefined, {
        cause: err,
      });
    } finally {
      // A consumer that stops early (a client gone) must not leave the upstream response open.
      if (!response.body.readableEnded) response.body.destroy();
    }
  }

  return {
    kind: options.kind,

    chatBatches,

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
      const result = (await response.body.json()) as {
        data: { index: number; embedding: number[] }[];
        usage?: { prompt_tokens?: number };
      };
      const embeddings = [...result.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      return { embeddings, promptTokens: result.usage?.prompt_tokens };
    },

    async listModels(signal: AbortSignal): Promise<ModelInfo[]> {
      const response = await call('GET', 'models', undefined, signal);
      const list = (await response.body.json()) as { data?: { id: string }[] };
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
  choices?: { delta?: { content?: string | null; tool_calls?: WireToolCall[] }; finish_reason?: string | null }[];
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
  for await (const bytes of body) {
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
        yield batch;
        return;
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
      if (chunk.usage)
        usage = { promptTokens: chunk.usage.prompt_tokens ?? 0, completionTokens: chunk.usage.completion_tokens ?? 0 };
    }
    carry = start < buffer.length ? buffer.slice(start) : '';
    if (batch.length) yield batch;
  }
  if (signal.aborted) throw signal.reason;
  // Some servers end without [DONE]; a finish reason means the answer was complete.
  if (reason) {
    yield [{ type: 'finish', reason, usage }];
    return;
  }
  throw new UpstreamError('The upstream ended its stream before finishing the answer', true);
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
    usage: usage && { promptTokens: usage.prompt_tokens ?? 0, completionTokens: usage.completion_tokens ?? 0 },
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

async function statusError(response: Dispatcher.ResponseData): Promise<UpstreamError> {
  const status = response.statusCode;
  const text = await response.body.text().catch(() => '');
  let message = `The upstream answered ${status}`;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    message = (typeof parsed.error === 'string' ? parsed.error : parsed.error?.message) ?? parsed.message ?? message;
  } catch {
    if (text) message = `${message}: ${text.slice(0, 200)}`;
  }
  return new UpstreamError(message, status === 408 || status === 429 || status >= 500, status);
}
