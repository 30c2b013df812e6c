import type { Config } from '../config/schema.js';
import type { User } from './accounts/model.js';
import type {
  ChatDelta,
  ChatRequest,
  EmbeddingRequest,
  EmbeddingResult,
  ModelGateway,
  ModelInfo,
  RelayBatch,
  RelayOptions,
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

/** A streamed answer relayed in OpenAI's wire format (see `RelayBatch`): it yields whole events. */
export interface RelayedCompletion extends AsyncIterable<string> {
  readonly relayed: true;
  readonly model: ModelInfo;
  overheadMs(): number;
}

interface UsageOutcome {
  status: UsageRecord['status'];
  error?: unknown;
  channelId?: string;
  ttftMs?: number;
  usage?: TokenUsage;
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
    const call = await this.call(context, request, signal, (fitted) => this.gateway.stream(fitted, signal));
    return this.completion(call, signal, takeDeltas);
  }

  /**
   * `start`, for a surface that speaks OpenAI's wire format: an answer from a channel that speaks it
   * too comes relayed, as events to pass on (see `RelayBatch`); any other comes in deltas.
   */
  async relay(
    context: CallContext,
    request: ChatRequest,
    signal: AbortSignal,
    options: RelayOptions,
  ): Promise<Completion | RelayedCompletion> {
    const { gateway } = this;
    const call = await this.call(context, request, signal, (fitted) =>
      gateway.relay ? gateway.relay(fitted, signal, options) : gateway.stream(fitted, signal),
    );
    const { routed } = call;
    if ('relayed' in routed) return { ...this.completion({ ...call, routed }, signal, takeRelayed), relayed: true };
    return this.completion({ ...call, routed }, signal, takeDeltas);
  }

  /** Model access, context trimming and routing up to the first token; a failure until then is recorded. */
  private async call<R extends { firstDeltaAt: number }>(
    context: CallContext,
    request: ChatRequest,
    signal: AbortSignal,
    route: (request: ChatRequest) => Promise<R>,
  ): Promise<Call<R>> {
    const clock = { upstreamMs: 0 };
    const record = this.recorder(context, request.model, () => clock.upstreamMs);
    try {
      const model = await this.modelFor(context.user, request.model);
      const replyTokens = Math.min(request.maxTokens ?? model.maxTokens, model.maxTokens);
      const messages = fitContext(request.messages, { contextLength: model.contextLength, replyTokens }, this.tokens);
      const asked = performance.now();
      const routed = await route({ ...request, messages });
      clock.upstreamMs += routed.firstDeltaAt - asked;
      return { context, request, model, routed, clock, record, ttftMs: context.elapsedMs() };
    } catch (err) {
      record({ status: signal.aborted ? 'cancelled' : 'error', error: err });
      throw err;
    }
  }

  /** The rest of a call's answer, batch by batch as `take` passes them on, recorded however it ends. */
  private completion<B, T>(
    call: Call<{ channelId: string; first: B; rest: AsyncIterator<B> }>,
    signal: AbortSignal,
    take: (batch: B, tally: Tally) => { out: T; last: boolean },
  ): { readonly model: ModelInfo; overheadMs(): number } & AsyncIterable<T> {
    const { context, request, clock, record, ttftMs } = call;
    const { first, rest, channelId } = call.routed;
    const counter = this.tokens;
    const tally: Tally = { text: '' };
    const finish = (status: UsageRecord['status'], error?: unknown) => {
      // Without usage from the upstream: counted exactly for a complete answer, estimated for a cut
      // one (loading the tokenizer for an abandoned request is not worth a blocked event loop).
      const count = status === 'ok' ? (text: string) => counter().count(text) : estimateTokens;
      tally.usage ??= {
        promptTokens: request.messages.reduce((sum, m) => sum + count(messageText(m)), 0),
        completionTokens: count(readText(tally)),
      };
      record({ status, error, channelId, ttftMs, usage: tally.usage });
    };

    return {
      model: call.model,
      overheadMs: () => context.elapsedMs() - clock.upstreamMs,
      async *[Symbol.asyncIterator]() {
        let batch: B | undefined = first;
        let finished = false;
        try {
          while (batch) {
            const { out, last } = take(batch, tally);
            yield out;
            if (last) {
              void release(rest);
              break;
            }
            const asked = performance.now();
            const step = await rest.next();
            clock.upstreamMs += performance.now() - asked;
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
    return (outcome: UsageOutcome) => {
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

/** A call routed up to its first token. */
interface Call<R> {
  context: CallContext;
  request: ChatRequest;
  model: ModelInfo;
  routed: R;
  /** Time spent waiting for the upstream, which Parley's overhead leaves out. */
  clock: { upstreamMs: number };
  record: (outcome: UsageOutcome) => void;
  ttftMs: number;
}

/** What an answer has used so far: its text, and the upstream's own counts once they come. */
interface Tally {
  text: string;
  /** Relayed text not yet read (see `RelayBatch.completion`). */
  unread?: (() => string)[];
  usage?: TokenUsage;
}

/**
 * Relayed batches whose text may wait to be read: few enough that a long answer keeps no more than
 * a few megabytes of events alive for it.
 */
const MAX_UNREAD = 64;

function readText(tally: Tally): string {
  if (tally.unread?.length) {
    for (const read of tally.unread) tally.text += read();
    tally.unread.length = 0;
  }
  return tally.text;
}

/** Passes deltas on up to the finish, the end of an answer. */
function takeDeltas(batch: ChatDelta[], tally: Tally): { out: ChatDelta[]; last: boolean } {
  let end = batch.length;
  for (let i = 0; i < batch.length; i++) {
    const delta = batch[i]!;
    if (delta.type === 'text') tally.text += delta.text;
    else if (delta.type === 'finish') {
      tally.usage = delta.usage;
      end = i + 1;
      break;
    }
  }
  return { out: end === batch.length ? batch : batch.slice(0, end), last: batch[end - 1]?.type === 'finish' };
}

function takeRelayed(batch: RelayBatch, tally: Tally): { out: string; last: boolean } {
  // Read only if the upstream does not count the answer itself, which it says at the end.
  if ((tally.unread ??= []).push(batch.completion) >= MAX_UNREAD) readText(tally);
  if (batch.usage) tally.usage = batch.usage;
  return { out: batch.text, last: batch.done === true };
}

/**
 * Lets the upstream end an answer that is complete: its provider reads the response to its end,
 * which frees the connection, and routing ends the attempt's bookkeeping. Whatever else comes is
 * not part of the answer; a failure meanwhile is routing's to record, not the caller's.
 */
async function release<B>(rest: AsyncIterator<B>): Promise<void> {
  try {
    if (!(await rest.next()).done) await rest.return?.();
  } catch {
    // Nothing to do: the answer was complete and has been recorded.
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
