import type {
  EmbeddingModelV3,
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3FinishReason,
  LanguageModelV3Message,
  LanguageModelV3StreamPart,
} from '@ai-sdk/provider';
import {
  UpstreamError,
  type ChatDelta,
  type ChatMessage,
  type ChatRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type FinishReason,
  type ModelInfo,
} from '../../core/chat-model.js';
import type { Provider, ProviderKind } from './provider.js';

/** What an AI SDK provider package offers for one upstream and key. */
export interface SdkModels {
  language(modelId: string): LanguageModelV3;
  embedding?(modelId: string): EmbeddingModelV3;
  listModels(signal: AbortSignal): Promise<ModelInfo[]>;
}

/**
 * A provider on top of an AI SDK model (Anthropic, Google). It calls the model's `doStream` directly — the SDK's
 * provider layer (wire format, auth, SSE parsing) without `streamText`'s retries and bookkeeping,
 * which routing does itself.
 */
export function sdkProvider(kind: ProviderKind, models: SdkModels): Provider {
  // A model instance builds its response schemas when created: make each once, not per request.
  const languageModels = new Map<string, LanguageModelV3>();
  const language = (id: string) => {
    let model = languageModels.get(id);
    if (!model) languageModels.set(id, (model = models.language(id)));
    return model;
  };
  return {
    kind,
    chat: (request, signal) => streamChat(language(request.model), request, signal),
    async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
      if (!models.embedding) throw new UpstreamError(`${kind} upstreams do not serve embeddings`, false, 400);
      try {
        const result = await models.embedding(request.model).doEmbed({ values: request.input, abortSignal: signal });
        return { embeddings: result.embeddings, promptTokens: result.usage?.tokens };
      } catch (err) {
        throw classify(err, signal);
      }
    },
    listModels: (signal) => models.listModels(signal),
  };
}

async function* streamChat(
  model: LanguageModelV3,
  request: ChatRequest,
  signal: AbortSignal,
): AsyncIterable<ChatDelta> {
  let stream: ReadableStream<LanguageModelV3StreamPart>;
  try {
    ({ stream } = await model.doStream(callOptions(request, signal)));
  } catch (err) {
    throw classify(err, signal);
  }
  const toolIndex = new Map<string, number>();
  const reader = stream.getReader();
  // The SDK's stream does not always end when the fetch is aborted; cancelling the reader settles
  // a pending read at once, so an abort (client gone, upstream silent) is never left hanging.
  const cancel = () => void reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (err) {
        throw classify(err, signal);
      }
      if (next.done) {
        if (signal.aborted) throw signal.reason;
        return;
      }
      const part = next.value;
      switch (part.type) {
        case 'text-delta':
          if (part.delta) yield { type: 'text', text: part.delta };
          break;
        case 'tool-input-start':
          toolIndex.set(part.id, toolIndex.size);
          yield { type: 'tool-call', index: toolIndex.get(part.id)!, id: part.id, name: part.toolName, arguments: '' };
          break;
        case 'tool-input-delta':
          yield { type: 'tool-call', index: toolIndex.get(part.id) ?? 0, arguments: part.delta };
          break;
        case 'tool-call':
          // Providers that do not stream tool input send the whole call at once.
          if (!toolIndex.has(part.toolCallId)) {
            toolIndex.set(part.toolCallId, toolIndex.size);
            yield {
              type: 'tool-call',
              index: toolIndex.get(part.toolCallId)!,
              id: part.toolCallId,
              name: part.toolName,
              arguments: part.input,
            };
          }
          break;
        case 'finish':
          yield {
            type: 'finish',
            reason: finishReason(part.finishReason),
            usage: {
              promptTokens: part.usage.inputTokens.total ?? 0,
              completionTokens: part.usage.outputTokens.total ?? 0,
            },
          };
          return;
        case 'error':
          throw classify(part.error, signal);
      }
    }
  } finally {
    signal.removeEventListener('abort', cancel);
    // Stops reading the upstream response when the consumer stops early (a client went away).
    reader.cancel().catch(() => {});
  }
}

