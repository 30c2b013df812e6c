import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwtSessionTokens } from '../src/crypto/session-tokens.js';
import { signUp, type Account } from './helpers/accounts.js';
import { DEFAULT_REPLY } from './helpers/fake-upstream.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';
import { TEST_SECRET, startServer } from './helpers/server.js';

const MOUNT = '/v1/client-api';
const LIFETIME_SECONDS = 3 * 24 * 3600;
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const OTHER_MAX_BYTES = 4096;
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

/** A client of the botyard surface with a cookie jar of one cookie, as a browser keeps `token`. */
class BotyardClient {
  token: string | undefined;

  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    if (this.token) (init.headers as Record<string, string>).cookie = `token=${this.token}`;
    const res = await fetch(this.base + (path.startsWith('/static/') ? path : MOUNT + path), init);
    const set = res.headers.getSetCookie().find((c) => c.startsWith('token='));
    if (set) this.token = set.slice('token='.length).split(';')[0];
    const type = res.headers.get('content-type') ?? '';
    const raw = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body: type.includes('json') ? JSON.parse(raw.toString()) : raw };
  }

  get(path: string) {
    return this.call('GET', path);
  }
  post(path: string, body?: unknown) {
    return this.call('POST', path, body);
  }
  delete(path: string) {
    return this.call('DELETE', path);
  }
}

function files(...entries: { name: string; bytes: Buffer | string; type: string }[]): FormData {
  const form = new FormData();
  for (const { name, bytes, type } of entries) form.append('file', new Blob([bytes], { type }), name);
  return form;
}

function expectError(res: Reply, status: number | [number, number]) {
  if (Array.isArray(status)) {
    expect(res.status).toBeGreaterThanOrEqual(status[0]);
    expect(res.status).toBeLessThanOrEqual(status[1]);
  } else {
    expect(res.status).toBe(status);
  }
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  expect(Object.keys(res.body)).toEqual(['message']);
  expect(typeof res.body.message).toBe('string');
  expect(res.body.message.length).toBeGreaterThan(0);
}

let gateway: Gateway;
let admin: Account;
let builtin: { id: string; name: string };

beforeAll(async () => {
  gateway = await startChatGateway({
    'session.lifetimeSeconds': LIFETIME_SECONDS,
    'files.otherMaxBytes': OTHER_MAX_BYTES,
    service: {
      name: 'Test Yard',
      description: 'Bots for testing',
      socials: { Website: 'https://example.com', GitHub: 'https://github.com/example' },
    },
  });
  admin = gateway.admin;
  const bots = await gateway.server.http.get('/api/v1/bots', { bearer: admin.key });
  builtin = bots.body.items.find((b: { name: string }) => b.name === 'assistant');
});
afterAll(() => gateway.close());

const client = () => new BotyardClient(gateway.server.url);

async function signedIn(nickname = 'Test User'): Promise<{ client: BotyardClient; user: { id: string } }> {
  const c = client();
  const res = await c.post('/user', { nickname });
  expect(res.status).toBe(201);
  return { client: c, user: res.body };
}

async function chatWith(c: BotyardClient, botId: string): Promise<{ id: string }> {
  const res = await c.post('/chat', { botId });
  expect(res.status).toBe(201);
  return res.body;
}

/** Polls for the bot's reply as Botyard's client does, for a little longer. */
async function pollReply(c: BotyardClient, chatId: string, botId: string, since: number) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await c.get(`/chat/${chatId}/messages?sender_id=${botId}&page=1&limit=1&since=${since}`);
    expect(res.status).toBe(200);
    if (res.body.messages.length > 0) return res.body.messages[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no reply');
}

