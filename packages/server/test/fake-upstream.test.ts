import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { APICallError, embedMany, generateText, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_REPLY, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';

// 'Hello from the fake upstream.' is 29 characters: 8 chunks of 4.
const CHUNKS = ['Hell', 'o fr', 'om t', 'he f', 'ake ', 'upst', 'ream', '.'];

let upstream: FakeUpstream;
let openai: OpenAI;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  openai = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
});
afterAll(() => upstream.close());
beforeEach(() => {
  upstream.configure({ reply: undefined, chunkSize: 4, chunkDelayMs: 0, firstTokenDelayMs: 0 });
  upstream.requests.length = 0;
});

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('OpenAI protocol (openai SDK)', () => {
  it('answers a plain completion, echoes the model and counts tokens', async () => {
    const completion = await openai.chat.completions.create({
      model: 'fake-model',
      messages: [{ role: 'user', content: 'Hi there' }],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('fake-model');
    expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: DEFAULT_REPLY });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toEqual({ prompt_tokens: 2, completion_tokens: 8, total_tokens: 10 });

    const [recorded] = upstream.requests;
    expect(recorded).toMatchObject({ method: 'POST', path: '/v1/chat/completions', aborted: false });
    expect(recorded!.headers.authorization).toBe('Bearer sk-test');
    expect(recorded!.body.messages).toEqual([{ role: 'user', content: 'Hi there' }]);
  });

  it('streams chunks with a role delta, a finish chunk and a usage chunk', async () => {
    upstream.configure({ reply: (req) => `echo ${req.body.messages[0].content}`, chunkSize: 3 });
    const stream = await openai.chat.completions.create({
      model: 'gpt-fake',
      messages: [{ role: 'user', content: 'abcdef' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.every((c) => c.model === 'gpt-fake' && c.object === 'chat.completion.chunk')).toBe(true);
    const contents = chunks.slice(1, -2).map((c) => c.choices[0]!.delta.content);
    expect(contents).toEqual(['ech', 'o a', 'bcd', 'ef']);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
  });

  it('round-trips a tool call, streamed and not', async () => {
    const ask = [{ role: 'user' as const, content: 'Weather? CALL_TOOL' }];
    const first = await openai.chat.completions.create({ model: 'fake-model', messages: ask, tools: [weatherTool] });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call).toEqual({
      id: 'call_fake_1',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    });

    // The SDK's stream helper reassembles the tool call from its deltas.
    const streamed = openai.chat.completions.stream({ model: 'fake-model', messages: ask, tools: [weatherTool] });
    const deltas: any[] = [];
    streamed.on('chunk', (chunk) => deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? [])));
    const final = await streamed.finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls).toEqual([call]);
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(deltas.filter((d) => d.function?.arguments).length).toBeGreaterThanOrEqual(2);
    expect(deltas.filter((d) => d.id).map((d) => d.id)).toEqual(['call_fake_1']);

    const second = await openai.chat.completions.create({
      model: 'fake-model',
      tools: [weatherTool],
      messages: [...ask, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny, 21°C' }],
    });
    expect(second.choices[0]!.message.content).toBe('Tool said: sunny, 21°C');
  });

  it('lists models', async () => {
    const models = [];
    for await (const model of openai.models.list()) models.push(model.id);
    expect(models).toEqual(['fake-model', 'fake-embedding']);
  });

  it('embeds deterministically as float and as little-endian float32 base64', async () => {
    const input = ['hello', 'world'];
    const floats = await openai.embeddings.create({ model: 'fake-embedding', input, encoding_format: 'float' });
    expect(floats.data.map((d) => d.index)).toEqual([0, 1]);
    expect(floats.data[0]!.embedding).toHaveLength(8);
    expect(floats.data[0]!.embedding).not.toEqual(floats.data[1]!.embedding);
    expect(floats.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });

    const base64 = await openai.embeddings.create({ model: 'fake-embedding', input, encoding_format: 'base64' });
    const encoded = base64.data[0]!.embedding as unknown as string;
    expect(typeof encoded).toBe('string');
    const bytes = Buffer.from(encoded, 'base64');
    const decoded = Array.from({ length: 8 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(floats.data[0]!.embedding);

    // Without encoding_format the SDK asks for base64 and decodes it itself.
    const implicit = await openai.embeddings.create({ model: 'fake-embedding', input });
    expect(upstream.requests.at(-1)!.body.encoding_format).toBe('base64');
    expect(implicit.data.map((d) => Array.from(d.embedding))).toEqual(floats.data.map((d) => d.embedding));
  });

  it('fails on demand with a provider-shaped 429 that the SDK surfaces as RateLimitError', async () => {
    upstream.failNext(429);
    const error = await openai.chat.completions
      .create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('rate_limit_exceeded');
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBe('1');
    // Recorded like any other request, and only the next one fails.
    expect(upstream.requests).toHaveLength(1);
    const ok = await openai.chat.completions.create({
      model: 'fake-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(ok.choices[0]!.message.content).toBe(DEFAULT_REPLY);
  });

  it('answers unknown paths with a 404 JSON error', async () => {
    const res = await fetch(`${upstream.url}/v2/nothing`);
    expect(res.status).toBe(404);
    const body: any = await res.json();
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
    expect(body.error.message).toContain('/v2/nothing');
  });
});

describe('Anthropic protocol (@ai-sdk/anthropic)', () => {
  const model = () => createAnthropic({ baseURL: `${upstream.url}/v1`, apiKey: 'ak-test' })('claude-fake');
  const weather = tool({
    description: 'Weather for a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => `sunny in ${city}`,
  });

  it('generates text with usage', async () => {
    const result = await generateText({ model: model(), system: 'Be brief.', prompt: 'Hello', maxRetries: 0 });
    expect(result.text).toBe(DEFAULT_REPLY);
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toMatchObject({ inputTokens: 4, outputTokens: 8 });
    expect(upstream.requests[0]!.headers['x-api-key']).toBe('ak-test');
    expect(upstream.requests[0]!.body.model).toBe('claude-fake');
  });

  it('streams text deltas', async () => {
    const result = streamText({ model: model(), prompt: 'Hello', maxRetries: 0 });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    expect(deltas).toEqual(CHUNKS);
    expect(await result.usage).toMatchObject({ inputTokens: 2, outputTokens: 8 });
    expect(upstream.requests[0]!.body.stream).toBe(true);
  });

  it('round-trips a streamed tool_use', async () => {
    const result = streamText({
      model: model(),
      prompt: 'Weather? CALL_TOOL',
      tools: { get_weather: weather },
      stopWhen: stepCountIs(2),
      maxRetries: 0,
    });
    expect(await result.text).toBe('Tool said: sunny in Paris');
    const [first] = await result.steps;
    expect(first!.toolCalls).toMatchObject([
      { toolCallId: 'toolu_fake_1', toolName: 'get_weather', input: { city: 'Paris' } },
    ]);
    expect(first!.finishReason).toBe('tool-calls');
  });

  it('round-trips a non-streamed tool_use', async () => {
    const result = await generateText({
      model: model(),
      prompt: 'Weather? CALL_TOOL',
      tools: { get_weather: weather },
      stopWhen: stepCountIs(2),
      maxRetries: 0,
    });
    expect(result.text).toBe('Tool said: sunny in Paris');
    expect(result.steps[0]!.toolCalls[0]!.input).toEqual({ city: 'Paris' });
  });

  it('fails with an Anthropic-shaped error', async () => {
    upstream.failNext(529);
    const error = await generateText({ model: model(), prompt: 'Hello', maxRetries: 0 }).catch((e: unknown) => e);
    expect(APICallError.isInstance(error)).toBe(true);
    expect((error as APICallError).statusCode).toBe(529);
    expect(JSON.parse((error as APICallError).responseBody!)).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Fake upstream failure 529' },
    });
  });
});

describe('Gemini protocol (@ai-sdk/google)', () => {
  const google = () => createGoogleGenerativeAI({ baseURL: `${upstream.url}/v1beta`, apiKey: 'gk-test' });
  const weather = tool({
    description: 'Weather for a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => `rain in ${city}`,
  });

  it('generates text with usage', async () => {
    const result = await generateText({ model: google()('gemini-fake'), prompt: 'Hello', maxRetries: 0 });
    expect(result.text).toBe(DEFAULT_REPLY);
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toMatchObject({ inputTokens: 2, outputTokens: 8 });
    expect(upstream.requests[0]!.path).toBe('/v1beta/models/gemini-fake:generateContent');
    expect(upstream.requests[0]!.headers['x-goog-api-key']).toBe('gk-test');
  });

  it('streams over SSE', async () => {
    const result = streamText({ model: google()('gemini-fake'), prompt: 'Hello', maxRetries: 0 });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    expect(deltas).toEqual(CHUNKS);
    expect(await result.finishReason).toBe('stop');
    expect(await result.usage).toMatchObject({ inputTokens: 2, outputTokens: 8 });
    expect(upstream.requests[0]!.path).toBe('/v1beta/models/gemini-fake:streamGenerateContent?alt=sse');
  });

  it('round-trips a function call', async () => {
    const result = streamText({
      model: google()('gemini-fake'),
      prompt: 'Weather? CALL_TOOL',
      tools: { get_weather: weather },
      stopWhen: stepCountIs(2),
      maxRetries: 0,
    });
    expect(await result.text).toBe('Tool said: rain in Paris');
    expect((await result.steps)[0]!.toolCalls[0]).toMatchObject({ toolName: 'get_weather', input: { city: 'Paris' } });
  });

  it('embeds, and fails with a Google-shaped error', async () => {
    const { embeddings } = await embedMany({ model: google().embedding('fake-embedding'), values: ['a', 'b'] });
    expect(embeddings).toHaveLength(2);
    expect(embeddings[0]).toHaveLength(8);

    upstream.failNext(503);
    const res = await fetch(`${upstream.url}/v1beta/models/gemini-fake:generateContent`, {
      method: 'POST',
      body: JSON.stringify({ contents: [] }),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      error: { code: 503, message: 'Fake upstream failure 503', status: 'UNAVAILABLE' },
    });
  });
});

describe('fault injection', () => {
  const streamHello = (signal?: AbortSignal) =>
    openai.chat.completions.create(
      { model: 'fake-model', messages: [{ role: 'user', content: 'Hello' }], stream: true },
      { signal },
    );

  it('dropNext breaks the stream after N chunks, once', async () => {
    upstream.dropNext(2);
    const received: string[] = [];
    const consume = async () => {
      for await (const chunk of await streamHello()) received.push(chunk.choices[0]?.delta.content ?? '');
    };
    await expect(consume()).rejects.toThrow();
    expect(received.join('')).toBe('Hello fr');
    expect(upstream.requests[0]!.aborted).toBe(false);

    received.length = 0;
    await consume();
    expect(received.join('')).toBe(DEFAULT_REPLY);
  });

  it('firstTokenDelayMs holds back the response headers', async () => {
    upstream.configure({ firstTokenDelayMs: 300 });
    const started = Date.now();
    const res = await fetch(`${upstream.url}/v1/models`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(res.status).toBe(200);

    // A client that gives up on the stall is seen as an abort.
    await expect(fetch(`${upstream.url}/v1/models`, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    expect(await upstream.waitForAbort(2000)).toMatchObject({ path: '/v1/models', aborted: true });
  });

  it('detects a client abort mid-stream', async () => {
    upstream.configure({ chunkDelayMs: 50 });
    const controller = new AbortController();
    const received: string[] = [];
    const consume = async () => {
      for await (const chunk of await streamHello(controller.signal)) {
        received.push(chunk.choices[0]?.delta.content ?? '');
        if (received.length === 2) controller.abort();
      }
    };
    await consume(); // the SDK ends iteration quietly on an abort of its own
    const aborted = await upstream.waitForAbort(2000);
    expect(aborted).toBe(upstream.requests[0]);
    expect(aborted).toMatchObject({ path: '/v1/chat/completions', aborted: true });
    expect(received.join('').length).toBeLessThan(DEFAULT_REPLY.length);
  });

  it('waitForAbort rejects when nothing aborts', async () => {
    await openai.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] });
    await expect(upstream.waitForAbort(100)).rejects.toThrow(/no aborted request/);
  });
});
