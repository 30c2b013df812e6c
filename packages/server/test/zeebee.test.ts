import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshName, signUp, type Account } from './helpers/accounts.js';
import { DEFAULT_REPLY } from './helpers/fake-upstream.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';
import type { CallOptions } from './helpers/http.js';
import { generousLimits, startServer } from './helpers/server.js';

/**
 * The zeebee surface at /api: every endpoint of its document in the document's order, with the
 * documented requests, then the requests its published Python SDK makes (X-API-Key only, a JSON
 * content type on every method, nulls for what is not set, fields Parley does not act on), then
 * refusals and what one caller can never see of another's.
 */

/** Every tier as generous as the helpers make it; the free tier (everyone's) limited to one model. */
const tiers = Object.fromEntries(
  Object.entries(generousLimits.tiers).map(([name, tier]) => [
    name,
    name === 'free' ? { ...tier, models: ['fake-model'], features: ['voice_chat', 'custom_feature'] } : { ...tier },
  ]),
);

let gateway: Gateway;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  gateway = await startChatGateway({ tiers }, { models: ['fake-model', 'other-model'] });
  alice = await signUp(gateway.server.http);
  bob = await signUp(gateway.server.http);
});
afterAll(() => gateway.close());

const api = () => gateway.server.http;
const upstream = () => gateway.upstreams[0]!;
const as = (account: Account): CallOptions => ({ bearer: account.key });
/** The messages the upstream was sent for its latest request. */
const lastPrompt = () => upstream().requests.at(-1)!.body.messages as { role: string; content: string }[];

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/** What the published Python SDK sends with every request: no Authorization header. */
function sdkHeaders(account: Account): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'zeebee-python-sdk/v1',
    'x-session-id': randomUUID(),
    'x-api-key': account.key,
  };
}

/** A request as the SDK makes it: DELETE and body-less POSTs still say JSON, with an empty body. */
function sdk(account: Account, method: string, path: string, body?: unknown) {
  const headers = sdkHeaders(account);
  if (method === 'GET') return api().call(method, path, { headers });
  return api().call(method, path, {
    headers,
    rawBody: body === undefined ? '' : JSON.stringify(body),
    contentType: 'application/json',
  });
}

/** The SDK's chat completion body, every key it always sends included. */
function sdkCompletion(message: string, extra: Record<string, unknown> = {}) {
  return {
    messages: [{ role: 'user', content: message }],
    model: 'fake-model',
    stream: false,
    conversation_id: null,
    temperature: 0.7,
    max_tokens: null,
    top_p: 1.0,
    frequency_penalty: 0.0,
    presence_penalty: 0.0,
    ...extra,
  };
}

/**
 * Reads a streamed answer as the SDK does: the whole body, then each non-empty line; `data: [DONE]`
 * is skipped and the rest of each `data: ` line parsed as JSON.
 */
async function sdkStream(
  account: Account,
  body: unknown,
): Promise<{ status: number; type: string; chunks: any[]; done: boolean }> {
  const res = await fetch(`${gateway.server.url}/api/chat/completions`, {
    method: 'POST',
    headers: sdkHeaders(account),
    body: JSON.stringify(body),
  });
  const lines = (await res.text()).split('\n').filter((line) => line !== '');
  const data = lines.filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]');
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    chunks: data.map((line) => JSON.parse(line.slice('data: '.length))),
    done: lines.at(-1) === 'data: [DONE]',
  };
}

async function chat(account: Account, body: Record<string, unknown>) {
  const res = await api().post('/api/chat', { model: 'fake-model', ...body }, as(account));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { message: string; response: string; conversation_id: string; message_id: string };
}

async function conversationTotal(account: Account, endUserId?: string): Promise<number> {
  const query = endUserId ? `?user_id=${encodeURIComponent(endUserId)}` : '';
  const res = await api().get(`/api/conversations${query}`, as(account));
  expect(res.status).toBe(200);
  return res.body.total;
}

function expectError(res: { status: number; body: any }, status: number, code?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(typeof res.body.error).toBe('string');
  expect(res.body.error.length).toBeGreaterThan(0);
  expect(typeof res.body.code).toBe('string');
  if (code) expect(res.body.code).toBe(code);
}

