import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from './helpers/accounts.js';
import { DEFAULT_REPLY, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { testRouting } from './helpers/gateway.js';
import { startServer, type TestServer } from './helpers/server.js';
import { tinyModelPath } from './helpers/tiny-model.js';

let fake: FakeUpstream;
let server: TestServer;
let adminKey: string;
let openai: OpenAI;

beforeAll(async () => {
  fake = await startFakeUpstream();
  server = await startServer({
    routing: testRouting,
    models: [{ id: 'small-context', contextLength: 120, maxTokens: 16 }],
    channels: [
      {
        name: 'openai-like',
        provider: 'openai-compatible',
        baseUrl: `${fake.url}/v1`,
        apiKeys: ['sk-config'],
        models: ['*'],
        priority: 0,
      },
      {
        name: 'anthropic',
        provider: 'anthropic',
        baseUrl: `${fake.url}/v1`,
        apiKeys: ['sk-ant'],
        models: ['claude-fake'],
        priority: 1,
      },
      {
        name: 'google',
        provider: 'google',
        baseUrl: `${fake.url}/v1beta`,
        apiKeys: ['g-key'],
        models: ['gemini-fake'],
        priority: 1,
      },
      { name: 'ollama', provider: 'ollama', baseUrl: fake.url, models: ['llama-fake'], priority: 1 },
      { name: 'local', provider: 'local', baseUrl: await tinyModelPath(), models: ['stories260K'], priority: 1 },
      // Nothing listens on port 1: every call to this channel fails to connect.
      {
        name: 'unreachable',
        provider: 'openai-compatible',
        baseUrl: 'http://127.0.0.1:1/v1',
        models: ['via-unreachable'],
        priority: 9,
      },
      {
        name: 'fallback',
        provider: 'openai-compatible',
        baseUrl: `${fake.url}/v1`,
        models: ['via-unreachable', 'rationed'],
        priority: 1,
      },
      {
        name: 'quota-1',
        provider: 'openai-compatible',
        baseUrl: `${fake.url}/v1`,
        apiKeys: ['sk-rationed'],
        models: ['rationed'],
        priority: 5,
        dailyQuota: 1,
      },
    ],
  });
  adminKey = (await signUp(server.http)).key;
  openai = new OpenAI({ apiKey: adminKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

async function streamText$(model: string): Promise<string> {
  let text = '';
  for await (const chunk of await openai.chat.completions.create({
    model,
    stream: true,
    messages: [{ role: 'user', content: 'Hello' }],
  })) {
    text += chunk.choices[0]?.delta.content ?? '';
  }
  return text;
}

describe('providers behind /v1', () => {
  it.each([
    ['anthropic', 'claude-fake', '/v1/messages'],
    ['google', 'gemini-fake', '/v1beta/models/gemini-fake:streamGenerateContent?alt=sse'],
    ['ollama', 'llama-fake', '/v1/chat/completions'],
  ])('reach %s in its own protocol, plain and streamed', async (_name, model, path) => {
    const plain = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello' }] });
    expect(plain.choices[0]!.message.content).toBe(DEFAULT_REPLY);
    expect(plain.usage!.completion_tokens).toBeGreaterThan(0);
    expect(fake.requests.at(-1)!.path).toBe(path);
    expect(await streamText$(model)).toBe(DEFAULT_REPLY);
  });

  it('streams a story from the local GGUF model', async () => {
    const stream = await openai.chat.completions.create({
      model: 'stories260K',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
      max_tokens: 24,
      messages: [{ role: 'user', content: 'Once upon a time' }],
    });
    const pieces: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content;
      if (piece) pieces.push(piece);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join('')).toMatch(/[a-z]+ [a-z]+/i);
    expect(usage!.completion_tokens).toBeLessThanOrEqual(24);
  }, 60_000);
});

describe('routing', () => {
  it('fails over when a channel cannot even be connected to', async () => {
    const answer = await openai.chat.completions.create({
      model: 'via-unreachable',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.choices[0]!.message.content).toBe(DEFAULT_REPLY);
  });

  it('stops using a channel for the day once its daily quota is spent', async () => {
    const ask = () =>
      openai.chat.completions.create({ model: 'rationed', messages: [{ role: 'user', content: 'hi' }] });
    await ask();
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-rationed');
    await ask();
    expect(fake.requests.at(-1)!.headers.authorization).not.toBe('Bearer sk-rationed');
  });

  it('passes image parts through to vision models', async () => {
    const image = 'data:image/png;base64,iVBORw0KGgo=';
    await openai.chat.completions.create({
      model: 'fake-model',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: image, detail: 'low' } },
          ],
        },
      ],
    });
    expect(fake.requests.at(-1)!.body.messages[0].content[1]).toEqual({
      type: 'image_url',
      image_url: { url: image, detail: 'low' },
    });
  });
});

