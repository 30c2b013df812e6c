import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { startServer, type TestServer } from './helpers/server.js';
import { allEvents, openEventStream } from './helpers/sse.js';
import { signatureFor, startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

let server: TestServer;
let owner: Account;
let other: Account;
/** The program behind the external bots: it receives their deliveries. */
let program: WebhookReceiver;

beforeAll(async () => {
  program = await startWebhookReceiver();
  server = await startServer({ webhooks: { allowlist: ['127.0.0.1'], pollIntervalMs: 50, retryBaseMs: 100 } });
  owner = await signUp(server.http);
  other = await signUp(server.http);
});
afterAll(async () => {
  await server.close();
  await program.close();
});

const api = () => server.http;

async function externalBot(account: Account, name: string) {
  const res = await api().post(
    '/api/v1/bots',
    { name, kind: 'external', webhookUrl: program.url },
    { bearer: account.key },
  );
  expect(res.status).toBe(201);
  return res.body as { bot: { id: string }; botKey: string; signingSecret: string };
}

describe('external bots', () => {
  it('answer a user through a signed delivery and the bot API: the whole round trip', async () => {
    const { bot, botKey, signingSecret } = await externalBot(owner, `ext-${process.pid}-trip`);
    // The program acknowledges each delivery and answers a user's message through the bot API.
    program.respond = ({ event, data }) => {
      if (event === 'bot.message') {
        void api().post(
          '/api/v1/bot/messages',
          {
            conversationId: data.conversationId,
            content: `You said: ${data.message.content}`,
            replyTo: data.message.id,
          },
          { bearer: botKey },
        );
      }
      return 200;
    };
    try {
      const created = await api().post('/api/v1/conversations', { botId: bot.id }, { bearer: owner.key });
      const conversationId = created.body.conversation.id;
      const sent = await api().post(
        `/api/v1/conversations/${conversationId}/messages`,
        { content: 'Hello bot' },
        { bearer: owner.key },
      );
      let history: { content: string; senderId: string; parentId: string }[] = [];
      for (let i = 0; i < 100 && history.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 50));
        history = (await api().get(`/api/v1/conversations/${conversationId}/messages`, { bearer: owner.key })).body
          .items;
      }
      expect(history.map((m) => m.content)).toEqual(['Hello bot', 'You said: Hello bot']);
      expect(history[1]).toMatchObject({ senderId: bot.id, parentId: sent.body.userMessage.id });

      const delivery = program.received.find((r) => r.headers['x-parley-event'] === 'bot.message')!;
      expect(delivery.headers['x-parley-signature']).toBe(signatureFor(delivery, signingSecret));
      expect(delivery.body.data).toMatchObject({
        conversationId,
        bot: { id: bot.id },
        message: { content: 'Hello bot' },
      });
    } finally {
      program.respond = () => 200;
    }
  });

  it('refuse webhook URLs on internal addresses that the allow-list does not name', async () => {
    for (const webhookUrl of ['http://10.0.0.7/hook', 'http://169.254.169.254/latest', 'http://[::1]/x']) {
      const res = await api().post(
        '/api/v1/bots',
        { name: `ext-${process.pid}-bad`, kind: 'external', webhookUrl },
        { bearer: owner.key },
      );
      expect(res.status, webhookUrl).toBe(400);
    }
    expect((await api().get(`/api/v1/bots/ext-${process.pid}-bad`, { bearer: owner.key })).status).toBe(404);
  });

  it('get a key and a signing secret once, stored only as a hash and sealed', async () => {
    const { bot, botKey, signingSecret } = await externalBot(owner, `ext-${process.pid}-a`);
    expect(botKey).toMatch(/^bk_[\w-]{43}$/);
    expect(signingSecret).toMatch(/^whsec_[\w-]{43}$/);
    const shown = await api().get(`/api/v1/bots/${bot.id}`, { bearer: owner.key });
    expect(JSON.stringify(shown.body)).not.toContain(botKey);
    expect(JSON.stringify(shown.body)).not.toContain(signingSecret);
    const row = await server.parley.database.db
      .selectFrom('bots')
      .selectAll()
      .where('id', '=', bot.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(botKey);
    expect(JSON.stringify(row)).not.toContain(signingSecret.slice(6));

    // Rotating: the old key stops working at once.
    const rotated = await api().post(`/api/v1/bots/${bot.id}/key`, undefined, { bearer: owner.key });
    expect(rotated.status).toBe(201);
    expect(rotated.body.botKey).not.toBe(botKey);
    const conversation = await api().post('/api/v1/conversations', { botId: bot.id }, { bearer: owner.key });
    const body = { conversationId: conversation.body.conversation.id, content: 'hi' };
    expect((await api().post('/api/v1/bot/messages', body, { bearer: botKey })).status).toBe(401);
    expect((await api().post('/api/v1/bot/messages', body, { bearer: rotated.body.botKey })).status).toBe(201);
    // Only the bot's editors rotate its key; AI bots have none.
    expect((await api().post(`/api/v1/bots/${bot.id}/key`, undefined, { bearer: other.key })).status).toBe(404);
    const ai = await api().post('/api/v1/bots', { name: `ai-${process.pid}` }, { bearer: owner.key });
    expect(ai.body.botKey).toBeUndefined();
    expect((await api().post(`/api/v1/bots/${ai.body.bot.id}/key`, undefined, { bearer: owner.key })).status).toBe(400);
  });

  it('receive user messages through the outbox and answer through the bot API, whole or streamed', async () => {
    const { bot, botKey } = await externalBot(owner, `ext-${process.pid}-b`);
    const created = await api().post('/api/v1/conversations', { botId: bot.id }, { bearer: owner.key });
    const conversationId = created.body.conversation.id;
    const sent = await api().post(
      `/api/v1/conversations/${conversationId}/messages`,
      { content: 'Ping?' },
      { bearer: owner.key },
    );
    expect(sent.status).toBe(201);
    expect(sent.body.reply).toBeNull();
    const outbox = await server.parley.database.db
      .selectFrom('outboxEvents')
      .selectAll()
      .where('type', '=', 'bot.message')
      .where('payload', 'like', `%${conversationId}%`)
      .execute();
    expect(outbox.map((e) => JSON.parse(e.audience))).toEqual([[bot.id]]);
    expect(JSON.parse(outbox[0]!.payload).message.content).toBe('Ping?');

    const whole = await api().post('/api/v1/bot/messages', { conversationId, content: 'Pong!' }, { bearer: botKey });
    expect(whole.status).toBe(201);
    expect(whole.body.message).toMatchObject({
      role: 'assistant',
      senderId: bot.id,
      content: 'Pong!',
      status: 'complete',
      parentId: sent.body.userMessage.id,
    });

    const started = await api().post('/api/v1/bot/messages', { conversationId, stream: true }, { bearer: botKey });
    expect(started.body.message.status).toBe('streaming');
    const id = started.body.message.id;
    const follower = await openEventStream(`${server.url}/api/v1/messages/${id}/stream`, { bearer: owner.key });
    for (const [i, text] of ['Str', 'eam', 'ed.'].entries()) {
      const delta = await api().post(`/api/v1/bot/messages/${id}/deltas`, { text }, { bearer: botKey });
      expect(delta.body.seq).toBe(i + 1);
    }
    const done = await api().post(`/api/v1/bot/messages/${id}/complete`, undefined, { bearer: botKey });
    expect(done.body.message).toMatchObject({ status: 'complete', content: 'Streamed.' });
    const events = await allEvents(follower);
    expect(events.filter((e) => e.event === 'delta').map((e) => [e.data.seq, e.data.text])).toEqual([
      [1, 'Str'],
      [2, 'eam'],
      [3, 'ed.'],
    ]);
    expect(events.at(-1)).toMatchObject({ event: 'completed', data: { message: { content: 'Streamed.' } } });
    const late = await api().post(`/api/v1/bot/messages/${id}/deltas`, { text: 'more' }, { bearer: botKey });
    expect(late.status).toBe(409);
  });

  it("refuse a bot in conversations it does not answer, and other bots' messages", async () => {
    const mine = await externalBot(owner, `ext-${process.pid}-c`);
    const theirs = await externalBot(other, `ext-${process.pid}-d`);
    const conversation = await api().post('/api/v1/conversations', { botId: mine.bot.id }, { bearer: owner.key });
    const conversationId = conversation.body.conversation.id;
    const plain = await api().post('/api/v1/conversations', {}, { bearer: owner.key });
    for (const [key, id] of [
      [theirs.botKey, conversationId],
      [mine.botKey, plain.body.conversation.id],
    ] as const) {
      const res = await api().post('/api/v1/bot/messages', { conversationId: id, content: 'x' }, { bearer: key });
      expect(res.status).toBe(404);
    }
    const streamed = await api().post(
      '/api/v1/bot/messages',
      { conversationId, stream: true },
      { bearer: mine.botKey },
    );
    const id = streamed.body.message.id;
    expect(
      (await api().post(`/api/v1/bot/messages/${id}/deltas`, { text: 'x' }, { bearer: theirs.botKey })).status,
    ).toBe(404);
    expect((await api().post(`/api/v1/bot/messages/${id}/complete`, undefined, { bearer: theirs.botKey })).status).toBe(
      404,
    );
    for (const bearer of [undefined, 'bk_wrong', owner.key]) {
      const res = await api().post('/api/v1/bot/messages', { conversationId, content: 'x' }, { bearer });
      expect(res.status).toBe(401);
    }
    for (const body of [
      { conversationId, content: '' },
      { conversationId, stream: true, content: 'x' },
      { conversationId },
    ]) {
      const res = await api().post('/api/v1/bot/messages', body, { bearer: mine.botKey });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});
