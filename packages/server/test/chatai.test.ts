import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { DEFAULT_REPLY } from './helpers/fake-upstream.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';
import { generousLimits, startServer } from './helpers/server.js';
import { allEvents, openEventStream, type SseEvent } from './helpers/sse.js';

/**
 * The chatai surface (shared/seeds/004), mounted at /chatai: every endpoint of the document in its
 * order with the documented requests, then its thread rules, presets, streaming, error mapping and
 * the line between API keys' users.
 */

const MAX_MESSAGE_CHARS = 2000;

let gateway: Gateway;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  gateway = await startChatGateway({
    'chat.maxMessageChars': MAX_MESSAGE_CHARS,
    // Where the external bot of a preset test would be called.
    webhooks: { allowlist: ['hooks.example.com'] },
  });
  alice = await signUp(gateway.server.http);
  bob = await signUp(gateway.server.http);
});
afterAll(() => gateway.close());

const api = () => gateway.server.http;
const upstream = () => gateway.upstreams[0]!;
/** The messages the upstream was sent for its latest request. */
const lastPrompt = () => upstream().requests.at(-1)!.body.messages as { role: string; content: string }[];

function chat(account: Account, body: unknown) {
  return api().post('/chatai/api/chat', body, { bearer: account.key });
}

async function chatOk(account: Account, body: Record<string, unknown>) {
  const res = await chat(account, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as { response: string; conversationId: string; usage: Record<string, number> };
}

function stream(account: Account, body: unknown) {
  return openEventStream(`${gateway.server.url}/chatai/api/chat/stream`, { method: 'POST', bearer: account.key, body });
}

async function listed(account: Account, query = '') {
  const res = await api().get(`/chatai/api/conversations${query}`, { bearer: account.key });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as { conversations: any[]; total: number };
}

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ success: false, error: { code, message: expect.any(String) } });
  expect(res.body.error.message.length).toBeGreaterThan(0);
}

function expectUsage(usage: unknown) {
  expect(usage).toEqual({
    promptTokens: expect.any(Number),
    completionTokens: expect.any(Number),
    totalTokens: expect.any(Number),
  });
  const { promptTokens, completionTokens, totalTokens } = usage as Record<
    'promptTokens' | 'completionTokens' | 'totalTokens',
    number
  >;
  expect(promptTokens).toBeGreaterThan(0);
  expect(completionTokens).toBeGreaterThan(0);
  expect(totalTokens).toBe(promptTokens + completionTokens);
}

/** The data of each event; the document's frames are bare `data:` lines (no event names). */
function frames(events: SseEvent[]) {
  for (const event of events) expect(event.event).toBe('message');
  return events.map((e) => e.data);
}