describe('botyard surface: every endpoint in order', () => {
  it('walks the client API as the web client uses it', async () => {
    const c = client();

    // Before anyone signs in: service info and the gallery.
    const info = await c.get('/service-info');
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      name: 'Test Yard',
      description: 'Bots for testing',
      socials: [
        { title: 'Website', url: 'https://example.com' },
        { title: 'GitHub', url: 'https://github.com/example' },
      ],
    });

    const bots = await c.get('/bots');
    expect(bots.status).toBe(200);
    expect(Array.isArray(bots.body)).toBe(true);
    const assistant = bots.body.find((b: { id: string }) => b.id === builtin.id);
    expect(assistant).toEqual({ id: builtin.id, name: 'Assistant', description: expect.any(String) });
    for (const bot of bots.body) {
      expect(typeof bot.id).toBe('string');
      expect(typeof bot.name).toBe('string');
    }

    const one = await c.get(`/bot/${builtin.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(assistant);

    // Sign-in: not signed in yet, then a guest with a nickname.
    expectError(await c.get('/user'), 401);
    const created = await c.post('/user', { nickname: 'Ada Lovelace-2' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(ULID), nickname: 'Ada Lovelace-2' });
    const cookie = created.headers.getSetCookie().find((v) => v.startsWith('token='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\/(;|$)/);
    expect(cookie).toMatch(new RegExp(`Max-Age=${LIFETIME_SECONDS}`));
    expect(c.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const me = await c.get('/user');
    expect(me.status).toBe(200);
    expect(me.body).toEqual(created.body);

    // Commands, with ids that stay the same.
    const commands = await c.get(`/bot/${builtin.id}/commands`);
    expect(commands.status).toBe(200);
    expect(commands.body.map((cmd: { alias: string }) => cmd.alias)).toEqual(
      expect.arrayContaining(['summarize', 'explain']),
    );
    for (const cmd of commands.body) {
      expect(Object.keys(cmd).sort()).toEqual(['alias', 'description', 'id']);
      expect(typeof cmd.id).toBe('string');
      expect(typeof cmd.description).toBe('string');
    }
    expect((await c.get(`/bot/${builtin.id}/commands`)).body).toEqual(commands.body);
    expect(new Set(commands.body.map((cmd: { id: string }) => cmd.id)).size).toBe(commands.body.length);

    // Chats: none, then one.
    const none = await c.get(`/chats?bot_id=${builtin.id}`);
    expect(none.status).toBe(200);
    expect(none.body).toEqual([]);
    const chat = await c.post('/chat', { botId: builtin.id });
    expect(chat.status).toBe(201);
    expect(chat.body).toEqual({ id: expect.stringMatching(ULID), userId: created.body.id, botId: builtin.id });
    expect((await c.get(`/chats?bot_id=${builtin.id}`)).body).toEqual([chat.body]);

    const empty = await c.get(`/chat/${chat.body.id}/messages?page=1&limit=20`);
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ chatId: chat.body.id, page: 1, limit: 20, total: 0, messages: [] });

    // Files, then a message that carries them.
    const uploaded = await c.post(
      '/files',
      files(
        { name: 'dot.png', bytes: PNG, type: 'image/png' },
        { name: 'notes.txt', bytes: 'some notes', type: 'text/plain' },
      ),
    );
    expect(uploaded.status).toBe(200);
    expect(uploaded.body).toEqual([
      {
        id: expect.stringMatching(ULID),
        path: expect.stringMatching(/^static\/images\/[0-9A-Z]{26}\.png$/),
        name: 'dot.png',
        size: PNG.length,
        mimeType: 'image/png',
      },
      {
        id: expect.stringMatching(ULID),
        path: expect.stringMatching(/^static\/files\/[0-9A-Z]{26}\.txt$/),
        name: 'notes.txt',
        size: 10,
        mimeType: 'text/plain',
      },
    ]);
    const image = await c.get(`/${uploaded.body[0].path}`);
    expect(image.status).toBe(200);
    expect(Buffer.compare(image.body, PNG)).toBe(0);

    const sent = await c.post('/chat/message', {
      chatId: chat.body.id,
      senderId: created.body.id,
      body: 'What is in the picture?',
      attachmentIds: uploaded.body.map((f: { id: string }) => f.id),
    });
    expect(sent.status).toBe(201);
    expect(sent.body).toEqual({
      id: expect.stringMatching(ULID),
      chatId: chat.body.id,
      senderId: created.body.id,
      body: 'What is in the picture?',
      attachments: uploaded.body,
      timestamp: expect.any(Number),
    });
    expect(Math.abs(sent.body.timestamp - Date.now())).toBeLessThan(60_000);

    // The reply, polled for as the web client does.
    const reply = await pollReply(c, chat.body.id, builtin.id, sent.body.timestamp);
    expect(reply).toEqual({
      id: expect.stringMatching(ULID),
      chatId: chat.body.id,
      senderId: builtin.id,
      body: DEFAULT_REPLY,
      attachments: [],
      timestamp: expect.any(Number),
    });
    expect(reply.timestamp).toBeGreaterThan(sent.body.timestamp);

    const history = await c.get(`/chat/${chat.body.id}/messages`);
    expect(history.body).toMatchObject({ chatId: chat.body.id, page: 1, limit: 20, total: 2 });
    expect(history.body.messages).toEqual([sent.body, reply]);

    const deleted = await c.delete(`/chat/${chat.body.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ message: expect.any(String) });
    expectError(await c.get(`/chat/${chat.body.id}/messages`), 404);
    expect((await c.get(`/chats?bot_id=${builtin.id}`)).body).toEqual([]);
    // Files of the deleted chat's messages went with it.
    expect((await c.get(`/${uploaded.body[0].path}`)).status).toBe(404);
  });

  it('lists public and built-in bots to anyone, never private ones; avatars and descriptions when set', async () => {
    const http = gateway.server.http;
    const owner = await signUp(http);
    const privateBot = await http.post('/api/v1/bots', { name: `secret-${Date.now()}` }, { bearer: owner.key });
    expect(privateBot.status).toBe(201);
    const publicBot = await http.post(
      '/api/v1/bots',
      {
        name: `shown-${Date.now()}`,
        displayName: 'Shown Bot',
        avatarUrl: 'https://example.com/bot.png',
        visibility: 'public',
      },
      { bearer: admin.key },
    );
    expect(publicBot.status).toBe(201);

    const anonymous = await client().get('/bots');
    const ids = anonymous.body.map((b: { id: string }) => b.id);
    expect(ids).toContain(builtin.id);
    expect(ids).not.toContain(privateBot.body.bot.id);
    expect(anonymous.body).toContainEqual({
      id: publicBot.body.bot.id,
      name: 'Shown Bot',
      avatar: 'https://example.com/bot.png',
    });
    expectError(await client().get(`/bot/${privateBot.body.bot.id}`), 404);

    const { client: guest } = await signedIn();
    expect((await guest.get('/bots')).body.map((b: { id: string }) => b.id)).not.toContain(privateBot.body.bot.id);
    expectError(await guest.get(`/bot/${privateBot.body.bot.id}`), 404);
    expectError(await guest.post('/chat', { botId: privateBot.body.bot.id }), 404);
    expectError(await guest.get(`/bot/${privateBot.body.bot.id}/commands`), 404);
    expect((await guest.get(`/chats?bot_id=${privateBot.body.bot.id}`)).body).toEqual([]);
  });
});

