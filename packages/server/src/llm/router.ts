import {
  UpstreamError,
  type ChatDelta,
  type ChatRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type ModelGateway,
  type ModelInfo,
  type RelayBatch,
  type RelayOptions,
  type RoutedRelay,
  type RoutedStream,
} from '../core/chat-model.js';
import type { Channel, SecretBox } from '../core/channels/ports.js';
import { ChannelUnavailable, ModelNotFound, UpstreamRejected } from '../core/errors.js';
import type { RateLimiter } from '../core/shared-state.js';
import type { Config, ModelConfig } from '../config/schema.js';
import { Catalog } from './catalog.js';
import { orderCandidates } from './strategies.js';
import type { Endpoint } from './providers/index.js';
import type { Provider } from './providers/provider.js';

const DAY_MS = 86_400_000;

export interface RouterOptions {
  routing: Config['routing'];
  models: ModelConfig[];
  /** Every channel, enabled or not (config and database); called again after `reload()`. */
  loadChannels: () => Promise<Channel[]>;
  secretBox: SecretBox;
  limiter: RateLimiter;
  createProvider: (endpoint: Endpoint) => Promise<Provider>;
}

/** What routing remembers of a channel between requests (per instance). */
export interface ChannelHealth {
  consecutiveFailures: number;
  coolingUntil: number;
  inFlight: number;
}

class FirstTokenTimeout extends UpstreamError {
  constructor(ms: number) {
    super(`No first token within ${ms} ms`, true);
  }
}

/**
 * Routes each request to the channels that serve its model, best first, and fails over — on rate
 * limits, server errors, broken connections and first-token timeouts — until one starts answering.
 * Nothing has reached the client before that, so failover is invisible to it. A channel that fails
 * cools down for a while; one success makes it healthy again.
 */
export class Router implements ModelGateway {
  private channels: Promise<Channel[]> | undefined;
  private readonly health = new Map<string, ChannelHealth>();
  private readonly providers = new Map<string, { updatedAt: number; provider: Promise<Provider> }>();
  private readonly keyTurns = new Map<string, number>();
  private readonly groupTurns = new Map<string, number>();
  private readonly catalog: Catalog;
  /** Streams past their first token, watched for silence by one timer rather than one per stream. */
  private readonly live = new Set<{ lastActivity: number; abort: () => void }>();
  private readonly watchdog: NodeJS.Timeout;

  constructor(private readonly options: RouterOptions) {
    this.catalog = new Catalog(
      options.models,
      () => this.enabledChannels(),
      (channel) => this.provider(channel),
    );
    const { idleTimeoutMs } = options.routing;
    this.watchdog = setInterval(() => this.abortIdle(), Math.min(1000, Math.ceil(idleTimeoutMs / 2)));
    this.watchdog.unref();
  }

  /** Forget cached channels (after an admin change); health and rotation survive. */
  reload(): void {
    this.channels = undefined;
    this.catalog.forget();
  }

  /** Ends the answers in progress and releases providers that hold resources (local models). */
  async close(): Promise<void> {
    clearInterval(this.watchdog);
    for (const stream of this.live) stream.abort();
    const providers = await Promise.allSettled([...this.providers.values()].map((p) => p.provider));
    this.providers.clear();
    for (const p of providers) if (p.status === 'fulfilled') await p.value.close?.();
  }

  healthOf(channelId: string): ChannelHealth {
    let health = this.health.get(channelId);
    if (!health) this.health.set(channelId, (health = { consecutiveFailures: 0, coolingUntil: 0, inFlight: 0 }));
    return health;
  }

  model(id: string): Promise<ModelInfo | undefined> {
    return this.catalog.find(id);
  }

  models(): Promise<ModelInfo[]> {
    return this.catalog.list();
  }

  stream(request: ChatRequest, signal: AbortSignal): Promise<RoutedStream> {
    return this.route(request, signal, batches);
  }

  async relay(request: ChatRequest, signal: AbortSignal, options: RelayOptions): Promise<RoutedStream | RoutedRelay> {
    const routed = await this.route<ChatDelta[] | RelayBatch>(request, signal, (provider, upstreamRequest, attempt) =>
      provider.relay ? provider.relay(upstreamRequest, attempt, options) : batches(provider, upstreamRequest, attempt),
    );
    // A channel answers in one form throughout: its first batch tells which.
    return Array.isArray(routed.first) ? (routed as RoutedStream) : { ...(routed as RoutedRelay), relayed: true };
  }

