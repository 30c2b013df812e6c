import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, signUp, type Account } from './helpers/accounts.js';
import { TEST_REDIS_URL, isolatedStores, redisAvailable, type Isolated } from './helpers/env.js';
import { startFakeSpeech, type FakeSpeech } from './helpers/fake-speech.js';
import { DEFAULT_REPLY, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';
import { HttpClient } from './helpers/http.js';
import { sharedStoresEnv, startServerProcess, type ServerProcess } from './helpers/processes.js';
import { generousLimits } from './helpers/server.js';
import { signatureFor, startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';
import { FrameClient } from './helpers/ws-client.js';

const hasRedis = await redisAvailable();

/** The document's base URL and WebSocket path, as Parley mounts them by default. */
const V1 = '/v1';
const WS_PATH = '/ws/chat';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Levels low enough for a few replies to climb. */
const LEVELS = [0, 3, 10, 1_000_000];
const WEBHOOK_SECRET = 'your_webhook_secret';
/** No limits in the way, except in the tests about them. */
const UNLIMITED = { requestsPerMinute: 1_000_000, anonymousRequestsPerMinute: 1_000_000 };

let gateway: Gateway;
let alice: Account;
let bob: Account;
let receiver: WebhookReceiver;

beforeAll(async () => {
  gateway = await startChatGateway({
    'profiles.levelThresholds': LEVELS,
    'surfaces.bambisleep': UNLIMITED,
    'realtime.authTimeoutMs': 1000,
    webhooks: { allowlist: ['127.0.0.1'], pollIntervalMs: 50, retryBaseMs: 100, retryMaxDelayMs: 400 },
  });
  alice = await signUp(gateway.server.http);
  bob = await signUp(gateway.server.http);
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await gateway?.close();
  await receiver?.close();
});

const http = () => gateway.server.http;
const upstream = () => gateway.upstreams[0]!;
const v1 = {
  get: (path: string, as?: Account) => http().get(V1 + path, { bearer: as?.key }),
  post: (path: string, body: unknown, as?: Account) => http().post(V1 + path, body, { bearer: as?.key }),
  put: (path: string, body: unknown, as?: Account) => http().call('PUT', V1 + path, { body, bearer: as?.key }),
};

/** A message as the lobby broadcasts it. */
const broadcast = (username: string, content: string) => ({
  type: 'message',
  username,
  content,
  timestamp: expect.stringMatching(ISO),
});

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ error: true, code, message: expect.any(String) });
}

async function generate(as: Account, prompt: string, settings: Record<string, unknown> = {}) {
  const res = await v1.post('/ai/generate', { prompt, settings }, as);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { response: string; audioUrl?: string; triggers?: string[] };
}

async function newTrigger(as: Account, body: Record<string, unknown>) {
  const res = await v1.post('/triggers', { description: '', isPublic: false, ...body }, as);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { id: string; name: string; description: string; isPublic: boolean; creator: string };
}

const profileOf = async (username: string, as?: Account) => (await v1.get(`/profile/${username}`, as)).body;
const sessionsOf = async (as: Account) => (await v1.get('/sessions', as)).body.sessions as any[];
/** The system prompt the upstream was sent last. */
const lastSystemPrompt = () =>
  (upstream().requests.at(-1)!.body.messages as { role: string; content: string }[])
    .filter((m) => m.role === 'system')
    .map((m) => m.content)
    .join('\n');

