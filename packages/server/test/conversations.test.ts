import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { DEFAULT_REPLY } from './helpers/fake-upstream.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';
import { allEvents, openEventStream } from './helpers/sse.js';

let gateway: Gateway;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  gateway = await startChatGateway();
  alice = await signUp(gateway.server.http);
  bob = await signUp(gateway.server.http);
});
afterAll(() => gateway.close());

const api = () => gateway.server.http;
const upstream = () => gateway.upstreams[0]!;

/** The messages the upstream was sent for its latest request. */
const lastPrompt = () => upstream().requests.at(-1)!.body.messages as { role: string; content: unknown }[];

async function newConversation(account: Account, body: Record<string, unknown> = {}) {
  const res = await api().post('/api/v1/conversations', body, { bearer: account.key });
  expect(res.status).toBe(201);
  return res.body.conversation as { id: string; [k: string]: unknown };
}

async function send(account: Account, conversationId: string, content: string, extra: Record<string, unknown> = {}) {
  const res = await api().post(
    `/api/v1/conversations/${conversationId}/messages`,
    { content, ...extra },
    { bearer: account.key },
  );
  expect(res.status).toBe(201);
  return res.body as { userMessage: any; reply: any };
}

describe('conversations', () => {
  it('creates, lists, reads, renames and deletes a conversation', async () => {
    const created = await newConversation(alice, { title: 'Trip plans' });
    expect(created).toMatchObject({ title: 'Trip plans', botId: null, messageCount: 0, lastMessage: null });

    const list = await api().get('/api/v1/conversations', { bearer: alice.key });
    expect(list.status).toBe(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).toContain(created.id);

    const renamed = await api().patch(
      `/api/v1/conversations/${created.id}`,
      { title: 'Holiday' },
      { bearer: alice.key },
    );
    expect(renamed.body.conversation.title).toBe('Holiday');
    expect(
      (await api().get(`/api/v1/conversations/${created.id}`, { bearer: alice.key })).body.conversation.title,
    ).toBe('Holiday');

    expect((await api().delete(`/api/v1/conversations/${created.id}`, { bearer: alice.key })).status).toBe(204);
    expect((await api().get(`/api/v1/conversations/${created.id}`, { bearer: alice.key })).status).toBe(404);
  });

  it('pages conversations by cursor, and by offset with the total', async () => {
    const account = await signUp(api());
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await newConversation(account, { title: `c${i}` })).id);
    const first = await api().get('/api/v1/conversations?limit=2', { bearer: account.key });
    expect(first.body.items.map((c: { id: string }) => c.id)).toEqual([ids[4], ids[3]]);
    const second = await api().get(`/api/v1/conversations?limit=2&cursor=${first.body.nextCursor}`, {
      bearer: account.key,
    });
    expect(second.body.items.map((c: { id: string }) => c.id)).toEqual([ids[2], ids[1]]);
    const third = await api().get(`/api/v1/conversations?limit=2&cursor=${second.body.nextCursor}`, {
      bearer: account.key,
    });
    expect(third.body).toMatchObject({ nextCursor: null });
    expect(third.body.items.map((c: { id: string }) => c.id)).toEqual([ids[0]]);

    const byOffset = await api().get('/api/v1/conversations?limit=2&offset=3', { bearer: account.key });
    expect(byOffset.body.total).toBe(5);
    expect(byOffset.body.items.map((c: { id: string }) => c.id)).toEqual([ids[1], ids[0]]);
    expect((await api().get('/api/v1/conversations?offset=1&cursor=x', { bearer: account.key })).status).toBe(400);
    expect((await api().get('/api/v1/conversations?limit=101', { bearer: account.key })).status).toBe(400);
  });

  it('refuses bad input and writes nothing', async () => {
    const account = await signUp(api());
    for (const body of [
      { title: '' },
      { title: 'x'.repeat(201) },
      { model: 'no-such-model' },
      { botId: 'no-such-bot' },
      { variables: { 'bad name': 'x' } },
      { unknown: 1 },
    ]) {
      const res = await api().post('/api/v1/conversations', body, { bearer: account.key });
      expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body.error.code).toMatch(/VALIDATION_ERROR|NOT_FOUND|MODEL_NOT_FOUND/);
    }
    expect((await api().get('/api/v1/conversations', { bearer: account.key })).body.items).toEqual([]);

    const conversation = await newConversation(account);
    const path = `/api/v1/conversations/${conversation.id}/messages`;
    for (const body of [{ content: '' }, { content: '   ' }, {}, { content: 'hi', attachmentIds: ['nope'] }]) {
      const res = await api().post(path, body, { bearer: account.key });
      expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    const history = await api().get(path, { bearer: account.key });
    expect(history.body.items).toEqual([]);
    expect(
      (await api().get(`/api/v1/conversations/${conversation.id}`, { bearer: account.key })).body.conversation
        .messageCount,
    ).toBe(0);
  });
});