describe('botyard surface: messages', () => {
  it('shows a reply only once it is complete', async () => {
    gateway.upstreams[0]!.configure({ chunkSize: 2, chunkDelayMs: 60 });
    try {
      const { client: c } = await signedIn();
      const chat = await chatWith(c, builtin.id);
      const sent = await c.post('/chat/message', { chatId: chat.id, senderId: 'ignored', body: 'Hi' });
      expect(sent.status).toBe(201);
      const early = await c.get(
        `/chat/${chat.id}/messages?sender_id=${builtin.id}&page=1&limit=1&since=${sent.body.timestamp}`,
      );
      expect(early.body).toMatchObject({ total: 0, messages: [] });
      expect((await c.get(`/chat/${chat.id}/messages`)).body.messages).toEqual([sent.body]);
      const reply = await pollReply(c, chat.id, builtin.id, sent.body.timestamp);
      expect(reply.body).toBe(DEFAULT_REPLY);
    } finally {
      gateway.upstreams[0]!.configure({ chunkSize: 4, chunkDelayMs: 0 });
    }
  });

  it('escapes <, > and & in every body it returns, and stores the text as written', async () => {
    const injected = '<img src=x onerror="alert(1)"> & <b>bold</b>';
    gateway.upstreams[0]!.configure({ reply: injected });
    try {
      const { client: c } = await signedIn();
      const chat = await chatWith(c, builtin.id);
      const sent = await c.post('/chat/message', { chatId: chat.id, body: 'a <script>x</script> & b' });
      expect(sent.body.body).toBe('a &lt;script&gt;x&lt;/script&gt; &amp; b');
      const reply = await pollReply(c, chat.id, builtin.id, sent.body.timestamp);
      expect(reply.body).toBe('&lt;img src=x onerror="alert(1)"&gt; &amp; &lt;b&gt;bold&lt;/b&gt;');

      // The native API sees the text as it was written.
      const native = await gateway.server.http.get(`/api/v1/conversations/${chat.id}/messages`, { bearer: c.token });
      expect(native.status).toBe(200);
      expect(native.body.items.map((m: { content: string }) => m.content)).toEqual([
        'a <script>x</script> & b',
        injected,
      ]);
    } finally {
      gateway.upstreams[0]!.configure({ reply: DEFAULT_REPLY });
    }
  });

  it('pages from the newest: each page oldest first, total after the filters', async () => {
    const { client: c, user } = await signedIn();
    const chat = await chatWith(c, builtin.id);
    const all: { id: string; senderId: string; timestamp: number }[] = [];
    for (let i = 0; i < 4; i++) {
      const sent = await c.post('/chat/message', { chatId: chat.id, body: `question ${i}` });
      all.push(sent.body, await pollReply(c, chat.id, builtin.id, sent.body.timestamp));
    }
    const page = (query: string) => c.get(`/chat/${chat.id}/messages?${query}`);
    const ids = (res: Reply) => res.body.messages.map((m: { id: string }) => m.id);

    const first = await page('page=1&limit=3');
    expect(first.body).toMatchObject({ page: 1, limit: 3, total: 8 });
    expect(ids(first)).toEqual(all.slice(5).map((m) => m.id));
    expect(ids(await page('page=2&limit=3'))).toEqual(all.slice(2, 5).map((m) => m.id));
    expect(ids(await page('page=3&limit=3'))).toEqual(all.slice(0, 2).map((m) => m.id));
    const beyond = await page('page=4&limit=3');
    expect(beyond.body).toMatchObject({ total: 8, messages: [] });

    const mine = await page(`sender_id=${user.id}&limit=2`);
    expect(mine.body.total).toBe(4);
    expect(ids(mine)).toEqual([all[4]!.id, all[6]!.id]);
    const since = await page(`since=${all[3]!.timestamp}`);
    expect(since.body.total).toBe(4);
    expect(ids(since)).toEqual(all.slice(4).map((m) => m.id));
    // `since` is strict, and 0 filters nothing.
    expect((await page(`since=${all[7]!.timestamp}`)).body.total).toBe(0);
    expect((await page('since=0')).body.total).toBe(8);
    expect((await page(`sender_id=${builtin.id}&since=${all[5]!.timestamp}`)).body.total).toBe(1);
  });

  it('runs a command sent as /alias, and answers /help itself', async () => {
    const { client: c } = await signedIn();
    const chat = await chatWith(c, builtin.id);
    const sent = await c.post('/chat/message', { chatId: chat.id, body: '/help' });
    expect(sent.status).toBe(201);
    const reply = await pollReply(c, chat.id, builtin.id, sent.body.timestamp);
    expect(reply.body).toMatch(/summarize/);
  });
});