describe('authentication', () => {
  it('logs in with a session cookie that every route takes', async () => {
    const res = await http().post(`${V1}/auth/login`, { username: alice.username, password: PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      message: 'Authentication successful',
      user: { id: alice.id, username: alice.username },
    });
    expect(res.sessionCookie).toMatch(/^parley_session=.+/);
    const sessions = await http().get(`${V1}/sessions`, { cookie: res.sessionCookie });
    expect(sessions.status).toBe(200);
    expect(sessions.body).toEqual({ sessions: expect.any(Array) });
  });

  it('refuses wrong credentials and malformed bodies in the document’s error format', async () => {
    const wrong = await http().post(`${V1}/auth/login`, { username: alice.username, password: 'not the password' });
    expectError(wrong, 401, 'UNAUTHORIZED');
    expect(wrong.sessionCookie).toBeUndefined();
    expectError(await http().post(`${V1}/auth/login`, { username: alice.username }), 400, 'VALIDATION_ERROR');
    const notJson = await http().call('POST', `${V1}/auth/login`, { rawBody: '{"username":' });
    expectError(notJson, 400, 'VALIDATION_ERROR');
  });

  it('takes API keys as bearer tokens, and refuses requests without credentials', async () => {
    expect((await v1.get('/triggers', alice)).status).toBe(200);
    expectError(await v1.get('/triggers'), 401, 'UNAUTHORIZED');
    expectError(await http().get(`${V1}/triggers`, { headers: { authorization: 'Basic abc' } }), 401, 'UNAUTHORIZED');
    expectError(await http().get(`${V1}/triggers`, { bearer: 'pk_not_a_real_key' }), 401, 'UNAUTHORIZED');
  });
});

describe('profiles', () => {
  it('shows a profile with the document’s fields', async () => {
    const res = await v1.get(`/profile/${alice.username}`, alice);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: alice.id,
      username: alice.username,
      displayName: alice.username,
      avatarUrl: null,
      isPublic: false,
      xp: 0,
      level: 1,
      createdAt: expect.stringMatching(ISO),
      triggers: [],
    });
  });

  it('updates a profile: its owner only, with valid fields only', async () => {
    const changes = {
      displayName: 'Alice A.',
      avatarUrl: 'https://bambisleep.chat/avatars/new-image.png',
      isPublic: true,
    };
    const res = await v1.put(`/profile/${alice.username}`, changes, alice);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ username: alice.username, ...changes });

    expectError(await v1.put(`/profile/${alice.username}`, { displayName: 'Mallory' }, bob), 403, 'FORBIDDEN');
    expectError(await v1.put(`/profile/${alice.username}`, { displayName: 'Anon' }), 401, 'UNAUTHORIZED');
    expectError(
      await v1.put(`/profile/${alice.username}`, { avatarUrl: 'javascript:x' }, alice),
      400,
      'VALIDATION_ERROR',
    );
    expectError(await v1.put(`/profile/${alice.username}`, { xp: 1_000_000 }, alice), 400, 'VALIDATION_ERROR');
    expectError(await v1.put(`/profile/${alice.username}`, {}, alice), 400, 'VALIDATION_ERROR');
    expect(await profileOf(alice.username)).toMatchObject({ ...changes, xp: 0 });
  });

  it('shows a public profile to anyone, a private one to its owner and admins only', async () => {
    expect(await profileOf(alice.username)).toMatchObject({ username: alice.username, isPublic: true });
    expect(await profileOf(alice.username, bob)).toMatchObject({ username: alice.username });

    // Bob's profile is private (the default).
    expectError(await v1.get(`/profile/${bob.username}`), 404, 'NOT_FOUND');
    expectError(await v1.get(`/profile/${bob.username}`, alice), 404, 'NOT_FOUND');
    expectError(await v1.put(`/profile/${bob.username}`, { displayName: 'Bobby' }, alice), 404, 'NOT_FOUND');
    expect((await v1.get(`/profile/${bob.username}`, bob)).status).toBe(200);
    expect((await v1.get(`/profile/${bob.username}`, gateway.admin)).status).toBe(200);
    expectError(await v1.get('/profile/nobody-here'), 404, 'NOT_FOUND');
  });
});

