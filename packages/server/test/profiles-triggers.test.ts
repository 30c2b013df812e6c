import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';

/** Profiles, XP and triggers on the native API. */

let gateway: Gateway;
let admin: Account;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  gateway = await startChatGateway({ 'profiles.levelThresholds': [0, 3, 1_000_000] });
  admin = gateway.admin;
  alice = await signUp(gateway.server.http);
  bob = await signUp(gateway.server.http);
});
afterAll(() => gateway?.close());

const api = () => gateway.server.http;
const as = (account?: Account) => ({ bearer: account?.key });
const put = (path: string, body: unknown, options: { bearer?: string }) =>
  api().call('PUT', path, { ...options, body });

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error).toMatchObject({ code, message: expect.any(String) });
}

async function createTrigger(account: Account, body: Record<string, unknown>) {
  const res = await api().post('/api/v1/triggers', body, as(account));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; name: string; content: string; isPublic: boolean; creator: string };
}

async function newConversation(account: Account) {
  const res = await api().post('/api/v1/conversations', {}, as(account));
  expect(res.status).toBe(201);
  return res.body.conversation.id as string;
}

/** The system prompt of the upstream's latest request. */
const systemPrompt = () =>
  (gateway.upstreams[0]!.requests.at(-1)!.body.messages as { role: string; content: string }[])
    .filter((m) => m.role === 'system')
    .map((m) => m.content)
    .join('\n');

describe('profiles', () => {
  it('shows a profile: to anyone when public, to its owner and admins only when private', async () => {
    const own = await api().get(`/api/v1/profiles/${alice.username}`, as(alice));
    expect(own.status).toBe(200);
    expect(own.body).toEqual({
      id: alice.id,
      username: alice.username,
      displayName: alice.username,
      avatarUrl: null,
      isPublic: false,
      xp: 0,
      level: 1,
      createdAt: expect.any(Number),
      triggers: [],
    });
    expectError(await api().get(`/api/v1/profiles/${alice.username}`), 404, 'NOT_FOUND');
    expectError(await api().get(`/api/v1/profiles/${alice.username}`, as(bob)), 404, 'NOT_FOUND');
    expect((await api().get(`/api/v1/profiles/${alice.username}`, as(admin))).status).toBe(200);

    const made = await api().patch(`/api/v1/profiles/${alice.username}`, { isPublic: true }, as(alice));
    expect(made.body).toMatchObject({ isPublic: true });
    expect((await api().get(`/api/v1/profiles/${alice.username}`)).body).toMatchObject({ username: alice.username });
    expect((await api().get(`/api/v1/profiles/${alice.username.toUpperCase()}`, as(bob))).status).toBe(200);
  });

  it('is changed by its owner or an admin, never by someone else', async () => {
    const changed = await api().patch(
      `/api/v1/profiles/${alice.username}`,
      { displayName: 'Alice', avatarUrl: 'https://example.com/a.png' },
      as(alice),
    );
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ displayName: 'Alice', avatarUrl: 'https://example.com/a.png' });

    // Alice's profile is public: bob sees it but may not change it. Bob's is private: alice does not find it.
    expectError(
      await api().patch(`/api/v1/profiles/${alice.username}`, { displayName: 'X' }, as(bob)),
      403,
      'FORBIDDEN',
    );
    expectError(
      await api().patch(`/api/v1/profiles/${bob.username}`, { displayName: 'X' }, as(alice)),
      404,
      'NOT_FOUND',
    );
    expectError(await api().patch(`/api/v1/profiles/${alice.username}`, { displayName: 'X' }), 401, 'UNAUTHORIZED');

    const byAdmin = await api().patch(`/api/v1/profiles/${bob.username}`, { displayName: 'Robert' }, as(admin));
    expect(byAdmin.body).toMatchObject({ username: bob.username, displayName: 'Robert' });
  });

  it('refuses bad changes and writes nothing', async () => {
    for (const body of [{ displayName: '' }, { avatarUrl: 'ftp://x' }, { isPublic: 'yes' }, { xp: 5 }, { level: 9 }]) {
      expectError(await api().patch(`/api/v1/profiles/${alice.username}`, body, as(alice)), 400, 'VALIDATION_ERROR');
    }
    expect((await api().get(`/api/v1/profiles/${alice.username}`, as(alice))).body).toMatchObject({
      displayName: 'Alice',
      xp: 0,
      level: 1,
    });
  });
});