  /** Tries the channels in turn until one produces a first batch that is not empty. */
  private async route<B>(
    request: ChatRequest,
    signal: AbortSignal,
    open: (provider: Provider, request: ChatRequest, signal: AbortSignal) => AsyncIterable<B>,
  ): Promise<{ channelId: string; first: B; rest: AsyncIterator<B>; firstDeltaAt: number }> {
    const { candidates, upstreamModel } = await this.candidates(request.model);
    const { firstTokenTimeoutMs, completionTimeoutMs } = this.options.routing;
    // Unstreamed, the first delta is the whole answer: it gets the time a whole answer may take.
    const firstDeltaMs = request.stream === false ? completionTimeoutMs : firstTokenTimeoutMs;
    for (const channel of candidates) {
      if (!(await this.admit(channel))) continue;
      const health = this.healthOf(channel.id);
      const attempt = linkedController(signal);
      const timer = setTimeout(() => attempt.abort(new FirstTokenTimeout(firstDeltaMs)), firstDeltaMs);
      health.inFlight++;
      try {
        const provider = await this.provider(channel);
        const upstream = open(provider, { ...request, model: upstreamModel }, attempt.signal)[Symbol.asyncIterator]();
        let first = await raceAbort(upstream.next(), attempt.signal);
        // Relayed batches are never empty; a batch of deltas may be (a chunk with no token in it).
        while (!first.done && Array.isArray(first.value) && first.value.length === 0) {
          first = await raceAbort(upstream.next(), attempt.signal);
        }
        if (first.done) throw new UpstreamError('The upstream ended its answer before any token', true);
        clearTimeout(timer);
        this.succeeded(channel.id);
        return {
          channelId: channel.id,
          first: first.value,
          rest: this.watch(upstream, attempt, health, channel.id),
          firstDeltaAt: performance.now(),
        };
      } catch (err) {
        clearTimeout(timer);
        health.inFlight--;
        attempt.release();
        if (signal.aborted) throw signal.reason ?? err;
        this.failedOrThrow(
          channel.id,
          attempt.signal.reason instanceof FirstTokenTimeout ? attempt.signal.reason : err,
        );
      }
    }
    throw new ChannelUnavailable(request.model);
  }

  async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult & { channelId: string }> {
    const { candidates, upstreamModel } = await this.candidates(request.model);
    for (const channel of candidates) {
      if (!(await this.admit(channel))) continue;
      const health = this.healthOf(channel.id);
      health.inFlight++;
      try {
        const provider = await this.provider(channel);
        const result = await provider.embed({ ...request, model: upstreamModel }, signal);
        this.succeeded(channel.id);
        return { ...result, channelId: channel.id };
      } catch (err) {
        if (signal.aborted) throw signal.reason ?? err;
        this.failedOrThrow(channel.id, err);
      } finally {
        health.inFlight--;
      }
    }
    throw new ChannelUnavailable(request.model);
  }

  private async candidates(model: string): Promise<{ candidates: Channel[]; upstreamModel: string }> {
    const serving = (await this.enabledChannels()).filter((c) => c.models.includes(model) || c.models.includes('*'));
    if (!serving.length) throw new ModelNotFound(model);
    const now = Date.now();
    const healthy = serving.filter((c) => this.healthOf(c.id).coolingUntil <= now);
    const configured = this.options.models.find((m) => m.id === model);
    return {
      candidates: orderCandidates(healthy, this.groupTurns, (id) => this.healthOf(id).inFlight),
      upstreamModel: configured?.upstreamId || model,
    };
  }

  /** A channel with a daily quota takes the request only while the quota lasts. */
  private async admit(channel: Channel): Promise<boolean> {
    if (!channel.dailyQuota) return true;
    const state = await this.options.limiter.consume([
      { key: `channel:${channel.id}:day`, limit: channel.dailyQuota, windowMs: DAY_MS },
    ]);
    return state.allowed;
  }

  private succeeded(channelId: string): void {
    const health = this.healthOf(channelId);
    health.consecutiveFailures = 0;
    health.coolingUntil = 0;
  }