describe('AI generation', () => {
  it('answers the document’s request in a session of the caller’s', async () => {
    const answer = await generate(alice, 'Hello Bambi', {
      model: 'fake-model',
      includeAudio: false,
      includeTriggers: true,
    });
    expect(answer).toEqual({ response: DEFAULT_REPLY, triggers: [] });
    expect(upstream().requests.at(-1)!.body).toMatchObject({ model: 'fake-model' });
    expect(upstream().requests.at(-1)!.body.messages.at(-1)).toMatchObject({ role: 'user', content: 'Hello Bambi' });
  });

  it('continues the session while it is active, with its history', async () => {
    const before = await sessionsOf(alice);
    await generate(alice, 'And again');
    const after = await sessionsOf(alice);
    expect(after).toHaveLength(before.length);
    expect(after[0]).toMatchObject({ id: before[0].id, messageCount: before[0].messageCount + 2 });
    const sent = upstream()
      .requests.at(-1)!
      .body.messages.map((m: { content: string }) => m.content);
    expect(sent).toEqual(expect.arrayContaining(['Hello Bambi', DEFAULT_REPLY, 'And again']));
  });

  it('shapes replies with the session’s triggers, and names the triggers a reply mentions', async () => {
    const calm = await newTrigger(alice, { name: 'Calm Waves', content: 'Speak slowly, like waves on a shore.' });
    await generate(alice, 'Relax', { triggers: ['calm waves'] });
    expect(lastSystemPrompt()).toContain('Speak slowly, like waves on a shore.');

    // The session keeps its triggers until told otherwise; an id names a trigger as well as its name.
    upstream().configure({ reply: 'Think of Calm Waves, and of calm wavesong.' });
    try {
      const answer = await generate(alice, 'More', { includeTriggers: true });
      expect(lastSystemPrompt()).toContain('Speak slowly');
      expect(answer.triggers).toEqual(['Calm Waves']);
      await generate(alice, 'Plain now', { triggers: [] });
      expect(lastSystemPrompt()).not.toContain('Speak slowly');
      await generate(alice, 'Again', { triggers: [calm.id] });
      expect(lastSystemPrompt()).toContain('Speak slowly');
    } finally {
      upstream().configure({ reply: DEFAULT_REPLY });
    }
  });

  it('awards XP for the words generated and the triggers used, and levels up', async () => {
    const dora = await signUp(http());
    // 23 words: 3 points.
    upstream().configure({ reply: Array.from({ length: 23 }, (_, i) => `w${i}`).join(' ') });
    try {
      await generate(dora, 'Talk to me');
      await expect.poll(async () => (await profileOf(dora.username, dora)).xp).toBe(3);
      expect(await profileOf(dora.username, dora)).toMatchObject({ level: 2 });

      const focus = await newTrigger(dora, { name: 'Focus', content: 'Stay focused.' });
      const deep = await newTrigger(dora, { name: 'Deep', content: 'Go deep.' });
      await generate(dora, 'Once more', { triggers: [focus.name, deep.name] });
      // 3 for the words, 2 for each of the two triggers.
      await expect.poll(async () => (await profileOf(dora.username, dora)).xp).toBe(10);
      const profile = await profileOf(dora.username, dora);
      expect(profile.level).toBe(3);
      expect(profile.triggers.sort()).toEqual(['Deep', 'Focus']);
    } finally {
      upstream().configure({ reply: DEFAULT_REPLY });
    }
  });

  it('refuses bad requests without writing anything', async () => {
    const before = await sessionsOf(alice);
    expectError(await v1.post('/ai/generate', { settings: {} }, alice), 400, 'VALIDATION_ERROR');
    expectError(await v1.post('/ai/generate', { prompt: '   ' }, alice), 400, 'VALIDATION_ERROR');
    expectError(
      await v1.post('/ai/generate', { prompt: 'Hi', settings: { verbose: true } }, alice),
      400,
      'VALIDATION_ERROR',
    );
    expectError(
      await v1.post('/ai/generate', { prompt: 'Hi', settings: { model: 'MODEL_1' } }, alice),
      404,
      'MODEL_NOT_FOUND',
    );
    expectError(
      await v1.post('/ai/generate', { prompt: 'Hi', settings: { triggers: ['No Such'] } }, alice),
      404,
      'NOT_FOUND',
    );
    expectError(await v1.post('/ai/generate', { prompt: 'Hi' }), 401, 'UNAUTHORIZED');
    // Without a text-to-speech provider, audio is unavailable: refused before any reply is asked for.
    const audio = await v1.post('/ai/generate', { prompt: 'Hi', settings: { includeAudio: true } }, alice);
    expectError(audio, 503, 'SPEECH_UNAVAILABLE');
    expect(await sessionsOf(alice)).toEqual(before);
  });

  it('answers a failed reply with the document’s error body', async () => {
    upstream().failNext(400);
    expectError(await v1.post('/ai/generate', { prompt: 'Fail please' }, bob), 400, 'UPSTREAM_REJECTED');
  });
});