describe('triggers', () => {
  it('creates, reads, changes and deletes a trigger of one’s own', async () => {
    const created = await createTrigger(alice, { name: 'Focus', description: 'Stay on task', content: 'Be brief.' });
    expect(created).toEqual({
      id: expect.any(String),
      name: 'Focus',
      description: 'Stay on task',
      content: 'Be brief.',
      isPublic: false,
      creator: alice.username,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    expect((await api().get(`/api/v1/triggers/${created.id}`, as(alice))).body).toMatchObject({ name: 'Focus' });
    const changed = await api().patch(`/api/v1/triggers/${created.id}`, { content: 'Be very brief.' }, as(alice));
    expect(changed.body).toMatchObject({ content: 'Be very brief.', name: 'Focus' });
    expect((await api().delete(`/api/v1/triggers/${created.id}`, as(alice))).status).toBe(204);
    expectError(await api().get(`/api/v1/triggers/${created.id}`, as(alice)), 404, 'NOT_FOUND');
  });

  it('shows public triggers to everyone and private ones to their creator only', async () => {
    const open = await createTrigger(bob, { name: 'Open', content: 'Shared text', isPublic: true });
    const closed = await createTrigger(bob, { name: 'Closed', content: 'Secret text' });

    const seen = (await api().get('/api/v1/triggers', as(alice))).body.items.map((t: { id: string }) => t.id);
    expect(seen).toContain(open.id);
    expect(seen).not.toContain(closed.id);
    expect((await api().get('/api/v1/triggers?mine=true', as(alice))).body.items.map((t: any) => t.id)).not.toContain(
      open.id,
    );
    expectError(await api().get(`/api/v1/triggers/${closed.id}`, as(alice)), 404, 'NOT_FOUND');
    expect((await api().get(`/api/v1/triggers/${open.id}`, as(alice))).body).toMatchObject({ creator: bob.username });

    // Only the creator changes or deletes it; someone else's private one does not exist for them.
    expectError(await api().patch(`/api/v1/triggers/${open.id}`, { name: 'Mine' }, as(alice)), 403, 'FORBIDDEN');
    expectError(await api().delete(`/api/v1/triggers/${open.id}`, as(alice)), 403, 'FORBIDDEN');
    expectError(await api().patch(`/api/v1/triggers/${closed.id}`, { name: 'Mine' }, as(alice)), 404, 'NOT_FOUND');
    expectError(await api().delete(`/api/v1/triggers/${closed.id}`, as(alice)), 404, 'NOT_FOUND');
    expect((await api().get(`/api/v1/triggers/${closed.id}`, as(bob))).body).toMatchObject({ content: 'Secret text' });

    // A profile names public triggers to others, and private ones too to their creator.
    await api().patch(`/api/v1/profiles/${bob.username}`, { isPublic: true }, as(bob));
    expect((await api().get(`/api/v1/profiles/${bob.username}`, as(alice))).body.triggers).toEqual(['Open']);
    expect((await api().get(`/api/v1/profiles/${bob.username}`, as(bob))).body.triggers.sort()).toEqual([
      'Closed',
      'Open',
    ]);
  });

  it('refuses bad triggers and writes nothing', async () => {
    const account = await signUp(api());
    await createTrigger(account, { name: 'Once', content: 'x' });
    for (const [body, code] of [
      [{ name: 'No content' }, 'VALIDATION_ERROR'],
      [{ name: '', content: 'x' }, 'VALIDATION_ERROR'],
      [{ name: '   ', content: 'x' }, 'VALIDATION_ERROR'],
      [{ name: 'x', content: 'x'.repeat(4001) }, 'VALIDATION_ERROR'],
      [{ name: 'x', content: 'x', creator: 'bob' }, 'VALIDATION_ERROR'],
      [{ name: 'Once', content: 'again' }, 'CONFLICT'],
    ] as const) {
      const res = await api().post('/api/v1/triggers', body, as(account));
      expectError(res, code === 'CONFLICT' ? 409 : 400, code);
    }
    expect((await api().get('/api/v1/triggers?mine=true', as(account))).body.items).toHaveLength(1);
    expectError(await api().post('/api/v1/triggers', { name: 'Anon', content: 'x' }), 401, 'UNAUTHORIZED');
  });
});

describe('triggers in conversations', () => {
  it('adds the content of the active triggers to the model’s system prompt, and rewards their use', async () => {
    const dora = await signUp(api());
    const own = await createTrigger(dora, { name: 'Calm', content: 'Answer calmly and gently.' });
    const shared = await createTrigger(bob, { name: 'Rhymes', content: 'Answer in rhymes.', isPublic: true });
    const conversation = await newConversation(dora);

    const set = await put(
      `/api/v1/conversations/${conversation}/triggers`,
      { triggerIds: [own.id, shared.id] },
      as(dora),
    );
    expect(set.status).toBe(200);
    expect(set.body.items.map((t: { name: string }) => t.name)).toEqual(['Calm', 'Rhymes']);
    expect((await api().get(`/api/v1/conversations/${conversation}/triggers`, as(dora))).body.items).toHaveLength(2);

    const sent = await api().post(`/api/v1/conversations/${conversation}/messages`, { content: 'Hello' }, as(dora));
    expect(sent.status).toBe(201);
    expect(systemPrompt()).toContain('Answer calmly and gently.');
    expect(systemPrompt()).toContain('Answer in rhymes.');
    // One point for the reply's five words, two for each trigger: level 2 starts at 3.
    await expect
      .poll(async () => (await api().get(`/api/v1/profiles/${dora.username}`, as(dora))).body)
      .toMatchObject({ xp: 5, level: 2 });
    // The key authenticated before the reply still does, and shows the account as it is now.
    expect((await api().get('/api/v1/me', as(dora))).body.user).toMatchObject({ xp: 5, level: 2 });

    // A trigger deleted leaves the conversations it was active in.
    await api().delete(`/api/v1/triggers/${shared.id}`, as(bob));
    await api().post(`/api/v1/conversations/${conversation}/messages`, { content: 'Again' }, as(dora));
    expect(systemPrompt()).not.toContain('Answer in rhymes.');
    expect((await api().get(`/api/v1/conversations/${conversation}/triggers`, as(dora))).body.items).toHaveLength(1);

    const cleared = await put(`/api/v1/conversations/${conversation}/triggers`, { triggerIds: [] }, as(dora));
    expect(cleared.body.items).toEqual([]);
    await api().post(`/api/v1/conversations/${conversation}/messages`, { content: 'Plain' }, as(dora));
    expect(systemPrompt()).not.toContain('Answer calmly');
  });

  it('refuses another’s private trigger, another’s conversation, and too many triggers', async () => {
    const secret = await createTrigger(bob, { name: 'Bob secret', content: 'Never seen by alice' });
    const aliceConversation = await newConversation(alice);
    const bobConversation = await newConversation(bob);
    const path = (id: string) => `/api/v1/conversations/${id}/triggers`;

    expectError(await put(path(aliceConversation), { triggerIds: [secret.id] }, as(alice)), 404, 'NOT_FOUND');
    expectError(await put(path(aliceConversation), { triggerIds: ['nope'] }, as(alice)), 404, 'NOT_FOUND');
    expectError(await put(path(bobConversation), { triggerIds: [] }, as(alice)), 404, 'NOT_FOUND');
    expectError(await api().get(path(bobConversation), as(alice)), 404, 'NOT_FOUND');
    const many = await Promise.all(
      Array.from({ length: 11 }, (_, i) => createTrigger(alice, { name: `Many ${i}`, content: 'x' })),
    );
    expectError(
      await put(path(aliceConversation), { triggerIds: many.map((t) => t.id) }, as(alice)),
      400,
      'VALIDATION_ERROR',
    );
    expect((await api().get(path(aliceConversation), as(alice))).body.items).toEqual([]);
    expect((await api().get(path(bobConversation), as(bob))).body.items).toEqual([]);
  });
});
