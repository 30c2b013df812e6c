import os from 'node:os';
import path from 'node:path';
import type {
  ChatHistoryItem,
  ChatWrapper,
  GgufFileInfo,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaModel,
  SequenceEvaluateOptions,
  Token,
} from 'node-llama-cpp';
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
import type { Provider } from './provider.js';

export interface LocalModelOptions {
  modelPath: string;
  /** catalog id, default: file name without .gguf */
  id?: string;
  /** default min(model train context, 4096) */
  contextSize?: number;
  /**
   * default os.availableParallelism(), and never more than that: more threads than cores makes llama.cpp's
   * spinning workers fight over the CPU (node-llama-cpp's own default of at least 4 is ~1000x slower on 2 cores).
   */
  threads?: number;
  /** concurrent sequences, default 1 */
  parallel?: number;
  /** requests allowed to wait for a free sequence before new ones are refused, default 8 per sequence */
  maxQueue?: number;
}

export type LocalProvider = Provider & {
  /** Read from the GGUF header in the background from creation on; exact once `listModels()` has resolved. */
  readonly modelInfo: ModelInfo;
  /** CPU threads a generation may use: the configured value until the model is loaded, then the context's own. */
  readonly threads: number;
  close(): Promise<void>;
};

type NodeLlamaCpp = typeof import('node-llama-cpp');

const DEFAULT_CONTEXT_CAP = 4096;
const DEFAULT_TEMPERATURE = 0.7;
/** The tokenizer arrays are by far the biggest metadata and are not needed to describe the model. */
const UNNEEDED_GGUF_KEYS = [
  'tokenizer.ggml.tokens',
  'tokenizer.ggml.scores',
  'tokenizer.ggml.token_type',
  'tokenizer.ggml.merges',
];
/** GGUF pooling types that yield one vector per input (mean, cls, last); `rank` is a reranker, `none` per-token. */
const EMBEDDING_POOLING_TYPES = new Set([1, 2, 3]);
/** A UTF-8 character spans at most 4 byte tokens; a few more covers byte-level BPE tokens that straddle characters. */
const MAX_HELD_TOKENS = 8;
/** node-llama-cpp only looks at the last few tokens to decide spacing. */
const DETOKENIZER_CONTEXT_TOKENS = 4;
const PENALTY_WINDOW = 256;

let libPromise: Promise<NodeLlamaCpp> | undefined;

/** Imported on demand so that a server without a local model never loads the native addon. */
function loadLib(): Promise<NodeLlamaCpp> {
  libPromise ??= import('node-llama-cpp').catch((error: unknown) => {
    libPromise = undefined;
    throw error;
  });
  return libPromise;
}

/**
 * One Llama instance for every local model in the process: its thread splitter caps the threads of all
 * contexts together, so two local models generating at once still never use more threads than there are cores.
 */
let sharedLlama: { llama: Promise<Llama>; users: number } | undefined;

async function acquireLlama(lib: NodeLlamaCpp): Promise<{ llama: Llama; release(): Promise<void> }> {
  const entry = (sharedLlama ??= {
    llama: lib.getLlama({
      gpu: false,
      // Never download or compile llama.cpp at run time: the prebuilt binary is used or loading fails.
      build: 'never',
      logLevel: lib.LlamaLogLevel.error,
      maxThreads: os.availableParallelism(),
    }),
    users: 0,
  });
  entry.users++;
  let llama: Llama;
  try {
    llama = await entry.llama;
  } catch (error) {
    entry.users--;
    if (sharedLlama === entry) sharedLlama = undefined;
    throw error;
  }
  let released = false;
  return {
    llama,
    async release() {
      if (released) return;
      released = true;
      if (--entry.users > 0) return;
      if (sharedLlama === entry) sharedLlama = undefined;
      await llama.dispose();
    },
  };
}

interface Runtime {
  lib: NodeLlamaCpp;
  llama: Llama;
  model: LlamaModel;
  releaseLlama(): Promise<void>;
}

interface ChatEngine {
  runtime: Runtime;
  context: LlamaContext;
  wrapper: ChatWrapper;
  pool: SequencePool;
}

