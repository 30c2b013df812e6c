/**
 * The provider-neutral shape of a chat completion: what every surface maps its requests to and
 * what every provider in `llm/` answers with. Close to OpenAI's wire format, which most providers
 * and clients already speak, but in camelCase and without transport details.
 */

export type ContentPart =
  { type: 'text'; text: string } | { type: 'image'; url: string; detail?: 'auto' | 'low' | 'high' };

export interface ToolCall {
  /** The id the model gave the call; it is passed through unchanged both ways. */
  id: string;
  name: string;
  /** JSON text, as the model wrote it. */
  arguments: string;
}

export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ContentPart[]; name?: string }
  | { role: 'assistant'; content: string | null; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string };

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export interface ChatRequest {
  /** The model id as the upstream knows it. */
  model: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseFormat?:
    | { type: 'text' }
    | { type: 'json_object' }
    | { type: 'json_schema'; schema: Record<string, unknown>; name?: string };
  /** False when the caller wants the answer whole: a provider may then fetch it in one piece. */
  stream?: boolean;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error';

/** One step of a streamed answer. A stream ends with exactly one `finish`. */
export type ChatDelta =
  | { type: 'text'; text: string }
  /** A piece of a tool call: `id` and `name` come with the first piece of call `index`. */
  | { type: 'tool-call'; index: number; id?: string; name?: string; arguments: string }
  | { type: 'finish'; reason: FinishReason; usage?: TokenUsage };

export interface EmbeddingRequest {
  model: string;
  input: string[];
  dimensions?: number;
}

export interface EmbeddingResult {
  embeddings: number[][];
  promptTokens?: number;
}

export interface ModelCapabilities {
  vision?: boolean;
  tools?: boolean;
  embeddings?: boolean;
  audio?: boolean;
}

/** An entry of the model catalog. */
export interface ModelInfo {
  id: string;
  displayName: string;
  provider: string;
  contextLength: number;
  maxTokens: number;
  capabilities: ModelCapabilities;
}

/**
 * Why an upstream call failed, in the terms routing needs: a `retryable` failure (429, 5xx, 408,
 * timeouts, a broken connection) moves on to the next channel; any other is the caller's fault and
 * goes back to them as it is.
 */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The upstream's HTTP status, when there was one. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

/**
 * A stream that has produced its first deltas, and the channel that produced it. Deltas travel in
 * batches — those that arrived together — so that each step costs one hop however many it holds.
 */
export interface RoutedStream {
  channelId: string;
  /** Never empty. */
  first: ChatDelta[];
  rest: AsyncIterator<ChatDelta[]>;
  /** When the first delta arrived (performance.now()). */
  firstDeltaAt: number;
}

/**
 * How a relayed answer (see `RelayBatch`) must differ from the upstream's: the model as the caller
 * named it (an upstream may call it otherwise, e.g. by its dated snapshot), and whether the caller
 * asked for the usage chunk that Parley always asks the upstream for.
 */
export interface RelayOptions {
  model: string;
  includeUsage: boolean;
}

/**
 * Part of a streamed answer from an upstream that speaks OpenAI's wire format, relayed in it rather
 * than parsed into deltas and written anew: whole `chat.completion.chunk` server-sent events as the
 * upstream wrote them, changed only as `RelayOptions` say, ending with `data: [DONE]`.
 */
export interface RelayBatch {
  /** Whole events, ready for the caller. */
  text: string;
  /**
   * The answer's text among them, for counting tokens when the upstream does not: found only when
   * asked, as the upstream's own counts usually come.
   */
  completion: () => string;
  /** The upstream's token counts, on the batch that carried them. */
  usage?: TokenUsage;
  /** The last batch of a complete answer. */
  done?: boolean;
}

/** A relayed answer that has produced its first token (see `RoutedStream`). */
export interface RoutedRelay {
  relayed: true;
  channelId: string;
  first: RelayBatch;
  rest: AsyncIterator<RelayBatch>;
  firstDeltaAt: number;
}

/**
 * The port to the models (`llm/` implements it): resolves a model id to upstream channels, fails
 * over between them until one starts answering, and keeps the catalog.
 */
export interface ModelGateway {
  model(id: string): Promise<ModelInfo | undefined>;
  models(): Promise<ModelInfo[]>;
  stream(request: ChatRequest, signal: AbortSignal): Promise<RoutedStream>;
  /**
   * `stream`, for a caller that speaks OpenAI's wire format: a channel that speaks it too answers
   * relayed; any other answers in deltas, as from `stream`.
   */
  relay?(request: ChatRequest, signal: AbortSignal, options: RelayOptions): Promise<RoutedStream | RoutedRelay>;
  embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult & { channelId: string }>;
}
