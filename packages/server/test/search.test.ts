import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { DEFAULT_REPLY } from './helpers/fake-upstream.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startChatGateway();
});
afterAll(() => gateway.close());

const api = () => gateway.server.http;
const upstream = () => gateway.upstreams[0]!;

interface ConversationResult {
  conversation: { id: string; title: string | null };
  score: number;
  snippet: string;
}
interface MessageResult {
  message: { id: string; conversationId: string; role: string; content: string; status: string };
  score: number;
}

async function newConversation(account: Account, body: Record<string, unknown> = {}): Promise<string> {
  const res = await api().post('/api/v1/conversations', body, { bearer: account.key });
  expect(res.status).toBe(201);
  return res.body.conversation.id;
}

/** Sends a message and waits for the upstream's reply. */
async function say(account: Account, conversationId: string, content: string) {
  const res = await api().post(
    `/api/v1/conversations/${conversationId}/messages`,
    { content },
    { bearer: account.key },
  );
  expect(res.status).toBe(201);
  return res.body as { userMessage: { id: string }; reply: { id: string; status: string } | null };
}

async function search(account: Account, body: Record<string, unknown>) {
  const res = await api().post('/api/v1/search', body, { bearer: account.key });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.mode).toBe('lexical');
  return res.body.results as unknown[];
}

const findConversations = async (account: Account, query: string, extra: Record<string, unknown> = {}) =>
  (await search(account, { query, type: 'conversations', ...extra })) as ConversationResult[];
const findMessages = async (account: Account, query: string, extra: Record<string, unknown> = {}) =>
  (await search(account, { query, type: 'messages', ...extra })) as MessageResult[];

const ids = (results: ConversationResult[]) => results.map((r) => r.conversation.id);