describe('the document, endpoint by endpoint', () => {
  let groupConversation = '';
  let privateConversation = '';

  it('POST /api/chat sends a message and answers with the reply, the conversation and usage', async () => {
    const res = await chat(alice, {
      message: 'Hello, how are you?',
      userId: '123456789',
      groupId: '987654321',
      preset: 'default',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.body).toEqual({
      success: true,
      data: { response: DEFAULT_REPLY, conversationId: expect.any(String), usage: expect.any(Object) },
    });
    expectUsage(res.body.data.usage);
    expect(lastPrompt().at(-1)).toEqual({ role: 'user', content: 'Hello, how are you?' });
    groupConversation = res.body.data.conversationId;

    // Without a group it is the end user's private conversation; the same ids find the same one.
    const first = await chatOk(alice, { message: 'Just us', userId: '123456789' });
    privateConversation = first.conversationId;
    expect(privateConversation).not.toBe(groupConversation);
    const again = await chatOk(alice, { message: 'Still us', userId: '123456789' });
    expect(again.conversationId).toBe(privateConversation);
    expect(lastPrompt().map((m) => m.content)).toEqual(['Just us', DEFAULT_REPLY, 'Still us']);
  });

  it('POST /api/chat/stream streams start, a content frame per piece, and end with usage', async () => {
    const res = await stream(alice, { message: 'Stream it', userId: '123456789' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const data = frames(await allEvents(res));
    expect(data[0]).toEqual({ type: 'start', conversationId: privateConversation });
    const content = data.slice(1, -1);
    expect(content.length).toBeGreaterThan(0);
    for (const frame of content) expect(frame).toEqual({ type: 'content', text: expect.any(String) });
    expect(content.map((f) => f.text).join('')).toBe(DEFAULT_REPLY);
    expect(data.at(-1)).toEqual({ type: 'end', usage: expect.any(Object) });
    expectUsage(data.at(-1).usage);
  });

  it('GET /api/conversations lists conversations with the end user, group, count, last message and time', async () => {
    const { conversations, total } = await listed(alice);
    expect(total).toBe(2);
    // Latest activity first.
    expect(conversations.map((c) => c.id)).toEqual([privateConversation, groupConversation]);
    expect(conversations[0]).toEqual({
      id: privateConversation,
      userId: '123456789',
      groupId: null,
      messageCount: 6,
      lastMessage: DEFAULT_REPLY,
      updatedAt: expect.any(Number),
    });
    // A shared group conversation is the group's, not one member's.
    expect(conversations[1]).toMatchObject({ id: groupConversation, userId: null, groupId: '987654321' });
    expect(conversations[0].updatedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(conversations[0].updatedAt).toBeLessThanOrEqual(Date.now());

    const byUser = await listed(alice, '?userId=123456789');
    expect(byUser).toEqual({ conversations: [conversations[0]], total: 1 });
    const byGroup = await listed(alice, '?groupId=987654321');
    expect(byGroup).toEqual({ conversations: [conversations[1]], total: 1 });
    expect(await listed(alice, '?userId=nobody')).toEqual({ conversations: [], total: 0 });

    const firstPage = await listed(alice, '?limit=1');
    expect(firstPage).toEqual({ conversations: [conversations[0]], total: 2 });
    const secondPage = await listed(alice, '?limit=1&offset=1');
    expect(secondPage).toEqual({ conversations: [conversations[1]], total: 2 });
    expect(await listed(alice, '?offset=2')).toEqual({ conversations: [], total: 2 });
  });

  it('GET /api/conversations/:id answers the messages with role, content and timestamp, oldest first', async () => {
    const res = await api().get(`/chatai/api/conversations/${privateConversation}`, { bearer: alice.key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, data: { id: privateConversation, messages: expect.any(Array) } });
    const { messages } = res.body.data;
    expect(messages.map((m: any) => [m.role, m.content])).toEqual([
      ['user', 'Just us'],
      ['assistant', DEFAULT_REPLY],
      ['user', 'Still us'],
      ['assistant', DEFAULT_REPLY],
      ['user', 'Stream it'],
      ['assistant', DEFAULT_REPLY],
    ]);
    for (const message of messages) {
      expect(Object.keys(message).sort()).toEqual(['content', 'role', 'timestamp']);
      expect(message.timestamp).toBeGreaterThan(Date.now() - 60_000);
    }
    const times = messages.map((m: any) => m.timestamp);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('DELETE /api/conversations/:id deletes it; the same ids then begin a new one', async () => {
    const res = await api().delete(`/chatai/api/conversations/${groupConversation}`, { bearer: alice.key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    expectError(
      await api().get(`/chatai/api/conversations/${groupConversation}`, { bearer: alice.key }),
      404,
      'CONVERSATION_NOT_FOUND',
    );
    expect((await listed(alice)).total).toBe(1);
    const fresh = await chatOk(alice, { message: 'Anyone?', userId: '5', groupId: '987654321' });
    expect(fresh.conversationId).not.toBe(groupConversation);
    expect(lastPrompt().map((m) => m.content)).toEqual(['Anyone?']);
  });

  it('POST /api/conversations/:id/clear keeps the history but starts the context afresh', async () => {
    const res = await api().post(`/chatai/api/conversations/${privateConversation}/clear`, undefined, {
      bearer: alice.key,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: 'Context cleared' });
    await chatOk(alice, { message: 'After the clear', userId: '123456789' });
    expect(lastPrompt().map((m) => m.content)).toEqual(['After the clear']);
    const history = await api().get(`/chatai/api/conversations/${privateConversation}`, { bearer: alice.key });
    expect(history.body.data.messages).toHaveLength(8);
  });

  it('answers errors as {success:false, error:{code, message}}: unknown conversations and routes', async () => {
    for (const [method, path] of [
      ['GET', '/api/conversations/01HZZZZZZZZZZZZZZZZZZZZZZZ'],
      ['DELETE', '/api/conversations/01HZZZZZZZZZZZZZZZZZZZZZZZ'],
      ['POST', '/api/conversations/01HZZZZZZZZZZZZZZZZZZZZZZZ/clear'],
      ['GET', '/api/conversations/not-an-id'],
    ] as const) {
      expectError(await api().call(method, `/chatai${path}`, { bearer: alice.key }), 404, 'CONVERSATION_NOT_FOUND');
    }
    expectError(await api().get('/chatai/api/nothing-here', { bearer: alice.key }), 404, 'NOT_FOUND');
    expectError(await api().get('/chatai/api/chat', { bearer: alice.key }), 404, 'NOT_FOUND');
  });
});

describe('authentication', () => {
  it('requires a Parley API key as a bearer token', async () => {
    const body = { message: 'hi', userId: '1' };
    const none = await api().post('/chatai/api/chat', body);
    expectError(none, 401, 'UNAUTHORIZED');
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expectError(await api().post('/chatai/api/chat', body, { bearer: 'pk_not-a-key' }), 401, 'UNAUTHORIZED');
    expectError(
      await api().post('/chatai/api/chat', body, { headers: { authorization: 'Basic abc' } }),
      401,
      'UNAUTHORIZED',
    );
    // A session cookie is not how applications call this API.
    expectError(await api().get('/chatai/api/conversations', { cookie: alice.cookie }), 401, 'UNAUTHORIZED');
    expectError(await api().get('/chatai/api/conversations'), 401, 'UNAUTHORIZED');
  });
});

describe('bad input', () => {
  it('refuses bad chat requests with VALIDATION_ERROR and writes nothing', async () => {
    const account = await signUp(api());
    const requests = upstream().requests.length;
    for (const body of [
      {},
      { userId: '1' },
      { message: 'hi' },
      { message: '', userId: '1' },
      { message: '   ', userId: '1' },
      { message: 'x'.repeat(MAX_MESSAGE_CHARS + 1), userId: '1' },
      { message: 'hi', userId: '' },
      { message: 'hi', userId: 'u'.repeat(201) },
      { message: 'hi', userId: 42 },
      { message: 'hi', userId: '1', groupId: 'g'.repeat(201) },
      { message: 'hi', userId: '1', groupId: '' },
      { message: 'hi', userId: '1', preset: 'p'.repeat(201) },
      { message: 'hi', userId: '1', preset: 'no-such-preset' },
      { message: 'hi', userId: '1', extra: true },
      { message: ['hi'], userId: '1' },
    ]) {
      for (const path of ['/chatai/api/chat', '/chatai/api/chat/stream']) {
        const res = await api().post(path, body, { bearer: account.key });
        expectError(res, 400, 'VALIDATION_ERROR');
      }
    }
    const malformed = await api().post('/chatai/api/chat', undefined, {
      bearer: account.key,
      rawBody: '{"message": ',
    });
    expectError(malformed, 400, 'VALIDATION_ERROR');
    expect(await listed(account)).toEqual({ conversations: [], total: 0 });
    expect(upstream().requests.length).toBe(requests);
  });

  it('refuses bad list queries', async () => {
    for (const query of [
      '?limit=0',
      '?limit=101',
      '?limit=x',
      '?offset=-1',
      `?userId=${'u'.repeat(201)}`,
      '?userId=',
      '?page=2',
    ]) {
      expectError(await api().get(`/chatai/api/conversations${query}`, { bearer: alice.key }), 400, 'VALIDATION_ERROR');
    }
  });

  it("refuses presets the caller may not use: another user's private bot, an external bot", async () => {
    const own = await api().post('/api/v1/bots', { name: `alices-${Date.now()}` }, { bearer: alice.key });
    expect(own.status).toBe(201);
    const external = await api().post(
      '/api/v1/bots',
      { name: `ext-${Date.now()}`, kind: 'external', webhookUrl: 'https://hooks.example.com/parley' },
      { bearer: bob.key },
    );
    expect(external.status).toBe(201);
    const before = await listed(bob);
    for (const preset of [own.body.bot.name, own.body.bot.id, external.body.bot.name]) {
      expectError(await chat(bob, { message: 'hi', userId: 'b1', preset }), 400, 'VALIDATION_ERROR');
    }
    expect(await listed(bob)).toEqual(before);
    // Alice may use her own bot, by name or id.
    const byName = await chatOk(alice, { message: 'hi', userId: 'a1', preset: own.body.bot.name });
    const byId = await chatOk(alice, { message: 'hi', userId: 'a1', preset: own.body.bot.id });
    expect(byId.conversationId).toBe(byName.conversationId);
  });
});

describe('threads and presets', () => {
  it('shares one conversation per group, apart from each member’s private one', async () => {
    const account = await signUp(api());
    const first = await chatOk(account, { message: 'I am one', userId: 'u1', groupId: 'room' });
    const second = await chatOk(account, { message: 'I am two', userId: 'u2', groupId: 'room' });
    expect(second.conversationId).toBe(first.conversationId);
    // Both members' messages are in the model's context, as sent.
    expect(lastPrompt().map((m) => m.content)).toEqual(['I am one', DEFAULT_REPLY, 'I am two']);
    const privately = await chatOk(account, { message: 'Just me', userId: 'u1' });
    expect(privately.conversationId).not.toBe(first.conversationId);
    const otherGroup = await chatOk(account, { message: 'Elsewhere', userId: 'u1', groupId: 'hall' });
    expect(new Set([first.conversationId, privately.conversationId, otherGroup.conversationId]).size).toBe(3);
    // The same id as a user and as a group names different conversations.
    const asUser = await chatOk(account, { message: 'hi', userId: 'room' });
    expect(asUser.conversationId).not.toBe(first.conversationId);
    // A group id sent as null is no group.
    const nullGroup = await chatOk(account, { message: 'hi', userId: 'u1', groupId: null, preset: null });
    expect(nullGroup.conversationId).toBe(privately.conversationId);
  });

  it('switches the conversation to the bot a preset names, and back to none with "default"', async () => {
    const account = await signUp(api());
    const system = () => lastPrompt().find((m) => m.role === 'system')?.content ?? '';
    const plain = await chatOk(account, { message: 'one', userId: 'p' });
    expect(system()).toBe('');
    const coder = await chatOk(account, { message: 'two', userId: 'p', preset: 'coder' });
    expect(coder.conversationId).toBe(plain.conversationId);
    expect(system()).toContain('software engineer');
    // Without a preset the conversation keeps its bot.
    await chatOk(account, { message: 'three', userId: 'p' });
    expect(system()).toContain('software engineer');
    await chatOk(account, { message: 'four', userId: 'p', preset: 'assistant' });
    expect(system()).toContain('helpful assistant');
    const back = await chatOk(account, { message: 'five', userId: 'p', preset: 'default' });
    expect(back.conversationId).toBe(plain.conversationId);
    expect(system()).toBe('');
    // The history is one conversation throughout.
    expect(
      lastPrompt()
        .filter((m) => m.role === 'user')
        .map((m) => m.content),
    ).toEqual(['one', 'two', 'three', 'four', 'five']);
    // A bot's command works through a preset.
    const help = await chatOk(account, { message: '/help', userId: 'p', preset: 'coder' });
    expect(help.response).toContain('/review');
  });

  it('lists only the conversations kept for end users and groups, not those of the native API', async () => {
    const account = await signUp(api());
    const native = await api().post('/api/v1/conversations', {}, { bearer: account.key });
    expect(native.status).toBe(201);
    const { conversationId } = await chatOk(account, { message: 'hi', userId: 'x' });
    expect((await listed(account)).conversations.map((c) => c.id)).toEqual([conversationId]);
  });
});

describe('streaming', () => {
  const slow = { reply: 'abcdefghijklmnopqrstuvwxyz'.repeat(4), chunkSize: 2, chunkDelayMs: 25 };

  it('goes on generating after the client disconnects, and stops following the reply', async () => {
    const { replies } = gateway.server.parley.core;
    const following = new Set<number>();
    let next = 0;
    const original = replies.followReply.bind(replies);
    replies.followReply = async (reply, afterSeq, onEvent) => {
      const id = next++;
      following.add(id);
      const unfollow = await original(reply, afterSeq, onEvent);
      return () => {
        following.delete(id);
        unfollow();
      };
    };
    upstream().configure(slow);
    try {
      const res = await stream(alice, { message: 'A long one', userId: 'leaver' });
      const seen: any[] = [];
      for await (const event of res.events) {
        seen.push(event.data);
        if (seen.length === 3) break;
      }
      expect(seen[0]).toMatchObject({ type: 'start' });
      for (const frame of seen.slice(1)) expect(frame).toEqual({ type: 'content', text: expect.any(String) });
      expect(slow.reply.startsWith(seen[1].text + seen[2].text)).toBe(true);
      res.disconnect();
      const conversationId = seen[0].conversationId as string;
      // The reply is still being written when the stream stops being followed.
      await expect.poll(() => following.size, { timeout: 2000, interval: 10 }).toBe(0);
      const partial = await api().get(`/chatai/api/conversations/${conversationId}`, { bearer: alice.key });
      expect(partial.body.data.messages.map((m: any) => m.role)).toEqual(['user']);
      await expect
        .poll(
          async () =>
            (await api().get(`/chatai/api/conversations/${conversationId}`, { bearer: alice.key })).body.data.messages
              .length,
          { timeout: 10_000, interval: 50 },
        )
        .toBe(2);
      const done = await api().get(`/chatai/api/conversations/${conversationId}`, { bearer: alice.key });
      expect(done.body.data.messages[1]).toMatchObject({ role: 'assistant', content: slow.reply });
      expect(upstream().requests.at(-1)!.aborted).toBe(false);
    } finally {
      replies.followReply = original;
      upstream().configure({ reply: DEFAULT_REPLY, chunkSize: 4, chunkDelayMs: 0 });
    }
  });

  it('tells a failure after the start as an error frame, then ends the stream', async () => {
    upstream().dropNext(2);
    const data = frames(await allEvents(await stream(alice, { message: 'Break off', userId: 'streamfail' })));
    expect(data[0]).toMatchObject({ type: 'start', conversationId: expect.any(String) });
    expect(data.at(-1)).toEqual({ type: 'error', error: { code: 'MODEL_ERROR', message: expect.any(String) } });
    expect(data.filter((f) => f.type === 'end')).toEqual([]);

    upstream().failNext(500);
    const unavailable = frames(await allEvents(await stream(alice, { message: 'No one', userId: 'streamfail' })));
    expect(unavailable.map((f) => f.type)).toEqual(['start', 'error']);
    expect(unavailable[1].error.code).toBe('CHANNEL_UNAVAILABLE');
  });
});

describe('errors while answering', () => {
  it('maps an upstream that fails to MODEL_ERROR, and no channel left to CHANNEL_UNAVAILABLE', async () => {
    upstream().dropNext(2);
    expectError(await chat(alice, { message: 'Break off', userId: 'fail' }), 502, 'MODEL_ERROR');
    upstream().failNext(400);
    expectError(await chat(alice, { message: 'Refused', userId: 'fail' }), 502, 'MODEL_ERROR');
    upstream().failNext(500);
    expectError(await chat(alice, { message: 'Nobody', userId: 'fail' }), 503, 'CHANNEL_UNAVAILABLE');
    // And it answers again once the upstream does.
    expect((await chatOk(alice, { message: 'Better now', userId: 'fail' })).response).toBe(DEFAULT_REPLY);
  });

  it('answers RATE_LIMITED with 429 and Retry-After once the tier quota is used up', async () => {
    const tight = { requestsPerMinute: 3, requestsPerDay: 1000, features: [], models: ['*'] };
    const server = await startServer({ tiers: { ...generousLimits.tiers, free: tight } });
    try {
      await signUp(server.http); // the first user is the admin
      const account = await signUp(server.http); // its key creation counted once
      let last;
      for (let i = 0; i < 2; i++) last = await server.http.get('/chatai/api/conversations', { bearer: account.key });
      expect(last!.status).toBe(200);
      expect(last!.headers.get('ratelimit-remaining')).toBe('0');
      const refused = await server.http.post(
        '/chatai/api/chat',
        { message: 'hi', userId: '1' },
        { bearer: account.key },
      );
      expectError(refused, 429, 'RATE_LIMITED');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    } finally {
      await server.close();
    }
  });
});

describe('one API key user never sees another’s conversations', () => {
  it('keeps the same end user ids of two users apart, and refuses every route on the other’s conversation', async () => {
    const theirs = await chatOk(alice, { message: 'Secret of alice', userId: 'shared-id', groupId: 'shared-group' });
    const mine = await chatOk(bob, { message: 'Bob here', userId: 'shared-id', groupId: 'shared-group' });
    expect(mine.conversationId).not.toBe(theirs.conversationId);
    expect(lastPrompt().map((m) => m.content)).toEqual(['Bob here']);

    const bobs = await listed(bob, '?groupId=shared-group');
    expect(bobs.conversations.map((c) => c.id)).toEqual([mine.conversationId]);
    expect((await listed(bob)).conversations.map((c) => c.id)).not.toContain(theirs.conversationId);

    const path = `/chatai/api/conversations/${theirs.conversationId}`;
    expectError(await api().get(path, { bearer: bob.key }), 404, 'CONVERSATION_NOT_FOUND');
    expectError(await api().post(`${path}/clear`, undefined, { bearer: bob.key }), 404, 'CONVERSATION_NOT_FOUND');
    expectError(await api().delete(path, { bearer: bob.key }), 404, 'CONVERSATION_NOT_FOUND');
    // Alice's conversation is untouched.
    const still = await api().get(path, { bearer: alice.key });
    expect(still.body.data.messages.map((m: any) => m.content)).toEqual(['Secret of alice', DEFAULT_REPLY]);
  });
});

describe('groups with isolateGroupMembers', () => {
  let isolated: Gateway;
  beforeAll(async () => {
    isolated = await startChatGateway({ 'surfaces.chatai.isolateGroupMembers': true });
  });
  afterAll(() => isolated?.close());

  it('gives each member of a group a conversation of their own in it', async () => {
    const key = isolated.admin.key;
    const send = async (body: Record<string, unknown>) => {
      const res = await isolated.server.http.post('/chatai/api/chat', body, { bearer: key });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.data.conversationId as string;
    };
    const one = await send({ message: 'I am one', userId: 'u1', groupId: 'room' });
    const two = await send({ message: 'I am two', userId: 'u2', groupId: 'room' });
    expect(two).not.toBe(one);
    expect(isolated.upstreams[0]!.requests.at(-1)!.body.messages.map((m: any) => m.content)).toEqual(['I am two']);
    expect(await send({ message: 'Me again', userId: 'u1', groupId: 'room' })).toBe(one);
    const privately = await send({ message: 'Just me', userId: 'u1' });
    expect(privately).not.toBe(one);

    const res = await isolated.server.http.get('/chatai/api/conversations?groupId=room', { bearer: key });
    expect(res.body.data.total).toBe(2);
    expect(res.body.data.conversations.map((c: any) => [c.id, c.userId, c.groupId])).toEqual([
      [one, 'u1', 'room'],
      [two, 'u2', 'room'],
    ]);
    const byMember = await isolated.server.http.get('/chatai/api/conversations?userId=u1&groupId=room', {
      bearer: key,
    });
    expect(byMember.body.data.conversations.map((c: any) => c.id)).toEqual([one]);
  });
});
