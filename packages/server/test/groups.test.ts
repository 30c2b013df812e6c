import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { DEFAULT_REPLY } from './helpers/fake-upstream.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';

let gateway: Gateway;
let owner: Account;
let bob: Account;
let carol: Account;
let botName: string;

beforeAll(async () => {
  gateway = await startChatGateway();
  owner = await signUp(gateway.server.http);
  bob = await signUp(gateway.server.http);
  carol = await signUp(gateway.server.http);
  botName = `helper-${process.pid}`;
  const bot = await api().post(
    '/api/v1/bots',
    { name: botName, displayName: 'Helper', systemPrompt: 'You help {{group_name}}.' },
    { bearer: owner.key },
  );
  expect(bot.status).toBe(201);
});
afterAll(() => gateway.close());

const api = () => gateway.server.http;
const upstream = () => gateway.upstreams[0]!;
const lastPrompt = () => upstream().requests.at(-1)!.body.messages as { role: string; content: string }[];

async function newGroup(body: Record<string, unknown>) {
  const res = await api().post('/api/v1/groups', { botId: botName, ...body }, { bearer: owner.key });
  expect(res.status).toBe(201);
  return res.body.group as { id: string; conversationId: string };
}

async function join(groupId: string, account: Account) {
  const invite = await api().post(`/api/v1/groups/${groupId}/invites`, undefined, { bearer: owner.key });
  expect(invite.status).toBe(201);
  const joined = await api().post('/api/v1/groups/join', { code: invite.body.code }, { bearer: account.key });
  expect(joined.status).toBe(200);
}

async function say(account: Account, conversationId: string, content: string) {
  const res = await api().post(
    `/api/v1/conversations/${conversationId}/messages`,
    { content },
    { bearer: account.key },
  );
  expect(res.status).toBe(201);
  return res.body as { userMessage: any; reply: any };
}

