import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '../src/core/accounts/model.js';
import type { Bot } from '../src/core/bots/model.js';
import { BotService } from '../src/core/bots/service.js';
import { SqlBotRepository } from '../src/store/repositories/bots.js';
import { signUp, type Account } from './helpers/accounts.js';
import { DATABASE_URL, isolatedStores } from './helpers/env.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let admin: Account;
let alice: Account;
let bob: Account;

/** External bots' webhook URLs are checked like webhooks': these example hosts are let through. */
const WEBHOOK_HOSTS = { webhooks: { allowlist: ['hooks.example.com', 'example.com', '127.0.0.1'] } };

beforeAll(async () => {
  server = await startServer(WEBHOOK_HOSTS);
  admin = await signUp(api()); // the first user of a server is admin
  alice = await signUp(api());
  bob = await signUp(api());
});
afterAll(() => server.close());

const api = () => server.http;
const core = () => server.parley.core.bots;
const as = (account: Account) => ({ bearer: account.key });
let counter = 0;
const freshBotName = (base = 'bot') => `${base}-${process.pid}-${++counter}`;

async function createBot(owner: Account, body: Record<string, unknown> = {}): Promise<Bot> {
  const res = await api().post('/api/v1/bots', { name: freshBotName(), ...body }, as(owner));
  expect(res.status).toBe(201);
  return res.body.bot;
}

const namesListedFor = async (account: Account): Promise<string[]> =>
  (await api().get('/api/v1/bots', as(account))).body.items.map((b: Bot) => b.name);

async function userOf(account: Account): Promise<User> {
  return server.parley.core.users.get(account.id);
}

describe('built-in bots', () => {
  it('are public, owned by the installation, and listed to every user', async () => {
    const list = await api().get('/api/v1/bots', as(alice));
    expect(list.status).toBe(200);
    const builtins = list.body.items.filter((b: Bot) => ['assistant', 'coder', 'translator'].includes(b.name));
    expect(builtins).toHaveLength(3);
    for (const bot of builtins) expect(bot).toMatchObject({ visibility: 'public', kind: 'ai', ownerId: null });

    const translator = (await api().get('/api/v1/bots/translator', as(alice))).body.bot;
    expect(translator.variables).toEqual([
      { name: 'target_language', description: expect.any(String), default: 'English' },
    ]);
    expect(translator.systemPrompt).toContain('{{target_language}}');
  });

  it('list their commands with /help first', async () => {
    const res = await api().get('/api/v1/bots/coder/commands', as(bob));
    expect(res.status).toBe(200);
    expect(res.body.items.map((c: { alias: string }) => c.alias)).toEqual(['help', 'explain', 'review', 'tests']);
    expect(res.body.items[0]).toEqual({ alias: 'help', description: expect.any(String), prompt: null });
  });
});