describe('messages', () => {
  it('answers a message without streaming once the reply is complete, with usage', async () => {
    const conversation = await newConversation(alice);
    const { userMessage, reply } = await send(alice, conversation.id, 'Hello there');
    expect(userMessage).toMatchObject({ role: 'user', content: 'Hello there', senderId: alice.id, status: 'complete' });
    expect(reply).toMatchObject({
      role: 'assistant',
      content: DEFAULT_REPLY,
      status: 'complete',
      parentId: userMessage.id,
      model: 'fake-model',
      error: null,
    });
    expect(reply.usage.totalTokens).toBe(reply.usage.promptTokens + reply.usage.completionTokens);
    expect(reply.usage.completionTokens).toBeGreaterThan(0);
    expect(lastPrompt()).toEqual([{ role: 'user', content: 'Hello there' }]);

    const stored = await api().get(`/api/v1/conversations/${conversation.id}`, { bearer: alice.key });
    expect(stored.body.conversation).toMatchObject({
      messageCount: 2,
      lastMessage: { id: reply.id, preview: DEFAULT_REPLY },
    });
  });

  it('streams a reply as server-sent events: messages, deltas in order, completed', async () => {
    const conversation = await newConversation(alice);
    const stream = await openEventStream(`${gateway.server.url}/api/v1/conversations/${conversation.id}/messages`, {
      method: 'POST',
      bearer: alice.key,
      body: { content: 'Stream please' },
    });
    expect(stream.status).toBe(201);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const events = await allEvents(stream);
    const [first, second] = events;
    expect(first).toMatchObject({ event: 'message', data: { role: 'user', content: 'Stream please' } });
    expect(second).toMatchObject({ event: 'message', data: { role: 'assistant', status: 'streaming' } });
    const deltas = events.filter((e) => e.event === 'delta');
    expect(deltas.map((d) => d.data.seq)).toEqual(deltas.map((_, i) => i + 1));
    expect(deltas.map((d) => d.id)).toEqual(deltas.map((_, i) => String(i + 1)));
    expect(deltas.every((d) => d.data.messageId === second!.data.id)).toBe(true);
    expect(deltas.map((d) => d.data.text).join('')).toBe(DEFAULT_REPLY);
    const last = events.at(-1)!;
    expect(last).toMatchObject({
      event: 'completed',
      data: { message: { status: 'complete', content: DEFAULT_REPLY } },
    });
    expect(last.data.message.usage.totalTokens).toBeGreaterThan(0);
  });

  it('stores one message for a repeated clientId', async () => {
    const conversation = await newConversation(alice);
    const first = await send(alice, conversation.id, 'Once', { clientId: 'c-1' });
    const again = await api().post(
      `/api/v1/conversations/${conversation.id}/messages`,
      { content: 'Once', clientId: 'c-1' },
      { bearer: alice.key },
    );
    expect(again.status).toBe(200);
    expect(again.body.userMessage.id).toBe(first.userMessage.id);
    expect(again.body.reply.id).toBe(first.reply.id);
    const history = await api().get(`/api/v1/conversations/${conversation.id}/messages`, { bearer: alice.key });
    expect(history.body.items).toHaveLength(2);
  });

  it('keeps each turn in the context, and drops earlier ones after a clear', async () => {
    const conversation = await newConversation(alice, { systemPrompt: 'Be brief.' });
    await send(alice, conversation.id, 'First');
    await send(alice, conversation.id, 'Second');
    expect(lastPrompt()).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'First' },
      { role: 'assistant', content: DEFAULT_REPLY },
      { role: 'user', content: 'Second' },
    ]);

    const cleared = await api().post(`/api/v1/conversations/${conversation.id}/clear`, undefined, {
      bearer: alice.key,
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.conversation.contextClearedAt).toBeGreaterThan(0);
    await send(alice, conversation.id, 'Third');
    expect(lastPrompt()).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Third' },
    ]);
    // The history itself is whole.
    const history = await api().get(`/api/v1/conversations/${conversation.id}/messages`, { bearer: alice.key });
    expect(history.body.items.map((m: { content: string }) => m.content)).toEqual([
      'First',
      DEFAULT_REPLY,
      'Second',
      DEFAULT_REPLY,
      'Third',
      DEFAULT_REPLY,
    ]);
  });

  it('regenerates a reply as a sibling, and edits a message into a new branch', async () => {
    const conversation = await newConversation(alice);
    const one = await send(alice, conversation.id, 'One');
    const two = await send(alice, conversation.id, 'Two');

    const regenerated = await api().post(`/api/v1/messages/${two.reply.id}/regenerate`, undefined, {
      bearer: alice.key,
    });
    expect(regenerated.status).toBe(201);
    expect(regenerated.body.reply).toMatchObject({ parentId: two.userMessage.id, status: 'complete' });
    expect(regenerated.body.reply.id).not.toBe(two.reply.id);
    // The question is asked again with the history before it, not the first answer to it.
    expect(lastPrompt()).toEqual([
      { role: 'user', content: 'One' },
      { role: 'assistant', content: DEFAULT_REPLY },
      { role: 'user', content: 'Two' },
    ]);

    const edited = await api().patch(
      `/api/v1/messages/${one.userMessage.id}`,
      { content: 'Uno' },
      { bearer: alice.key },
    );
    expect(edited.status).toBe(201);
    expect(edited.body.userMessage).toMatchObject({ content: 'Uno', parentId: null });
    expect(edited.body.userMessage.id).not.toBe(one.userMessage.id);
    expect(edited.body.reply).toMatchObject({ parentId: edited.body.userMessage.id, status: 'complete' });
    expect(lastPrompt()).toEqual([{ role: 'user', content: 'Uno' }]);

    // The next message follows the newest branch.
    await send(alice, conversation.id, 'After edit');
    expect(lastPrompt()).toEqual([
      { role: 'user', content: 'Uno' },
      { role: 'assistant', content: DEFAULT_REPLY },
      { role: 'user', content: 'After edit' },
    ]);

    // Only the author's user messages can be edited; replies cannot.
    expect(
      (await api().patch(`/api/v1/messages/${two.reply.id}`, { content: 'x' }, { bearer: alice.key })).status,
    ).toBe(400);
  });
});