function callOptions(request: ChatRequest, signal: AbortSignal): LanguageModelV3CallOptions {
  const { responseFormat, toolChoice } = request;
  return {
    prompt: toPrompt(request.messages),
    abortSignal: signal,
    maxOutputTokens: request.maxTokens,
    temperature: request.temperature,
    topP: request.topP,
    stopSequences: request.stop,
    seed: request.seed,
    presencePenalty: request.presencePenalty,
    frequencyPenalty: request.frequencyPenalty,
    responseFormat:
      responseFormat && responseFormat.type !== 'text'
        ? {
            type: 'json',
            ...(responseFormat.type === 'json_schema' && { schema: responseFormat.schema, name: responseFormat.name }),
          }
        : undefined,
    tools: request.tools?.map((t) => ({
      type: 'function' as const,
      name: t.name,
      description: t.description,
      inputSchema: t.parameters,
    })),
    toolChoice:
      toolChoice === undefined
        ? undefined
        : typeof toolChoice === 'string'
          ? { type: toolChoice }
          : { type: 'tool', toolName: toolChoice.name },
  };
}

function toPrompt(messages: ChatMessage[]): LanguageModelV3Message[] {
  const toolNames = new Map<string, string>();
  return messages.map((message): LanguageModelV3Message => {
    switch (message.role) {
      case 'system':
        return { role: 'system', content: message.content };
      case 'user':
        return {
          role: 'user',
          content:
            typeof message.content === 'string'
              ? [{ type: 'text', text: message.content }]
              : message.content.map((part) =>
                  part.type === 'text' ? { type: 'text', text: part.text } : { type: 'file', ...imageData(part.url) },
                ),
        };
      case 'assistant':
        for (const call of message.toolCalls ?? []) toolNames.set(call.id, call.name);
        return {
          role: 'assistant',
          content: [
            ...(message.content ? [{ type: 'text' as const, text: message.content }] : []),
            ...(message.toolCalls ?? []).map((call) => ({
              type: 'tool-call' as const,
              toolCallId: call.id,
              toolName: call.name,
              input: parseArguments(call.arguments),
            })),
          ],
        };
      case 'tool':
        return {
          role: 'tool',
          content: [
            {
              type: 'tool-result',
              toolCallId: message.toolCallId,
              toolName: toolNames.get(message.toolCallId) ?? 'unknown',
              output: { type: 'text', value: message.content },
            },
          ],
        };
    }
  });
}

/** Data URLs become bytes with their media type; other URLs are passed for the upstream to fetch. */
function imageData(url: string): { data: Uint8Array | URL; mediaType: string } {
  const match = /^data:([^;,]+)(;base64)?,(.*)$/s.exec(url);
  if (!match) return { data: new URL(url), mediaType: 'image/*' };
  const [, mediaType, base64, body] = match;
  return {
    data: base64 ? Buffer.from(body!, 'base64') : Buffer.from(decodeURIComponent(body!)),
    mediaType: mediaType!,
  };
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function finishReason(reason: LanguageModelV3FinishReason): FinishReason {
  switch (reason.unified) {
    case 'length':
      return 'length';
    case 'tool-calls':
      return 'tool_calls';
    case 'content-filter':
      return 'content_filter';
    case 'error':
      return 'error';
    default:
      return 'stop';
  }
}

/**
 * Upstream failures in routing terms. Rate limits, server errors, timeouts and broken connections
 * are worth another channel; other 4xx answers mean the request itself is wrong.
 */
export function classify(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted || err instanceof UpstreamError) return err;
  const status = (err as { statusCode?: number }).statusCode;
  const message = (err as Error)?.message ?? String(err);
  // A status below 400 here means a response that broke after it began (a dropped connection).
  if (typeof status === 'number' && status >= 400) {
    const retryable = status === 408 || status === 429 || status >= 500;
    return new UpstreamError(upstreamMessage(err, message), retryable, status, { cause: err });
  }
  return new UpstreamError(`Upstream unreachable: ${message}`, true, undefined, { cause: err });
}

/** The upstream's own error message when its body has one, so that callers see why a request was refused. */
function upstreamMessage(err: unknown, fallback: string): string {
  const body = (err as { responseBody?: string }).responseBody;
  if (!body) return fallback;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } | string; message?: string };
    const message = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.message);
    return message ?? fallback;
  } catch {
    return fallback;
  }
}