describe('triggers', () => {
  it('lists public triggers and the caller’s own, never another user’s private ones', async () => {
    const shared = await newTrigger(bob, {
      name: 'Custom Trigger',
      description: 'Custom Trigger Description',
      isPublic: true,
      content: 'Trigger activation text',
    });
    expect(shared).toEqual({
      id: expect.any(String),
      name: 'Custom Trigger',
      description: 'Custom Trigger Description',
      isPublic: true,
      creator: bob.username,
    });
    const secret = await newTrigger(bob, { name: 'Bob Only', content: 'Private text' });

    const forAlice = await v1.get('/triggers', alice);
    expect(forAlice.status).toBe(200);
    const names = forAlice.body.triggers.map((t: { name: string }) => t.name);
    expect(names).toContain('Custom Trigger');
    expect(names).toContain('Calm Waves');
    expect(names).not.toContain('Bob Only');
    for (const trigger of forAlice.body.triggers) {
      expect(Object.keys(trigger).sort()).toEqual(['creator', 'description', 'id', 'isPublic', 'name']);
    }
    const forBob = (await v1.get('/triggers', bob)).body.triggers.map((t: { id: string }) => t.id);
    expect(forBob).toEqual(expect.arrayContaining([shared.id, secret.id]));
    expect((await v1.get('/triggers', bob)).body.triggers.map((t: { name: string }) => t.name)).not.toContain(
      'Calm Waves',
    );

    // Another's private trigger cannot be activated either, by name or by id.
    for (const ref of ['Bob Only', secret.id]) {
      expectError(
        await v1.post('/ai/generate', { prompt: 'x', settings: { triggers: [ref] } }, alice),
        404,
        'NOT_FOUND',
      );
    }
    // A public one can.
    await generate(alice, 'Shared', { triggers: ['Custom Trigger'] });
    expect(lastSystemPrompt()).toContain('Trigger activation text');
  });

  it('pages the list', async () => {
    const page = await v1.get('/triggers?limit=1', alice);
    expect(page.body.triggers).toHaveLength(1);
    const next = await v1.get(`/triggers?limit=1&before=${page.body.triggers[0].id}`, alice);
    expect(next.body.triggers[0].id).not.toBe(page.body.triggers[0].id);
  });

  it('refuses bad triggers without storing them', async () => {
    const count = async () => (await v1.get('/triggers', alice)).body.triggers.length;
    const before = await count();
    expectError(await v1.post('/triggers', { name: 'No content' }, alice), 400, 'VALIDATION_ERROR');
    expectError(await v1.post('/triggers', { name: '', content: 'x' }, alice), 400, 'VALIDATION_ERROR');
    expectError(
      await v1.post('/triggers', { name: 'x', content: 'x', creator: 'bob' }, alice),
      400,
      'VALIDATION_ERROR',
    );
    expectError(await v1.post('/triggers', { name: 'Calm Waves', content: 'Again' }, alice), 409, 'CONFLICT');
    expectError(await v1.post('/triggers', { name: 'Anon', content: 'x' }), 401, 'UNAUTHORIZED');
    expect(await count()).toBe(before);
  });
});

describe('sessions', () => {
  it('lists the caller’s sessions and shows one with its messages', async () => {
    const list = await v1.get('/sessions', alice);
    expect(list.status).toBe(200);
    const [latest] = list.body.sessions;
    expect(latest).toEqual({
      id: expect.any(String),
      createdAt: expect.stringMatching(ISO),
      messageCount: expect.any(Number),
    });

    const details = await v1.get(`/sessions/${latest.id}`, alice);
    expect(details.status).toBe(200);
    expect(details.body).toMatchObject({ id: latest.id, createdAt: latest.createdAt });
    const { messages } = details.body;
    expect(messages).toHaveLength(latest.messageCount);
    expect(messages[0]).toEqual({ role: 'user', content: 'Hello Bambi', timestamp: expect.stringMatching(ISO) });
    expect(messages[1]).toEqual({ role: 'assistant', content: DEFAULT_REPLY, timestamp: expect.stringMatching(ISO) });
    expect(messages[1].timestamp >= messages[0].timestamp).toBe(true);
  });

  it('never shows one user’s sessions to another', async () => {
    const [aliceSession] = await sessionsOf(alice);
    expect((await sessionsOf(bob)).map((s) => s.id)).not.toContain(aliceSession.id);
    expectError(await v1.get(`/sessions/${aliceSession.id}`, bob), 404, 'NOT_FOUND');
    expectError(await v1.get('/sessions/not-an-id', bob), 404, 'NOT_FOUND');
    expectError(await v1.get('/sessions'), 401, 'UNAUTHORIZED');
    expectError(await v1.get('/sessions?limit=0', alice), 400, 'VALIDATION_ERROR');
  });
});

