import type {
  ChatDelta,
  ChatRequest,
  EmbeddingRequest,
  EmbeddingResult,
  ModelInfo,
  RelayBatch,
  RelayOptions,
} from '../../core/chat-model.js';

export type ProviderKind = 'openai' | 'anthropic' | 'google' | 'ollama' | 'openai-compatible' | 'local';

/**
 * One upstream, reached with one set of credentials. Failures are thrown as `UpstreamError` so that
 * the router can tell a failing upstream from a bad request; `signal` aborts the upstream call.
 */
export interface Provider {
  readonly kind: ProviderKind;
  /** Streams the answer. Throws before the first delta when the call cannot start. */
  chat(request: ChatRequest, signal: AbortSignal): AsyncIterable<ChatDelta>;
  /**
   * The same answer in batches of the deltas that arrived together (one upstream read): routing and
   * the surfaces then pass a batch along at the cost of one delta. Providers without it are batched
   * one delta at a time.
   */
  chatBatches?(request: ChatRequest, signal: AbortSignal): AsyncIterable<ChatDelta[]>;
  /**
   * The streamed answer in OpenAI's own wire format, for upstreams that speak it. Like `chatBatches`,
   * it yields nothing before the first token, so that routing can still fail over until then.
   */
  relay?(request: ChatRequest, signal: AbortSignal, options: RelayOptions): AsyncIterable<RelayBatch>;
  embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult>;
  /** The models this upstream offers, when it can tell. */
  listModels(signal: AbortSignal): Promise<ModelInfo[]>;
  /** Releases what the provider holds (a loaded model); remote providers hold nothing. */
  close?(): Promise<void>;
}

/**
 * A model known only by its id: limits large enough not to trim what the upstream would accept,
 * tools assumed (most current chat models have them), embeddings guessed from the name.
 */
export function undescribedModel(id: string, provider: string, displayName = id): ModelInfo {
  return {
    id,
    displayName,
    provider,
    contextLength: 131_072,
    maxTokens: 4096,
    capabilities: { tools: true, embeddings: /embed/i.test(id) },
  };
}