describe('the document, endpoint by endpoint', () => {
  let conversationId: string;
  let replyId: string;

  /** The document's search example over alice's end user: one conversation, and one message in it, match. */
  async function searchForPython(path: string) {
    const res = await api().post(path, { query: 'python function', user_id: 'user123', limit: 10 }, as(alice));
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(1);
    return res.body;
  }

  it('GET /api/health answers without a key', async () => {
    const res = await api().get('/api/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', service: expect.any(String), version: expect.any(String) });
  });

  it('POST /api/chat answers, starting a conversation for the end user with the system prompt given', async () => {
    const res = await api().post(
      '/api/chat',
      {
        message: 'Hello, how can you help me?',
        model: 'fake-model',
        user_id: 'user123',
        conversation_id: null,
        system_prompt: 'You are a helpful assistant.',
      },
      as(alice),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      message: DEFAULT_REPLY,
      response: DEFAULT_REPLY,
      conversation_id: expect.any(String),
      message_id: expect.any(String),
    });
    expect(lastPrompt()).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Hello, how can you help me?' },
    ]);
    conversationId = res.body.conversation_id;
    replyId = res.body.message_id;

    const next = await chat(alice, { message: 'And then?', user_id: 'user123', conversation_id: conversationId });
    expect(next.conversation_id).toBe(conversationId);
    expect(next.message_id).not.toBe(replyId);
    expect(lastPrompt().map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
  });

  it('GET /api/models lists the models of the caller’s tier', async () => {
    const res = await api().get('/api/models', as(alice));
    expect(res.status).toBe(200);
    expect(res.body.models).toEqual([
      {
        id: 'fake-model',
        name: 'fake-model',
        display_name: expect.any(String),
        provider: expect.any(String),
        max_tokens: expect.any(Number),
        context_length: expect.any(Number),
      },
    ]);
  });

  it('GET /api/available_features says which features the caller’s tier has', async () => {
    const res = await api().get('/api/available_features', as(alice));
    expect(res.status).toBe(200);
    const byName = Object.fromEntries(
      res.body.features.map((f: { id: string; name: string; enabled: boolean }) => [f.name, f]),
    );
    expect(byName.voice_chat).toEqual({ id: expect.any(String), name: 'voice_chat', enabled: true });
    expect(byName.semantic_search).toMatchObject({ enabled: false });
    expect(byName.multi_agent).toMatchObject({ enabled: false });
    expect(byName.custom_feature).toMatchObject({ enabled: true });
  });

  it('GET /api/templates lists the bots as templates', async () => {
    const res = await api().get('/api/templates', as(alice));
    expect(res.status).toBe(200);
    const translator = res.body.templates.find((t: { name: string }) => t.name === 'translator');
    expect(translator).toEqual({
      id: expect.any(String),
      name: 'translator',
      display_name: expect.any(String),
      description: expect.any(String),
    });
  });

  it('GET /api/template/{template_name} details one', async () => {
    const res = await api().get('/api/template/translator', as(alice));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: expect.any(String),
      name: 'translator',
      display_name: expect.any(String),
      description: expect.any(String),
      system_prompt: expect.stringContaining('{{target_language}}'),
      example_usage: expect.stringContaining('target_language'),
    });
    expect(res.body.variables).toContain('target_language');
    expectError(await api().get('/api/template/no-such-template', as(alice)), 404, 'NOT_FOUND');
  });

  it('POST /api/conversation/{id}/template switches the conversation’s template', async () => {
    const res = await api().post(
      `/api/conversation/${conversationId}/template`,
      { template_name: 'translator', variables: { target_language: 'French' } },
      as(alice),
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'success', conversation_id: conversationId, template: 'translator' });
    await chat(alice, { message: 'Good morning', conversation_id: conversationId });
    const system = lastPrompt()[0]!;
    expect(system.role).toBe('system');
    expect(system.content).toContain('French');
    expect(system.content).not.toContain('You are a helpful assistant.');

    const path = `/api/conversation/${conversationId}/template`;
    expectError(await api().post(path, { template_name: 'no-such-template' }, as(alice)), 404);
    expectError(await api().post(path, { template_name: 'translator', variables: { nope: 'x' } }, as(alice)), 400);
    expectError(await api().post(path, {}, as(alice)), 400, 'VALIDATION_ERROR');
  });

  it('POST /api/feedback records feedback on a reply', async () => {
    const res = await api().post(
      '/api/feedback',
      {
        conversation_id: conversationId,
        message_id: replyId,
        feedback_type: 'thumbs_up',
        feedback_value: 1,
        comment: 'Great response!',
        user_id: 'user123',
      },
      as(alice),
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'success', feedback_id: expect.any(String) });
  });

  it('GET /api/feedback/analyze/{conversation_id} sums it up', async () => {
    const history = await api().get(`/api/conversation/${conversationId}/messages`, as(alice));
    const lastReply = history.body.messages.at(-1).id;
    const rated = await api().post(
      '/api/feedback',
      { conversation_id: conversationId, message_id: lastReply, feedback_type: 'rating', feedback_value: 4 },
      as(alice),
    );
    expect(rated.status).toBe(200);

    const res = await api().get(`/api/feedback/analyze/${conversationId}`, as(alice));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      conversation_id: conversationId,
      total_messages: 6,
      messages_with_feedback: 2,
      positive_feedback: 2,
      negative_feedback: 0,
      average_rating: 4,
    });
    expect(res.body.feedback_details).toHaveLength(2);
    for (const detail of res.body.feedback_details) {
      expect(detail).toMatchObject({
        message_id: expect.any(String),
        feedback_type: expect.stringMatching(/^(thumbs_up|rating)$/),
        feedback_value: expect.any(Number),
      });
      expect(detail.timestamp).toMatch(ISO);
    }
  });

  it('GET /api/conversations lists the end user’s conversations with total, limit and offset', async () => {
    const res = await api().get('/api/conversations?user_id=user123&limit=10&offset=0', as(alice));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 1, limit: 10, offset: 0 });
    const [listed] = res.body.conversations;
    expect(listed).toMatchObject({ id: conversationId, title: expect.any(String), message_count: 6 });
    expect(listed.created_at).toMatch(ISO);
    expect(listed.updated_at).toMatch(ISO);
  });

  it('GET /api/conversation/{id}/messages pages the history', async () => {
    const res = await api().get(`/api/conversation/${conversationId}/messages`, as(alice));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      conversation_id: conversationId,
      title: expect.any(String),
      total: 6,
      limit: 50,
      offset: 0,
    });
    expect(res.body.messages.map((m: { role: string }) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    const [first] = res.body.messages;
    expect(first).toMatchObject({ id: expect.any(String), role: 'user', content: 'Hello, how can you help me?' });
    expect(first.created_at).toMatch(ISO);

    const older = await api().get(`/api/conversation/${conversationId}/messages?limit=2&offset=2`, as(alice));
    expect(older.body).toMatchObject({ total: 6, limit: 2, offset: 2 });
    expect(older.body.messages.map((m: { content: string }) => m.content)).toEqual(['And then?', DEFAULT_REPLY]);
  });

  it('POST /api/search/conversations finds conversations by what was said', async () => {
    const asked = await chat(alice, { message: 'How do I write a function in Python?', user_id: 'user123' });
    await chat(alice, { message: 'Travel recommendations for Lisbon', user_id: 'user123' });
    const found = await searchForPython('/api/search/conversations');
    const [hit] = found.results;
    expect(hit).toMatchObject({
      conversation_id: asked.conversation_id,
      title: expect.any(String),
      similarity_score: expect.any(Number),
      snippet: expect.stringContaining('Python'),
    });
    expect(hit.created_at).toMatch(ISO);
    expect(hit.updated_at).toMatch(ISO);
    expect(found.mode).toBe('lexical');
  });

  it('POST /api/search/messages finds messages, in one conversation if asked', async () => {
    const [hit] = (await searchForPython('/api/search/messages')).results;
    expect(hit).toMatchObject({
      message_id: expect.any(String),
      conversation_id: expect.any(String),
      role: 'user',
      content: 'How do I write a function in Python?',
      similarity_score: expect.any(Number),
    });
    expect(hit.created_at).toMatch(ISO);

    const inOne = await api().post(
      '/api/search/messages',
      { query: 'fake upstream', user_id: 'user123', conversation_id: conversationId, limit: 10 },
      as(alice),
    );
    expect(inOne.status).toBe(200);
    expect(inOne.body.results.length).toBe(3);
    expect(inOne.body.results.every((r: { conversation_id: string }) => r.conversation_id === conversationId)).toBe(
      true,
    );
  });

  it('DELETE /api/conversation/{id} deletes the conversation', async () => {
    const res = await api().delete(`/api/conversation/${conversationId}`, as(alice));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'success', message: 'Conversation deleted successfully' });
    expectError(await api().get(`/api/conversation/${conversationId}/messages`, as(alice)), 404, 'NOT_FOUND');
    expectError(await api().delete(`/api/conversation/${conversationId}`, as(alice)), 404, 'NOT_FOUND');
  });
});