export function createLocalProvider(options: LocalModelOptions): LocalProvider {
  const modelPath = path.resolve(options.modelPath);
  const id = options.id ?? path.basename(modelPath).replace(/\.gguf$/i, '');
  const cores = os.availableParallelism();
  const configuredThreads = Math.min(Math.max(1, Math.floor(options.threads ?? cores)), cores);
  const parallel = Math.max(1, Math.floor(options.parallel ?? 1));
  const maxQueue = Math.max(0, Math.floor(options.maxQueue ?? 8 * parallel));

  let info: ModelInfo = {
    id,
    displayName: id,
    provider: 'local',
    contextLength: options.contextSize ?? DEFAULT_CONTEXT_CAP,
    maxTokens: options.contextSize ?? DEFAULT_CONTEXT_CAP,
    capabilities: { tools: false, vision: false, embeddings: false },
  };
  let closed = false;
  let runtimePromise: Promise<Runtime> | undefined;
  let chatPromise: Promise<ChatEngine> | undefined;
  let embeddingPromise: Promise<LlamaEmbeddingContext> | undefined;
  let chatContext: LlamaContext | undefined;

  const closedError = () => new UpstreamError(`Local model ${id} has been shut down`, true, 503);
  const assertOpen = () => {
    if (closed) throw closedError();
  };

  function describe(file: GgufFileInfo): void {
    const arch = file.architectureMetadata;
    const trainContext = arch.context_length;
    const contextLength =
      chatContext?.contextSize ??
      options.contextSize ??
      Math.min(trainContext ?? DEFAULT_CONTEXT_CAP, DEFAULT_CONTEXT_CAP);
    const name = file.metadata.general?.name;
    // Base conversions often name the model after its architecture ("llama"), which says less than the file name.
    const displayName = name && name !== file.metadata.general?.architecture ? name : id;
    info = {
      ...info,
      displayName,
      contextLength,
      maxTokens: contextLength,
      capabilities: {
        tools: false,
        vision: false,
        embeddings: EMBEDDING_POOLING_TYPES.has(Number(arch.pooling_type ?? -1)),
      },
    };
  }

  // The header is read straight away (it is cheap and needs no model load) so that `modelInfo` is
  // right by the time anything routes to this model; `listModels` waits for it.
  const metadataPromise = loadLib()
    .then((lib) =>
      lib.readGgufFileInfo(modelPath, {
        sourceType: 'filesystem',
        readTensorInfo: false,
        logWarnings: false,
        ignoreKeys: UNNEEDED_GGUF_KEYS,
      }),
    )
    .then(describe);
  metadataPromise.catch(() => {
    // Reported by the calls that need it; an unobserved rejection must not take the process down.
  });

  function loadRuntime(): Promise<Runtime> {
    runtimePromise ??= (async () => {
      const lib = await loadLib();
      const { llama, release } = await acquireLlama(lib);
      try {
        const model = await llama.loadModel({ modelPath });
        if (closed) {
          await model.dispose();
          throw closedError();
        }
        describe(model.fileInfo);
        return { lib, llama, model, releaseLlama: release };
      } catch (error) {
        await release();
        throw error;
      }
    })().catch((error: unknown) => {
      // Forget the failure so a later call can try again (e.g. once the file is in place).
      runtimePromise = undefined;
      throw asUpstream(error, `Local model ${id} could not be loaded`);
    });
    return runtimePromise;
  }

  function loadChatEngine(): Promise<ChatEngine> {
    chatPromise ??= (async () => {
      const runtime = await loadRuntime();
      assertOpen();
      const { lib, model } = runtime;
      const context = await model.createContext({
        contextSize: options.contextSize ?? Math.min(model.trainContextSize, DEFAULT_CONTEXT_CAP),
        sequences: parallel,
        threads: { ideal: configuredThreads, min: 1 },
      });
      if (closed) {
        await context.dispose();
        throw closedError();
      }
      chatContext = context;
      info = { ...info, contextLength: context.contextSize, maxTokens: context.contextSize };
      const sequences = Array.from({ length: parallel }, () => context.getSequence());
      return { runtime, context, wrapper: resolveWrapper(lib, model), pool: new SequencePool(sequences, maxQueue) };
    })().catch((error: unknown) => {
      chatPromise = undefined;
      throw asUpstream(error, `Local model ${id} could not be started`);
    });
    return chatPromise;
  }

  function loadEmbeddingContext(): Promise<LlamaEmbeddingContext> {
    embeddingPromise ??= (async () => {
      const { model } = await loadRuntime();
      assertOpen();
      return model.createEmbeddingContext({
        contextSize: options.contextSize ?? Math.min(model.trainContextSize, DEFAULT_CONTEXT_CAP),
        threads: configuredThreads,
      });
    })().catch((error: unknown) => {
      embeddingPromise = undefined;
      throw asUpstream(error, `Local model ${id} could not start embeddings`);
    });
    return embeddingPromise;
  }

  async function* chat(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatDelta> {
    signal.throwIfAborted();
    assertOpen();
    if (request.maxTokens !== undefined && !(request.maxTokens >= 1)) {
      throw new UpstreamError('maxTokens must be at least 1', false, 400);
    }
    const engine = await abortable(loadChatEngine(), signal);
    // Tools are not supported: request.tools and toolChoice are ignored and the model answers in plain text.
    // `capabilities.tools: false` is what lets the router keep tool-using requests away from this provider.
    const prompt = buildPrompt(engine, request.messages);
    const contextSize = engine.context.contextSize;
    if (prompt.tokens.length >= contextSize) {
      throw new UpstreamError(
        `The prompt is ${prompt.tokens.length} tokens, but ${id} has a context of ${contextSize} tokens ` +
          'for the prompt and the reply together',
        false,
        400,
      );
    }
    const maxTokens = Math.min(request.maxTokens ?? Infinity, contextSize - prompt.tokens.length);
    const sequence = await engine.pool.acquire(signal);

    // Generation runs on its own and feeds a queue, so that an abort frees the sequence even while the
    // consumer is not pulling, and the consumer hears of the abort without waiting for the current token.
    const queue = new DeltaQueue();
    const stop = new AbortController();
    const onAbort = () => {
      stop.abort();
      queue.fail(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    void generate({ engine, sequence, prompt, request, maxTokens, queue, stop: stop.signal })
      .catch((error: unknown) =>
        queue.fail(closed ? closedError() : asUpstream(error, `Local model ${id} failed while generating`)),
      )
      .finally(() => {
        signal.removeEventListener('abort', onAbort);
        void engine.pool.release(sequence);
      });
    try {
      yield* queue.drain();
    } finally {
      // Also reached when the consumer stops early: nobody wants the rest of the answer.
      stop.abort();
    }
  }

  async function embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    signal.throwIfAborted();
    assertOpen();
    await abortable(
      metadataPromise.catch(() => loadRuntime()),
      signal,
    );
    if (!info.capabilities.embeddings) {
      throw new UpstreamError(
        `Local model ${id} is not an embedding model (its GGUF declares no pooling); configure an embedding GGUF for embeddings`,
        false,
        400,
      );
    }
    const context = await abortable(loadEmbeddingContext(), signal);
    const embeddings: number[][] = [];
    let promptTokens = 0;
    for (const input of request.input) {
      signal.throwIfAborted();
      const length = context.calculateInputLength(input);
      if (length >= info.contextLength) {
        throw new UpstreamError(
          `An input is ${length} tokens; ${id} embeds at most ${info.contextLength - 1}`,
          false,
          400,
        );
      }
      promptTokens += length;
      let vector: number[];
      try {
        vector = [...(await context.getEmbeddingFor(input)).vector];
      } catch (error) {
        throw asUpstream(error, `Local model ${id} failed to embed`);
      }
      embeddings.push(resize(vector, request.dimensions, id));
    }
    return { embeddings, promptTokens };
  }

  async function listModels(signal: AbortSignal): Promise<ModelInfo[]> {
    assertOpen();
    try {
      await abortable(metadataPromise, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      // The header reader failing does not mean llama.cpp cannot load the file; let the load decide.
      await abortable(loadRuntime(), signal);
    }
    return [info];
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    const [chatEngine, embedding, runtime] = await Promise.allSettled([chatPromise, embeddingPromise, runtimePromise]);
    if (chatEngine.status === 'fulfilled' && chatEngine.value) {
      chatEngine.value.pool.close(closedError());
      await chatEngine.value.context.dispose();
    }
    if (embedding.status === 'fulfilled' && embedding.value) await embedding.value.dispose();
    if (runtime.status === 'fulfilled' && runtime.value) {
      await runtime.value.model.dispose();
      await runtime.value.releaseLlama();
    }
  }

  return {
    kind: 'local',
    get modelInfo() {
      return info;
    },
    get threads() {
      return chatContext?.idealThreads ?? configuredThreads;
    },
    chat,
    embed,
    listModels,
    close,
  };
}

/**
 * The GGUF's own chat template when it has one. Without one, node-llama-cpp's resolution still
 * recognises models by name, but its guess from a `<s>` BOS token is left out: every Llama-tokenizer
 * base model has that BOS, and the Llama 2 [INST] format makes a base model ramble about the markup.
 */
function resolveWrapper(lib: NodeLlamaCpp, model: LlamaModel): ChatWrapper {
  const template = model.fileInfo.metadata.tokenizer?.chat_template;
  if (template && template.trim() !== '') return lib.resolveChatWrapper(model);
  return (
    lib.resolveChatWrapper({
      architecture: model.fileInfo.metadata.general?.architecture,
      filename: model.filename,
      fileInfo: model.fileInfo,
      tokenizer: model.tokenizer,
      warningLogs: false,
    }) ?? new lib.GeneralChatWrapper()
  );
}

interface Prompt {
  tokens: Token[];
  /** The last message is the assistant's own partial answer, which the model continues as it is. */
  continuing: boolean;
  textStops: string[];
  tokenStops: Token[][];
}

function buildPrompt({ runtime: { lib, model }, wrapper }: ChatEngine, messages: ChatMessage[]): Prompt {
  const history: ChatHistoryItem[] = [];
  for (const message of messages) {
    switch (message.role) {
      case 'system':
        history.push({ type: 'system', text: message.content });
        break;
      case 'user':
        history.push({ type: 'user', text: userText(message.content) });
        break;
      case 'assistant':
        // Turns that only called tools carry nothing this model could have said.
        if (message.content) history.push({ type: 'model', response: [message.content] });
        break;
      case 'tool':
        // Histories handed over from a tool-capable model: keep the result as context the model can read.
        history.push({ type: 'user', text: `Tool result:\n${message.content}` });
        break;
    }
  }
  const last = messages.at(-1);
  const continuing = last?.role === 'assistant' && !!last.content;
  if (!continuing) history.push({ type: 'model', response: [] });

  const state = wrapper.generateContextState({ chatHistory: history });
  const textStops = new Set<string>();
  const tokenStops: Token[][] = [];
  for (const trigger of state.stopGenerationTriggers) {
    const values = trigger.values;
    if (values.every((value) => typeof value === 'string' || value instanceof lib.SpecialTokensText)) {
      const text = values.map((value) => (typeof value === 'string' ? value : value.value)).join('');
      if (text) textStops.add(text);
    }
    // Control tokens render as no text, so a trigger made of them is only visible as tokens.
    if (values.some((value) => typeof value !== 'string')) {
      const tokens = trigger.tokenize(model.tokenizer);
      const eogOnly = tokens.length === 1 && model.isEogToken(tokens[0]);
      if (tokens.length > 0 && !eogOnly) tokenStops.push(tokens);
    }
  }
  return { tokens: state.contextText.tokenize(model.tokenizer), continuing, textStops: [...textStops], tokenStops };
}

function userText(content: Extract<ChatMessage, { role: 'user' }>['content']): string {
  if (typeof content === 'string') return content;
  if (content.some((part) => part.type === 'image')) {
    throw new UpstreamError('This local model does not accept images', false, 400);
  }
  return content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}

interface GenerationJob {
  engine: ChatEngine;
  sequence: LlamaContextSequence;
  prompt: Prompt;
  request: ChatRequest;
  maxTokens: number;
  queue: DeltaQueue;
  stop: AbortSignal;
}

async function generate({ engine, sequence, prompt, request, maxTokens, queue, stop }: GenerationJob): Promise<void> {
  const { model } = engine.runtime;
  // The prompt goes in batch by batch so that an abort does not have to wait for a whole long prompt.
  const batchSize = Math.max(1, engine.context.batchSize);
  const head = prompt.tokens.slice(0, -1);
  for (let start = 0; start < head.length; start += batchSize) {
    if (stop.aborted) return;
    await sequence.evaluateWithoutGeneratingNewTokens(head.slice(start, start + batchSize));
  }
  if (stop.aborted) return;

  const generated: Token[] = [];
  const penalised = request.presencePenalty || request.frequencyPenalty;
  const evaluateOptions: SequenceEvaluateOptions = {
    temperature: request.temperature ?? DEFAULT_TEMPERATURE,
    ...(request.topP !== undefined && { topP: request.topP }),
    ...(request.seed !== undefined && { seed: request.seed }),
    ...(penalised && {
      // OpenAI semantics: the penalties apply to what the model has written so far, not to the prompt.
      repeatPenalty: {
        punishTokens: () => generated.slice(-PENALTY_WINDOW),
        maxPunishTokens: PENALTY_WINDOW,
        penalty: 1,
        presencePenalty: request.presencePenalty ?? 0,
        frequencyPenalty: request.frequencyPenalty ?? 0,
      },
    }),
  };
  const tokens = sequence.evaluate(prompt.tokens.slice(-1), evaluateOptions);
  const decoder = new IncrementalDecoder(model, prompt.tokens);
  const stops = new StopMatcher([...prompt.textStops, ...(request.stop ?? []).filter((text) => text !== '')]);
  // Templates usually end the assistant header with a newline or space that the model repeats.
  let started = prompt.continuing;
  let reason: FinishReason = 'stop';
  let stoppedOnText = false;

  const emit = (text: string): boolean => {
    if (!started) {
      text = text.trimStart();
      if (!text) return false;
      started = true;
    }
    const { text: visible, stopped } = stops.push(text);
    if (visible) queue.push({ type: 'text', text: visible });
    return stopped;
  };

  try {
    for (;;) {
      if (generated.length >= maxTokens) {
        reason = 'length';
        break;
      }
      const step = await tokens.next();
      if (stop.aborted) return;
      // node-llama-cpp ends the iteration itself on an end-of-generation token.
      if (step.done) break;
      generated.push(step.value);
      if (prompt.tokenStops.some((trigger) => endsWith(generated, trigger))) break;
      if (emit(decoder.push(step.value))) {
        stoppedOnText = true;
        break;
      }
    }
    if (!stoppedOnText && !emit(decoder.flush())) {
      const rest = stops.flush();
      if (rest) queue.push({ type: 'text', text: rest });
    }
    queue.push({
      type: 'finish',
      reason,
      usage: { promptTokens: prompt.tokens.length, completionTokens: generated.length },
    });
    queue.end();
  } finally {
    // Lets node-llama-cpp close the evaluation before the sequence is cleared and lent to the next request.
    await tokens.return();
  }
}

/**
 * Turns tokens into text as they come, holding back tokens that end inside a multi-byte character
 * (byte-fallback tokens carry one UTF-8 byte each), and giving the detokenizer the preceding tokens so that
 * SentencePiece word-boundary spaces come out right.
 */
class IncrementalDecoder {
  private context: Token[];
  private pending: Token[] = [];

  constructor(
    private readonly model: LlamaModel,
    before: readonly Token[],
  ) {
    this.context = before.slice(-DETOKENIZER_CONTEXT_TOKENS);
  }

  push(token: Token): string {
    this.pending.push(token);
    const text = this.model.detokenize(this.pending, false, this.context);
    if (text.endsWith('\uFFFD') && this.pending.length < MAX_HELD_TOKENS) return '';
    this.commit();
    return text;
  }

  flush(): string {
    if (this.pending.length === 0) return '';
    const text = this.model.detokenize(this.pending, false, this.context);
    this.commit();
    return text;
  }

  private commit(): void {
    this.context = [...this.context, ...this.pending].slice(-DETOKENIZER_CONTEXT_TOKENS);
    this.pending = [];
  }
}

/** Cuts the text at the first stop string, holding back any tail that could be the start of one. */
class StopMatcher {
  private held = '';

  constructor(private readonly stops: readonly string[]) {}

  push(text: string): { text: string; stopped: boolean } {
    const buffer = this.held + text;
    let cut = -1;
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut !== -1) {
      this.held = '';
      return { text: buffer.slice(0, cut), stopped: true };
    }
    let keep = 0;
    for (const stop of this.stops) {
      for (let length = Math.min(stop.length - 1, buffer.length); length > keep; length--) {
        if (buffer.endsWith(stop.slice(0, length))) {
          keep = length;
          break;
        }
      }
    }
    this.held = buffer.slice(buffer.length - keep);
    return { text: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  flush(): string {
    const held = this.held;
    this.held = '';
    return held;
  }
}

/** Deltas from the generation task to the consumer; an abort discards what is still buffered. */
class DeltaQueue {
  private readonly items: ChatDelta[] = [];
  private ended = false;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;

  push(delta: ChatDelta): void {
    if (this.ended) return;
    this.items.push(delta);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = { error };
    this.items.length = 0;
    this.notify();
  }

  async *drain(): AsyncGenerator<ChatDelta> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      const item = this.items.shift();
      if (item) {
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

interface Waiter {
  resolve(sequence: LlamaContextSequence): void;
  reject(error: unknown): void;
  signal: AbortSignal;
  onAbort(): void;
}

/**
 * The context's sequences, lent to one request at a time. Requests beyond them wait in a bounded line so
 * that a burst costs neither memory nor a crash; past the bound the request is refused as retryable,
 * which lets the router try another channel.
 */
class SequencePool {
  private readonly idle: LlamaContextSequence[];
  private readonly waiting: Waiter[] = [];
  private closedWith: unknown;

  constructor(
    sequences: LlamaContextSequence[],
    private readonly maxWaiting: number,
  ) {
    this.idle = [...sequences];
  }

  acquire(signal: AbortSignal): Promise<LlamaContextSequence> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (signal.aborted) return Promise.reject(signal.reason);
    const sequence = this.idle.pop();
    if (sequence) return Promise.resolve(sequence);
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(
        new UpstreamError(`The local model is busy: ${this.waiting.length} requests are already waiting`, true, 503),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  async release(sequence: LlamaContextSequence): Promise<void> {
    try {
      // Every request starts from an empty sequence: no state of the previous conversation leaks into it.
      await sequence.clearHistory();
    } catch {
      // The context was disposed; the sequence is gone with it.
      return;
    }
    const next = this.waiting.shift();
    if (next) {
      next.signal.removeEventListener('abort', next.onAbort);
      next.resolve(sequence);
    } else {
      this.idle.push(sequence);
    }
  }

  close(error: unknown): void {
    this.closedWith = error;
    for (const waiter of this.waiting.splice(0)) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.reject(error);
    }
  }
}

function endsWith(tokens: readonly Token[], tail: readonly Token[]): boolean {
  if (tail.length > tokens.length) return false;
  const offset = tokens.length - tail.length;
  return tail.every((token, index) => tokens[offset + index] === token);
}

/** Matryoshka-style shortening, as OpenAI does for `dimensions`: keep the leading components, renormalise. */
function resize(vector: number[], dimensions: number | undefined, id: string): number[] {
  if (dimensions === undefined || dimensions === vector.length) return vector;
  if (!(dimensions >= 1) || dimensions > vector.length) {
    throw new UpstreamError(
      `${id} makes ${vector.length}-dimensional embeddings; ${dimensions} were asked for`,
      false,
      400,
    );
  }
  const cut = vector.slice(0, dimensions);
  const norm = Math.hypot(...cut);
  return norm > 0 ? cut.map((value) => value / norm) : cut;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function asUpstream(error: unknown, context: string): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // Failures inside llama.cpp are this server's problem, not the request's: another channel may do better.
  return new UpstreamError(`${context}: ${message}`, true, 500, { cause: error });
}