describe('botyard surface: sessions', () => {
  it('renews the token cookie on use once it is old enough', async () => {
    const { client: c, user } = await signedIn();
    const tokens = createJwtSessionTokens(TEST_SECRET);
    const old = tokens.sign(
      { userId: user.id, sessionId: randomUUID(), issuedAt: Date.now() - 2 * 3600_000 },
      LIFETIME_SECONDS * 1000,
    );
    c.token = old;
    const res = await c.get('/user');
    expect(res.status).toBe(200);
    const renewed = res.headers.getSetCookie().find((v) => v.startsWith('token='))!;
    expect(renewed).toMatch(/HttpOnly/i);
    expect(renewed).toMatch(new RegExp(`Max-Age=${LIFETIME_SECONDS}`));
    expect(c.token).not.toBe(old);
    expect((await c.get('/user')).body.id).toBe(user.id);
  });

  it('refuses a missing, forged or foreign cookie with 401', async () => {
    const c = client();
    c.token = 'not-a-jwt';
    expectError(await c.get('/user'), 401);
    const { client: guest } = await signedIn();
    const [head, , signature] = guest.token!.split('.');
    c.token = `${head}.${Buffer.from(JSON.stringify({ sub: admin.id, sid: 'x', iatMs: Date.now(), exp: 9e9 })).toString('base64url')}.${signature}`;
    expectError(await c.get('/user'), 401);
    // The native session cookie is not this surface's.
    expectError(await client().call('GET', '/user', undefined, { cookie: admin.cookie }), 401);
  });

  it('makes guests that cannot log in with a password and never take the first admin', async () => {
    const { user } = await signedIn('Guest One');
    const username = `guest-${user.id.toLowerCase()}`;
    for (const password of ['', 'correct horse battery', 'x'.repeat(20)]) {
      const login = await gateway.server.http.post('/api/v1/auth/login', { username, password });
      expect(login.status).toBe(401);
    }

    const fresh = await startServer();
    try {
      const guest = await new BotyardClient(fresh.url).post('/user', { nickname: 'First Visitor' });
      expect(guest.status).toBe(201);
      const operator = await signUp(fresh.http);
      const me = await fresh.http.get('/api/v1/me', { bearer: operator.key });
      expect(me.body.user.role).toBe('admin');
    } finally {
      await fresh.close();
    }
  });
});