describe('bots over the API', () => {
  it('lets a user create, read (by id and name), change and delete a private bot', async () => {
    const name = freshBotName('helper');
    const created = await api().post(
      '/api/v1/bots',
      {
        name,
        description: 'Helps',
        systemPrompt: 'You help {{user_name}} in {{tone}} tone.',
        variables: [{ name: 'tone', description: 'How to sound', default: 'a friendly' }],
        params: { temperature: 0.3, maxTokens: 200 },
        commands: [{ alias: 'tldr', description: 'Shorten', prompt: 'Shorten: {{input}}' }, { alias: 'ping' }],
      },
      as(alice),
    );
    expect(created.status).toBe(201);
    const bot = created.body.bot;
    expect(bot).toMatchObject({
      name,
      displayName: name,
      visibility: 'private',
      kind: 'ai',
      ownerId: alice.id,
      model: null,
      avatarUrl: null,
      webhookUrl: null,
      params: { temperature: 0.3, maxTokens: 200 },
      commands: [
        { alias: 'tldr', description: 'Shorten', prompt: 'Shorten: {{input}}' },
        { alias: 'ping', description: '', prompt: null },
      ],
    });
    expect(bot.id).toMatch(/^[0-9A-Z]{26}$/);

    expect((await api().get(`/api/v1/bots/${bot.id}`, as(alice))).body.bot).toEqual(bot);
    expect((await api().get(`/api/v1/bots/${name}`, as(alice))).body.bot).toEqual(bot);
    expect(await namesListedFor(alice)).toContain(name);

    const changed = await api().patch(
      `/api/v1/bots/${bot.id}`,
      { displayName: '  Helper  ', model: 'gpt-4o-mini', params: { topP: 0.9 } },
      as(alice),
    );
    expect(changed.status).toBe(200);
    expect(changed.body.bot).toMatchObject({ displayName: 'Helper', model: 'gpt-4o-mini', params: { topP: 0.9 } });
    expect(changed.body.bot.updatedAt).toBeGreaterThanOrEqual(bot.updatedAt);
    expect((await api().get(`/api/v1/bots/${bot.id}`, as(alice))).body.bot.displayName).toBe('Helper');

    const renamed = await api().patch(`/api/v1/bots/${name}`, { name: `${name}-2` }, as(alice));
    expect(renamed.body.bot.name).toBe(`${name}-2`);
    expect((await api().get(`/api/v1/bots/${name}`, as(alice))).status).toBe(404);

    expect((await api().delete(`/api/v1/bots/${bot.id}`, as(alice))).status).toBe(204);
    expect((await api().get(`/api/v1/bots/${bot.id}`, as(alice))).status).toBe(404);
    expect((await api().delete(`/api/v1/bots/${bot.id}`, as(alice))).status).toBe(404);
  });

  it('stores external bots with their webhook URL, and drops it when the bot becomes an AI bot', async () => {
    const bot = await createBot(alice, { kind: 'external', webhookUrl: 'https://hooks.example.com/parley' });
    expect(bot).toMatchObject({ kind: 'external', webhookUrl: 'https://hooks.example.com/parley' });
    const ai = await api().patch(`/api/v1/bots/${bot.id}`, { kind: 'ai' }, as(alice));
    expect(ai.body.bot).toMatchObject({ kind: 'ai', webhookUrl: null });
  });

  it('never shows a key hash', async () => {
    const bot = await createBot(alice, { kind: 'external', webhookUrl: 'http://127.0.0.1:9/hook' });
    await server.parley.database.db
      .updateTable('bots')
      .set({ keyHash: 'secret-hash' })
      .where('id', '=', bot.id)
      .execute();
    const bodies = [
      (await api().get(`/api/v1/bots/${bot.id}`, as(alice))).body,
      (await api().get('/api/v1/bots', as(alice))).body,
      (await api().patch(`/api/v1/bots/${bot.id}`, { description: 'x' }, as(alice))).body,
      (await api().get('/api/v1/bots', as(admin))).body,
    ];
    for (const body of bodies) {
      expect(JSON.stringify(body)).not.toMatch(/keyHash|secret-hash/);
    }
  });

  it('refuses a name already taken, and a clash on rename, changing nothing', async () => {
    const first = await createBot(alice);
    const taken = await api().post('/api/v1/bots', { name: first.name }, as(bob));
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: 'CONFLICT', details: { field: 'name' } });
    expect((await api().post('/api/v1/bots', { name: 'coder' }, as(alice))).status).toBe(409);

    const second = await createBot(alice, { description: 'before' });
    const clash = await api().patch(`/api/v1/bots/${second.id}`, { name: first.name, description: 'after' }, as(alice));
    expect(clash.status).toBe(409);
    expect((await api().get(`/api/v1/bots/${second.id}`, as(alice))).body.bot).toEqual(second);
  });

  it('states the core limits in the OpenAPI document', async () => {
    const doc = (await api().get('/api/v1/openapi.json')).body;
    const body = doc.paths['/api/v1/bots'].post.requestBody.content['application/json'].schema;
    expect(body.properties.systemPrompt.maxLength).toBe(20_000);
    expect(body.properties.commands.maxItems).toBe(50);
    expect(body.properties.variables.maxItems).toBe(50);
    expect(body.properties.commands.items.properties.prompt.maxLength).toBe(5000);
    expect(body.properties.params.properties.temperature).toMatchObject({ minimum: 0, maximum: 2 });
  });
});