describe('history', () => {
  /** A conversation of `count` messages written straight to the store, a millisecond apart, alternating senders. */
  async function seededConversation(count: number) {
    const conversation = await newConversation(alice);
    const { db } = gateway.server.parley.database;
    const base = Date.now() - count - 1000;
    const rows = Array.from({ length: count }, (_, i) => ({
      id: `01HISTORY${conversation.id.slice(-8)}${String(i).padStart(9, '0')}`,
      conversationId: conversation.id,
      senderId: i % 2 === 0 ? alice.id : null,
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: `m${i}`,
      attachments: '[]',
      model: null,
      promptTokens: null,
      completionTokens: null,
      status: 'complete',
      error: null,
      parentId: null,
      clientId: null,
      createdAt: base + i,
      updatedAt: base + i,
    }));
    for (let i = 0; i < rows.length; i += 100)
      await db
        .insertInto('messages')
        .values(rows.slice(i, i + 100))
        .execute();
    return { conversation, rows, base };
  }

  const contents = (res: { body: { items: { content: string }[] } }) => res.body.items.map((m) => m.content);
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `m${from + i}`);

  it('returns the newest page oldest-first, then pages back and forth by cursor', async () => {
    const { conversation, rows } = await seededConversation(130);
    const path = `/api/v1/conversations/${conversation.id}/messages`;
    const newest = await api().get(path, { bearer: alice.key });
    expect(contents(newest)).toEqual(range(80, 130));
    expect(newest.body.hasMore).toBe(true);
    expect(newest.body.total).toBeUndefined();

    const back = await api().get(`${path}?before=${rows[80]!.id}&limit=50`, { bearer: alice.key });
    expect(contents(back)).toEqual(range(30, 80));
    const start = await api().get(`${path}?before=${rows[30]!.id}&limit=50`, { bearer: alice.key });
    expect(contents(start)).toEqual(range(0, 30));
    expect(start.body.hasMore).toBe(false);

    const forward = await api().get(`${path}?after=${rows[9]!.id}&limit=5`, { bearer: alice.key });
    expect(contents(forward)).toEqual(range(10, 15));
    expect(forward.body.hasMore).toBe(true);
    const end = await api().get(`${path}?after=${rows[127]!.id}`, { bearer: alice.key });
    expect(contents(end)).toEqual(range(128, 130));
    expect(end.body.hasMore).toBe(false);
    const between = await api().get(`${path}?after=${rows[9]!.id}&before=${rows[12]!.id}`, { bearer: alice.key });
    expect(contents(between)).toEqual(range(10, 12));
  });

  it('filters by since (strictly after) and sender, and counts pages with their total', async () => {
    const { conversation, base } = await seededConversation(30);
    const path = `/api/v1/conversations/${conversation.id}/messages`;
    const since = await api().get(`${path}?since=${base + 24}`, { bearer: alice.key });
    expect(contents(since)).toEqual(range(25, 30));

    const mine = await api().get(`${path}?senderId=${alice.id}&limit=3`, { bearer: alice.key });
    expect(contents(mine)).toEqual(['m24', 'm26', 'm28']);

    const page1 = await api().get(`${path}?page=1&limit=12`, { bearer: alice.key });
    expect(page1.body.total).toBe(30);
    expect(contents(page1)).toEqual(range(18, 30));
    const page3 = await api().get(`${path}?page=3&limit=12`, { bearer: alice.key });
    expect(contents(page3)).toEqual(range(0, 6));
    expect(page3.body.hasMore).toBe(false);
    const beyond = await api().get(`${path}?page=4&limit=12`, { bearer: alice.key });
    expect(beyond.body).toMatchObject({ items: [], total: 30, hasMore: false });
    const filteredPage = await api().get(`${path}?page=2&limit=4&senderId=${alice.id}&since=${base + 9}`, {
      bearer: alice.key,
    });
    expect(filteredPage.body.total).toBe(10);
    expect(contents(filteredPage)).toEqual(['m14', 'm16', 'm18', 'm20']);
  });

  it('refuses limits out of range and mixed page and cursor', async () => {
    const conversation = await newConversation(alice);
    const path = `/api/v1/conversations/${conversation.id}/messages`;
    for (const query of ['limit=0', 'limit=201', 'page=0', 'since=-1', 'page=1&before=x', 'limit=abc']) {
      const res = await api().get(`${path}?${query}`, { bearer: alice.key });
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await api().get(`${path}?limit=200`, { bearer: alice.key })).status).toBe(200);
  });
});