describe('search', () => {
  it('ranks conversations by their best match and scores them relative to the best', async () => {
    const alice = await signUp(api());
    const often = await newConversation(alice, { title: 'Kitchen' });
    await say(alice, often, 'tomato tomato tomato salad');
    const once = await newConversation(alice, { title: 'Garden' });
    await say(alice, once, 'we planted one tomato between the beans, the peas, the carrots and the leeks');
    const titled = await newConversation(alice, { title: 'Tomato harvest' });
    const unrelated = await newConversation(alice, { title: 'Cucumbers' });
    await say(alice, unrelated, 'nothing red here');

    const results = await findConversations(alice, 'TOMATO');
    expect(ids(results).sort()).toEqual([often, once, titled].sort());
    expect(ids(results)[0]).toBe(often);
    expect(results[0]!.score).toBe(1);
    for (const r of results) expect(r.score).toBeGreaterThan(0);
    expect(results.map((r) => r.score)).toEqual([...results.map((r) => r.score)].sort((a, b) => b - a));
    expect(results.find((r) => r.conversation.id === titled)!.snippet).toBe('Tomato harvest');
    expect(results.find((r) => r.conversation.id === often)).toMatchObject({
      conversation: { title: 'Kitchen' },
      snippet: 'tomato tomato tomato salad',
    });

    // Every word must be there, in any order and case.
    expect(ids(await findConversations(alice, 'Salad tomato'))).toEqual([often]);
    expect(await findConversations(alice, 'tomato cucumbers')).toEqual([]);
    expect(await findConversations(alice, 'tomato', { limit: 2 })).toHaveLength(2);
  });

  it('cuts a snippet around the first match of a long message', async () => {
    const alice = await signUp(api());
    const id = await newConversation(alice);
    const before = 'lorem ipsum dolor sit amet '.repeat(20);
    const after = ' consectetur adipiscing elit'.repeat(20);
    await say(alice, id, `${before}the Pangolin\n\nsleeps${after}`);

    const [result] = await findConversations(alice, 'pangolin');
    expect(result!.snippet.length).toBeLessThanOrEqual(200);
    expect(result!.snippet).toMatch(/^….*the Pangolin sleeps consectetur.*…$/);
    expect(result!.snippet.indexOf('Pangolin')).toBeGreaterThan(20);
  });

  it('finds complete user and assistant messages, within one conversation when asked', async () => {
    const alice = await signUp(api());
    upstream().configure({ reply: 'Wombats dig burrows at night.' });
    try {
      const first = await newConversation(alice);
      const asked = await say(alice, first, 'Where do wombats sleep?');
      const second = await newConversation(alice);
      const other = await say(alice, second, 'Tell me about wombats');

      const all = await findMessages(alice, 'wombats');
      expect(all.map((r) => r.message.id).sort()).toEqual(
        [asked.userMessage.id, asked.reply!.id, other.userMessage.id, other.reply!.id].sort(),
      );
      expect(all[0]!.score).toBe(1);
      const reply = all.find((r) => r.message.id === asked.reply!.id)!;
      expect(reply.message).toMatchObject({
        conversationId: first,
        role: 'assistant',
        content: 'Wombats dig burrows at night.',
        status: 'complete',
      });

      const within = await findMessages(alice, 'wombats sleep', { conversationId: first });
      expect(within.map((r) => r.message.id)).toEqual([asked.userMessage.id]);
      expect(await findMessages(alice, 'burrows', { conversationId: second, limit: 1 })).toHaveLength(1);
    } finally {
      upstream().configure({ reply: DEFAULT_REPLY });
    }
  });

  it('leaves out replies that failed midway', async () => {
    const alice = await signUp(api());
    upstream().configure({ reply: 'quokka quokka quokka and more', chunkSize: 7 });
    try {
      const id = await newConversation(alice);
      upstream().dropNext(1);
      const exchange = await say(alice, id, 'about marsupials');
      expect(exchange.reply?.status).not.toBe('complete');
      expect(await findMessages(alice, 'quokka')).toEqual([]);
    } finally {
      upstream().configure({ reply: DEFAULT_REPLY, chunkSize: 4 });
    }
  });

  it('reads query syntax characters as separators, never as operators', async () => {
    const alice = await signUp(api());
    const id = await newConversation(alice, { title: 'Syntax' });
    await say(alice, id, 'the capybara swims near the riverbank');

    for (const query of [
      '"capybara',
      'capybara"',
      '(capybara)',
      'capybara*',
      '^capybara',
      '-capybara',
      'capybara:',
      'NEAR(capybara riverbank)',
      "'capybara' & !riverbank | swims",
      'capybara <-> riverbank',
      'title:capybara',
      "capybara'; drop table messages; --",
      'capybara\\',
      '{capybara}',
    ]) {
      const results = await findConversations(alice, query);
      expect(ids(results), query).toEqual(query.includes('drop') || query.includes('title') ? [] : [id]);
      expect((await findMessages(alice, query)).length, query).toBeLessThanOrEqual(1);
    }
    // Operators spelled as words are words: no message has all of these.
    expect(await findConversations(alice, 'capybara AND OR NOT')).toEqual([]);
    for (const query of ['"', '*', '()', '"*"', '-', '&|!', ':', '...', "'"]) {
      expect(await findConversations(alice, query), query).toEqual([]);
      expect(await findMessages(alice, query), query).toEqual([]);
    }
    expect(ids(await findConversations(alice, 'CAPYBARA'))).toEqual([id]);
  });

  it('follows renames and deletions', async () => {
    const alice = await signUp(api());
    const id = await newConversation(alice, { title: 'Narwhal facts' });
    await say(alice, id, 'the tusk of a narwhal is a tooth');
    expect(ids(await findConversations(alice, 'narwhal'))).toEqual([id]);

    expect((await api().patch(`/api/v1/conversations/${id}`, { title: 'Arctic' }, { bearer: alice.key })).status).toBe(
      200,
    );
    expect(await findConversations(alice, 'facts')).toEqual([]);
    expect(ids(await findConversations(alice, 'arctic'))).toEqual([id]);
    expect((await api().patch(`/api/v1/conversations/${id}`, { title: null }, { bearer: alice.key })).status).toBe(200);
    expect(await findConversations(alice, 'arctic')).toEqual([]);

    expect((await api().delete(`/api/v1/conversations/${id}`, { bearer: alice.key })).status).toBe(204);
    expect(await findConversations(alice, 'narwhal')).toEqual([]);
    expect(await findMessages(alice, 'narwhal')).toEqual([]);
  });

  it("never shows one user another's conversations", async () => {
    const alice = await signUp(api());
    const bob = await signUp(api());
    const id = await newConversation(alice, { title: 'Secret okapi' });
    await say(alice, id, 'the okapi lives in the forest');

    expect(await findConversations(bob, 'okapi')).toEqual([]);
    expect(await findMessages(bob, 'okapi')).toEqual([]);
    const refused = await api().post(
      '/api/v1/search',
      { query: 'okapi', type: 'messages', conversationId: id },
      { bearer: bob.key },
    );
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('NOT_FOUND');
    expect(ids(await findConversations(alice, 'okapi'))).toEqual([id]);
  });

  it("shows a group's room to its members only, while they are members", async () => {
    const owner = await signUp(api());
    const bob = await signUp(api());
    const carol = await signUp(api());
    const created = await api().post('/api/v1/groups', { name: 'Zoo keepers' }, { bearer: owner.key });
    expect(created.status).toBe(201);
    const group = created.body.group as { id: string; conversationId: string };
    const invite = await api().post(`/api/v1/groups/${group.id}/invites`, undefined, { bearer: owner.key });
    expect((await api().post('/api/v1/groups/join', { code: invite.body.code }, { bearer: bob.key })).status).toBe(200);
    const said = await say(owner, group.conversationId, 'feeding the axolotl at noon');

    for (const member of [owner, bob]) {
      expect(ids(await findConversations(member, 'axolotl'))).toEqual([group.conversationId]);
      expect((await findMessages(member, 'axolotl')).map((r) => r.message.id)).toEqual([said.userMessage.id]);
    }
    expect(await findConversations(carol, 'axolotl')).toEqual([]);
    expect(await findMessages(carol, 'axolotl')).toEqual([]);
    expect(
      (
        await api().post(
          '/api/v1/search',
          { query: 'axolotl', type: 'messages', conversationId: group.conversationId },
          { bearer: carol.key },
        )
      ).status,
    ).toBe(404);

    expect((await api().post(`/api/v1/groups/${group.id}/leave`, undefined, { bearer: bob.key })).status).toBe(204);
    expect(await findConversations(bob, 'axolotl')).toEqual([]);
    expect(await findMessages(bob, 'axolotl')).toEqual([]);
  });

  it("narrows to one end user's conversations", async () => {
    const alice = await signUp(api());
    const { core } = gateway.server.parley;
    const user = await core.users.get(alice.id);
    const hers = await core.conversations.create(user, { title: 'Lemur care', endUserId: 'end-user-1' });
    const his = await core.conversations.create(user, { title: 'Lemur diet', endUserId: 'end-user-2' });
    const own = await core.conversations.create(user, { title: 'Lemur photos' });

    const all = await core.search.conversations(user, { query: 'lemur', limit: 10 });
    expect(all.results.map((r) => r.conversation.id).sort()).toEqual([hers.id, his.id, own.id].sort());
    const narrowed = await core.search.conversations(user, { query: 'lemur', endUserId: 'end-user-1', limit: 10 });
    expect(narrowed).toMatchObject({ mode: 'lexical', results: [{ conversation: { id: hers.id }, score: 1 }] });
    expect(narrowed.results).toHaveLength(1);
    expect((await core.search.messages(user, { query: 'lemur', endUserId: 'end-user-1', limit: 10 })).results).toEqual(
      [],
    );
  });

  it('refuses bad requests in the native error format', async () => {
    const alice = await signUp(api());
    const id = await newConversation(alice);
    for (const body of [
      {},
      { type: 'messages' },
      { query: 'x' },
      { query: '', type: 'messages' },
      { query: '   ', type: 'conversations' },
      { query: 'x'.repeat(501), type: 'messages' },
      { query: 'x', type: 'files' },
      { query: 'x', type: 'messages', limit: 0 },
      { query: 'x', type: 'messages', limit: 101 },
      { query: 'x', type: 'messages', limit: 1.5 },
      { query: 5, type: 'messages' },
      { query: 'x', type: 'messages', extra: true },
      { query: 'x', type: 'conversations', conversationId: id },
    ]) {
      const res = await api().post('/api/v1/search', body, { bearer: alice.key });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.any(String) });
    }
    expect(await findMessages(alice, ` ${'x'.repeat(500)}  `)).toEqual([]);
    const anonymous = await api().post('/api/v1/search', { query: 'x', type: 'messages' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('UNAUTHORIZED');
  });
});