describe('who sees and changes which bot', () => {
  it("hides a user's private bot from other users (404 for every route), but not from admins", async () => {
    const bot = await createBot(alice);
    for (const ref of [bot.id, bot.name]) {
      expect((await api().get(`/api/v1/bots/${ref}`, as(bob))).status).toBe(404);
      expect((await api().get(`/api/v1/bots/${ref}/commands`, as(bob))).status).toBe(404);
      expect((await api().patch(`/api/v1/bots/${ref}`, { description: 'mine' }, as(bob))).status).toBe(404);
      expect((await api().delete(`/api/v1/bots/${ref}`, as(bob))).status).toBe(404);
    }
    expect(await namesListedFor(bob)).not.toContain(bot.name);
    expect((await api().get(`/api/v1/bots/${bot.id}`, as(alice))).body.bot).toEqual(bot);

    expect(await namesListedFor(admin)).toContain(bot.name);
    expect((await api().get(`/api/v1/bots/${bot.name}`, as(admin))).status).toBe(200);
    const moderated = await api().patch(`/api/v1/bots/${bot.id}`, { description: 'moderated' }, as(admin));
    expect(moderated.body.bot).toMatchObject({ description: 'moderated', ownerId: alice.id });
    expect((await api().delete(`/api/v1/bots/${bot.id}`, as(admin))).status).toBe(204);
    expect((await api().get(`/api/v1/bots/${bot.id}`, as(alice))).status).toBe(404);
  });

  it('lets only admins create public bots or make bots public', async () => {
    const before = await namesListedFor(alice);
    const name = freshBotName('public');
    const refused = await api().post('/api/v1/bots', { name, visibility: 'public' }, as(alice));
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    expect(await namesListedFor(alice)).toEqual(before);

    const own = await createBot(alice);
    expect((await api().patch(`/api/v1/bots/${own.id}`, { visibility: 'public' }, as(alice))).status).toBe(403);
    expect((await api().get(`/api/v1/bots/${own.id}`, as(bob))).status).toBe(404);

    const created = await api().post('/api/v1/bots', { name, visibility: 'public' }, as(admin));
    expect(created.status).toBe(201);
    expect(created.body.bot).toMatchObject({ visibility: 'public', ownerId: null });
    expect((await api().get(`/api/v1/bots/${name}`, as(bob))).status).toBe(200);
  });

  it('lets only admins change or delete public and built-in bots', async () => {
    const publicBot = await createBot(admin, { visibility: 'public' });
    for (const ref of [publicBot.id, 'coder']) {
      const patch = await api().patch(`/api/v1/bots/${ref}`, { description: 'hijacked' }, as(alice));
      expect(patch.status).toBe(403);
      expect((await api().delete(`/api/v1/bots/${ref}`, as(alice))).status).toBe(403);
    }
    expect((await api().get('/api/v1/bots/coder', as(alice))).body.bot.description).not.toBe('hijacked');

    const edited = await api().patch(`/api/v1/bots/${publicBot.id}`, { description: 'by admin' }, as(admin));
    expect(edited.body.bot.description).toBe('by admin');
    expect((await api().delete(`/api/v1/bots/${publicBot.id}`, as(admin))).status).toBe(204);
  });

  it('hands a bot made public to the installation; withdrawn, it is visible to admins only', async () => {
    const bot = await createBot(alice);
    const published = await api().patch(`/api/v1/bots/${bot.id}`, { visibility: 'public' }, as(admin));
    expect(published.body.bot).toMatchObject({ visibility: 'public', ownerId: null });
    expect((await api().get(`/api/v1/bots/${bot.id}`, as(bob))).status).toBe(200);
    expect((await api().patch(`/api/v1/bots/${bot.id}`, { description: 'x' }, as(alice))).status).toBe(403);

    const withdrawn = await api().patch(`/api/v1/bots/${bot.id}`, { visibility: 'private' }, as(admin));
    expect(withdrawn.body.bot).toMatchObject({ visibility: 'private', ownerId: null });
    expect((await api().get(`/api/v1/bots/${bot.id}`, as(alice))).status).toBe(404);
    expect((await api().get(`/api/v1/bots/${bot.id}`, as(admin))).status).toBe(200);
  });

  it('holds each user to the configured number of private bots', async () => {
    const service = new BotService(new SqlBotRepository(server.parley.database.db), { maxPerUser: 2 });
    const carol = await signUp(api());
    const user = await userOf(carol);
    await service.create(user, { name: freshBotName() });
    await service.create(user, { name: freshBotName() });
    await expect(service.create(user, { name: freshBotName() })).rejects.toMatchObject({ code: 'CONFLICT' });
    const listed = (await api().get('/api/v1/bots', as(carol))).body.items;
    expect(listed.filter((b: Bot) => b.ownerId === carol.id)).toHaveLength(2);
  });
});