describe('bots in conversations', () => {
  it('fills the system prompt template and runs commands', async () => {
    const created = await api().post(
      '/api/v1/bots',
      {
        name: `guide-${Date.now()}`,
        displayName: 'Guide',
        systemPrompt: 'You are {{bot_name}} helping {{user_name}} with {{topic}} in {{style}}.',
        variables: [
          { name: 'topic', description: 'What about', default: 'cooking' },
          { name: 'style', description: 'How', default: 'plain words' },
        ],
        commands: [
          { alias: 'recipe', description: 'A recipe', prompt: 'Give a recipe for {{input}}.' },
          { alias: 'tip', description: 'A tip', prompt: 'Give one tip.' },
        ],
      },
      { bearer: alice.key },
    );
    expect(created.status).toBe(201);
    const bot = created.body.bot;
    const conversation = await newConversation(alice, { botId: bot.id, variables: { topic: 'baking' } });
    expect(conversation.botId).toBe(bot.id);

    const plain = await send(alice, conversation.id, 'Hi');
    expect(plain.reply.senderId).toBe(bot.id);
    expect(lastPrompt()[0]).toEqual({
      role: 'system',
      content: `You are Guide helping ${alice.username} with baking in plain words.`,
    });

    const before = upstream().requests.length;
    const help = await send(alice, conversation.id, '/help');
    expect(upstream().requests.length).toBe(before);
    expect(help.reply).toMatchObject({ status: 'complete', senderId: bot.id });
    expect(help.reply.content).toContain('/recipe');
    expect(help.reply.content).toContain('/tip');

    await send(alice, conversation.id, '/recipe bread');
    const prompt = lastPrompt();
    expect(prompt.at(-1)).toEqual({ role: 'user', content: 'Give a recipe for bread.' });
    // The help exchange, answered by Parley, is not part of what the model sees.
    expect(prompt.map((m) => m.content)).not.toContain('/help');
    expect(prompt.some((m) => typeof m.content === 'string' && m.content.includes('/recipe'))).toBe(false);

    const changed = await api().patch(
      `/api/v1/conversations/${conversation.id}`,
      { variables: { style: 'rhymes' } },
      { bearer: alice.key },
    );
    expect(changed.status).toBe(200);
    await send(alice, conversation.id, 'Again');
    expect(lastPrompt()[0]!.content).toBe(`You are Guide helping ${alice.username} with cooking in rhymes.`);

    const undeclared = await api().patch(
      `/api/v1/conversations/${conversation.id}`,
      { variables: { colour: 'red' } },
      { bearer: alice.key },
    );
    expect(undeclared.status).toBe(400);
  });

  it("refuses someone else's private bot", async () => {
    const created = await api().post(
      '/api/v1/bots',
      { name: `secret-${Date.now()}`, systemPrompt: 'x' },
      { bearer: alice.key },
    );
    const res = await api().post('/api/v1/conversations', { botId: created.body.bot.id }, { bearer: bob.key });
    expect(res.status).toBe(404);
  });
});