describe('the published SDK', () => {
  it('chats through /api/chat/completions with X-API-Key only, nulls and extra fields', async () => {
    const account = await signUp(api());
    const first = await sdk(account, 'POST', '/api/chat/completions', sdkCompletion('Hi there'));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({
      response: DEFAULT_REPLY,
      message: DEFAULT_REPLY,
      conversation_id: expect.any(String),
      message_id: expect.any(String),
      choices: [{ index: 0, message: { role: 'assistant', content: DEFAULT_REPLY }, finish_reason: 'stop' }],
    });
    const asked = upstream().requests.at(-1)!.body;
    expect(asked).toMatchObject({ temperature: 0.7, top_p: 1 });
    expect(asked.max_tokens).toBeUndefined();

    const withSystem = await sdk(
      account,
      'POST',
      '/api/chat/completions',
      sdkCompletion('', {
        messages: [
          { role: 'system', content: 'Answer in one word.' },
          { role: 'user', content: 'Still there?' },
        ],
        conversation_id: first.body.conversation_id,
        max_tokens: 5,
        stop: ['\n'],
        metadata: {},
        layout: 'simple',
      }),
    );
    expect(withSystem.status).toBe(200);
    expect(upstream().requests.at(-1)!.body).toMatchObject({ max_tokens: 5 });
    expect(withSystem.body.conversation_id).toBe(first.body.conversation_id);
    expect(lastPrompt()).toEqual([
      { role: 'system', content: 'Answer in one word.' },
      { role: 'user', content: 'Hi there' },
      { role: 'assistant', content: DEFAULT_REPLY },
      { role: 'user', content: 'Still there?' },
    ]);
  });

  it('takes null for every optional field', async () => {
    const account = await signUp(api());
    const nulls = {
      model: null,
      user_id: null,
      conversation_id: null,
      system_prompt: null,
      template: null,
      stream: null,
      temperature: null,
      top_p: null,
      max_tokens: null,
    };
    const res = await api().post('/api/chat', { message: 'Hello', ...nulls }, as(account));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.message).toBe(DEFAULT_REPLY);
    const created = await api().post(
      '/api/conversations',
      { title: null, model: null, system_prompt: null, user_id: null, template: null },
      as(account),
    );
    expect(created.status).toBe(201);
    const feedback = await api().post(
      '/api/feedback',
      {
        conversation_id: null,
        message_id: res.body.message_id,
        feedback_type: 'thumbs_up',
        feedback_value: null,
        comment: null,
        user_id: null,
      },
      as(account),
    );
    expect(feedback.status).toBe(200);
    const search = await api().post(
      '/api/search/messages',
      { query: 'hello', user_id: null, conversation_id: null, limit: null, offset: null },
      as(account),
    );
    expect(search.body.results.map((r: { role: string }) => r.role).sort()).toEqual(['assistant', 'user']);
  });

  it('streams data: lines with text, conversation_id and choices, ending with data: [DONE]', async () => {
    const account = await signUp(api());
    const { status, type, chunks, done } = await sdkStream(account, sdkCompletion('Stream please', { stream: true }));
    expect(status).toBe(200);
    expect(type).toContain('text/event-stream');
    expect(done).toBe(true);
    const conversationId = chunks[0].conversation_id;
    expect(conversationId).toEqual(expect.any(String));
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ conversation_id: conversationId, message_id: expect.any(String) });
      expect(typeof chunk.text).toBe('string');
    }
    expect(chunks.map((c) => c.text).join('')).toBe(DEFAULT_REPLY);
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(DEFAULT_REPLY);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');

    const history = await sdk(account, 'GET', `/api/conversations/${conversationId}/messages`);
    expect(history.body.messages.map((m: { content: string }) => m.content)).toEqual(['Stream please', DEFAULT_REPLY]);
  });

  it('a stream whose model fails ends with an error line, then data: [DONE]', async () => {
    const account = await signUp(api());
    upstream().dropNext(2);
    const { status, chunks, done } = await sdkStream(account, sdkCompletion('Break off', { stream: true }));
    expect(status).toBe(200);
    expect(done).toBe(true);
    expect(chunks.at(-1)).toMatchObject({
      error: expect.any(String),
      code: 'MODEL_ERROR',
      conversation_id: chunks[0].conversation_id,
    });
  });

  it('a model that fails without streaming is a 5xx with an error body', async () => {
    const account = await signUp(api());
    upstream().dropNext(2);
    expectError(await sdk(account, 'POST', '/api/chat/completions', sdkCompletion('Break off')), 502, 'MODEL_ERROR');
    upstream().failNext(500);
    expectError(
      await sdk(account, 'POST', '/api/chat/completions', sdkCompletion('Nobody')),
      503,
      'CHANNEL_UNAVAILABLE',
    );
    expect((await sdk(account, 'POST', '/api/chat/completions', sdkCompletion('Better now'))).status).toBe(200);
  });

  it('uses the conversation routes the SDK calls', async () => {
    const account = await signUp(api());
    const created = await sdk(account, 'POST', '/api/conversations', {
      title: 'Planning',
      model: 'fake-model',
      system_prompt: 'Be brief.',
      metadata: {},
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), title: 'Planning' });
    const id = created.body.id;
    expect(created.body.conversation_id).toBe(id);

    await sdk(account, 'POST', '/api/chat/completions', sdkCompletion('First question', { conversation_id: id }));
    expect(lastPrompt()[0]).toEqual({ role: 'system', content: 'Be brief.' });

    const list = await sdk(account, 'GET', '/api/conversations?limit=20&offset=0&status=active&order=desc');
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ total: 1, limit: 20, offset: 0 });
    expect(list.body.conversations[0]).toMatchObject({ id, title: 'Planning', message_count: 2 });

    const one = await sdk(account, 'GET', `/api/conversations/${id}`);
    expect(one.status).toBe(200);
    expect(one.body.conversation).toMatchObject({
      id,
      title: 'Planning',
      messages: [
        { role: 'user', content: 'First question' },
        { role: 'assistant', content: DEFAULT_REPLY },
      ],
    });

    const renamed = await sdk(account, 'PATCH', `/api/conversations/${id}`, { title: 'Plans', description: 'x' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id, title: 'Plans' });

    const messages = await sdk(account, 'GET', `/api/conversations/${id}/messages`);
    expect(messages.body).toMatchObject({ conversation_id: id, total: 2 });

    const json = await sdk(account, 'GET', `/api/conversations/${id}/export?format=json`);
    expect(json.body.conversation).toMatchObject({ id, title: 'Plans' });
    expect(json.body.conversation.messages).toHaveLength(2);
    const markdown = await sdk(account, 'GET', `/api/conversations/${id}/export?format=markdown`);
    expect(markdown.headers.get('content-type')).toContain('text/markdown');
    expect(markdown.body).toContain('# Plans');
    expect(markdown.body).toContain('First question');
    const text = await sdk(account, 'GET', `/api/conversations/${id}/export?format=text`);
    expect(text.body).toContain(`Assistant: ${DEFAULT_REPLY}`);

    const searched = await sdk(account, 'POST', `/api/conversations/${id}/search`, {
      query: 'question',
      limit: 10,
      offset: 0,
    });
    expect(searched.status).toBe(200);
    expect(searched.body.results.map((r: { content: string }) => r.content)).toEqual(['First question']);

    const deleted = await sdk(account, 'DELETE', `/api/conversations/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ status: 'success', message: 'Conversation deleted successfully' });
    expectError(await sdk(account, 'GET', `/api/conversations/${id}`), 404, 'NOT_FOUND');
  });

  it('searches and gives feedback with the bodies the SDK sends', async () => {
    const account = await signUp(api());
    const sent = await sdk(account, 'POST', '/api/chat/completions', sdkCompletion('Bicycle maintenance tips'));
    const conversations = await sdk(account, 'POST', '/api/search/conversations', {
      query: 'bicycle',
      limit: 10,
      offset: 0,
    });
    expect(conversations.body.results.map((r: { conversation_id: string }) => r.conversation_id)).toEqual([
      sent.body.conversation_id,
    ]);
    const messages = await sdk(account, 'POST', '/api/search/messages', { query: 'bicycle', limit: 10, offset: 0 });
    expect(messages.body.results).toHaveLength(1);
    const beyond = await sdk(account, 'POST', '/api/search/messages', { query: 'bicycle', limit: 10, offset: 1 });
    expect(beyond.body.results).toEqual([]);

    const feedback = await sdk(account, 'POST', '/api/feedback', {
      conversation_id: sent.body.conversation_id,
      message_id: sent.body.message_id,
      feedback_type: 'thumbs_down',
      feedback_value: -1,
    });
    expect(feedback.status).toBe(200);
    const analysis = await sdk(account, 'GET', `/api/feedback/analyze/${sent.body.conversation_id}`);
    expect(analysis.body).toMatchObject({ negative_feedback: 1, positive_feedback: 0, average_rating: null });
    expect(analysis.body.feedback_details[0]).toMatchObject({ feedback_type: 'thumbs_down', feedback_value: -1 });
  });

  it('takes the key as a bearer token too, and refuses a missing or wrong one with an error string', async () => {
    expect((await api().get('/api/models', { headers: { authorization: `Bearer ${alice.key}` } })).status).toBe(200);
    expectError(await api().get('/api/models'), 401, 'UNAUTHORIZED');
    expectError(await api().get('/api/models', { headers: { 'x-api-key': 'pk_wrong' } }), 401, 'UNAUTHORIZED');
    expectError(await api().get('/api/conversations', { headers: { 'x-api-key': '' } }), 401, 'UNAUTHORIZED');
    expectError(
      await api().call('DELETE', '/api/conversations/whatever', { rawBody: '', contentType: 'application/json' }),
      401,
    );
  });
});

describe('refusals', () => {
  it('refuses bad chat requests with an error body, and writes nothing', async () => {
    const account = await signUp(api());
    const bad: [string, unknown, number][] = [
      ['/api/chat', { message: '   ', model: 'fake-model' }, 400],
      ['/api/chat', { model: 'fake-model' }, 400],
      ['/api/chat', { message: 'Hi', model: 'other-model' }, 404],
      ['/api/chat', { message: 'Hi', model: 'fake-model', temperature: 'hot' }, 400],
      ['/api/chat', { message: 'Hi', model: 'fake-model', template: { name: 'no-such-template' } }, 404],
      ['/api/chat', { message: 'Hi', model: 'fake-model', user_id: '' }, 400],
      ['/api/chat', { message: 'x'.repeat(100_001), model: 'fake-model' }, 400],
      ['/api/chat/completions', sdkCompletion('Hi', { model: 'no-such-model' }), 404],
      ['/api/chat/completions', sdkCompletion('Hi', { messages: [] }), 400],
      ['/api/chat/completions', sdkCompletion('Hi', { messages: [{ role: 'assistant', content: 'Hi' }] }), 400],
      [
        '/api/chat/completions',
        sdkCompletion('Hi', {
          messages: [
            { role: 'user', content: 'Earlier' },
            { role: 'assistant', content: 'Answer' },
            { role: 'user', content: 'Now' },
          ],
        }),
        400,
      ],
      ['/api/chat/completions', sdkCompletion('Hi', { conversation_id: 'no-such-conversation' }), 404],
    ];
    const asked = upstream().requests.length;
    for (const [path, body, status] of bad) {
      const res = await api().post(path, body, as(account));
      expectError(res, status);
    }
    const malformed = await api().call('POST', '/api/chat', {
      rawBody: '{"message":',
      contentType: 'application/json',
      bearer: account.key,
    });
    expectError(malformed, 400);
    expectError(await api().call('POST', '/api/chat', { rawBody: '', bearer: account.key }), 400, 'VALIDATION_ERROR');
    expect(await conversationTotal(account)).toBe(0);
    expect(upstream().requests.length).toBe(asked);
  });

  it('refuses bad feedback, lists and searches', async () => {
    const account = await signUp(api());
    const sent = await chat(account, { message: 'Rate me' });
    const history = await api().get(`/api/conversation/${sent.conversation_id}/messages`, as(account));
    const question = history.body.messages[0].id;
    const feedback = (body: Record<string, unknown>) =>
      api().post(
        '/api/feedback',
        { conversation_id: sent.conversation_id, message_id: sent.message_id, ...body },
        as(account),
      );
    expectError(await feedback({ feedback_type: 'meh' }), 400);
    expectError(await feedback({ feedback_type: 'rating', feedback_value: 9 }), 400);
    expectError(await feedback({ feedback_type: 'rating' }), 400);
    expectError(await feedback({ feedback_type: 'thumbs_up', feedback_value: 7 }), 400);
    expectError(await feedback({ feedback_type: 'thumbs_up', message_id: question }), 400);
    expectError(await feedback({ feedback_type: 'thumbs_up', conversation_id: 'another' }), 404);
    const analysis = await api().get(`/api/feedback/analyze/${sent.conversation_id}`, as(account));
    expect(analysis.body.feedback_details).toEqual([]);

    expectError(await api().get('/api/conversations?limit=0', as(account)), 400);
    expectError(await api().get('/api/conversations?limit=1000', as(account)), 400);
    expectError(await api().get('/api/conversations?offset=-1', as(account)), 400);
    expectError(await api().get(`/api/conversation/${sent.conversation_id}/messages?limit=x`, as(account)), 400);
    expectError(await api().get(`/api/conversations/${sent.conversation_id}/export?format=pdf`, as(account)), 400);
    expectError(await api().post('/api/search/conversations', { query: '' }, as(account)), 400);
    expectError(await api().post('/api/search/messages', { query: 'x', limit: 0 }, as(account)), 400);
    expectError(await api().post('/api/search/messages', { query: 'x', limit: 60, offset: 60 }, as(account)), 400);
    expectError(await api().post('/api/search/conversations', { limit: 10 }, as(account)), 400);
    expectError(await api().get('/api/no-such-route', as(account)), 404, 'NOT_FOUND');
    expectError(await api().patch(`/api/conversations/${sent.conversation_id}`, { title: '' }, as(account)), 400);
    expectError(await api().post('/api/conversations', { model: 'other-model' }, as(account)), 404);
    expect(await conversationTotal(account)).toBe(1);
  });

  it('answers 429 with Retry-After and an error string past the tier’s limit', async () => {
    const limited = Object.fromEntries(
      Object.entries(tiers).map(([name, tier]) => [name, { ...tier, requestsPerMinute: 5 }]),
    );
    const server = await startServer({ tiers: limited });
    try {
      const account = await signUp(server.http, freshName());
      const statuses: number[] = [];
      let refused: Awaited<ReturnType<typeof server.http.get>> | undefined;
      for (let i = 0; i < 6 && !refused; i++) {
        const res = await server.http.get('/api/conversations', { headers: { 'x-api-key': account.key } });
        statuses.push(res.status);
        if (res.status === 429) refused = res;
      }
      expect(refused, statuses.join()).toBeDefined();
      expectError(refused!, 429, 'RATE_LIMITED');
      expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});

describe('one caller never sees another’s data', () => {
  it('keeps conversations, messages, feedback and search to their owner, even for the same end user', async () => {
    const endUser = 'shared-end-user';
    const mine = await chat(alice, { message: 'Secret zebra plans', user_id: endUser });
    const theirs = await chat(bob, { message: 'Public giraffe plans', user_id: endUser });

    const aliceList = await api().get(`/api/conversations?user_id=${endUser}`, as(alice));
    expect(aliceList.body.conversations.map((c: { id: string }) => c.id)).toEqual([mine.conversation_id]);
    const bobList = await api().get(`/api/conversations?user_id=${endUser}`, as(bob));
    expect(bobList.body.conversations.map((c: { id: string }) => c.id)).toEqual([theirs.conversation_id]);
    const bobAll = await api().get('/api/conversations?limit=100', as(bob));
    expect(bobAll.body.conversations.map((c: { id: string }) => c.id)).not.toContain(mine.conversation_id);

    const id = mine.conversation_id;
    const refused = [
      await api().get(`/api/conversation/${id}/messages`, as(bob)),
      await api().get(`/api/conversations/${id}/messages`, as(bob)),
      await api().get(`/api/conversations/${id}`, as(bob)),
      await api().get(`/api/conversations/${id}/export`, as(bob)),
      await api().patch(`/api/conversations/${id}`, { title: 'Mine now' }, as(bob)),
      await api().get(`/api/feedback/analyze/${id}`, as(bob)),
      await api().post(`/api/conversation/${id}/template`, { template_name: 'coder' }, as(bob)),
      await api().post(
        '/api/feedback',
        { conversation_id: id, message_id: mine.message_id, feedback_type: 'thumbs_down' },
        as(bob),
      ),
      await api().post('/api/chat', { message: 'Hijack', model: 'fake-model', conversation_id: id }, as(bob)),
      await api().post('/api/chat/completions', sdkCompletion('Hijack', { conversation_id: id }), as(bob)),
      await api().post('/api/search/messages', { query: 'zebra', conversation_id: id }, as(bob)),
      await api().post(`/api/conversations/${id}/search`, { query: 'zebra' }, as(bob)),
      await api().call('DELETE', `/api/conversation/${id}`, { bearer: bob.key, rawBody: '' }),
      await api().delete(`/api/conversations/${id}`, as(bob)),
    ];
    for (const res of refused) expectError(res, 404, 'NOT_FOUND');

    for (const path of ['/api/search/conversations', '/api/search/messages']) {
      const res = await api().post(path, { query: 'zebra' }, as(bob));
      expect(res.status).toBe(200);
      expect(res.body.results).toEqual([]);
    }
    const history = await api().get(`/api/conversation/${id}/messages`, as(alice));
    expect(history.body.messages.map((m: { content: string }) => m.content)).toEqual([
      'Secret zebra plans',
      DEFAULT_REPLY,
    ]);
    const analysis = await api().get(`/api/feedback/analyze/${id}`, as(alice));
    expect(analysis.body.feedback_details).toEqual([]);
  });

  it('keeps one end user’s conversations from another end user of the same caller', async () => {
    const first = await chat(alice, { message: 'For end user one', user_id: 'end-user-1' });
    const other = await api().post(
      '/api/chat',
      { message: 'Let me in', model: 'fake-model', user_id: 'end-user-2', conversation_id: first.conversation_id },
      as(alice),
    );
    expectError(other, 404, 'NOT_FOUND');
    const search = await api().post(
      '/api/search/messages',
      { query: 'end user one', user_id: 'end-user-2' },
      as(alice),
    );
    expect(search.body.results).toEqual([]);
    expect(await conversationTotal(alice, 'end-user-2')).toBe(0);
  });

  it('does not show another user’s private bot as a template', async () => {
    const name = `private-${Date.now()}`;
    const created = await api().post('/api/v1/bots', { name, systemPrompt: 'Secret prompt' }, as(bob));
    expect(created.status).toBe(201);
    expect((await api().get(`/api/template/${name}`, as(bob))).status).toBe(200);
    expectError(await api().get(`/api/template/${name}`, as(alice)), 404, 'NOT_FOUND');
    const templates = await api().get('/api/templates', as(alice));
    expect(templates.body.templates.map((t: { name: string }) => t.name)).not.toContain(name);
    expectError(
      await api().post('/api/chat', { message: 'Hi', model: 'fake-model', template: { name } }, as(alice)),
      404,
    );
  });
});
