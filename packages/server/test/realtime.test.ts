import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { TEST_REDIS_URL, isolatedStores, redisAvailable, uniqueSuffix, type Isolated } from './helpers/env.js';
import { DEFAULT_REPLY, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';
import { HttpClient } from './helpers/http.js';
import { startServerProcess, type ServerProcess } from './helpers/processes.js';
import { TEST_SECRET, generousLimits, startServer } from './helpers/server.js';
import { FrameClient, type Frame, type OpenOptions } from './helpers/ws-client.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value of a metric (summed over its labels matching `labels`) in Prometheus text. */
async function metric(http: HttpClient, name: string, labels = ''): Promise<number> {
  const text = (await http.get('/metrics')).body as string;
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && line.includes(labels) && !line.startsWith(`${name}_`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

const BASIC_PER_MINUTE = 6;
const REALTIME = {
  authTimeoutMs: 500,
  heartbeatMs: 1000,
  maxBufferedBytes: 256 * 1024,
  maxPayloadBytes: 64 * 1024,
  maxSubscriptions: 3,
  maxSocketsPerUser: 4,
};

let gateway: Gateway;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  gateway = await startChatGateway({
    realtime: REALTIME,
    tiers: {
      ...generousLimits.tiers,
      basic: { requestsPerMinute: BASIC_PER_MINUTE, requestsPerDay: 1000, features: [], models: ['*'] },
    },
  });
  alice = await signUp(api());
  bob = await signUp(api());
});
afterAll(() => gateway?.close());

const api = () => gateway.server.http;
const upstream = () => gateway.upstreams[0]!;
const connect = (path = '/api/v1/ws', options?: OpenOptions) => FrameClient.open(gateway.server.url, path, options);

/** A socket authenticated with the account's key, ready for frames. */
async function socketOf(account: Account): Promise<FrameClient> {
  const client = await connect(`/api/v1/ws?token=${account.key}`);
  await client.next('ready');
  return client;
}

async function subscribed(client: FrameClient, conversationId: string): Promise<Frame> {
  const answer = await client.request({ type: 'subscribe', conversationId });
  expect(answer).toMatchObject({ type: 'subscribed', conversationId });
  return answer;
}

async function newConversation(account: Account): Promise<string> {
  const res = await api().post('/api/v1/conversations', {}, { bearer: account.key });
  expect(res.status).toBe(201);
  return res.body.conversation.id as string;
}

function slowReply(chunks: number, chunkDelayMs: number): string {
  const text = Array.from({ length: chunks }, (_, i) => `w${String(i).padStart(3, '0')} `).join('');
  upstream().configure({ reply: text, chunkSize: 5, chunkDelayMs });
  return text;
}

function resetUpstream(): void {
  upstream().configure({ reply: DEFAULT_REPLY, chunkSize: 4, chunkDelayMs: 0 });
}

/** The deltas of one reply a client received, checked to be seq 1..n (or after..n) without gaps or repeats. */
function deltasOf(client: FrameClient, messageId: string, after = 0): string {
  const deltas = client.of('delta').filter((d) => d.messageId === messageId);
  expect(deltas.map((d) => d.seq)).toEqual(deltas.map((_, i) => after + i + 1));
  return deltas.map((d) => d.text).join('');
}

describe('authentication', () => {
  it('accepts the session cookie, ?token= with an API key or a session token, a bearer header, and an auth frame', async () => {
    const sessionToken = alice.cookie.split('=')[1]!;
    const ways = [
      () => connect('/api/v1/ws', { headers: { cookie: alice.cookie } }),
      () => connect(`/api/v1/ws?token=${alice.key}`),
      () => connect(`/api/v1/ws?token=${sessionToken}`),
      () => connect('/api/v1/ws', { headers: { authorization: `Bearer ${alice.key}` } }),
    ];
    for (const way of ways) {
      const client = await way();
      expect(await client.next('ready')).toEqual({ type: 'ready', userId: alice.id });
      client.close();
    }
    for (const token of [alice.key, sessionToken]) {
      const client = await connect();
      client.send({ type: 'auth', token });
      expect(await client.next('ready')).toEqual({ type: 'ready', userId: alice.id });
      expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      // Once is enough.
      expect(await client.request({ type: 'auth', token })).toMatchObject({ type: 'error', code: 'CONFLICT' });
      client.close();
    }
  });

  it('takes the session cookie only from its own origin', async () => {
    const foreign = await connect('/api/v1/ws', { headers: { cookie: alice.cookie, origin: 'http://evil.example' } });
    expect(await foreign.request({ type: 'subscribe', conversationId: 'x' })).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((await foreign.closed).code).toBe(4408);
    const own = await connect('/api/v1/ws', { headers: { cookie: alice.cookie, origin: gateway.server.url } });
    expect(await own.next('ready')).toMatchObject({ userId: alice.id });
    own.close();
  });

  it('closes a socket whose credentials are refused with 4401', async () => {
    const byQuery = await connect('/api/v1/ws?token=pk_not_a_key');
    expect(await byQuery.next('error')).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((await byQuery.closed).code).toBe(4401);

    const byFrame = await connect();
    expect(await byFrame.request({ type: 'auth', token: 'not-a-session' })).toMatchObject({
      type: 'error',
      code: 'UNAUTHORIZED',
    });
    expect((await byFrame.closed).code).toBe(4401);

    const malformed = await connect('/api/v1/ws', { headers: { authorization: 'Basic abc' } });
    expect((await malformed.closed).code).toBe(4401);
  });

  it('closes an unauthenticated socket after authTimeoutMs with 4408, answering only ping meanwhile', async () => {
    const client = await connect();
    const started = Date.now();
    expect(await client.request({ type: 'ping' })).toEqual({ type: 'pong', ref: 'r1' });
    expect(await client.request({ type: 'subscribe', conversationId: 'x' })).toMatchObject({
      type: 'error',
      code: 'UNAUTHORIZED',
    });
    const { code } = await client.closed;
    expect(code).toBe(4408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(REALTIME.authTimeoutMs - 50);
  });

  it('answers a plain GET with 426, and documents the frames in OpenAPI', async () => {
    const plain = await api().get('/api/v1/ws');
    expect(plain.status).toBe(426);
    expect(plain.body.error.code).toBe('UPGRADE_REQUIRED');
    const doc = await api().get('/api/v1/openapi.json');
    const route = doc.body.paths['/api/v1/ws'].get;
    for (const word of ['`subscribe`', '`resume`', '`delta`', '`presence`', '`clientId`', '4408', '1013']) {
      expect(route.description).toContain(word);
    }
  });

  it('closes the socket of a revoked key within a heartbeat (4401)', async () => {
    const account = await signUp(api());
    const client = await socketOf(account);
    const keys = (await api().get('/api/v1/keys', { bearer: account.key })).body.items;
    expect((await api().delete(`/api/v1/keys/${keys[0].id}`, { cookie: account.cookie })).status).toBe(204);
    expect((await client.closed).code).toBe(4401);
  });
});

describe('frames', () => {
  it('refuses malformed frames with errors that refer to them, and keeps the socket open', async () => {
    const client = await socketOf(alice);
    client.send('not json');
    expect(await client.next('error')).toMatchObject({ code: 'VALIDATION_ERROR' });
    client.send(Buffer.from([1, 2, 3]));
    expect(await client.next('error')).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(await client.request({ type: 'shout' })).toMatchObject({
      type: 'error',
      code: 'VALIDATION_ERROR',
      details: { field: 'type' },
    });
    expect(await client.request({ type: 'subscribe' })).toMatchObject({
      type: 'error',
      code: 'VALIDATION_ERROR',
      details: { field: 'conversationId' },
    });
    expect(await client.request({ type: 'ping', extra: 1 })).toMatchObject({
      type: 'error',
      details: { field: 'extra' },
    });
    expect(await client.request({ type: 'resume', messageId: 'x', after: -1 })).toMatchObject({
      type: 'error',
      code: 'VALIDATION_ERROR',
    });
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    client.close();
  });

  it('drops frames beyond 50 a second, telling the socket once', async () => {
    const client = await socketOf(alice);
    for (let i = 0; i < 60; i++) client.send({ type: 'ping', id: i });
    expect(await client.next('error')).toMatchObject({ code: 'RATE_LIMITED' });
    await sleep(1100);
    expect(client.of('pong').length).toBeLessThan(60);
    expect(client.of('error')).toHaveLength(1);
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    client.close();
  });

  it('closes a socket that sends a frame over maxPayloadBytes (1009)', async () => {
    const client = await socketOf(alice);
    client.send({ type: 'ping', id: 'x'.repeat(REALTIME.maxPayloadBytes) });
    expect((await client.closed).code).toBe(1009);
  });
});

describe('rooms', () => {
  it('pushes messages, deltas seq 1..n and completed to every socket of the room, the sender included', async () => {
    const conversationId = await newConversation(alice);
    const sender = await socketOf(alice);
    const other = await socketOf(alice);
    await subscribed(sender, conversationId);
    expect((await subscribed(other, conversationId)).online).toEqual([alice.id]);

    const sent = await sender.request({ type: 'message', conversationId, content: 'Hello', clientId: 'c-1' });
    expect(sent).toMatchObject({
      type: 'sent',
      conversationId,
      clientId: 'c-1',
      duplicate: false,
      userMessage: { role: 'user', content: 'Hello', clientId: 'c-1' },
      reply: { role: 'assistant', status: 'streaming' },
    });
    const replyId = sent.reply.id as string;
    for (const client of [sender, other]) {
      const completed = await client.take((f) => f.type === 'completed' && f.message.id === replyId);
      expect(completed.message).toMatchObject({ status: 'complete', content: DEFAULT_REPLY });
      expect(completed.message.usage.totalTokens).toBeGreaterThan(0);
      expect(client.of('message').map((f) => f.message.id)).toEqual([sent.userMessage.id, replyId]);
      expect(deltasOf(client, replyId)).toBe(DEFAULT_REPLY);
      expect(client.of('delta').every((d) => d.conversationId === conversationId)).toBe(true);
    }

    // The same clientId again stores nothing new and answers the messages stored then.
    const again = await other.request({ type: 'message', conversationId, content: 'Hello', clientId: 'c-1' });
    expect(again).toMatchObject({ type: 'sent', duplicate: true, userMessage: { id: sent.userMessage.id } });
    expect(again.reply.id).toBe(replyId);
    const history = await api().get(`/api/v1/conversations/${conversationId}/messages`, { bearer: alice.key });
    expect(history.body.items).toHaveLength(2);

    expect(await sender.request({ type: 'unsubscribe', conversationId })).toMatchObject({
      type: 'unsubscribed',
      reason: 'requested',
    });
    const before = sender.frames.length;
    await api().post(`/api/v1/conversations/${conversationId}/messages`, { content: 'More' }, { bearer: alice.key });
    await other.take((f) => f.type === 'completed' && f.message.id !== replyId);
    await sleep(100);
    expect(sender.frames.length).toBe(before);
    sender.close();
    other.close();
  });

  it("refuses another user's conversation (NOT_FOUND) and sends nothing of it", async () => {
    const conversationId = await newConversation(alice);
    const owner = await socketOf(alice);
    await subscribed(owner, conversationId);
    const intruder = await socketOf(bob);
    for (const frame of [
      { type: 'subscribe', conversationId },
      { type: 'subscribe', conversationId: 'no-such-conversation' },
      { type: 'message', conversationId, content: 'hi', clientId: 'x' },
      { type: 'typing', conversationId },
    ]) {
      const answer = await intruder.request(frame);
      expect(answer.type, JSON.stringify(frame)).toBe('error');
      expect(answer.code).toMatch(/NOT_FOUND|VALIDATION_ERROR/);
    }
    const sent = await owner.request({ type: 'message', conversationId, content: 'Private', clientId: 'p-1' });
    expect(await intruder.request({ type: 'resume', messageId: sent.reply.id, after: 0 })).toMatchObject({
      type: 'error',
      code: 'NOT_FOUND',
    });
    expect(await intruder.request({ type: 'stop', messageId: sent.reply.id })).toMatchObject({
      type: 'error',
      code: 'NOT_FOUND',
    });
    await owner.next('completed');
    await sleep(200);
    expect(
      intruder.frames.filter((f) => ['message', 'delta', 'completed', 'typing', 'presence'].includes(f.type)),
    ).toEqual([]);
    owner.close();
    intruder.close();
  });

  it('tells the sockets of a deleted conversation, and takes them out of its room', async () => {
    const conversationId = await newConversation(alice);
    const client = await socketOf(alice);
    await subscribed(client, conversationId);
    expect((await api().delete(`/api/v1/conversations/${conversationId}`, { bearer: alice.key })).status).toBe(204);
    expect(await client.next('unsubscribed')).toEqual({
      type: 'unsubscribed',
      conversationId,
      reason: 'deleted',
    });
    client.close();
  });

  it('limits rooms per socket and sockets per user', async () => {
    const account = await signUp(api());
    const client = await socketOf(account);
    for (let i = 0; i < REALTIME.maxSubscriptions; i++) await subscribed(client, await newConversation(account));
    expect(await client.request({ type: 'subscribe', conversationId: await newConversation(account) })).toMatchObject({
      type: 'error',
      code: 'VALIDATION_ERROR',
    });
    const more = [];
    for (let i = 1; i < REALTIME.maxSocketsPerUser; i++) more.push(await socketOf(account));
    const tooMany = await connect(`/api/v1/ws?token=${account.key}`);
    expect(await tooMany.next('error')).toMatchObject({ code: 'RATE_LIMITED' });
    expect((await tooMany.closed).code).toBe(4429);
    // A closed socket makes room for another.
    client.close();
    await client.closed;
    await sleep(50);
    (await socketOf(account)).close();
    for (const socket of more) socket.close();
  });

  it("counts the connection and the frames that ask for work against the user's quota", async () => {
    const account = await signUp(api());
    const promoted = await api().patch(
      `/api/v1/admin/users/${account.id}`,
      { tier: 'basic' },
      { bearer: gateway.admin.key },
    );
    expect(promoted.status).toBe(200);
    const client = await socketOf(account); // 1
    const conversationId = await newConversation(account); // 2
    const answers: string[] = [];
    for (let i = 0; i < BASIC_PER_MINUTE; i++)
      answers.push((await client.request({ type: 'subscribe', conversationId })).type);
    const allowed = answers.indexOf('error');
    expect(allowed).toBeGreaterThan(0);
    expect(answers).toEqual([...Array(allowed).fill('subscribed'), ...Array(BASIC_PER_MINUTE - allowed).fill('error')]);
    expect(client.of('error')[0]).toMatchObject({
      code: 'RATE_LIMITED',
      details: { retryAfterMs: expect.any(Number) },
    });
    // A connection is a request too.
    const refused = await connect(`/api/v1/ws?token=${account.key}`);
    expect((await refused.closed).code).toBe(4429);
    // Pings and typing are not counted, and the socket stays open.
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    client.close();
  });
});

describe('replies', () => {
  it('resumes after a disconnect mid-reply: every delta exactly once, then completed', async () => {
    const text = slowReply(30, 40);
    try {
      const conversationId = await newConversation(alice);
      const first = await socketOf(alice);
      await subscribed(first, conversationId);
      const sent = await first.request({ type: 'message', conversationId, content: 'Go', clientId: 'r-1' });
      const replyId = sent.reply.id as string;
      await first.take((f) => f.type === 'delta' && f.seq === 5);
      first.terminate();
      const seen = first.of('delta').filter((d) => d.messageId === replyId);
      const last = seen.at(-1)!.seq as number;
      const received = deltasOf(first, replyId);

      const second = await socketOf(alice);
      second.send({ type: 'resume', messageId: replyId, after: last });
      const completed = await second.next('completed');
      expect(completed.message).toMatchObject({ id: replyId, status: 'complete', content: text });
      expect(received + deltasOf(second, replyId, last)).toBe(text);

      // A socket that joins mid-reply is sent the reply from its first delta.
      const third = await socketOf(alice);
      const sent2 = await second.request({ type: 'message', conversationId, content: 'Again', clientId: 'r-2' });
      await sleep(400);
      await subscribed(third, conversationId);
      await third.take((f) => f.type === 'completed' && f.message.id === sent2.reply.id);
      expect(deltasOf(third, sent2.reply.id)).toBe(text);
      second.close();
      third.close();
    } finally {
      resetUpstream();
    }
  });

  it('replays a finished reply whole to a resume, and counts from the seq given', async () => {
    const conversationId = await newConversation(alice);
    const client = await socketOf(alice);
    const sent = await client.request({ type: 'message', conversationId, content: 'Hi', clientId: 'f-1' });
    const replyId = sent.reply.id as string;
    // Not subscribed: nothing of the reply comes until it is asked for.
    await sleep(300);
    expect(client.of('delta')).toEqual([]);
    client.send({ type: 'resume', messageId: replyId, after: 0 });
    await client.next('completed');
    expect(deltasOf(client, replyId)).toBe(DEFAULT_REPLY);
    client.close();
  });

  it('stops a reply', async () => {
    slowReply(60, 40);
    try {
      const conversationId = await newConversation(alice);
      const client = await socketOf(alice);
      await subscribed(client, conversationId);
      const sent = await client.request({ type: 'message', conversationId, content: 'Long', clientId: 's-1' });
      await client.take((f) => f.type === 'delta' && f.seq === 3);
      const stopped = await client.request({ type: 'stop', messageId: sent.reply.id });
      expect(stopped).toMatchObject({ type: 'stopped', message: { id: sent.reply.id, status: 'cancelled' } });
      const completed = await client.next('completed');
      expect(completed.message).toMatchObject({ status: 'cancelled', content: stopped.message.content });
      expect(deltasOf(client, sent.reply.id)).toBe(stopped.message.content);
      client.close();
    } finally {
      resetUpstream();
    }
  });

  it('closes a socket that stops reading (1013) and lets go of what it held', async () => {
    // A server of its own, whose heartbeat does not cut the silent socket first.
    const flood = await startChatGateway({ realtime: { ...REALTIME, heartbeatMs: 60_000 } });
    try {
      // A reply that goes on until the slow socket is dropped, whatever the operating system buffers.
      flood.upstreams[0]!.configure({ reply: 'x'.repeat(64 * 1024 * 1024), chunkSize: 64 * 1024, chunkDelayMs: 1 });
      const http = flood.server.http;
      const account = await signUp(http);
      const conversationId = (await http.post('/api/v1/conversations', {}, { bearer: account.key })).body.conversation
        .id as string;
      const [slow, reader] = [
        await FrameClient.open(flood.server.url, `/api/v1/ws?token=${account.key}`),
        await FrameClient.open(flood.server.url, `/api/v1/ws?token=${account.key}`),
      ];
      for (const client of [slow, reader]) {
        await client.next('ready');
        await subscribed(client, conversationId);
      }
      slow.pauseReading();
      const sent = await reader.request({ type: 'message', conversationId, content: 'Flood', clientId: 'b-1' });
      while ((await metric(http, 'parley_websocket_closes_total', 'reason="slow"')) === 0) {
        expect(reader.of('completed'), 'the reply ended before the slow socket was dropped').toEqual([]);
        await sleep(50);
      }
      slow.resumeReading();
      expect((await slow.closed).code).toBe(1013);
      const stopped = await http.post(`/api/v1/messages/${sent.reply.id}/stop`, undefined, { bearer: account.key });
      expect(stopped.status).toBe(200);
      await reader.next('completed', 20_000);
      expect(slow.of('completed')).toEqual([]);
      reader.close();
      await reader.closed;
      await sleep(100);
      expect(await metric(http, 'parley_websocket_connections')).toBe(0);
      expect(await metric(http, 'parley_websocket_buffered_bytes')).toBe(0);
    } finally {
      await flood.close();
    }
  });
});

describe('typing and presence', () => {
  it('reach the other sockets of a group room, never the one they come from, nor outsiders', async () => {
    const carol = await signUp(api());
    const group = await api().post('/api/v1/groups', { name: 'Realtime club' }, { bearer: alice.key });
    expect(group.status).toBe(201);
    const { id: groupId, conversationId } = group.body.group as { id: string; conversationId: string };
    const invite = await api().post(`/api/v1/groups/${groupId}/invites`, undefined, { bearer: alice.key });
    expect((await api().post('/api/v1/groups/join', { code: invite.body.code }, { bearer: bob.key })).status).toBe(200);

    const a1 = await socketOf(alice);
    const a2 = await socketOf(alice);
    const b = await socketOf(bob);
    const outsider = await socketOf(carol);
    await subscribed(a1, conversationId);
    await subscribed(a2, conversationId);
    expect(await outsider.request({ type: 'subscribe', conversationId })).toMatchObject({ code: 'NOT_FOUND' });

    const joined = await subscribed(b, conversationId);
    expect(joined.online.sort()).toEqual([alice.id, bob.id].sort());
    for (const client of [a1, a2]) {
      expect(await client.next('presence')).toEqual({
        type: 'presence',
        conversationId,
        userId: bob.id,
        status: 'online',
      });
    }

    a1.send({ type: 'typing', conversationId });
    for (const client of [a2, b]) {
      expect(await client.next('typing')).toEqual({
        type: 'typing',
        conversationId,
        userId: alice.id,
      });
    }
    // Passed on at most once a second.
    a1.send({ type: 'typing', conversationId });
    b.send({ type: 'typing', conversationId });
    expect(await a1.next('typing')).toMatchObject({ userId: bob.id });
    await a2.take((f) => f.type === 'typing' && f.userId === bob.id);
    await sleep(200);
    expect(a1.of('typing').map((f) => f.userId)).toEqual([bob.id]);
    expect(a2.of('typing').map((f) => f.userId)).toEqual([alice.id, bob.id]);
    expect(b.of('typing').map((f) => f.userId)).toEqual([alice.id]);
    expect(b.of('presence')).toEqual([]);

    b.close();
    for (const client of [a1, a2]) {
      expect(await client.next('presence')).toMatchObject({ userId: bob.id, status: 'offline' });
    }
    // A member removed from the group is taken out of its room.
    const b2 = await socketOf(bob);
    await subscribed(b2, conversationId);
    expect((await api().delete(`/api/v1/groups/${groupId}/members/${bob.id}`, { bearer: alice.key })).status).toBe(204);
    expect(await b2.next('unsubscribed')).toMatchObject({ conversationId, reason: 'removed' });
    await sleep(100);
    expect(outsider.frames.filter((f) => f.type !== 'ready' && f.type !== 'error')).toEqual([]);
    for (const client of [a1, a2, b2, outsider]) client.close();
  });
});

describe('heartbeat and shutdown', () => {
  it('answers ping with pong, and cuts a socket that does not answer the heartbeat', async () => {
    const client = await connect(`/api/v1/ws?token=${alice.key}`, { autoPong: false });
    await client.next('ready');
    expect(await client.request({ type: 'ping' })).toEqual({ type: 'pong', ref: 'r1' });
    const started = Date.now();
    const { code } = await client.closed;
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeLessThan(REALTIME.heartbeatMs * 3 + 1000);

    const healthy = await socketOf(alice);
    await sleep(REALTIME.heartbeatMs * 2.5);
    expect(await healthy.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    healthy.close();
  });

  it('closes sockets with 1001 when the server shuts down', async () => {
    const server = await startServer();
    const account = await signUp(server.http);
    const client = await FrameClient.open(server.url, `/api/v1/ws?token=${account.key}`);
    await client.next('ready');
    // Upgrades to other routes are turned away, and hold nothing open that would delay the shutdown.
    for (const path of ['/healthz', '/api/v1/me', '/no-such-route']) {
      await FrameClient.connect(server.url, path).closed;
    }
    const started = Date.now();
    const closing = server.close();
    expect((await client.closed).code).toBe(1001);
    await closing;
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

const hasRedis = await redisAvailable();
const INSTANCE_BEACON_MS = 300;

/** Two `parley serve` processes sharing the database and Redis, as behind a load balancer. */
describe.skipIf(!hasRedis)('two instances', () => {
  let stores: Isolated;
  let fake: FakeUpstream;
  let a: ServerProcess;
  let b: ServerProcess;
  let account: Account;
  let env: Record<string, string>;

  beforeAll(async () => {
    stores = await isolatedStores();
    fake = await startFakeUpstream();
    const configFile = join(stores.dataDir, 'parley.config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        ...generousLimits,
        chat: { generateTitles: false },
        routing: { cooldownMs: [0] },
        realtime: { heartbeatMs: INSTANCE_BEACON_MS },
        channels: [
          { name: 'fake', provider: 'openai-compatible', baseUrl: `${fake.url}/v1`, apiKeys: ['sk-x'], models: ['*'] },
        ],
      }),
    );
    env = {
      PARLEY_CONFIG: configFile,
      PARLEY_DATA_DIR: stores.dataDir,
      PARLEY_DATABASE_URL: stores.databaseUrl,
      PARLEY_REDIS_URL: TEST_REDIS_URL,
      PARLEY_REDIS_KEY_PREFIX: `parley-test:${uniqueSuffix()}:`,
      PARLEY_SECRET: TEST_SECRET,
    };
    [a, b] = await Promise.all([startServerProcess(env, stores.dataDir), startServerProcess(env, stores.dataDir)]);
    await signUp(new HttpClient(a.url), `wsadmin${process.pid}`);
    account = await signUp(new HttpClient(a.url));
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await fake?.close();
    await stores?.cleanup();
  });

  it('sends a socket on A the messages, deltas and completion of a reply generated on B, and resumes it on A', async () => {
    const httpB = new HttpClient(b.url);
    const created = await httpB.post('/api/v1/conversations', {}, { bearer: account.key });
    const conversationId = created.body.conversation.id as string;
    const onA = await FrameClient.open(a.url, `/api/v1/ws?token=${account.key}`);
    await onA.next('ready');
    await subscribed(onA, conversationId);

    const answer = await httpB.post(
      `/api/v1/conversations/${conversationId}/messages`,
      { content: 'Hi' },
      {
        bearer: account.key,
      },
    );
    expect(answer.status).toBe(201);
    const { userMessage, reply } = answer.body;
    const completed = await onA.next('completed');
    expect(completed.message).toMatchObject({ id: reply.id, status: 'complete', content: DEFAULT_REPLY });
    expect(onA.of('message').map((f) => f.message.id)).toEqual([userMessage.id, reply.id]);
    expect(deltasOf(onA, reply.id)).toBe(DEFAULT_REPLY);

    const text = Array.from({ length: 30 }, (_, i) => `w${i} `).join('');
    fake.configure({ reply: text, chunkSize: 4, chunkDelayMs: 40 });
    const viaB = await FrameClient.open(b.url, `/api/v1/ws?token=${account.key}`);
    await viaB.next('ready');
    await subscribed(viaB, conversationId);
    const sent = await viaB.request({ type: 'message', conversationId, content: 'Slowly', clientId: 'x-1' });
    const replyId = sent.reply.id as string;
    await viaB.take((f) => f.type === 'delta' && f.messageId === replyId && f.seq === 4);
    viaB.terminate();
    const last = viaB
      .of('delta')
      .filter((d) => d.messageId === replyId)
      .at(-1)!.seq as number;

    const resumed = await FrameClient.open(a.url, `/api/v1/ws?token=${account.key}`);
    await resumed.next('ready');
    resumed.send({ type: 'resume', messageId: replyId, after: last });
    const end = await resumed.next('completed');
    expect(end.message).toMatchObject({ status: 'complete', content: text });
    expect(deltasOf(viaB, replyId) + deltasOf(resumed, replyId, last)).toBe(text);
    // The socket subscribed on A had it all, live.
    await onA.take((f) => f.type === 'completed' && f.message.id === replyId);
    expect(deltasOf(onA, replyId)).toBe(text);
    for (const client of [onA, resumed]) client.close();
  });

  it('merges presence across instances, and ends that of users of an instance that died', async () => {
    const httpA = new HttpClient(a.url);
    const bob = await signUp(httpA);
    const group = await httpA.post('/api/v1/groups', { name: 'Across' }, { bearer: account.key });
    const { id: groupId, conversationId } = group.body.group as { id: string; conversationId: string };
    const invite = await httpA.post(`/api/v1/groups/${groupId}/invites`, undefined, { bearer: account.key });
    await httpA.post('/api/v1/groups/join', { code: invite.body.code }, { bearer: bob.key });

    const ownerOnA = await FrameClient.open(a.url, `/api/v1/ws?token=${account.key}`);
    await ownerOnA.next('ready');
    await subscribed(ownerOnA, conversationId);
    const bobOnB = await FrameClient.open(b.url, `/api/v1/ws?token=${bob.key}`);
    await bobOnB.next('ready');
    await subscribed(bobOnB, conversationId);
    expect(await ownerOnA.next('presence')).toMatchObject({ userId: bob.id, status: 'online' });

    // Bob on both instances: leaving one of them does not make him offline.
    const bobOnA = await FrameClient.open(a.url, `/api/v1/ws?token=${bob.key}`);
    await bobOnA.next('ready');
    expect((await subscribed(bobOnA, conversationId)).online.sort()).toEqual([account.id, bob.id].sort());
    bobOnA.close();
    await bobOnA.closed;
    await sleep(INSTANCE_BEACON_MS * 2);
    expect(ownerOnA.of('presence')).toHaveLength(1);

    const started = Date.now();
    await b.stop('SIGKILL');
    expect(await ownerOnA.next('presence')).toMatchObject({ userId: bob.id, status: 'offline' });
    expect(Date.now() - started).toBeLessThan(INSTANCE_BEACON_MS * 6 + 2000);

    // An instance started later learns who is present already.
    const c = await startServerProcess(env, stores.dataDir);
    try {
      const bobOnC = await FrameClient.open(c.url, `/api/v1/ws?token=${bob.key}`);
      await bobOnC.next('ready');
      await sleep(INSTANCE_BEACON_MS);
      expect((await subscribed(bobOnC, conversationId)).online.sort()).toEqual([account.id, bob.id].sort());
      expect(await ownerOnA.next('presence')).toMatchObject({ userId: bob.id, status: 'online' });
      bobOnC.close();
    } finally {
      await c.stop();
    }
    ownerOnA.close();
  });
});