describe('other OpenAI clients', () => {
  it('serve LangChain', async () => {
    const model = new ChatOpenAI({
      model: 'fake-model',
      apiKey: adminKey,
      configuration: { baseURL: `${server.url}/v1` },
      maxRetries: 0,
    });
    expect((await model.invoke('Hello')).content).toBe(DEFAULT_REPLY);
    let streamed = '';
    for await (const chunk of await model.stream('Hello')) streamed += chunk.content;
    expect(streamed).toBe(DEFAULT_REPLY);
  });

  it('serve the Vercel AI SDK as a client', async () => {
    const parley = createOpenAI({ apiKey: adminKey, baseURL: `${server.url}/v1` });
    const { text } = await generateText({ model: parley.chat('fake-model'), prompt: 'Hello', maxRetries: 0 });
    expect(text).toBe(DEFAULT_REPLY);
    const streamed = streamText({ model: parley.chat('fake-model'), prompt: 'Hello', maxRetries: 0 });
    let collected = '';
    for await (const piece of streamed.textStream) collected += piece;
    expect(collected).toBe(DEFAULT_REPLY);
  });
});

describe('the context window', () => {
  it('drops the oldest turns to fit, keeping the system prompt and the last message', async () => {
    const history = Array.from({ length: 12 }, (_, i) => ({
      role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant',
      content: `turn ${i}: ${'words and more words '.repeat(3)}`,
    }));
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      ...history,
      { role: 'user' as const, content: 'last question' },
    ];
    await openai.chat.completions.create({ model: 'small-context', messages });
    const sent = fake.requests.at(-1)!.body.messages as { role: string; content: string }[];
    expect(sent.length).toBeLessThan(messages.length);
    expect(sent[0]).toMatchObject({ role: 'system', content: 'Be brief.' });
    expect(sent.at(-1)).toMatchObject({ role: 'user', content: 'last question' });
    expect(sent.some((m) => m.content.startsWith('turn 0:'))).toBe(false);
    expect(sent.some((m) => m.content.startsWith('turn 11:'))).toBe(true);
  });

  it('refuses a message that cannot fit at all, with a clear 400', async () => {
    const before = fake.requests.length;
    const err = await openai.chat.completions
      .create({ model: 'small-context', messages: [{ role: 'user', content: 'far too long '.repeat(200) }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('context_length_exceeded');
    expect(err.message).toMatch(/tokens/);
    expect(fake.requests.length).toBe(before);
  });
});

describe('usage ledger', () => {
  it('records every call, successful or not, and reads it back by model and by day', async () => {
    const account = await signUp(server.http);
    const client = new OpenAI({ apiKey: account.key, baseURL: `${server.url}/v1`, maxRetries: 0 });
    await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'one' }] });
    for await (const _ of await client.chat.completions.create({
      model: 'fake-model',
      stream: true,
      messages: [{ role: 'user', content: 'two' }],
    }))
      void _;
    fake.failNext(400);
    await client.chat.completions
      .create({ model: 'fake-model', messages: [{ role: 'user', content: 'bad' }] })
      .catch(() => {});
    await client.chat.completions.create({ model: 'claude-fake', messages: [{ role: 'user', content: 'three' }] });

    await expect
      .poll(
        async () =>
          (
            await server.parley.database.db
              .selectFrom('usageRecords')
              .selectAll()
              .where('userId', '=', account.id)
              .execute()
          ).length,
      )
      .toBe(4);
    const rows = await server.parley.database.db
      .selectFrom('usageRecords')
      .selectAll()
      .where('userId', '=', account.id)
      .orderBy('id')
      .execute();
    expect(rows[0]).toMatchObject({
      surface: 'openai',
      model: 'fake-model',
      channelId: 'config:openai-like',
      status: 'ok',
      errorCode: null,
    });
    expect(rows[0]!.apiKeyId).toEqual(expect.any(String));
    expect(rows[0]!.completionTokens).toBeGreaterThan(0);
    expect(rows[0]!.ttftMs).toBeGreaterThanOrEqual(0);
    expect(rows[0]!.latencyMs).toBeGreaterThanOrEqual(rows[0]!.overheadMs);
    expect(rows[2]).toMatchObject({ status: 'error', errorCode: 'UPSTREAM_REJECTED', completionTokens: 0 });

    const byModel = (await server.http.get('/api/v1/usage?groupBy=model', { bearer: account.key })).body;
    expect(byModel.items).toEqual([
      expect.objectContaining({ key: 'claude-fake', requests: 1, errors: 0 }),
      expect.objectContaining({ key: 'fake-model', requests: 3, errors: 1 }),
    ]);
    const byDay = (await server.http.get('/api/v1/usage', { bearer: account.key })).body;
    expect(byDay.items).toHaveLength(1);
    expect(byDay.items[0].key % 86_400_000).toBe(0);
    expect(byDay.items[0].requests).toBe(4);

    // Another user's usage is not in anyone else's answer.
    const other = await signUp(server.http);
    expect((await server.http.get('/api/v1/usage', { bearer: other.key })).body.items).toEqual([]);
    expect((await server.http.get('/api/v1/usage?from=10&to=5', { bearer: other.key })).status).toBe(400);
  });
});