describe('validation', () => {
  const long = (n: number) => 'x'.repeat(n);
  const many = <T>(n: number, make: (i: number) => T) => Array.from({ length: n }, (_, i) => make(i));

  it.each([
    [{}, 'name'],
    [{ name: 'x' }, 'name'],
    [{ name: 'Upper' }, 'name'],
    [{ name: '1st' }, 'name'],
    [{ name: 'a'.repeat(65) }, 'name'],
    [{ name: 'has space' }, 'name'],
    [{ displayName: '' }, 'displayName'],
    [{ displayName: '   ' }, 'displayName'],
    [{ displayName: long(65) }, 'displayName'],
    [{ description: long(1001) }, 'description'],
    [{ avatarUrl: 'javascript:alert(1)' }, 'avatarUrl'],
    [{ systemPrompt: long(20_001) }, 'systemPrompt'],
    [{ model: '' }, 'model'],
    [{ model: long(201) }, 'model'],
    [{ params: { temperature: 2.5 } }, 'params.temperature'],
    [{ params: { topP: -0.1 } }, 'params.topP'],
    [{ params: { maxTokens: 0 } }, 'params.maxTokens'],
    [{ params: { maxTokens: 1.5 } }, 'params.maxTokens'],
    [{ params: { seed: 1 } }, 'params.seed'],
    [{ variables: many(51, (i) => ({ name: `v${i}` })) }, 'variables'],
    [{ variables: [{ name: 'Bad' }] }, 'variables.0.name'],
    [{ variables: [{ name: 'date' }] }, 'variables.0.name'],
    [{ variables: [{ name: 'tone' }, { name: 'tone' }] }, 'variables.1.name'],
    [{ variables: [{ name: 'tone', default: long(2001) }] }, 'variables.0.default'],
    [{ commands: many(51, (i) => ({ alias: `c${i}` })) }, 'commands'],
    [{ commands: [{ alias: 'help' }] }, 'commands.0.alias'],
    [{ commands: [{ alias: 'HELP', prompt: 'x' }] }, 'commands.0.alias'],
    [{ commands: [{ alias: 'go' }, { alias: 'Go' }] }, 'commands.1.alias'],
    [{ commands: [{ alias: 'a b' }] }, 'commands.0.alias'],
    [{ commands: [{ alias: 'x', prompt: long(5001) }] }, 'commands.0.prompt'],
    [{ commands: [{ alias: 'x', prompt: '' }] }, 'commands.0.prompt'],
    [{ commands: [{ alias: 'x', description: long(201) }] }, 'commands.0.description'],
    [{ visibility: 'secret' }, 'visibility'],
    [{ kind: 'robot' }, 'kind'],
    [{ kind: 'external' }, 'webhookUrl'],
    [{ kind: 'external', webhookUrl: 'ftp://example.com/hook' }, 'webhookUrl'],
    [{ kind: 'external', webhookUrl: 'https://' }, 'webhookUrl'],
    [{ webhookUrl: 'https://example.com/hook' }, 'webhookUrl'],
    [{ keyHash: 'x' }, 'keyHash'],
    [{ ownerId: 'someone' }, 'ownerId'],
  ])('refuses bad bodies with 400 naming the field, and creates nothing (case %#)', async (fields, field) => {
    const before = await namesListedFor(alice);
    const body = 'name' in fields || Object.keys(fields).length === 0 ? fields : { name: freshBotName(), ...fields };
    const res = await api().post('/api/v1/bots', body, as(alice));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field } });
    expect(await namesListedFor(alice)).toEqual(before);
  });

  it('refuses bad changes and leaves the bot as it was', async () => {
    const bot = await createBot(alice, { kind: 'external', webhookUrl: 'https://example.com/hook' });
    for (const [patch, field] of [
      [{ webhookUrl: null }, 'webhookUrl'],
      [{ commands: [{ alias: 'help' }] }, 'commands.0.alias'],
      [{ systemPrompt: long(20_001) }, 'systemPrompt'],
      [{ name: 'Bad Name' }, 'name'],
    ] as const) {
      const res = await api().patch(`/api/v1/bots/${bot.id}`, patch, as(alice));
      expect(res.status).toBe(400);
      expect(res.body.error.details.field).toBe(field);
    }
    const empty = await api().patch(`/api/v1/bots/${bot.id}`, {}, as(alice));
    expect(empty.status).toBe(400);
    expect((await api().get(`/api/v1/bots/${bot.id}`, as(alice))).body.bot).toEqual(bot);
  });

  it('accepts every limit exactly', async () => {
    const bot = await createBot(alice, {
      name: `a${'b'.repeat(63)}`,
      displayName: long(64),
      description: long(1000),
      systemPrompt: long(20_000),
      variables: many(50, (i) => ({ name: `v${i}`, description: long(500), default: long(2000) })),
      commands: many(50, (i) => ({ alias: `c${i}`, description: long(200), prompt: long(5000) })),
      params: { temperature: 2, topP: 0, maxTokens: 1 },
    });
    expect(bot.variables).toHaveLength(50);
    expect(bot.commands).toHaveLength(50);
    expect((await api().get(`/api/v1/bots/${bot.id}/commands`, as(alice))).body.items).toHaveLength(51);
  });
});

