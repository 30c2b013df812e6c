import type { Config } from '../config/schema.js';
import type { User } from './accounts/model.js';
import type {
  ChatDelta,
  ChatRequest,
  EmbeddingRequest,
  EmbeddingResult,
  ModelGateway,
  ModelInfo,
  RoutedStream,
  TokenUsage,
} from './chat-model.js';
import { fitContext, messageText, type TokenCounter } from './context-window.js';
import { DomainError, ModelError, ModelNotFound } from './errors.js';
import { newId } from './ids.js';
import type { UsageRecord, UsageService } from './usage.js';

export interface CallContext {
  user: User;
  apiKeyId: string | null;
  /** The API surface the call came through, for the ledger. */
  surface: string;
  /** Milliseconds since the request arrived (the surface's clock), to report Parley's own overhead. */
  elapsedMs: () => number;
}

/** A streamed answer, begun: the upstream has produced its first deltas. It yields them in batches. */
export interface Completion extends AsyncIterable<ChatDelta[]> {
  readonly model: ModelInfo;
  /** Time spent inside Parley so far, the upstream's time excluded. */
  overheadMs(): number;
}

/**
 * Chat completions and embeddings for every surface: model access by tier, context trimming,
 * routing (with failover) through the gateway, and one usage record per call, however it ends.
 */
export class CompletionService {
  constructor(
    private readonly gateway: ModelGateway,
    private readonly usage: UsageService,
    private readonly tiers: Config['tiers'],
    private readonly tokens: () => TokenCounter,
    private readonly onBackgroundError: (err: unknown) => void,
  ) {}

  async start(context: CallContext, request: ChatRequest, signal: AbortSignal): Promise<Completion> {
    let upstreamMs = 0;
    const record = this.recorder(context, request.model, () => upstreamMs);
    let model: ModelInfo;
    let routed: RoutedStream;
    try {
      model = await this.modelFor(context.user, request.model);
      const replyTokens = Math.min(request.maxTokens ?? model.maxTokens, model.maxTokens);
      const messages = fitContext(request.messages, { contextLength: model.contextLength, replyTokens }, this.tokens);
      const asked = performance.now();
      routed = await this.gateway.stream({ ...request, messages }, signal);
      upstreamMs += routed.firstDeltaAt - asked;
    } catch (err) {
      record({ status: signal.aborted ? 'cancelled' : 'error', error: err });
      throw err;
    }

    const { first, rest, channelId } = routed;
    const ttftMs = context.elapsedMs();
    const counter = this.tokens;
    let completionText = '';
    let usage: TokenUsage | undefined;
    const finish = (status: UsageRecord['status'], error?: unknown) => {
      // Without usage from the upstream: counted exactly for a complete answer, estimated for a cut
      // one (loading the tokenizer for an abandoned request is not worth a blocked event loop).
      const count = status === 'ok' ? (text: string) => counter().count(text) : estimateTokens;
      usage ??= {
        promptTokens: request.messages.reduce((sum, m) => sum + count(messageText(m)), 0),
        completionTokens: count(completionText),
      };
      record({ status, error, channelId, ttftMs, usage });
    };

    return {
      model,
      overheadMs: () => context.elapsedMs() - upstreamMs,
      async *[Symbol.asyncIterator]() {
        let batch: ChatDelta[] | undefined = first;
        let finished = false;
        try {
          while (batch) {
            let end = batch.length;
            for (let i = 0; i < batch.length; i++) {
              const delta = batch[i]!;
              if (delta.type === 'text') completionText += delta.text;
              else if (delta.type === 'finish') {
                usage = delta.usage;
                end = i + 1;
                break;
              }
            }
            yield end === batch.length ? batch : batch.slice(0, end);
            if (end < batch.length || batch[end - 1]!.type === 'finish') break;
            const asked = performance.now();
            const step = await rest.next();
            upstreamMs += performance.now() - asked;
            batch = step.done ? undefined : step.value;
          }
          finished = true;
          finish('ok');
        } catch (err) {
          finished = true;
          finish(signal.aborted ? 'cancelled' : 'error', err);
          if (signal.aborted || err instanceof DomainError) throw err;
          throw new ModelError(`The model failed mid-answer: ${(err as Error).message}`);
        } finally {
          // The consumer stopped early (the client went away): stop the upstream too.
          if (!finished) {
            finish('cancelled');
            await rest.return?.();
          }
        }
      },
    };
  }

  async embed(context: CallContext, request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    let upstreamMs = 0;
    const record = this.recorder(context, request.model, () => upstreamMs);
    try {
      await this.modelFor(context.user, request.model);
      const asked = performance.now();
      const result = await this.gateway.embed(request, signal);
      upstreamMs = performance.now() - asked;
      const promptTokens =
        result.promptTokens ?? request.input.reduce((sum, text) => sum + this.tokens().count(text), 0);
      record({ status: 'ok', channelId: result.channelId, usage: { promptTokens, completionTokens: 0 } });
      return { embeddings: result.embeddings, promptTokens };
    } catch (err) {
      record({ status: signal.aborted ? 'cancelled' : 'error', error: err });
      throw err;
    }
  }

  /** The models the user's tier may use. */
  async models(user: User): Promise<ModelInfo[]> {
    return (await this.gateway.models()).filter((m) => this.allowed(user, m.id));
  }

  async modelFor(user: User, id: string): Promise<ModelInfo> {
    const model = this.allowed(user, id) ? await this.gateway.model(id) : undefined;
    if (!model) throw new ModelNotFound(id);
    return model;
  }

  private allowed(user: User, modelId: string): boolean {
    const models = this.tiers[user.tier].models;
    return models.includes('*') || models.includes(modelId);
  }

  /** Writes the call's usage record off the request path. */
  private recorder(context: CallContext, model: string, upstreamMs: () => number) {
    return (outcome: {
      status: UsageRecord['status'];
      error?: unknown;
      channelId?: string;
      ttftMs?: number;
      usage?: TokenUsage;
    }) => {
      const latencyMs = context.elapsedMs();
      const record: UsageRecord = {
        id: newId(),
        userId: context.user.id,
        apiKeyId: context.apiKeyId,
        surface: context.surface,
        model,
        channelId: outcome.channelId ?? null,
        promptTokens: outcome.usage?.promptTokens ?? 0,
        completionTokens: outcome.usage?.completionTokens ?? 0,
        latencyMs: Math.round(latencyMs),
        ttftMs: outcome.ttftMs === undefined ? null : Math.round(outcome.ttftMs),
        overheadMs: Math.max(0, Math.round(latencyMs - upstreamMs())),
        status: outcome.status,
        errorCode: errorCode(outcome.status, outcome.error),
        createdAt: Date.now(),
      };
      this.usage.record(record).catch(this.onBackgroundError);
    };
  }
}

/** About four bytes of text per token, as BPE tokenizers average on English. */
function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text) / 4);
}

function errorCode(status: UsageRecord['status'], error: unknown): string | null {
  if (status === 'ok') return null;
  if (status === 'cancelled') return 'CANCELLED';
  return error instanceof DomainError ? error.code : 'MODEL_ERROR';
}
