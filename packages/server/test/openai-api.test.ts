import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from './helpers/accounts.js';
import { DEFAULT_REPLY, OPENAI_TOOL_CALL_ID, TOOL_TRIGGER } from './helpers/fake-upstream.js';
import { startGateway, type Gateway } from './helpers/gateway.js';
import { tokenCounter } from '../src/llm/tokens.js';

let gateway: Gateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway.close());

const messages = [{ role: 'user' as const, content: 'Say hello' }];

describe('the openai client against /v1', () => {
  it('gets a plain completion with usage and the overhead header', async () => {
    const { data, response } = await gateway.openai.chat.completions
      .create({ model: 'fake-model', messages })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('fake-model');
    expect(data.choices[0]!.message).toMatchObject({ role: 'assistant', content: DEFAULT_REPLY });
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    expect(Number(response.headers.get('x-parley-overhead-ms'))).toBeGreaterThanOrEqual(0);
    // The upstream got the channel's key, decrypted, never the caller's Parley key.
    const received = gateway.upstreams[0]!.requests.at(-1)!;
    expect(received.headers.authorization).toBe('Bearer sk-upstream-0');
  });

  it('streams chunks, usage last, then [DONE]', async () => {
    const stream = await gateway.openai.chat.completions.create({
      model: 'fake-model',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(DEFAULT_REPLY);
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe('stop');
    expect(usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('makes a full tool-call round trip, with the tool call id unchanged both ways', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];
    const ask = { role: 'user' as const, content: `${TOOL_TRIGGER}: weather in Paris?` };
    const first = await gateway.openai.chat.completions.create({ model: 'fake-model', messages: [ask], tools });
    const call = first.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call).toMatchObject({ id: OPENAI_TOOL_CALL_ID, type: 'function', function: { name: 'get_weather' } });
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });

    const second = await gateway.openai.chat.completions.create({
      model: 'fake-model',
      tools,
      messages: [ask, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny, 21°C' }],
    });
    expect(second.choices[0]!.message.content).toBe('Tool said: sunny, 21°C');
    const sent = gateway.upstreams[0]!.requests.at(-1)!.body;
    expect(sent.messages[1].tool_calls[0].id).toBe(OPENAI_TOOL_CALL_ID);
    expect(sent.messages[2]).toMatchObject({ role: 'tool', tool_call_id: OPENAI_TOOL_CALL_ID });

    // The same call, streamed: the SDK's helper rebuilds the call from its pieces.
    const runner = gateway.openai.chat.completions.stream({ model: 'fake-model', messages: [ask], tools });
    const final = await runner.finalChatCompletion();
    const streamed = final.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(streamed.id).toBe(OPENAI_TOOL_CALL_ID);
    expect(JSON.parse(streamed.function.arguments)).toEqual({ city: 'Paris' });
  });

  it('returns embeddings as floats and as base64 (the client default)', async () => {
    const floats = await gateway.openai.embeddings.create({
      model: 'fake-embedding',
      input: ['one', 'two'],
      encoding_format: 'float',
    });
    expect(floats.data).toHaveLength(2);
    expect(floats.data[0]!.embedding).toHaveLength(8);
    const decoded = await gateway.openai.embeddings.create({ model: 'fake-embedding', input: ['one', 'two'] });
    expect(decoded.data[0]!.embedding).toEqual(floats.data[0]!.embedding);
    expect(gateway.upstreams[0]!.requests.at(-1)!.path).toBe('/v1/embeddings');
  });

  it('lists models and finds one, with model ids that contain slashes', async () => {
    const models = await gateway.openai.models.list();
    expect(models.data.map((m) => m.id)).toContain('fake-model');
    expect((await gateway.openai.models.retrieve('fake-model')).id).toBe('fake-model');
    expect((await gateway.openai.models.retrieve('org/some-model')).id).toBe('org/some-model');
  });

  it('raises the right error classes', async () => {
    const stranger = new OpenAI({ apiKey: 'pk_wrong', baseURL: `${gateway.server.url}/v1`, maxRetries: 0 });
    await expect(stranger.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const anonymous = await fetch(`${gateway.server.url}/v1/models`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as any).error).toMatchObject({
      type: 'authentication_error',
      code: 'invalid_api_key',
    });

    const bad = await gateway.openai.chat.completions.create({ model: 'fake-model', messages: [] }).catch((e) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.param).toBe('messages');
  });

  it("refuses bad and oversize bodies in OpenAI's error format, calling no upstream", async () => {
    const before = gateway.upstreams[0]!.requests.length;
    const post = (path: string, body: string) =>
      fetch(`${gateway.server.url}/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway.admin.key}`, 'content-type': 'application/json' },
        body,
      });
    const oversize = await post(
      '/chat/completions',
      JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'x'.repeat(26 * 1024 * 1024) }] }),
    );
    expect(oversize.status).toBe(413);
    expect(((await oversize.json()) as any).error).toMatchObject({ type: 'invalid_request_error' });
    const malformed = await post('/chat/completions', '{"model": ');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as any).error.message).toBe('Body is not valid JSON');
    for (const body of [
      { model: 'fake-embedding' },
      { model: 'fake-embedding', input: 42 },
      { model: 'fake-model', messages: [{ role: 'wizard', content: 'hi' }] },
    ]) {
      const path = 'messages' in body ? '/chat/completions' : '/embeddings';
      const res = await post(path, JSON.stringify(body));
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error.type).toBe('invalid_request_error');
    }
    const n = await gateway.openai.chat.completions.create({ model: 'fake-model', messages, n: 2 }).catch((e) => e);
    expect(n).toBeInstanceOf(OpenAI.BadRequestError);
    expect(gateway.upstreams[0]!.requests.length).toBe(before);
  });

  it('refuses revoked keys at once', async () => {
    const account = await signUp(gateway.server.http);
    const client = new OpenAI({ apiKey: account.key, baseURL: `${gateway.server.url}/v1`, maxRetries: 0 });
    await client.models.list();
    const keys = (await gateway.server.http.get('/api/v1/keys', { bearer: account.key })).body.items;
    await gateway.server.http.delete(`/api/v1/keys/${keys[0].id}`, { bearer: account.key });
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe('streams from OpenAI-wire channels, relayed', () => {
  /** Parley's event stream for `body`, read raw: its `data:` payloads, and the usage row of the call. */
  async function streamed(target: Gateway, body: Record<string, unknown>) {
    const res = await fetch(`${target.server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.admin.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fake-model', messages, stream: true, ...body }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const data = text
      .split('\n\n')
      .filter(Boolean)
      .map((e) => e.slice('data: '.length));
    expect(data.at(-1)).toBe('[DONE]');
    return { text, chunks: data.slice(0, -1).map((d) => JSON.parse(d)) };
  }

  const usageRows = (target: Gateway) =>
    target.server.parley.database.db
      .selectFrom('usageRecords')
      .selectAll()
      .where('userId', '=', target.admin.id)
      .orderBy('id', 'desc')
      .execute();

  it("passes the upstream's chunks on unchanged, its usage chunk only when asked, and records the call", async () => {
    const before = (await usageRows(gateway)).length;
    const plain = await streamed(gateway, {});
    // The fake upstream's own chunks (its ids, the `usage: null` OpenAI adds when asked for usage), not Parley's.
    expect(plain.chunks.every((c) => c.id.startsWith('chatcmpl-fake-'))).toBe(true);
    expect(plain.chunks.every((c) => c.usage === null)).toBe(true);
    expect(plain.chunks[0].choices[0].delta.role).toBe('assistant');
    expect(plain.chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(DEFAULT_REPLY);
    expect(gateway.upstreams[0]!.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });

    const counted = await streamed(gateway, { stream_options: { include_usage: true } });
    const usage = counted.chunks.at(-1).usage;
    expect(counted.chunks.at(-1).choices).toEqual([]);
    expect(usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: 8 });

    await expect.poll(async () => (await usageRows(gateway)).length).toBe(before + 2);
    const [last, first] = await usageRows(gateway);
    for (const row of [first!, last!]) {
      expect(row).toMatchObject({
        surface: 'openai',
        model: 'fake-model',
        channelId: 'config:fake-0',
        status: 'ok',
        errorCode: null,
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
      });
      expect(row.ttftMs).toBeGreaterThanOrEqual(0);
      expect(row.latencyMs).toBeGreaterThanOrEqual(row.overheadMs);
    }
  });

  it('counts the tokens of a relayed answer itself when the upstream does not', async () => {
    const quiet = await startGateway();
    try {
      quiet.upstreams[0]!.configure({ countsTokens: false });
      const { chunks } = await streamed(quiet, { stream_options: { include_usage: true } });
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(DEFAULT_REPLY);
      expect(chunks.some((c) => c.usage)).toBe(false);
      await expect.poll(async () => (await usageRows(quiet)).length).toBe(1);
      const [row] = await usageRows(quiet);
      expect(row).toMatchObject({ status: 'ok', completionTokens: tokenCounter().count(DEFAULT_REPLY) });
      expect(row!.promptTokens).toBeGreaterThan(0);
    } finally {
      await quiet.close();
    }
  });

  it('shows the model as the caller named it, whatever the upstream calls it', async () => {
    const aliased = await startGateway({ overrides: { models: [{ id: 'alias-model', upstreamId: 'fake-model' }] } });
    try {
      const { chunks } = await streamed(aliased, { model: 'alias-model', stream_options: { include_usage: true } });
      expect(aliased.upstreams[0]!.requests.at(-1)!.body.model).toBe('fake-model');
      expect(chunks.map((c) => c.model)).toEqual(chunks.map(() => 'alias-model'));
      let text = '';
      for await (const chunk of await aliased.openai.chat.completions.create({
        model: 'alias-model',
        messages,
        stream: true,
      })) {
        expect(chunk.model).toBe('alias-model');
        text += chunk.choices[0]?.delta.content ?? '';
      }
      expect(text).toBe(DEFAULT_REPLY);
    } finally {
      await aliased.close();
    }
  });
});

describe('model access and quotas', () => {
  let limited: Gateway;
  beforeAll(async () => {
    const free = { requestsPerMinute: 3, requestsPerDay: 100, features: [], models: ['fake-model'] };
    const open = { requestsPerMinute: 1000, requestsPerDay: 10000, features: [], models: ['*'] };
    limited = await startGateway({ overrides: { tiers: { free, basic: open, pro: open, enterprise: open } } });
  });
  afterAll(() => limited.close());

  it('shows and serves only the models of the tier, as model_not_found otherwise', async () => {
    const account = await signUp(limited.server.http); // a free user
    const client = new OpenAI({ apiKey: account.key, baseURL: `${limited.server.url}/v1`, maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['fake-model']);
    const refused = await client.chat.completions.create({ model: 'fake-embedding', messages }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.NotFoundError);
    expect(refused.code).toBe('model_not_found');
    // The third request of the minute is allowed, the fourth is not.
    const limitedOut = await client.models.list().catch((e) => e);
    expect(limitedOut).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limitedOut.code).toBe('rate_limit_exceeded');
  });
});