describe('the lobby WebSocket', () => {
  const open = () => FrameClient.open(gateway.server.url, WS_PATH);

  async function authenticated(token: string) {
    const client = await open();
    client.send({ type: 'auth', token });
    expect(await client.next('auth')).toMatchObject({ success: true });
    return client;
  }

  it('broadcasts each message with its sender’s username and a timestamp, to every authenticated socket', async () => {
    const login = await http().post(`${V1}/auth/login`, { username: alice.username, password: PASSWORD });
    const sessionToken = login.sessionCookie!.split('=')[1]!;
    const aliceSocket = await authenticated(sessionToken);
    const bobSocket = await authenticated(bob.key);
    const stranger = await open();

    aliceSocket.send({ type: 'message', content: 'Hello everyone!' });
    for (const client of [aliceSocket, bobSocket]) {
      expect(await client.next('message')).toEqual(broadcast(alice.username, 'Hello everyone!'));
    }
    bobSocket.send({ type: 'message', content: 'Hi there!' });
    expect(await aliceSocket.next('message')).toMatchObject({ username: bob.username, content: 'Hi there!' });

    // Unauthenticated, a socket neither hears nor posts.
    stranger.send({ type: 'message', content: 'Anyone?' });
    expect(await stranger.next('error')).toMatchObject({ code: 'UNAUTHORIZED', message: expect.any(String) });
    expect(stranger.of('message')).toEqual([]);
    for (const client of [aliceSocket, bobSocket, stranger]) client.close();
  });

  it('answers bad frames with error frames', async () => {
    const client = await authenticated(alice.key);
    client.send('not json');
    expect(await client.next('error')).toMatchObject({ code: 'VALIDATION_ERROR' });
    client.send({ type: 'shout', content: 'x' });
    expect(await client.next('error')).toMatchObject({ code: 'VALIDATION_ERROR' });
    client.send({ type: 'message', content: 'x'.repeat(2001) });
    expect(await client.next('error')).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'content' } });
    client.send({ type: 'message', content: '   ' });
    expect(await client.next('error')).toMatchObject({ code: 'VALIDATION_ERROR' });
    client.send({ type: 'auth', token: alice.key });
    expect(await client.next('error')).toMatchObject({ code: 'CONFLICT' });
    client.send({ type: 'message', content: 'still here' });
    expect(await client.next('message')).toMatchObject({ content: 'still here' });
    client.close();
  });

  it('closes a socket whose credentials are refused, or that does not authenticate in time', async () => {
    const refused = await open();
    refused.send({ type: 'auth', token: 'pk_wrong' });
    expect(await refused.next('error')).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((await refused.closed).code).toBe(4401);

    const silent = await open();
    expect((await silent.closed).code).toBe(4408);
    expect(silent.frames).toEqual([expect.objectContaining({ type: 'error', code: 'UNAUTHORIZED' })]);
  });

  it('answers a plain HTTP request with 426', async () => {
    expectError(await http().get(WS_PATH), 426, 'UPGRADE_REQUIRED');
  });
});