describe('replies that outlive their connection', () => {
  const slow = { reply: 'abcdefghijklmnopqrstuvwxyz'.repeat(4), chunkSize: 2, chunkDelayMs: 15 };

  it('goes on after the client disconnects; re-attaching replays what was missed, each delta once', async () => {
    upstream().configure(slow);
    try {
      const conversation = await newConversation(alice);
      const stream = await openEventStream(`${gateway.server.url}/api/v1/conversations/${conversation.id}/messages`, {
        method: 'POST',
        bearer: alice.key,
        body: { content: 'Long one' },
      });
      const seen: { seq: number; text: string }[] = [];
      let replyId = '';
      for await (const event of stream.events) {
        if (event.event === 'message' && event.data.role === 'assistant') replyId = event.data.id;
        if (event.event === 'delta') seen.push(event.data);
        if (seen.length === 5) break;
      }
      stream.disconnect();
      const lastSeen = seen.at(-1)!.seq;

      const resumed = await openEventStream(`${gateway.server.url}/api/v1/messages/${replyId}/stream`, {
        bearer: alice.key,
        headers: { 'last-event-id': String(lastSeen) },
      });
      expect(resumed.status).toBe(200);
      const rest = await allEvents(resumed);
      const deltas = rest.filter((e) => e.event === 'delta').map((e) => e.data);
      expect(deltas[0].seq).toBe(lastSeen + 1);
      const all = [...seen, ...deltas];
      expect(all.map((d) => d.seq)).toEqual(all.map((_, i) => i + 1));
      expect(all.map((d) => d.text).join('')).toBe(slow.reply);
      expect(rest.at(-1)).toMatchObject({
        event: 'completed',
        data: { message: { id: replyId, content: slow.reply } },
      });

      // A finished reply replays whole, and from any point.
      const replay = await allEvents(
        await openEventStream(`${gateway.server.url}/api/v1/messages/${replyId}/stream`, { bearer: alice.key }),
      );
      expect(
        replay
          .filter((e) => e.event === 'delta')
          .map((e) => e.data.text)
          .join(''),
      ).toBe(slow.reply);
      const tail = await allEvents(
        await openEventStream(`${gateway.server.url}/api/v1/messages/${replyId}/stream?after=${all.length - 1}`, {
          bearer: alice.key,
        }),
      );
      expect(tail.map((e) => e.event)).toEqual(['delta', 'completed']);
      expect(tail[0]!.data.seq).toBe(all.length);
    } finally {
      upstream().configure({ reply: DEFAULT_REPLY, chunkSize: 4, chunkDelayMs: 0 });
    }
  });

  it('stops a reply: the upstream call is cancelled and the partial reply kept', async () => {
    upstream().configure({ ...slow, chunkDelayMs: 40 });
    try {
      const conversation = await newConversation(alice);
      const stream = await openEventStream(`${gateway.server.url}/api/v1/conversations/${conversation.id}/messages`, {
        method: 'POST',
        bearer: alice.key,
        body: { content: 'Go on and on' },
      });
      let replyId = '';
      let deltas = 0;
      while (deltas < 3) {
        const { value: event } = await stream.events.next();
        if (event.event === 'message' && event.data.role === 'assistant') replyId = event.data.id;
        if (event.event === 'delta') deltas++;
      }
      const aborted = upstream().waitForAbort(5000);
      const stopped = await api().post(`/api/v1/messages/${replyId}/stop`, undefined, { bearer: alice.key });
      expect(stopped.status).toBe(200);
      expect(stopped.body.message.status).toBe('cancelled');
      expect(stopped.body.message.content.length).toBeGreaterThan(0);
      expect(slow.reply.startsWith(stopped.body.message.content)).toBe(true);
      await aborted;
      // The open stream ends with the reply as stopped.
      const rest: string[] = [];
      for await (const event of stream.events) rest.push(event.event);
      expect(rest.at(-1)).toBe('completed');
      // Stopping an ended reply changes nothing.
      const again = await api().post(`/api/v1/messages/${replyId}/stop`, undefined, { bearer: alice.key });
      expect(again.body.message.status).toBe('cancelled');
    } finally {
      upstream().configure({ reply: DEFAULT_REPLY, chunkSize: 4, chunkDelayMs: 0 });
    }
  });

  it('ends a reply with an error event when the model fails, keeping what it wrote', async () => {
    const conversation = await newConversation(alice);
    upstream().failNext(400);
    const events = await allEvents(
      await openEventStream(`${gateway.server.url}/api/v1/conversations/${conversation.id}/messages`, {
        method: 'POST',
        bearer: alice.key,
        body: { content: 'Fail please' },
      }),
    );
    const last = events.at(-1)!;
    expect(last.event).toBe('error');
    expect(last.data.error.code).toBe('UPSTREAM_REJECTED');
    expect(last.data.message.status).toBe('error');

    upstream().dropNext(2);
    const dropped = await send(alice, conversation.id, 'Drop please');
    expect(dropped.reply.status).toBe('error');
    expect(dropped.reply.error.code).toBe('MODEL_ERROR');
    expect(DEFAULT_REPLY.startsWith(dropped.reply.content)).toBe(true);
  });
});