describe('botyard surface: refusals', () => {
  it('asks for the cookie on every route but the public ones', async () => {
    const c = client();
    for (const [method, path, body] of [
      ['GET', '/user'],
      ['GET', `/bot/${builtin.id}/commands`],
      ['POST', '/chat', { botId: builtin.id }],
      ['GET', `/chats?bot_id=${builtin.id}`],
      ['DELETE', '/chat/01HZZZZZZZZZZZZZZZZZZZZZZZ'],
      ['POST', '/chat/message', { chatId: '01HZZZZZZZZZZZZZZZZZZZZZZZ', body: 'hi' }],
      ['GET', '/chat/01HZZZZZZZZZZZZZZZZZZZZZZZ/messages'],
      ['POST', '/files', files({ name: 'a.txt', bytes: 'a', type: 'text/plain' })],
    ] as const) {
      expectError(await c.call(method, path, body), 401);
    }
  });

  it('lets no guest in when the server is closed to sign-ups', async () => {
    const closed = await startServer({ allowRegistration: false });
    try {
      const client = new BotyardClient(closed.url);
      expectError(await client.post('/user', { nickname: 'Late Visitor' }), 403);
      expect(await closed.parley.database.db.selectFrom('users').select('id').execute()).toHaveLength(0);
    } finally {
      await closed.close();
    }
  });

  it('refuses bad nicknames and creates nobody', async () => {
    const before = await gateway.server.http.get('/api/v1/admin/users?limit=100', { bearer: admin.key });
    for (const body of [
      {},
      { nickname: '' },
      { nickname: 'ab' },
      { nickname: 'x'.repeat(33) },
      { nickname: 'under_score' },
      { nickname: 'émile' },
      { nickname: '<script>' },
      { nickname: '   ' },
      { nickname: 42 },
      { nickname: 'Valid Name', extra: true },
    ]) {
      expectError(await client().post('/user', body), 400);
    }
    expectError(await client().call('POST', '/user', undefined, { 'content-type': 'application/json' }), 400);
    const malformed = await fetch(`${gateway.server.url}${MOUNT}/user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"nickname":',
    });
    expect(malformed.status).toBe(400);
    expect(Object.keys((await malformed.json()) as object)).toEqual(['message']);
    const after = await gateway.server.http.get('/api/v1/admin/users?limit=100', { bearer: admin.key });
    expect(after.body.items.length).toBe(before.body.items.length);
    // 3 and 32 characters are fine.
    expect((await client().post('/user', { nickname: 'abc' })).status).toBe(201);
    expect((await client().post('/user', { nickname: 'a-b '.repeat(8) })).status).toBe(201);
  });

  it('refuses bad page, limit and since', async () => {
    const { client: c } = await signedIn();
    const chat = await chatWith(c, builtin.id);
    for (const query of ['page=0', 'page=-1', 'page=abc', 'limit=0', 'limit=101', 'limit=x', 'since=-5', 'since=now']) {
      expectError(await c.get(`/chat/${chat.id}/messages?${query}`), 400);
    }
    expect((await c.get(`/chat/${chat.id}/messages?limit=100`)).status).toBe(200);
    expectError(await c.get('/chats'), 400);
  });

  it('refuses bad messages and stores none of them', async () => {
    const { client: c, user } = await signedIn();
    const chat = await chatWith(c, builtin.id);
    for (const body of [
      {},
      { chatId: chat.id },
      { chatId: chat.id, body: '' },
      { chatId: chat.id, body: '   ' },
      { chatId: chat.id, body: 5 },
      { chatId: chat.id, body: 'hi', attachmentIds: 'x' },
      { chatId: chat.id, body: 'hi', attachmentIds: Array.from({ length: 11 }, (_, i) => `f${i}`) },
      { chatId: chat.id, body: 'hi', unknown: 1 },
    ]) {
      expectError(await c.post('/chat/message', body), 400);
    }
    expectError(await c.post('/chat/message', { chatId: chat.id, body: 'hi', attachmentIds: ['nope'] }), 404);
    expectError(await c.post('/chat/message', { chatId: 'nope', senderId: user.id, body: 'hi' }), 404);
    expect((await c.get(`/chat/${chat.id}/messages`)).body).toMatchObject({ total: 0, messages: [] });
  });

  it('refuses oversize uploads, too many files, no files and bodies that are not multipart', async () => {
    const { client: c } = await signedIn();
    const big = await c.post(
      '/files',
      files({ name: 'big.bin', bytes: Buffer.alloc(OTHER_MAX_BYTES + 1, 1), type: 'application/octet-stream' }),
    );
    expectError(big, [400, 413]);
    const many = Array.from({ length: 11 }, (_, i) => ({ name: `f${i}.txt`, bytes: `file ${i}`, type: 'text/plain' }));
    expectError(await c.post('/files', files(...many)), 400);
    expectError(await c.post('/files', new FormData()), [400, 415]);
    expectError(await c.post('/files', { file: 'x' }), 415);
    const wrongField = new FormData();
    wrongField.append('upload', new Blob(['x'], { type: 'text/plain' }), 'x.txt');
    expectError(await c.post('/files', wrongField), 400);
    // Ten files are fine.
    const ten = await c.post('/files', files(...many.slice(0, 10)));
    expect(ten.status).toBe(200);
    expect(ten.body).toHaveLength(10);
  });

  it('allows at most 10 chats per bot, and one more after a delete', async () => {
    const { client: c } = await signedIn();
    const chats = [];
    for (let i = 0; i < 10; i++) chats.push(await chatWith(c, builtin.id));
    expectError(await c.post('/chat', { botId: builtin.id }), [400, 499]);
    const listed = await c.get(`/chats?bot_id=${builtin.id}`);
    expect(listed.body.map((chat: { id: string }) => chat.id)).toEqual(chats.map((chat) => chat.id));
    expect((await c.delete(`/chat/${chats[0]!.id}`)).status).toBe(200);
    expect((await c.post('/chat', { botId: builtin.id })).status).toBe(201);
    // The limit is per bot.
    const coder = (await c.get('/bots')).body.find((b: { name: string }) => b.name === 'Coder');
    expect((await c.post('/chat', { botId: coder.id })).status).toBe(201);
    expectError(await c.post('/chat', { botId: 'no-such-bot' }), 404);
    expectError(await c.post('/chat', {}), 400);
  });

  it('holds the limit when chats are started all at once', async () => {
    const { client: c } = await signedIn();
    const answers = await Promise.all(Array.from({ length: 15 }, () => c.post('/chat', { botId: builtin.id })));
    expect(answers.filter((res) => res.status === 201)).toHaveLength(10);
    for (const refused of answers.filter((res) => res.status !== 201)) expectError(refused, 409);
    expect((await c.get(`/chats?bot_id=${builtin.id}`)).body).toHaveLength(10);
  });

  it('answers unknown routes under the mount, and unknown bots, with {message}', async () => {
    expectError(await client().get('/nope'), 404);
    expectError(await client().post('/bots'), 404);
    expectError(await client().get('/bot/01HZZZZZZZZZZZZZZZZZZZZZZZ'), 404);
  });

  it("never shows one user's chats, messages or files to another", async () => {
    const { client: alice, user: aliceUser } = await signedIn('Alice');
    const { client: bob } = await signedIn('Bob');
    const chat = await chatWith(alice, builtin.id);
    const file = (await alice.post('/files', files({ name: 'private.png', bytes: PNG, type: 'image/png' }))).body[0];
    const sent = await alice.post('/chat/message', { chatId: chat.id, body: 'secret', attachmentIds: [file.id] });
    expect(sent.status).toBe(201);
    await pollReply(alice, chat.id, builtin.id, sent.body.timestamp);

    expect((await bob.get(`/chats?bot_id=${builtin.id}`)).body).toEqual([]);
    expectError(await bob.get(`/chat/${chat.id}/messages`), [403, 404]);
    expectError(await bob.get(`/chat/${chat.id}/messages?sender_id=${aliceUser.id}`), [403, 404]);
    expectError(await bob.post('/chat/message', { chatId: chat.id, body: 'intrude' }), [403, 404]);
    expectError(await bob.delete(`/chat/${chat.id}`), [403, 404]);
    const bobChat = await chatWith(bob, builtin.id);
    expectError(await bob.post('/chat/message', { chatId: bobChat.id, body: 'x', attachmentIds: [file.id] }), 404);
    expect((await bob.get(`/${file.path}`)).status).toBe(404);
    expect((await client().get(`/${file.path}`)).status).toBe(401);
    expect((await bob.get('/user')).body.nickname).toBe('Bob');

    // Alice still has it all.
    const history = await alice.get(`/chat/${chat.id}/messages`);
    expect(history.body.total).toBe(2);
    expect(history.body.messages[0].attachments).toEqual([file]);
    expect((await alice.get(`/${file.path}`)).status).toBe(200);
  });
});
