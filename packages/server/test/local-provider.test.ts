import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatDelta, ChatRequest } from '../src/core/chat-model.js';
import { UpstreamError } from '../src/core/chat-model.js';
import { createLocalProvider, type LocalProvider } from '../src/llm/providers/local.js';
import { tinyModelPath } from './helpers/tiny-model.js';

const never = () => new AbortController().signal;

const storyRequest = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'stories260K',
  messages: [
    { role: 'system', content: 'You tell short stories for children.' },
    { role: 'user', content: 'Tell me a story about a little cat.' },
  ],
  temperature: 0,
  maxTokens: 40,
  ...overrides,
});

async function collect(stream: AsyncIterable<ChatDelta>): Promise<ChatDelta[]> {
  const deltas: ChatDelta[] = [];
  for await (const delta of stream) deltas.push(delta);
  return deltas;
}

const textOf = (deltas: ChatDelta[]) => deltas.map((delta) => (delta.type === 'text' ? delta.text : '')).join('');
const finishOf = (deltas: ChatDelta[]) => deltas.filter((delta) => delta.type === 'finish');

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('local provider (node-llama-cpp, stories260K)', () => {
  let modelPath: string;
  let provider: LocalProvider;

  beforeAll(async () => {
    modelPath = await tinyModelPath();
    // One thread: a 260K-parameter model has too little work per token to split, and on a busy 2-core machine
    // two spinning llama.cpp threads make it ~10x slower. The default thread count has a test of its own.
    provider = createLocalProvider({ modelPath, threads: 1 });
  });

  afterAll(async () => {
    await provider?.close();
  });

  it('describes the model from the GGUF header', async () => {
    const models = await provider.listModels(never());
    expect(models).toEqual([provider.modelInfo]);
    expect(provider.modelInfo).toEqual({
      id: 'stories260K',
      displayName: 'stories260K',
      provider: 'local',
      contextLength: 2048,
      maxTokens: 2048,
      capabilities: { tools: false, vision: false, embeddings: false },
    });
    expect(provider.kind).toBe('local');
  });

  it('is deterministic at temperature 0 and writes story text', async () => {
    const first = textOf(await collect(provider.chat(storyRequest(), never())));
    const second = textOf(await collect(provider.chat(storyRequest(), never())));
    expect(first).toBe(second);
    expect(first.length).toBeGreaterThan(20);
    // Mostly letters and spaces, with some of the commonest words of the stories it was trained on.
    const letters = first.replace(/[^a-zA-Z ]/g, '').length;
    expect(letters / first.length).toBeGreaterThan(0.8);
    const words = new Set(first.toLowerCase().match(/[a-z]+/g));
    const common = ['the', 'a', 'was', 'and', 'to', 'he', 'she', 'said', 'they', 'it', 'her', 'his', 'day', 'one'];
    expect(common.filter((word) => words.has(word)).length).toBeGreaterThanOrEqual(2);
  });

  it('streams several text deltas and ends with exactly one finish carrying real usage', async () => {
    const deltas = await collect(provider.chat(storyRequest({ temperature: 0.8, seed: 7 }), never()));
    const texts = deltas.filter((delta) => delta.type === 'text');
    expect(texts.length).toBeGreaterThan(1);
    const finishes = finishOf(deltas);
    expect(finishes).toHaveLength(1);
    expect(deltas.at(-1)).toBe(finishes[0]);
    const finish = finishes[0] as Extract<ChatDelta, { type: 'finish' }>;
    expect(['stop', 'length']).toContain(finish.reason);
    // System + user text plus template markup, in a 512-token vocabulary: dozens of tokens.
    expect(finish.usage!.promptTokens).toBeGreaterThan(20);
    expect(finish.usage!.promptTokens).toBeLessThan(200);
    expect(finish.usage!.completionTokens).toBeGreaterThanOrEqual(texts.length);
    expect(finish.usage!.completionTokens).toBeLessThanOrEqual(40);
  });

  it('stops at maxTokens with reason length', async () => {
    const deltas = await collect(provider.chat(storyRequest({ maxTokens: 5 }), never()));
    expect(finishOf(deltas)).toEqual([
      { type: 'finish', reason: 'length', usage: { promptTokens: expect.any(Number), completionTokens: 5 } },
    ]);
  });

  it('cuts the answer at a stop string', async () => {
    const full = textOf(await collect(provider.chat(storyRequest(), never())));
    const word = full.match(/[a-z]{3,}/)![0];
    const deltas = await collect(provider.chat(storyRequest({ stop: [word] }), never()));
    expect(textOf(deltas)).toBe(full.slice(0, full.indexOf(word)).trimStart());
    expect(finishOf(deltas)).toMatchObject([{ reason: 'stop' }]);
  });

  it('stops promptly on abort and leaves the sequence clean for the next request', async () => {
    const reference = textOf(await collect(provider.chat(storyRequest(), never())));
    const controller = new AbortController();
    const received: ChatDelta[] = [];
    let abortedAt = 0;
    const error = await caught(
      (async () => {
        for await (const delta of provider.chat(storyRequest({ temperature: 0.9, seed: 3 }), controller.signal)) {
          received.push(delta);
          if (received.length === 2) {
            abortedAt = performance.now();
            controller.abort();
          }
        }
      })(),
    );
    const stoppedAfter = performance.now() - abortedAt;
    expect((error as Error).name).toBe('AbortError');
    expect(received).toHaveLength(2);
    expect(stoppedAfter).toBeLessThan(250);
    // Same greedy answer as before: nothing of the aborted generation is left in the sequence.
    expect(textOf(await collect(provider.chat(storyRequest(), never())))).toBe(reference);
  });

  it('lets requests beyond the free sequences wait, and both complete', async () => {
    const [a, b] = await Promise.all([
      collect(provider.chat(storyRequest({ maxTokens: 20 }), never())),
      collect(provider.chat(storyRequest({ maxTokens: 20 }), never())),
    ]);
    expect(finishOf(a)).toHaveLength(1);
    expect(finishOf(b)).toHaveLength(1);
    expect(textOf(a)).toBe(textOf(b));
  });

  it('refuses a prompt longer than the context with a non-retryable 400', async () => {
    const long = 'Once upon a time there was a little dog who liked to run in the park. '.repeat(200);
    const error = await caught(
      collect(provider.chat(storyRequest({ messages: [{ role: 'user', content: long }] }), never())),
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ retryable: false, status: 400 });
  });

  it('refuses embeddings: the model has no pooling', async () => {
    const error = await caught(provider.embed({ model: 'stories260K', input: ['hello'] }, never()));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ retryable: false, status: 400 });
  });

  it('uses every core by default, and never more threads than the machine has', async () => {
    const cores = os.availableParallelism();
    const byDefault = createLocalProvider({ modelPath });
    try {
      await collect(byDefault.chat(storyRequest({ maxTokens: 3 }), never()));
      expect(byDefault.threads).toBe(cores);
    } finally {
      await byDefault.close();
    }
    const greedy = createLocalProvider({ modelPath, id: 'greedy', threads: cores * 64 });
    try {
      expect(greedy.threads).toBe(cores);
      await collect(greedy.chat(storyRequest({ maxTokens: 3 }), never()));
      expect(greedy.threads).toBeLessThanOrEqual(cores);
      expect(greedy.modelInfo.id).toBe('greedy');
    } finally {
      await greedy.close();
    }
  });

  it('refuses with a retryable error when too many requests are waiting', async () => {
    const busy = createLocalProvider({ modelPath, threads: 1, maxQueue: 1 });
    try {
      const results = await Promise.allSettled(
        [0, 1, 2].map(() => collect(busy.chat(storyRequest({ maxTokens: 10 }), never()))),
      );
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ retryable: true, status: 503 });
    } finally {
      await busy.close();
    }
  });

  it('ends running and waiting requests with a retryable error on close', async () => {
    const closing = createLocalProvider({ modelPath, threads: 1 });
    const running = closing.chat(storyRequest({ maxTokens: 40 }), never())[Symbol.asyncIterator]();
    expect((await running.next()).value).toMatchObject({ type: 'text' });
    // Observed at once: it is rejected while close() is still running.
    const waiting = caught(collect(closing.chat(storyRequest({ maxTokens: 40 }), never())));
    await closing.close();
    const rest = (async () => {
      for (let step = await running.next(); !step.done; step = await running.next());
    })();
    expect(await caught(rest)).toMatchObject({ name: 'UpstreamError', retryable: true });
    expect(await waiting).toMatchObject({ name: 'UpstreamError', retryable: true });
    expect(await caught(closing.listModels(never()))).toMatchObject({ name: 'UpstreamError', retryable: true });
  });
});
