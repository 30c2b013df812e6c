import type { ChatDelta, ChatRequest, EmbeddingRequest, EmbeddingResult, ModelInfo } from '../../core/chat-model.js';

export type ProviderKind = 'openai' | 'anthropic' | 'google' | 'ollama' | 'openai-compatible' | 'local';

/**
 * One upstream, reached with one set of credentials. Failures are thrown as `UpstreamError` so that
 * the router can tell a failing upstream from a bad request; `signal` aborts the upstream call.
 */
export interface Provider {
  readonly kind: ProviderKind;
  /** Streams the answer. Throws before the first delta when the call cannot start. */
  chat(request: ChatRequest, signal: AbortSignal): AsyncIterable<ChatDelta>;
  embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult>;
  /** The models this upstream offers, when it can tell. */
  listModels(signal: AbortSignal): Promise<ModelInfo[]>;
  /** Releases what the provider holds (a loaded model); remote providers hold nothing. */
  close?(): Promise<void>;
}