describe('system prompts', () => {
  const now = Date.UTC(2024, 1, 29, 23, 30); // 2024-02-29 in UTC, already March 1st east of it
  const context = { userName: 'Ada', groupName: 'Lab', now };
  const bot = (fields: Partial<Bot> = {}): Bot => ({
    id: '01J00000000000000000000000',
    name: 'tester',
    displayName: 'Tester',
    description: '',
    avatarUrl: null,
    systemPrompt: '',
    variables: [],
    model: null,
    params: {},
    commands: [],
    visibility: 'private',
    kind: 'ai',
    ownerId: null,
    webhookUrl: null,
    keyHash: null,
    createdAt: now,
    updatedAt: now,
    ...fields,
  });
  const render = (b: Bot | null, systemPrompt: string | null, variables: Record<string, string> = {}) =>
    core().systemPrompt(b, { systemPrompt, variables }, context);

  it('fills in the built-in variables', () => {
    const template = 'I am {{bot_name}} for {{user_name}} in {{ group_name }} on {{date}}.';
    expect(render(bot({ systemPrompt: template }), null)).toBe('I am Tester for Ada in Lab on 2024-02-29.');
    expect(render(null, template)).toBe('I am  for Ada in Lab on 2024-02-29.');
    expect(render(null, null)).toBe('');
  });

  it("uses declared defaults, the conversation's values over them, and its own template over the bot's", () => {
    const translator = bot({
      systemPrompt: 'Translate into {{target_language}} ({{register}}).',
      variables: [
        { name: 'target_language', description: '', default: 'English' },
        { name: 'register', description: '', default: 'formal' },
      ],
    });
    expect(render(translator, null)).toBe('Translate into English (formal).');
    expect(render(translator, null, { target_language: 'German' })).toBe('Translate into German (formal).');
    expect(render(translator, 'Say it in {{target_language}}, {{user_name}}.', { target_language: 'Welsh' })).toBe(
      'Say it in Welsh, Ada.',
    );
  });

  it('leaves placeholders that name nothing as written', () => {
    const b = bot({ systemPrompt: 'Hi {{nobody}}, {{ User_Name }}, {{}} and {{user_name}}.' });
    expect(render(b, null)).toBe('Hi {{nobody}}, {{ User_Name }}, {{}} and Ada.');
    // A value the bot no longer declares is not used.
    expect(render(b, null, { nobody: 'x' })).toBe('Hi {{nobody}}, {{ User_Name }}, {{}} and Ada.');
    // Without a bot, a conversation's values are its own variables.
    expect(render(null, 'Hi {{nobody}}', { nobody: 'Bob' })).toBe('Hi Bob');
  });

  it('expands in one pass: values are inserted as written', () => {
    const b = bot({
      systemPrompt: '{{a}} / {{user_name}}',
      variables: [{ name: 'a', description: '', default: '{{user_name}} $& $1' }],
    });
    expect(render(b, null)).toBe('{{user_name}} $& $1 / Ada');
    expect(core().systemPrompt(b, { systemPrompt: null, variables: {} }, { ...context, userName: '{{a}}' })).toBe(
      '{{user_name}} $& $1 / {{a}}',
    );
  });

  it('checks the values a conversation sets', () => {
    const b = bot({ variables: [{ name: 'tone', description: '', default: '' }] });
    const refusal = (target: Bot | null, variables: Record<string, string>) => {
      try {
        core().checkVariables(target, variables);
        return undefined;
      } catch (err) {
        return err as { code: string; details?: { field?: string } };
      }
    };
    expect(refusal(b, { tone: 'warm' })).toBeUndefined();
    expect(refusal(null, { anything_goes: 'x' })).toBeUndefined();
    expect(refusal(b, { mood: 'x' })).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'variables.mood' } });
    expect(refusal(null, { user_name: 'x' })).toMatchObject({ details: { field: 'variables.user_name' } });
    expect(refusal(null, { 'Bad-Name': 'x' })).toMatchObject({ details: { field: 'variables' } });
    expect(refusal(null, { ['a'.repeat(65)]: 'x' })).toMatchObject({ details: { field: 'variables' } });
    expect(refusal(b, { tone: 'x'.repeat(2001) })).toMatchObject({ details: { field: 'variables.tone' } });
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`v${i}`, 'x']));
    expect(refusal(null, many)).toMatchObject({ details: { field: 'variables' } });
    expect(refusal(null, Object.fromEntries(Object.entries(many).slice(0, 32)))).toBeUndefined();
  });
});