describe('webhooks', () => {
  it('subscribes a URL to the document’s events, and signs deliveries with the caller’s secret', async () => {
    const events = ['message.new', 'profile.update', 'trigger.shared'];
    const res = await v1.post('/webhooks', { url: receiver.url, events, secret: WEBHOOK_SECRET }, alice);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: expect.any(String),
      url: receiver.url,
      events,
      active: true,
      createdAt: expect.stringMatching(ISO),
    });

    await generate(alice, 'A message for the webhook');
    await generate(bob, 'Bob’s own message');
    await v1.put(`/profile/${alice.username}`, { displayName: 'Alice Again' }, alice);
    await newTrigger(alice, { name: 'Shared Calm', content: 'Calm.', isPublic: true });
    await newTrigger(bob, { name: 'Bob Shares', content: 'Bob.', isPublic: true });

    const delivered = (event: string) => receiver.received.filter((r) => r.body.event === event);
    await expect.poll(() => delivered('trigger.shared').length, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => delivered('profile.update').length, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => delivered('message.new').length, { timeout: 10_000 }).toBe(1);
    expect(delivered('message.new')[0]!.body.data.message).toMatchObject({ content: 'A message for the webhook' });
    expect(delivered('profile.update')[0]!.body.data.profile).toMatchObject({ displayName: 'Alice Again' });
    expect(delivered('trigger.shared')[0]!.body.data.trigger).toMatchObject({ name: 'Shared Calm' });
    for (const delivery of receiver.received) {
      expect(delivery.headers['x-parley-signature']).toBe(signatureFor(delivery, WEBHOOK_SECRET));
    }
    // Bob's events are his alone.
    expect(JSON.stringify(receiver.received.map((r) => r.body))).not.toMatch(/Bob.s own message|Bob Shares/);
  });

  it('refuses bad subscriptions without storing them', async () => {
    const ok = { url: receiver.url, events: ['message.new'], secret: WEBHOOK_SECRET };
    expectError(await v1.post('/webhooks', { ...ok, events: ['message.deleted'] }, alice), 400, 'VALIDATION_ERROR');
    expectError(await v1.post('/webhooks', { ...ok, events: [] }, alice), 400, 'VALIDATION_ERROR');
    expectError(await v1.post('/webhooks', { ...ok, secret: 'short' }, alice), 400, 'VALIDATION_ERROR');
    expectError(await v1.post('/webhooks', { ...ok, url: 'ftp://example.com/hook' }, alice), 400, 'VALIDATION_ERROR');
    expectError(await v1.post('/webhooks', { ...ok, url: 'http://10.1.2.3/hook' }, alice), 400, 'VALIDATION_ERROR');
    expectError(await v1.post('/webhooks', ok), 401, 'UNAUTHORIZED');
    const list = await http().get('/api/v1/webhooks', { bearer: alice.key });
    expect(list.body.items).toHaveLength(1);
  });
});

describe('errors', () => {
  it('answers in the document’s format with its status codes', async () => {
    expectError(await v1.get('/profile/nobody-at-all'), 404, 'NOT_FOUND');
    expectError(await v1.get('/triggers'), 401, 'UNAUTHORIZED');
    expectError(await v1.put(`/profile/${alice.username}`, { isPublic: 'yes' }, alice), 400, 'VALIDATION_ERROR');
    const bad = await v1.put(`/profile/${alice.username}`, { isPublic: 'yes' }, alice);
    expect(bad.body.details).toMatchObject({ field: 'isPublic' });
  });
});

