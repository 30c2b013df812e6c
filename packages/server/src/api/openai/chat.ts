import type {
  ChatDelta,
  ChatMessage,
  ChatRequest,
  ContentPart,
  FinishReason,
  TokenUsage,
  ToolCall,
} from '../../core/chat-model.js';
import type { ChatCompletionBody, ChatMessage as WireMessage } from './schemas.js';

/** OpenAI's request body in the core's terms. */
export function toChatRequest(body: ChatCompletionBody): ChatRequest {
  const choice = body.tool_choice;
  const format = body.response_format;
  return {
    model: body.model,
    stream: body.stream === true,
    messages: body.messages.map(toMessage),
    tools: body.tools?.map((t) => ({
      name: t.function.name,
      description: t.function.description,
      parameters: t.function.parameters ?? { type: 'object', properties: {} },
    })),
    toolChoice: choice === undefined ? undefined : typeof choice === 'string' ? choice : { name: choice.function.name },
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    stop: typeof body.stop === 'string' ? [body.stop] : (body.stop ?? undefined),
    seed: body.seed ?? undefined,
    presencePenalty: body.presence_penalty ?? undefined,
    frequencyPenalty: body.frequency_penalty ?? undefined,
    responseFormat:
      format?.type === 'json_schema'
        ? { type: 'json_schema', schema: format.json_schema.schema ?? {}, name: format.json_schema.name }
        : format,
  };
}

function text(content: string | { text: string }[]): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

function toMessage(message: WireMessage): ChatMessage {
  switch (message.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: text(message.content) };
    case 'user':
      return {
        role: 'user',
        name: message.name,
        content:
          typeof message.content === 'string'
            ? message.content
            : message.content.map((part): ContentPart =>
                part.type === 'text'
                  ? { type: 'text', text: part.text }
                  : { type: 'image', url: part.image_url.url, detail: part.image_url.detail },
              ),
      };
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content == null ? null : text(message.content),
        toolCalls: message.tool_calls?.map((c) => ({
          id: c.id,
          name: c.function.name,
          arguments: c.function.arguments,
        })),
      };
    case 'tool':
      return { role: 'tool', toolCallId: message.tool_call_id, content: text(message.content) };
  }
}

const usageBody = (usage: TokenUsage) => ({
  prompt_tokens: usage.promptTokens,
  completion_tokens: usage.completionTokens,
  total_tokens: usage.promptTokens + usage.completionTokens,
});

/** Collects a streamed answer into one `chat.completion` object. */
export async function collectCompletion(
  batches: AsyncIterable<ChatDelta[]>,
  meta: { id: string; created: number; model: string },
) {
  let content = '';
  const toolCalls: ToolCall[] = [];
  let finishReason: FinishReason = 'stop';
  let usage: TokenUsage = { promptTokens: 0, completionTokens: 0 };
  for await (const batch of batches) {
    for (const delta of batch) {
      if (delta.type === 'text') content += delta.text;
      else if (delta.type === 'tool-call') {
        const call = (toolCalls[delta.index] ??= { id: '', name: '', arguments: '' });
        if (delta.id) call.id = delta.id;
        if (delta.name) call.name = delta.name;
        call.arguments += delta.arguments;
      } else {
        finishReason = delta.reason;
        if (delta.usage) usage = delta.usage;
      }
    }
  }
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: content || (toolCalls.length ? null : ''),
          refusal: null,
          ...(toolCalls.length && {
            tool_calls: toolCalls.map((c) => ({
              id: c.id,
              type: 'function',
              function: { name: c.name, arguments: c.arguments },
            })),
          }),
        },
        logprobs: null,
        finish_reason: finishReason,
      },
    ],
    usage: usageBody(usage),
    system_fingerprint: null,
  };
}

/**
 * `chat.completion.chunk` frames as SSE events, one string per batch of deltas. Everything but the
 * changing part of each chunk is serialised once per answer, so a text delta costs one
 * `JSON.stringify` of its text.
 */
export async function* sseChunks(
  batches: AsyncIterable<ChatDelta[]>,
  meta: { id: string; created: number; model: string; includeUsage: boolean },
): AsyncGenerator<string> {
  const head = `data: {"id":${JSON.stringify(meta.id)},"object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"system_fingerprint":null,"choices":[`;
  const textHead = `${head}{"index":0,"delta":{"content":`;
  const textTail = `},"logprobs":null,"finish_reason":null}]}\n\n`;
  const frame = (delta: ChatDelta): string => {
    if (delta.type === 'text') return textHead + JSON.stringify(delta.text) + textTail;
    if (delta.type === 'tool-call') {
      const call = {
        index: delta.index,
        ...(delta.id && { id: delta.id, type: 'function' }),
        function: { ...(delta.name && { name: delta.name }), arguments: delta.arguments },
      };
      return `${head}{"index":0,"delta":{"tool_calls":[${JSON.stringify(call)}]},"logprobs":null,"finish_reason":null}]}\n\n`;
    }
    const finish = `${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"${delta.reason}"}]}\n\n`;
    return meta.includeUsage && delta.usage
      ? `${finish}${head}],"usage":${JSON.stringify(usageBody(delta.usage))}}\n\n`
      : finish;
  };
  yield `${head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`;
  for await (const batch of batches) {
    let text = '';
    for (const delta of batch) text += frame(delta);
    yield text;
  }
  yield 'data: [DONE]\n\n';
}

/** SSE events that end with an error event, in place of the rest, when the answer fails. */
export async function* endingWithError(
  events: AsyncIterable<string>,
  errorEvent: (err: unknown) => string,
): AsyncGenerator<string> {
  try {
    yield* events;
  } catch (err) {
    // The answer has begun: the error can only travel inside the stream, as OpenAI sends it.
    yield errorEvent(err);
  }
}