describe('group rooms', () => {
  it('lets members in by invite, shows them every message, and answers when the bot is mentioned', async () => {
    const group = await newGroup({ name: 'Book club', replyPolicy: 'mention' });
    await join(group.id, bob);

    const members = await api().get(`/api/v1/groups/${group.id}/members`, { bearer: bob.key });
    expect(members.body.items.map((m: { userId: string; role: string }) => [m.userId, m.role])).toEqual([
      [owner.id, 'owner'],
      [bob.id, 'member'],
    ]);

    const quiet = await say(owner, group.conversationId, 'Hello everyone');
    expect(quiet.reply).toBeNull();
    const asked = await say(bob, group.conversationId, `@${botName} what should we read?`);
    expect(asked.reply).toMatchObject({ status: 'complete', content: DEFAULT_REPLY });
    // One shared context: the owner's words reach the bot too, with the group's name in its prompt.
    expect(lastPrompt()).toEqual([
      { role: 'system', content: 'You help Book club.' },
      { role: 'user', content: 'Hello everyone' },
      { role: 'user', content: `@${botName} what should we read?` },
    ]);
    // By display name too, in any case.
    expect((await say(owner, group.conversationId, '@helper thanks')).reply).not.toBeNull();

    const history = await api().get(`/api/v1/conversations/${group.conversationId}/messages`, { bearer: bob.key });
    expect(history.body.items.map((m: { senderId: string }) => m.senderId)).toEqual([
      owner.id,
      bob.id,
      expect.any(String),
      owner.id,
      expect.any(String),
    ]);
    const bobsList = await api().get('/api/v1/conversations', { bearer: bob.key });
    expect(bobsList.body.items.map((c: { id: string }) => c.id)).toContain(group.conversationId);
  });

  it('answers by prefix, or always', async () => {
    const prefixed = await newGroup({ name: 'Prefixed', replyPolicy: 'prefix', prefix: '!ai' });
    expect((await say(owner, prefixed.conversationId, 'no prefix here')).reply).toBeNull();
    expect((await say(owner, prefixed.conversationId, '!ai answer me')).reply).not.toBeNull();
    expect(
      (await api().post('/api/v1/groups', { name: 'x', replyPolicy: 'prefix' }, { bearer: owner.key })).status,
    ).toBe(400);

    const always = await newGroup({ name: 'Always', replyPolicy: 'always' });
    expect((await say(owner, always.conversationId, 'anything')).reply).not.toBeNull();
  });

  it('keeps one context per member when isolated', async () => {
    const group = await newGroup({ name: 'Isolated', replyPolicy: 'always', isolation: 'member' });
    await join(group.id, bob);
    await say(owner, group.conversationId, 'Owner secret plan');
    await say(bob, group.conversationId, 'Bob question');
    expect(lastPrompt().map((m) => m.content)).toEqual(['You help Isolated.', 'Bob question']);
    await say(owner, group.conversationId, 'Owner again');
    expect(lastPrompt().map((m) => m.content)).toEqual([
      'You help Isolated.',
      'Owner secret plan',
      DEFAULT_REPLY,
      'Owner again',
    ]);
  });

  it('keeps outsiders out and leaves management to the owner', async () => {
    const group = await newGroup({ name: 'Private room', replyPolicy: 'always' });
    await join(group.id, bob);
    const { reply } = await say(owner, group.conversationId, 'Members only');
    const room = `/api/v1/conversations/${group.conversationId}`;

    for (const [method, path, body] of [
      ['GET', `/api/v1/groups/${group.id}`],
      ['GET', `/api/v1/groups/${group.id}/members`],
      ['PATCH', `/api/v1/groups/${group.id}`, { name: 'Taken' }],
      ['DELETE', `/api/v1/groups/${group.id}`],
      ['POST', `/api/v1/groups/${group.id}/invites`],
      ['POST', `/api/v1/groups/${group.id}/leave`],
      ['GET', room],
      ['GET', `${room}/messages`],
      ['POST', `${room}/messages`, { content: 'Let me in' }],
      ['GET', `/api/v1/messages/${reply.id}`],
      ['GET', `/api/v1/messages/${reply.id}/stream`],
    ] as [string, string, unknown?][]) {
      const res = await api().call(method, path, { body, bearer: carol.key });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await api().get('/api/v1/conversations', { bearer: carol.key })).body.items).toEqual([]);

    // Members write but do not manage.
    for (const [method, path, body] of [
      ['PATCH', `/api/v1/groups/${group.id}`, { name: 'Mine' }],
      ['DELETE', `/api/v1/groups/${group.id}`],
      ['POST', `/api/v1/groups/${group.id}/invites`],
      ['PATCH', room, { title: 'Mine' }],
      ['POST', `${room}/clear`],
      ['DELETE', room],
    ] as [string, string, unknown?][]) {
      const res = await api().call(method, path, { body, bearer: bob.key });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    // The room goes with its group only.
    expect((await api().delete(room, { bearer: owner.key })).status).toBe(409);
    expect((await api().post(`/api/v1/groups/${group.id}/leave`, undefined, { bearer: owner.key })).status).toBe(409);

    // A member who leaves is an outsider again.
    expect((await api().post(`/api/v1/groups/${group.id}/leave`, undefined, { bearer: bob.key })).status).toBe(204);
    expect((await api().get(room, { bearer: bob.key })).status).toBe(404);
  });

  it('renews invite codes, removes members, and deletes the group with its room', async () => {
    const group = await newGroup({ name: 'Temporary' });
    const first = await api().post(`/api/v1/groups/${group.id}/invites`, undefined, { bearer: owner.key });
    const second = await api().post(`/api/v1/groups/${group.id}/invites`, undefined, { bearer: owner.key });
    expect((await api().post('/api/v1/groups/join', { code: first.body.code }, { bearer: bob.key })).status).toBe(404);
    expect((await api().post('/api/v1/groups/join', { code: second.body.code }, { bearer: bob.key })).status).toBe(200);
    // Joining twice changes nothing.
    expect((await api().post('/api/v1/groups/join', { code: second.body.code }, { bearer: bob.key })).status).toBe(200);
    expect((await api().get(`/api/v1/groups/${group.id}/members`, { bearer: owner.key })).body.items).toHaveLength(2);

    expect((await api().delete(`/api/v1/groups/${group.id}/members/${bob.id}`, { bearer: owner.key })).status).toBe(
      204,
    );
    expect((await api().get(`/api/v1/groups/${group.id}`, { bearer: bob.key })).status).toBe(404);

    expect((await api().delete(`/api/v1/groups/${group.id}`, { bearer: owner.key })).status).toBe(204);
    expect((await api().get(`/api/v1/groups/${group.id}`, { bearer: owner.key })).status).toBe(404);
    expect((await api().get(`/api/v1/conversations/${group.conversationId}`, { bearer: owner.key })).status).toBe(404);
  });

  it('refuses bad groups and writes nothing', async () => {
    const before = (await api().get('/api/v1/groups', { bearer: carol.key })).body.items.length;
    for (const body of [
      {},
      { name: '' },
      { name: 'x'.repeat(101) },
      { name: 'x', replyPolicy: 'sometimes' },
      { name: 'x', isolation: 'none' },
      { name: 'x', botId: 'no-such-bot' },
      { name: 'x', extra: true },
    ]) {
      const res = await api().post('/api/v1/groups', body, { bearer: carol.key });
      expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    expect((await api().get('/api/v1/groups', { bearer: carol.key })).body.items).toHaveLength(before);
  });
});