describe('rate limits, audio and session expiry', () => {
  let tight: Gateway;
  let speech: FakeSpeech;
  let carol: Account;

  beforeAll(async () => {
    speech = await startFakeSpeech();
    tight = await startChatGateway({
      'surfaces.bambisleep': { requestsPerMinute: 8, anonymousRequestsPerMinute: 3, sessionIdleMinutes: 0.01 },
      speech: { tts: [{ name: 'fake', provider: 'openai-compatible', baseUrl: speech.baseUrl }] },
    });
    carol = await signUp(tight.server.http);
  });
  afterAll(async () => {
    await tight?.close();
    await speech?.close();
  });

  it('holds anonymous callers to their limit, with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let last: any;
    for (let i = 0; i < 4; i++) {
      last = await tight.server.http.get(`${V1}/profile/${carol.username}`);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([404, 404, 404, 429]);
    expectError(last, 429, 'RATE_LIMITED');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(last.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  });

  it('holds authenticated callers to theirs, apart from the native API', async () => {
    const dave = await signUp(tight.server.http);
    const statuses: number[] = [];
    let last: any;
    for (let i = 0; i < 9; i++) {
      last = await tight.server.http.get(`${V1}/triggers`, { bearer: dave.key });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array(8).fill(200), 429]);
    expectError(last, 429, 'RATE_LIMITED');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another user has a limit of their own; the native API is not this surface's.
    expect((await tight.server.http.get(`${V1}/triggers`, { bearer: carol.key })).status).toBe(200);
    expect((await tight.server.http.get('/api/v1/me', { bearer: dave.key })).status).toBe(200);
  });

  it('speaks the reply into an audio file of the caller’s', async () => {
    const res = await tight.server.http.post(
      `${V1}/ai/generate`,
      { prompt: 'Say it', settings: { includeAudio: true } },
      { bearer: carol.key },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      response: DEFAULT_REPLY,
      audioUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/static\/audios\/\w+\.mp3$/),
    });
    const audio = await fetch(res.body.audioUrl, { headers: { authorization: `Bearer ${carol.key}` } });
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toBe('audio/mpeg');
    expect(Buffer.from(await audio.arrayBuffer())).toEqual(speech.audioFor(DEFAULT_REPLY));
    const someoneElse = await signUp(tight.server.http);
    const refused = await fetch(res.body.audioUrl, { headers: { authorization: `Bearer ${someoneElse.key}` } });
    expect(refused.status).toBe(404);
  });

  it('begins a new session once the last was idle, keeping its triggers', async () => {
    const erin = await signUp(tight.server.http);
    const post = (prompt: string, settings = {}) =>
      tight.server.http.post(`${V1}/ai/generate`, { prompt, settings }, { bearer: erin.key });
    const trigger = await tight.server.http.post(
      `${V1}/triggers`,
      { name: 'Anchor', content: 'Anchor text.' },
      { bearer: erin.key },
    );
    expect((await post('First', { triggers: ['Anchor'] })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await post('Second')).status).toBe(200);
    const sessions = (await tight.server.http.get(`${V1}/sessions`, { bearer: erin.key })).body.sessions;
    expect(sessions.map((s: { messageCount: number }) => s.messageCount)).toEqual([2, 2]);
    const active = await tight.server.http.get(`/api/v1/conversations/${sessions[0].id}/triggers`, {
      bearer: erin.key,
    });
    expect(active.body.items.map((t: { id: string }) => t.id)).toEqual([trigger.body.id]);
    const system = tight.upstreams[0]!.requests.at(-1)!.body.messages.find(
      (m: { role: string }) => m.role === 'system',
    );
    expect(system.content).toContain('Anchor text.');
  });
});

/** Two `parley serve` processes on one database and one Redis: the lobby is one room across them. */
describe.skipIf(!hasRedis)('the lobby across instances', () => {
  let stores: Isolated;
  let fake: FakeUpstream;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    stores = await isolatedStores();
    fake = await startFakeUpstream();
    const env = sharedStoresEnv(
      stores,
      {
        ...generousLimits,
        surfaces: { bambisleep: UNLIMITED },
        channels: [{ name: 'fake', provider: 'openai-compatible', baseUrl: `${fake.url}/v1`, models: ['fake-model'] }],
      },
      TEST_REDIS_URL,
    );
    [a, b] = await Promise.all([startServerProcess(env, stores.dataDir), startServerProcess(env, stores.dataDir)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await fake?.close();
    await stores?.cleanup();
  });

  it('delivers a message posted on one instance to the sockets of the other', async () => {
    const first = await signUp(new HttpClient(a.url));
    const second = await signUp(new HttpClient(b.url));
    const onA = await FrameClient.open(a.url, WS_PATH);
    const onB = await FrameClient.open(b.url, WS_PATH);
    onA.send({ type: 'auth', token: first.key });
    onB.send({ type: 'auth', token: second.key });
    await Promise.all([onA.next('auth'), onB.next('auth')]);

    onA.send({ type: 'message', content: 'From A' });
    expect(await onB.next('message')).toEqual(broadcast(first.username, 'From A'));
    onB.send({ type: 'message', content: 'From B' });
    expect(await onA.next('message')).toMatchObject({ content: 'From A' });
    expect(await onA.next('message')).toMatchObject({ username: second.username, content: 'From B' });

    // The API answers alike on both.
    const session = await new HttpClient(a.url).post(`${V1}/ai/generate`, { prompt: 'Hi' }, { bearer: first.key });
    expect(session.status).toBe(200);
    const listed = await new HttpClient(b.url).get(`${V1}/sessions`, { bearer: first.key });
    expect(listed.body.sessions).toHaveLength(1);
    onA.close();
    onB.close();
  });
});