describe('feedback', () => {
  it('keeps one verdict per user per reply, and sums a conversation up', async () => {
    const conversation = await newConversation(alice);
    const one = await send(alice, conversation.id, 'One');
    const two = await send(alice, conversation.id, 'Two');
    const give = (messageId: string, body: unknown) =>
      api().post(`/api/v1/messages/${messageId}/feedback`, body, { bearer: alice.key });

    expect((await give(one.reply.id, { type: 'thumbs_up' })).status).toBe(200);
    const changed = await give(one.reply.id, { type: 'rating', value: 5, comment: 'Great' });
    expect(changed.body.feedback).toMatchObject({ type: 'rating', value: 5, comment: 'Great' });
    await give(two.reply.id, { type: 'rating', value: 2 });

    const summary = await api().get(`/api/v1/conversations/${conversation.id}/feedback`, { bearer: alice.key });
    expect(summary.body).toMatchObject({ total: 2, positive: 1, negative: 1, averageRating: 3.5 });
    expect(summary.body.items).toHaveLength(2);

    for (const body of [
      { type: 'rating' },
      { type: 'rating', value: 6 },
      { type: 'thumbs_up', value: 3 },
      { type: 'meh' },
    ]) {
      expect((await give(two.reply.id, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await give(two.userMessage.id, { type: 'thumbs_up' })).status).toBe(400);
    const after = await api().get(`/api/v1/conversations/${conversation.id}/feedback`, { bearer: alice.key });
    expect(after.body.total).toBe(2);
  });
});

describe('titles', () => {
  it('names a conversation after its first exchange, off the request path', async () => {
    const titled = await startChatGateway({ 'chat.generateTitles': true });
    try {
      titled.upstreams[0]!.configure({
        reply: (request) =>
          String(request.body.messages[0]?.content).startsWith('Write a title') ? '"Greetings exchanged."' : 'Hi!',
      });
      const account = await signUp(titled.server.http);
      const created = await titled.server.http.post('/api/v1/conversations', {}, { bearer: account.key });
      const id = created.body.conversation.id;
      await titled.server.http.post(
        `/api/v1/conversations/${id}/messages`,
        { content: 'Hello' },
        { bearer: account.key },
      );
      let title: string | null = null;
      for (let i = 0; i < 100 && !title; i++) {
        title = (await titled.server.http.get(`/api/v1/conversations/${id}`, { bearer: account.key })).body.conversation
          .title;
        if (!title) await new Promise((r) => setTimeout(r, 20));
      }
      expect(title).toBe('Greetings exchanged');
      // A title given by the user is never overwritten.
      const named = await titled.server.http.post('/api/v1/conversations', { title: 'Mine' }, { bearer: account.key });
      await titled.server.http.post(
        `/api/v1/conversations/${named.body.conversation.id}/messages`,
        { content: 'Hello' },
        { bearer: account.key },
      );
      const requests = titled.upstreams[0]!.requests.filter((r) =>
        String(r.body.messages[0]?.content).startsWith('Write a title'),
      );
      expect(requests).toHaveLength(1);
    } finally {
      await titled.close();
    }
  });
});

describe('permissions', () => {
  it("lets no one reach another user's conversation, messages or feedback", async () => {
    const conversation = await newConversation(alice, { title: 'Private' });
    const { userMessage, reply } = await send(alice, conversation.id, 'Secret');
    await api().post(`/api/v1/messages/${reply.id}/feedback`, { type: 'thumbs_up' }, { bearer: alice.key });
    const c = `/api/v1/conversations/${conversation.id}`;
    const attempts: [string, string, unknown?][] = [
      ['GET', c],
      ['PATCH', c, { title: 'Mine now' }],
      ['DELETE', c],
      ['POST', `${c}/clear`],
      ['POST', `${c}/messages`, { content: 'Intrusion' }],
      ['GET', `${c}/messages`],
      ['GET', `${c}/feedback`],
      ['GET', `/api/v1/messages/${userMessage.id}`],
      ['GET', `/api/v1/messages/${reply.id}`],
      ['PATCH', `/api/v1/messages/${userMessage.id}`, { content: 'Edited' }],
      ['POST', `/api/v1/messages/${reply.id}/regenerate`],
      ['POST', `/api/v1/messages/${reply.id}/stop`],
      ['GET', `/api/v1/messages/${reply.id}/stream`],
      ['POST', `/api/v1/messages/${reply.id}/feedback`, { type: 'thumbs_down' }],
    ];
    const before = upstream().requests.length;
    for (const [method, path, body] of attempts) {
      const res = await api().call(method, path, { body, bearer: bob.key });
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
    expect(upstream().requests.slice(before)).toEqual([]);
    // Nothing changed.
    const own = await api().get(`${c}/messages`, { bearer: alice.key });
    expect(own.body.items.map((m: { content: string }) => m.content)).toEqual(['Secret', DEFAULT_REPLY]);
    expect((await api().get(c, { bearer: alice.key })).body.conversation.title).toBe('Private');
    const feedback = await api().get(`${c}/feedback`, { bearer: alice.key });
    expect(feedback.body.items.map((f: { type: string }) => f.type)).toEqual(['thumbs_up']);
    // Nor anyone without credentials.
    expect((await api().get(c)).status).toBe(401);
    expect((await api().get(`/api/v1/conversations`, { bearer: bob.key })).body.items).not.toContainEqual(
      expect.objectContaining({ id: conversation.id }),
    );
  });

  it('deletes a conversation with its messages and feedback', async () => {
    const conversation = await newConversation(alice);
    const { reply } = await send(alice, conversation.id, 'Bye');
    await api().post(`/api/v1/messages/${reply.id}/feedback`, { type: 'thumbs_up' }, { bearer: alice.key });
    expect((await api().delete(`/api/v1/conversations/${conversation.id}`, { bearer: alice.key })).status).toBe(204);
    expect((await api().get(`/api/v1/messages/${reply.id}`, { bearer: alice.key })).status).toBe(404);
    const { db } = gateway.server.parley.database;
    const left = await db.selectFrom('messages').select('id').where('conversationId', '=', conversation.id).execute();
    expect(left).toEqual([]);
    const feedback = await db
      .selectFrom('feedback')
      .select('id')
      .where('conversationId', '=', conversation.id)
      .execute();
    expect(feedback).toEqual([]);
  });
});

describe('domain events', () => {
  it('publishes each change on the bus for realtime and webhooks to consume', async () => {
    const { bus } = gateway.server.parley.shared;
    const seen: { topic: string; event: any }[] = [];
    const topics = [
      'conversation.created',
      'conversation.deleted',
      'message.created',
      'message.delta',
      'message.completed',
      'feedback.created',
    ];
    const offs = await Promise.all(topics.map((topic) => bus.subscribe(topic, (event) => seen.push({ topic, event }))));
    try {
      const conversation = await newConversation(alice);
      const { userMessage, reply } = await send(alice, conversation.id, 'Events');
      await api().post(`/api/v1/messages/${reply.id}/feedback`, { type: 'thumbs_up' }, { bearer: alice.key });
      await api().delete(`/api/v1/conversations/${conversation.id}`, { bearer: alice.key });
      const wanted = (topic: string) => seen.filter((s) => s.topic === topic).map((s) => s.event);
      for (let i = 0; i < 50 && wanted('conversation.deleted').length === 0; i++)
        await new Promise((r) => setTimeout(r, 10));

      expect(wanted('conversation.created')).toEqual([
        { conversation: expect.objectContaining({ id: conversation.id }) },
      ]);
      expect(wanted('message.created').map((e) => e.message.id)).toEqual([userMessage.id, reply.id]);
      const deltas = wanted('message.delta');
      expect(deltas.every((d) => d.messageId === reply.id && d.conversationId === conversation.id)).toBe(true);
      expect(deltas.map((d) => d.text).join('')).toBe(DEFAULT_REPLY);
      expect(wanted('message.completed')).toEqual([
        { message: expect.objectContaining({ id: reply.id, status: 'complete', content: DEFAULT_REPLY }) },
      ]);
      expect(wanted('feedback.created')).toEqual([{ feedback: expect.objectContaining({ messageId: reply.id }) }]);
      expect(wanted('conversation.deleted')).toEqual([{ conversationId: conversation.id, ownerId: alice.id }]);

      // What webhooks deliver went to the outbox with each change.
      const outbox = await gateway.server.parley.database.db
        .selectFrom('outboxEvents')
        .selectAll()
        .where('payload', 'like', `%${conversation.id}%`)
        .orderBy('id')
        .execute();
      expect(outbox.map((e) => [e.type, JSON.parse(e.audience)])).toEqual([
        ['message.new', [alice.id]],
        ['message.completed', [alice.id]],
        ['conversation.deleted', [alice.id]],
      ]);
      expect(JSON.parse(outbox[1]!.payload).message).toMatchObject({ id: reply.id, content: DEFAULT_REPLY });
    } finally {
      await Promise.all(offs.map((off) => off()));
    }
  });
});

describe('attachments', () => {
  const PNG = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    'base64',
  );

  async function upload(url: string, key: string, files: { name: string; type: string; bytes: Buffer }[]) {
    const form = new FormData();
    for (const f of files) form.append('file', new Blob([f.bytes], { type: f.type }), f.name);
    const res = await fetch(`${url}/api/v1/files`, {
      method: 'POST',
      body: form,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; path: string }[];
  }

  it('sends images to a vision model as image parts and text files inline; only the owner attaches', async () => {
    const vision = await startChatGateway({ models: [{ id: 'fake-model', capabilities: { vision: true } }] });
    try {
      const owner = await signUp(vision.server.http);
      const other = await signUp(vision.server.http);
      const [image, notes] = await upload(vision.server.url, owner.key, [
        { name: 'pixel.png', type: 'image/png', bytes: PNG },
        { name: 'notes.txt', type: 'text/plain', bytes: Buffer.from('Remember the milk.') },
      ]);
      const http = vision.server.http;
      const created = await http.post('/api/v1/conversations', {}, { bearer: owner.key });
      const conversationId = created.body.conversation.id;
      const sent = await http.post(
        `/api/v1/conversations/${conversationId}/messages`,
        { content: 'What is this?', attachmentIds: [image!.id, notes!.id] },
        { bearer: owner.key },
      );
      expect(sent.status).toBe(201);
      expect(sent.body.userMessage.attachments).toEqual([image!.id, notes!.id]);
      const [user] = vision.upstreams[0]!.requests.at(-1)!.body.messages;
      expect(user.role).toBe('user');
      expect(user.content[0]).toEqual({ type: 'text', text: 'What is this?' });
      expect(user.content[1]).toMatchObject({
        type: 'image_url',
        image_url: { url: `data:image/png;base64,${PNG.toString('base64')}` },
      });
      expect(JSON.stringify(user.content[2])).toContain('Remember the milk.');

      // Someone else's file cannot be attached, and nothing is stored when it is tried.
      const theirs = await http.post('/api/v1/conversations', {}, { bearer: other.key });
      const refused = await http.post(
        `/api/v1/conversations/${theirs.body.conversation.id}/messages`,
        { content: 'Mine now', attachmentIds: [image!.id] },
        { bearer: other.key },
      );
      expect(refused.status).toBe(404);
      expect(
        (await http.get(`/api/v1/conversations/${theirs.body.conversation.id}/messages`, { bearer: other.key })).body
          .items,
      ).toEqual([]);

      // Deleting the conversation removes the files nothing else references.
      expect((await http.delete(`/api/v1/conversations/${conversationId}`, { bearer: owner.key })).status).toBe(204);
      expect((await http.get(`/api/v1/files/${image!.id}`, { bearer: owner.key })).status).toBe(404);
      expect((await http.get(`/${image!.path}`, { bearer: owner.key })).status).toBe(404);
    } finally {
      await vision.close();
    }
  });
});