describe('admin channels', () => {
  it('keeps upstream keys encrypted and write-only, and routes to new channels at once', async () => {
    const secret = 'sk-live-very-secret-key';
    const created = await server.http.post(
      '/api/v1/admin/channels',
      {
        name: 'managed',
        provider: 'openai-compatible',
        baseUrl: `${fake.url}/v1`,
        apiKeys: [secret],
        models: ['managed-model'],
      },
      { bearer: adminKey },
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'managed', apiKeyCount: 1, source: 'database', enabled: true });
    expect(JSON.stringify(created.body)).not.toContain(secret);
    const row = await server.parley.database.db
      .selectFrom('channels')
      .selectAll()
      .where('id', '=', created.body.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(JSON.stringify(row)).not.toContain(Buffer.from(secret).toString('base64'));

    await openai.chat.completions.create({ model: 'managed-model', messages: [{ role: 'user', content: 'hi' }] });
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${secret}`);
    const listed = (await server.http.get('/api/v1/admin/channels', { bearer: adminKey })).body.items;
    expect(JSON.stringify(listed)).not.toContain(secret);

    const disabled = await server.http.patch(
      `/api/v1/admin/channels/${created.body.id}`,
      { enabled: false },
      { bearer: adminKey },
    );
    expect(disabled.body.enabled).toBe(false);
    // Disabled: the model is now served by the catch-all config channel, with its key.
    await openai.chat.completions.create({ model: 'managed-model', messages: [{ role: 'user', content: 'hi' }] });
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-config');

    expect((await server.http.delete(`/api/v1/admin/channels/${created.body.id}`, { bearer: adminKey })).status).toBe(
      204,
    );
    expect((await server.http.get(`/api/v1/admin/channels/${created.body.id}`, { bearer: adminKey })).status).toBe(404);
  });

  it.each([
    [{ name: 'x', provider: 'openai-compatible' }, 'baseUrl'],
    [{ name: 'x', provider: 'openai', baseUrl: 'ftp://example.com' }, 'baseUrl'],
    [{ name: 'x', provider: 'cohere' }, 'provider'],
    [{ name: 'x', provider: 'openai', priority: 'high' }, 'priority'],
    [{ name: 'x', provider: 'openai', apiKey: 'sk' }, 'apiKey'],
    [{ provider: 'openai' }, 'name'],
  ])('refuse %j with 400 and create nothing', async (body, field) => {
    const before = (await server.http.get('/api/v1/admin/channels', { bearer: adminKey })).body.items.length;
    const res = await server.http.post('/api/v1/admin/channels', body, { bearer: adminKey });
    expect(res.status).toBe(400);
    expect(res.body.error.details.field).toBe(field);
    expect((await server.http.get('/api/v1/admin/channels', { bearer: adminKey })).body.items.length).toBe(before);
  });

  it('refuse non-admins, changes to config channels and duplicate names', async () => {
    const user = await signUp(server.http);
    expect((await server.http.get('/api/v1/admin/channels', { bearer: user.key })).status).toBe(403);
    const forbidden = await server.http.post(
      '/api/v1/admin/channels',
      { name: 'mine', provider: 'openai' },
      { bearer: user.key },
    );
    expect(forbidden.status).toBe(403);
    expect(
      (await server.http.patch('/api/v1/admin/channels/config:anthropic', { enabled: false }, { bearer: adminKey }))
        .status,
    ).toBe(409);
    expect(
      (
        await server.http.post(
          '/api/v1/admin/channels',
          { name: 'anthropic', provider: 'openai' },
          { bearer: adminKey },
        )
      ).status,
    ).toBe(409);
  });
});