describe('commands', () => {
  const bot: Bot = {
    id: '01J00000000000000000000000',
    name: 'helper',
    displayName: 'Helper',
    description: '',
    avatarUrl: null,
    systemPrompt: '',
    variables: [],
    model: null,
    params: {},
    commands: [
      {
        alias: 'explain',
        description: 'Explain something',
        prompt: 'Explain simply:\n\n{{input}}\n\nThen {{ input }} again.',
      },
      { alias: 'Review', description: 'Review code', prompt: 'Review this code.' },
      { alias: 'status', description: 'Handled by the bot', prompt: null },
    ],
    visibility: 'private',
    kind: 'ai',
    ownerId: null,
    webhookUrl: null,
    keyHash: null,
    createdAt: 0,
    updatedAt: 0,
  };
  const interpret = (content: string, target: Bot | null = bot) => core().interpret(target, content);

  it('answers /help itself, listing every command', () => {
    const outcome = interpret('/help');
    expect(outcome.kind).toBe('reply');
    const text = (outcome as { text: string }).text;
    expect(text.split('\n')).toEqual([
      'Commands of Helper:',
      '/help — List the commands of this bot',
      '/explain — Explain something',
      '/Review — Review code',
      '/status — Handled by the bot',
    ]);
    expect(interpret('  /HELP  ').kind).toBe('reply');
  });

  it('puts the text after the alias in place of {{input}}', () => {
    expect(interpret('/explain  recursion\nwith $& care ')).toEqual({
      kind: 'prompt',
      text: 'Explain simply:\n\nrecursion\nwith $& care\n\nThen recursion\nwith $& care again.',
    });
  });

  it('appends the text after a blank line when the prompt has no {{input}}', () => {
    expect(interpret('/review const x = 1;')).toEqual({ kind: 'prompt', text: 'Review this code.\n\nconst x = 1;' });
    expect(interpret('/REVIEW')).toEqual({ kind: 'prompt', text: 'Review this code.' });
  });

  it('treats unknown words, paths, prompt-less commands and plain text as messages', () => {
    for (const content of ['/etc', '/etc/hosts is missing', '/status now', 'hello /explain x', '/', '/ explain x']) {
      expect(interpret(content)).toEqual({ kind: 'message' });
    }
    expect(interpret('/help', null)).toEqual({ kind: 'message' });
  });
});

describe('seeding built-ins', () => {
  it('seeds once, keeps admin edits and deletions across restarts, and survives concurrent starts', async () => {
    const stores = await isolatedStores();
    // Two SQLite servers in one process would block each other's event loop while waiting for the
    // file lock; concurrent SQLite instances are separate processes (instances.test.ts).
    const [first, twin] = DATABASE_URL
      ? await Promise.all([startServer({}, stores), startServer({}, stores)])
      : [await startServer({}, stores), await startServer({}, stores)];
    const owner = await signUp(first.http);
    const names = async (s: TestServer) =>
      (await s.http.get('/api/v1/bots', as(owner))).body.items.map((b: Bot) => b.name);
    expect(await names(first)).toEqual(['assistant', 'coder', 'translator']);

    const edit = await first.http.patch('/api/v1/bots/coder', { description: 'Our house coder' }, as(owner));
    expect(edit.status).toBe(200);
    expect((await first.http.delete('/api/v1/bots/translator', as(owner))).status).toBe(204);
    const again = DATABASE_URL ? [first, twin] : [first, first];
    await Promise.all(again.map((s) => s.parley.core.bots.seedBuiltins()));
    await Promise.all([first.close({ keepStores: true }), twin.close({ keepStores: true })]);

    const second = await startServer({}, stores);
    try {
      expect(await names(second)).toEqual(['assistant', 'coder']);
      const coder = (await second.http.get('/api/v1/bots/coder', as(owner))).body.bot;
      expect(coder).toMatchObject({ description: 'Our house coder', ownerId: null, visibility: 'public' });
    } finally {
      await second.close();
    }
  });
});