  /** Cools the channel down for a failure worth another channel; throws for the caller's own errors. */
  private failedOrThrow(channelId: string, err: unknown): void {
    const upstream = err instanceof UpstreamError ? err : new UpstreamError(String(err), true);
    if (!isChannelFault(upstream)) throw new UpstreamRejected(upstream.message, upstream.status ?? 400);
    this.coolDown(channelId);
  }

  private coolDown(channelId: string): void {
    const health = this.healthOf(channelId);
    const { cooldownMs } = this.options.routing;
    health.consecutiveFailures++;
    health.coolingUntil = Date.now() + cooldownMs[Math.min(health.consecutiveFailures, cooldownMs.length) - 1]!;
  }

  /** The rest of an answer; ends the attempt's bookkeeping however the answer ends. */
  private watch<B>(
    upstream: AsyncIterator<B>,
    attempt: LinkedController,
    health: ChannelHealth,
    channelId: string,
  ): AsyncIterator<B> {
    const watched = {
      lastActivity: performance.now(),
      abort: () => attempt.abort(new UpstreamError('The upstream went silent', true)),
    };
    this.live.add(watched);
    let open = true;
    const end = () => {
      if (!open) return;
      open = false;
      health.inFlight--;
      this.live.delete(watched);
      attempt.release();
    };
    return {
      // Providers stop reading when the attempt's signal aborts, so no per-chunk race is needed here.
      next: async () => {
        try {
          const step = await upstream.next();
          watched.lastActivity = performance.now();
          if (step.done) end();
          return step;
        } catch (err) {
          end();
          const reason: unknown = attempt.signal.reason;
          const failure = reason instanceof UpstreamError ? reason : err;
          const clientLeft = attempt.signal.aborted && !(reason instanceof UpstreamError);
          if (!clientLeft && (!(failure instanceof UpstreamError) || isChannelFault(failure))) this.coolDown(channelId);
          throw failure;
        }
      },
      return: async () => {
        end();
        attempt.abort();
        await upstream.return?.();
        return { done: true, value: undefined };
      },
    };
  }

  private abortIdle(): void {
    const limit = performance.now() - this.options.routing.idleTimeoutMs;
    for (const stream of this.live) if (stream.lastActivity < limit) stream.abort();
  }

  private enabledChannels(): Promise<Channel[]> {
    this.channels ??= this.options.loadChannels().then((all) => all.filter((c) => c.enabled));
    this.channels.catch(() => (this.channels = undefined));
    return this.channels;
  }

  /** One provider per channel, rotating over the channel's keys request by request. */
  private provider(channel: Channel): Promise<Provider> {
    const turn = this.keyTurns.get(channel.id) ?? 0;
    this.keyTurns.set(channel.id, turn + 1);
    const keyIndex = channel.sealedApiKeys.length ? turn % channel.sealedApiKeys.length : 0;
    const cacheKey = `${channel.id}#${keyIndex}`;
    const cached = this.providers.get(cacheKey);
    if (cached && cached.updatedAt === channel.updatedAt) return cached.provider;
    const sealed = channel.sealedApiKeys[keyIndex];
    const provider = this.options.createProvider({
      kind: channel.provider,
      baseUrl: channel.baseUrl,
      apiKey: sealed ? this.options.secretBox.open(sealed) : '',
    });
    provider.catch(() => this.providers.delete(cacheKey));
    this.providers.set(cacheKey, { updatedAt: channel.updatedAt, provider });
    return provider;
  }
}

/** The provider's batches, or its deltas one at a time when it does not batch. */
async function* batches(provider: Provider, request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatDelta[]> {
  if (provider.chatBatches) {
    yield* provider.chatBatches(request, signal);
    return;
  }
  for await (const delta of provider.chat(request, signal)) yield [delta];
}

/** An upstream that refuses our own credentials is a broken channel, not a bad request. */
function isChannelFault(err: UpstreamError): boolean {
  return err.retryable || err.status === 401 || err.status === 403;
}

interface LinkedController {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
  /** Stops following the parent signal (the attempt is over). */
  release(): void;
}

/** An abort controller that also aborts when the caller's signal does. */
function linkedController(parent: AbortSignal): LinkedController {
  const controller = new AbortController();
  const follow = () => controller.abort(parent.reason);
  if (parent.aborted) follow();
  else parent.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    release: () => parent.removeEventListener('abort', follow),
  };
}

/** Settles with the promise, or rejects as soon as the signal aborts (some upstream reads ignore it). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
