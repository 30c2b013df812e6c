import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/core/ids.js';
import type { Delivery } from '../src/core/webhooks/model.js';
import { retryDelay } from '../src/core/webhooks/rules.js';
import { AddressPolicy } from '../src/net/address-policy.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { SqlWebhookRepository } from '../src/store/repositories/webhooks.js';
import { signUp, type Account } from './helpers/accounts.js';
import { DATABASE_URL, REDIS_URL, isolatedStores, type Isolated } from './helpers/env.js';
import { DEFAULT_REPLY } from './helpers/fake-upstream.js';
import { startChatGateway } from './helpers/gateway.js';
import { HttpClient } from './helpers/http.js';
import { sharedStoresEnv, startServerProcess, type ServerProcess } from './helpers/processes.js';
import { generousLimits, startServer, type TestServer } from './helpers/server.js';
import { signatureFor, startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

const SECRET = 'whsec-0123456789abcdef';
const ALLOW_LOOPBACK = ['127.0.0.1'];
/** Quick retries, so that backoff and giving up take a fraction of a second. */
const FAST = { retryBaseMs: 100, retryMaxDelayMs: 400, retryForMs: 60_000, pollIntervalMs: 50, timeoutMs: 3000 };

async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createWebhook(http: HttpClient, account: Account, body: Record<string, unknown>) {
  const res = await http.post('/api/v1/webhooks', { secret: SECRET, events: ['*'], ...body }, { bearer: account.key });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.webhook as { id: string; url: string; events: string[]; active: boolean };
}

async function deliveries(http: HttpClient, account: Account, webhookId: string, query = '') {
  const res = await http.get(`/api/v1/webhooks/${webhookId}/deliveries${query}`, { bearer: account.key });
  expect(res.status).toBe(200);
  return res.body as { items: any[]; nextCursor: string | null };
}

const renameTo = (http: HttpClient, account: Account, displayName: string) =>
  http.patch('/api/v1/me', { displayName }, { bearer: account.key }).then((res) => expect(res.status).toBe(200));

/** Every 2xx answered, by the profile name the event carried. */
function acceptedByName(receiver: WebhookReceiver): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of receiver.received) {
    if (r.status !== 200 || r.body.event !== 'profile.update') continue;
    const name = r.body.data.profile.displayName as string;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

describe('webhooks', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let alice: Account;
  let bob: Account;
  const http = () => server.http;

  beforeAll(async () => {
    server = await startServer({ webhooks: { ...FAST, allowlist: ALLOW_LOOPBACK } });
    receiver = await startWebhookReceiver();
    alice = await signUp(server.http);
    bob = await signUp(server.http);
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('creates, lists, reads, changes and deletes webhooks; the secret is never shown nor stored in clear', async () => {
    const account = await signUp(http());
    const created = await createWebhook(http(), account, { url: receiver.url, events: ['message.new'] });
    expect(created).toMatchObject({ url: receiver.url, events: ['message.new'], active: true });
    expect(JSON.stringify(created)).not.toContain(SECRET);

    const list = await http().get('/api/v1/webhooks', { bearer: account.key });
    expect(list.body.items.map((w: { id: string }) => w.id)).toEqual([created.id]);
    expect(JSON.stringify(list.body)).not.toContain(SECRET);
    const one = await http().get(`/api/v1/webhooks/${created.id}`, { bearer: account.key });
    expect(one.body.webhook).toEqual(created);

    const newSecret = 'another-secret-of-some-length';
    const changed = await http().patch(
      `/api/v1/webhooks/${created.id}`,
      { events: ['message.completed', 'profile.update'], active: false, secret: newSecret },
      { bearer: account.key },
    );
    expect(changed.status).toBe(200);
    expect(changed.body.webhook).toMatchObject({ events: ['message.completed', 'profile.update'], active: false });
    expect(JSON.stringify(changed.body)).not.toContain(newSecret);

    const row = await server.parley.database.db
      .selectFrom('webhooks')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(newSecret);
    expect(JSON.stringify(row)).not.toContain(SECRET);

    expect((await http().delete(`/api/v1/webhooks/${created.id}`, { bearer: account.key })).status).toBe(204);
    expect((await http().get(`/api/v1/webhooks/${created.id}`, { bearer: account.key })).status).toBe(404);
  });

  it('refuses bad input with 400 and writes nothing; holds each user to the limit', async () => {
    const account = await signUp(http());
    const valid = { url: receiver.url, events: ['*'], secret: SECRET };
    for (const body of [
      { ...valid, url: 'ftp://127.0.0.1/hook' },
      { ...valid, url: 'not a url' },
      { ...valid, url: `http://127.0.0.1/${'x'.repeat(2048)}` },
      { ...valid, events: [] },
      { ...valid, events: ['message.new', 'message.new'] },
      { ...valid, events: ['no.such.event'] },
      { ...valid, events: ['ping'] },
      { ...valid, secret: 'short' },
      { ...valid, secret: 'x'.repeat(257) },
      { url: valid.url, events: valid.events },
      { ...valid, extra: true },
    ]) {
      const res = await http().post('/api/v1/webhooks', body, { bearer: account.key });
      expect(res.status, JSON.stringify(body).slice(0, 200)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await http().get('/api/v1/webhooks', { bearer: account.key })).body.items).toEqual([]);

    const webhook = await createWebhook(http(), account, { url: receiver.url });
    for (const body of [{}, { url: 'gopher://x' }, { events: ['nope'] }, { secret: 'short' }, { active: 'yes' }]) {
      const res = await http().patch(`/api/v1/webhooks/${webhook.id}`, body, { bearer: account.key });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await http().get(`/api/v1/webhooks/${webhook.id}`, { bearer: account.key })).body.webhook).toEqual(webhook);

    for (let i = 1; i < 20; i++) await createWebhook(http(), account, { url: `${receiver.url}?n=${i}` });
    const over = await http().post('/api/v1/webhooks', valid, { bearer: account.key });
    expect(over.status).toBe(409);
    expect((await http().get('/api/v1/webhooks', { bearer: account.key })).body.items).toHaveLength(20);
  });

  it("answers 404 on every route for another user's webhook, and changes nothing", async () => {
    const webhook = await createWebhook(http(), alice, { url: receiver.url, events: ['conversation.deleted'] });
    const ping = await http().post(`/api/v1/webhooks/${webhook.id}/ping`, undefined, { bearer: alice.key });
    const deliveryId = ping.body.delivery.id as string;
    const sentToAlice = () => receiver.received.filter((r) => r.body.data?.webhook?.id === webhook.id).length;
    const base = `/api/v1/webhooks/${webhook.id}`;
    for (const [method, path, body] of [
      ['GET', base],
      ['PATCH', base, { active: false }],
      ['DELETE', base],
      ['GET', `${base}/deliveries`],
      ['POST', `${base}/deliveries/${deliveryId}/redeliver`],
      ['POST', `${base}/ping`],
    ] as const) {
      const res = await http().call(method, path, { body, bearer: bob.key });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
    expect((await http().get('/api/v1/webhooks', { bearer: bob.key })).body.items).toEqual([]);
    expect((await http().get(base, { bearer: alice.key })).body.webhook).toEqual(webhook);
    // A delivery of another webhook is not found through one's own either.
    const own = await createWebhook(http(), bob, { url: receiver.url, events: ['conversation.deleted'] });
    const crossed = await http().post(`/api/v1/webhooks/${own.id}/deliveries/${deliveryId}/redeliver`, undefined, {
      bearer: bob.key,
    });
    expect(crossed.status).toBe(404);
    await sleep(200);
    expect(sentToAlice()).toBe(1);
  });

  it('pings at once, signed so that the receiver can check it', async () => {
    const account = await signUp(http());
    const webhook = await createWebhook(http(), account, { url: receiver.url, events: ['message.new'] });
    const res = await http().post(`/api/v1/webhooks/${webhook.id}/ping`, undefined, { bearer: account.key });
    expect(res.status).toBe(201);
    const delivery = res.body.delivery;
    expect(delivery).toMatchObject({ webhookId: webhook.id, event: 'ping', status: 'delivered', attemptCount: 1 });
    expect(delivery.attempts).toEqual([
      expect.objectContaining({ statusCode: 200, error: null, durationMs: expect.any(Number) }),
    ]);

    const sent = receiver.received.filter((r) => r.body.id === delivery.id);
    expect(sent).toHaveLength(1);
    const { headers, body } = sent[0]!;
    expect(body).toEqual({
      id: delivery.id,
      event: 'ping',
      createdAt: expect.any(Number),
      data: { webhook: { id: webhook.id, url: webhook.url, events: ['message.new'] } },
    });
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toMatch(/^Parley-Webhooks\/\d+\.\d+\.\d+/);
    expect(headers['x-parley-event']).toBe('ping');
    expect(headers['x-parley-delivery']).toBe(delivery.id);
    const timestamp = headers['x-parley-timestamp'] as string;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(30);
    expect(headers['x-parley-signature']).toBe(signatureFor(sent[0]!, SECRET));
  });

  it('delivers profile.update for changes to the public profile, without credentials', async () => {
    const account = await signUp(http());
    const webhook = await createWebhook(http(), account, { url: receiver.url, events: ['profile.update'] });
    await http().patch('/api/v1/me', { displayName: 'Webhook Watcher', isPublic: true }, { bearer: account.key });
    const got = await until(
      () => receiver.received.find((r) => r.body.data?.profile?.displayName === 'Webhook Watcher'),
      'profile.update',
    );
    expect(got.headers['x-parley-event']).toBe('profile.update');
    expect(got.body.data.profile).toMatchObject({ id: account.id, username: account.username, isPublic: true });
    expect(got.raw).not.toMatch(/passwordHash|argon2/);

    // A password change alone changes nothing public.
    await http().patch(
      '/api/v1/me',
      { password: 'another good password', currentPassword: 'correct horse battery' },
      { bearer: account.key },
    );
    await sleep(300);
    expect((await deliveries(http(), account, webhook.id)).items).toHaveLength(1);
  });

  it('retries with exponential backoff until the receiver accepts, recording every attempt', async () => {
    const account = await signUp(http());
    const failing = await startWebhookReceiver();
    let calls = 0;
    failing.respond = () => (++calls <= 2 ? 500 : 200);
    try {
      const webhook = await createWebhook(http(), account, { url: failing.url, events: ['profile.update'] });
      await renameTo(http(), account, 'Third Time Lucky');
      const delivery = await until(async () => {
        const [first] = (await deliveries(http(), account, webhook.id)).items;
        return first?.status === 'delivered' && first;
      }, 'the delivery to succeed');
      expect(delivery.attemptCount).toBe(3);
      expect(delivery.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 200]);
      expect(failing.received.map((r) => r.body.id)).toEqual([delivery.id, delivery.id, delivery.id]);
      // Full jitter: each wait is at most the doubled delay (plus the poll interval and some slack).
      const [a, b, c] = delivery.attempts.map((x: { attemptedAt: number }) => x.attemptedAt);
      const slack = FAST.pollIntervalMs + 1000;
      expect(b - a).toBeLessThanOrEqual(FAST.retryBaseMs + slack);
      expect(c - b).toBeLessThanOrEqual(2 * FAST.retryBaseMs + slack);
      expect(b).toBeGreaterThanOrEqual(a);
      expect(c).toBeGreaterThanOrEqual(b);
    } finally {
      await failing.close();
    }
  });

  it('redelivers an event as a new delivery of the same event', async () => {
    const account = await signUp(http());
    const webhook = await createWebhook(http(), account, { url: receiver.url, events: ['profile.update'] });
    await renameTo(http(), account, 'Say It Again');
    const original = await until(async () => {
      const [first] = (await deliveries(http(), account, webhook.id)).items;
      return first?.status === 'delivered' && first;
    }, 'the first delivery');

    const res = await http().post(`/api/v1/webhooks/${webhook.id}/deliveries/${original.id}/redeliver`, undefined, {
      bearer: account.key,
    });
    expect(res.status).toBe(201);
    const again = res.body.delivery;
    expect(again).toMatchObject({
      eventId: original.eventId,
      event: 'profile.update',
      status: 'pending',
      attempts: [],
    });
    expect(again.id).not.toBe(original.id);
    const got = await until(() => receiver.received.find((r) => r.body.id === again.id), 'the redelivery');
    const first = receiver.received.find((r) => r.body.id === original.id)!;
    expect(got.body.data).toEqual(first.body.data);
    expect(got.body.createdAt).toBe(first.body.createdAt);
    const listed = await deliveries(http(), account, webhook.id);
    expect(listed.items.map((d: { id: string }) => d.id)).toEqual([again.id, original.id]);
  });

  it('pages deliveries newest first', async () => {
    const account = await signUp(http());
    const webhook = await createWebhook(http(), account, { url: receiver.url, events: ['trigger.shared'] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await http().post(`/api/v1/webhooks/${webhook.id}/ping`, undefined, { bearer: account.key })).body.delivery.id,
      );
    }
    const first = await deliveries(http(), account, webhook.id, '?limit=2');
    expect(first.items.map((d: { id: string }) => d.id)).toEqual([ids[2], ids[1]]);
    const second = await deliveries(http(), account, webhook.id, `?limit=2&cursor=${first.nextCursor}`);
    expect(second).toMatchObject({ nextCursor: null });
    expect(second.items.map((d: { id: string }) => d.id)).toEqual([ids[0]]);
    const refused = await http().get(`/api/v1/webhooks/${webhook.id}/deliveries?limit=101`, { bearer: account.key });
    expect(refused.status).toBe(400);
  });

  it('sends nothing to an inactive webhook, nor to one not subscribed to the event', async () => {
    const account = await signUp(http());
    const inactive = await createWebhook(http(), account, { url: receiver.url, events: ['profile.update'] });
    await http().patch(`/api/v1/webhooks/${inactive.id}`, { active: false }, { bearer: account.key });
    const other = await createWebhook(http(), account, { url: receiver.url, events: ['message.new'] });
    await renameTo(http(), account, 'Nobody Listens');
    await sleep(400);
    expect((await deliveries(http(), account, inactive.id)).items).toEqual([]);
    expect((await deliveries(http(), account, other.id)).items).toEqual([]);
    const ping = await http().post(`/api/v1/webhooks/${inactive.id}/ping`, undefined, { bearer: account.key });
    expect(ping.status).toBe(409);
  });
});

describe('webhook retries that run out', () => {
  it('gives a delivery up (failed) once retryForMs has passed', async () => {
    const retryForMs = 700;
    const retryMaxDelayMs = 200;
    const server = await startServer({
      webhooks: { ...FAST, retryBaseMs: 50, retryMaxDelayMs, retryForMs, allowlist: ALLOW_LOOPBACK },
    });
    const receiver = await startWebhookReceiver(() => 503);
    try {
      const account = await signUp(server.http);
      const webhook = await createWebhook(server.http, account, { url: receiver.url, events: ['profile.update'] });
      await renameTo(server.http, account, 'Never Heard');
      const delivery = await until(async () => {
        const [first] = (await deliveries(server.http, account, webhook.id)).items;
        return first?.status === 'failed' && first;
      }, 'the delivery to be given up');
      expect(delivery.attemptCount).toBeGreaterThanOrEqual(2);
      expect(delivery.attempts).toHaveLength(delivery.attemptCount);
      expect(delivery.attempts.every((a: { statusCode: number }) => a.statusCode === 503)).toBe(true);
      expect(delivery.nextAttemptAt).toBeNull();
      // Retried for the whole window: given up only when the next wait would have ended past it.
      expect(delivery.completedAt).toBeGreaterThanOrEqual(delivery.createdAt + retryForMs - retryMaxDelayMs);
      expect(delivery.attempts.at(-1).attemptedAt).toBeLessThanOrEqual(
        delivery.createdAt + retryForMs + FAST.pollIntervalMs + 1000,
      );
      expect(receiver.received).toHaveLength(delivery.attemptCount);
      await sleep(300);
      expect(receiver.received).toHaveLength(delivery.attemptCount);
    } finally {
      await server.close();
      await receiver.close();
    }
  });

  it('follows no redirect and gives up on a receiver that does not answer in time', async () => {
    const server = await startServer({ webhooks: { ...FAST, timeoutMs: 300, allowlist: ALLOW_LOOPBACK } });
    const receiver = await startWebhookReceiver(() => 302);
    try {
      const account = await signUp(server.http);
      const webhook = await createWebhook(server.http, account, { url: receiver.url, events: ['profile.update'] });
      const ping = async () =>
        (await server.http.post(`/api/v1/webhooks/${webhook.id}/ping`, undefined, { bearer: account.key })).body
          .delivery;
      const redirected = await ping();
      expect(redirected).toMatchObject({ status: 'pending', attempts: [{ statusCode: 302, error: null }] });
      expect(receiver.received.map((r) => r.path)).toEqual(['/hook']);

      receiver.respond = () => 200;
      receiver.delayMs = 2000;
      const slow = await ping();
      expect(slow.status).toBe('pending');
      expect(slow.attempts[0]).toMatchObject({ statusCode: null, error: 'No answer within 300 ms' });
      expect(slow.attempts[0].durationMs).toBeLessThan(1500);
    } finally {
      await server.close();
      await receiver.close();
    }
  });

  it('draws each wait between 0 and the doubled delay, capped', () => {
    const policy = { retryBaseMs: 2000, retryMaxDelayMs: 60_000, retryForMs: 86_400_000 };
    const almostOne = () => 0.999999;
    expect([1, 2, 3, 4].map((n) => retryDelay(n, policy, almostOne))).toEqual([1999, 3999, 7999, 15999]);
    expect(retryDelay(10, policy, almostOne)).toBe(59999);
    expect(retryDelay(5000, policy, almostOne)).toBe(59999);
    expect(retryDelay(3, policy, () => 0)).toBe(0);
  });
});

describe('webhook targets inside the network', () => {
  const internalTargets = [
    'http://127.0.0.1:9/hook',
    'http://localhost:9/hook',
    'http://[::1]:9/hook',
    'http://10.1.2.3/hook',
    'http://192.168.1.1/hook',
    'http://172.16.0.1/hook',
    'http://100.64.0.1/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[fd00:ec2::254]/latest',
    'http://[fe80::1]/hook',
    'http://0.0.0.0/hook',
    'http://224.0.0.1/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://2130706433/hook',
  ];

  it('are refused at creation and when changed to, unless allow-listed; refused again at delivery once no longer allowed', async () => {
    const stores = await isolatedStores();
    const receiver = await startWebhookReceiver();
    let server = await startServer({ webhooks: { ...FAST, allowlist: ALLOW_LOOPBACK } }, stores);
    try {
      const account = await signUp(server.http);
      const webhook = await createWebhook(server.http, account, { url: receiver.url, events: ['profile.update'] });
      await server.close({ keepStores: true });

      server = await startServer({ webhooks: FAST }, stores);
      for (const url of internalTargets) {
        const res = await server.http.post(
          '/api/v1/webhooks',
          { url, events: ['*'], secret: SECRET },
          { bearer: account.key },
        );
        expect(res.status, url).toBe(400);
        expect(res.body.error.message).toMatch(/allowlist/);
        expect(res.body.error.details).toEqual({ field: 'url' });
      }
      const moved = await server.http.patch(
        `/api/v1/webhooks/${webhook.id}`,
        { url: 'http://10.0.0.1/hook' },
        { bearer: account.key },
      );
      expect(moved.status).toBe(400);
      expect((await server.http.get('/api/v1/webhooks', { bearer: account.key })).body.items).toEqual([webhook]);

      await renameTo(server.http, account, 'Behind The Wall');
      const delivery = await until(async () => {
        const [first] = (await deliveries(server.http, account, webhook.id)).items;
        return first?.attemptCount >= 1 && first;
      }, 'an attempt');
      expect(delivery.attempts[0]).toMatchObject({
        statusCode: null,
        error: expect.stringMatching(/^Refused: .*loopback/),
      });
      const ping = await server.http.post(`/api/v1/webhooks/${webhook.id}/ping`, undefined, { bearer: account.key });
      expect(ping.body.delivery.attempts[0]).toMatchObject({
        statusCode: null,
        error: expect.stringMatching(/Refused/),
      });
      expect(receiver.received).toEqual([]);
    } finally {
      await server.close();
      await receiver.close();
    }
  });

  it('allow-lists hosts, addresses and CIDRs', () => {
    const none = new AddressPolicy([]);
    for (const address of [
      '127.0.0.1',
      '10.0.0.1',
      '::1',
      '::',
      'fd00:ec2::254',
      '169.254.169.254',
      '::ffff:10.0.0.1',
    ]) {
      expect(none.forbiddenKind(address), address).toBeDefined();
    }
    for (const address of ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', '::ffff:8.8.8.8']) {
      expect(none.forbiddenKind(address), address).toBeUndefined();
    }
    expect(none.forbiddenKind('169.254.169.254')).toBe('link-local');
    const some = new AddressPolicy(['10.0.0.0/8', 'fd00::/8', '[::1]', 'Hooks.Internal.']);
    expect(some.forbiddenKind('10.20.30.40')).toBeUndefined();
    expect(some.forbiddenKind('fd12::1')).toBeUndefined();
    expect(some.forbiddenKind('::1')).toBeUndefined();
    expect(some.forbiddenKind('127.0.0.1')).toBe('loopback');
    expect(some.allowsHost('hooks.internal')).toBe(true);
    expect(some.allowsHost('other.internal')).toBe(false);
    expect(() => new AddressPolicy(['10.0.0.0/33'])).toThrow(/CIDR/);
    expect(() => new AddressPolicy(['example.com/8'])).toThrow(/CIDR/);
  });
});

describe('webhook deliveries across restarts', () => {
  it('delivers every event exactly once when the server stops while deliveries are pending', async () => {
    const stores = await isolatedStores();
    const receiver = await startWebhookReceiver(() => 503);
    let server = await startServer({ webhooks: { ...FAST, allowlist: ALLOW_LOOPBACK } }, stores);
    try {
      const account = await signUp(server.http);
      await createWebhook(server.http, account, { url: receiver.url, events: ['profile.update'] });
      const names = Array.from({ length: 8 }, (_, i) => `Pending ${i}`);
      for (const name of names.slice(0, 5)) await renameTo(server.http, account, name);
      await until(() => new Set(receiver.received.map((r) => r.body.id)).size >= 5, 'first attempts');
      // The last ones are written just before the stop: some may not even be dispatched yet.
      for (const name of names.slice(5)) await renameTo(server.http, account, name);
      await server.close({ keepStores: true });

      receiver.respond = () => 200;
      server = await startServer({ webhooks: { ...FAST, allowlist: ALLOW_LOOPBACK } }, stores);
      await until(() => acceptedByName(receiver).size === names.length, 'every event');
      await sleep(500);
      const accepted = acceptedByName(receiver);
      expect([...accepted.keys()].sort()).toEqual([...names].sort());
      expect([...accepted.values()].every((n) => n === 1)).toBe(true);
      const acceptedIds = receiver.received.filter((r) => r.status === 200).map((r) => r.body.id);
      expect(new Set(acceptedIds).size).toBe(acceptedIds.length);
    } finally {
      await server.close();
      await receiver.close();
    }
  });
});

describe('webhook deliveries from two instances', () => {
  let stores: Isolated;
  let receiver: WebhookReceiver;
  const instances: ServerProcess[] = [];

  beforeAll(async () => {
    stores = await isolatedStores();
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await receiver?.close();
    await stores?.cleanup();
  });

  it('sends each delivery exactly once', async () => {
    const env = {
      ...sharedStoresEnv(stores, { ...generousLimits, webhooks: FAST }, REDIS_URL),
      PARLEY_WEBHOOK_ALLOWLIST: ALLOW_LOOPBACK.join(','),
    };
    instances.push(
      ...(await Promise.all([startServerProcess(env, stores.dataDir), startServerProcess(env, stores.dataDir)])),
    );
    const [a, b] = instances.map((i) => new HttpClient(i.url));
    const account = await signUp(a!);
    await createWebhook(b!, account, { url: receiver.url, events: ['profile.update'] });

    const names = Array.from({ length: 40 }, (_, i) => `Burst ${i}`);
    await Promise.all(names.map((name, i) => renameTo(i % 2 ? a! : b!, account, name)));
    await until(() => acceptedByName(receiver).size === names.length, 'every event');
    await sleep(500);
    const ids = receiver.received.map((r) => r.body.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(names.length);
    expect([...acceptedByName(receiver).values()].every((n) => n === 1)).toBe(true);
  });
});

describe('conversation events', () => {
  it('reach webhooks end to end: message.new, message.completed and conversation.deleted', async () => {
    const receiver = await startWebhookReceiver();
    const gateway = await startChatGateway({ webhooks: { ...FAST, allowlist: ALLOW_LOOPBACK } });
    try {
      const http = gateway.server.http;
      const account = await signUp(http);
      await createWebhook(http, account, {
        url: receiver.url,
        events: ['message.new', 'message.completed', 'conversation.deleted'],
      });
      const created = await http.post('/api/v1/conversations', {}, { bearer: account.key });
      const conversationId = created.body.conversation.id as string;
      const sent = await http.post(
        `/api/v1/conversations/${conversationId}/messages`,
        { content: 'hello hooks' },
        {
          bearer: account.key,
        },
      );
      expect(sent.status).toBe(201);
      const byEvent = (event: string) => receiver.received.find((r) => r.body.event === event);
      const newMessage = await until(() => byEvent('message.new'), 'message.new');
      expect(newMessage.body.data).toMatchObject({
        conversationId,
        message: { id: sent.body.userMessage.id, role: 'user', content: 'hello hooks' },
      });
      const completed = await until(() => byEvent('message.completed'), 'message.completed');
      expect(completed.body.data).toMatchObject({
        conversationId,
        message: { id: sent.body.reply.id, role: 'assistant', status: 'complete', content: DEFAULT_REPLY },
      });

      expect((await http.delete(`/api/v1/conversations/${conversationId}`, { bearer: account.key })).status).toBe(204);
      const deleted = await until(() => byEvent('conversation.deleted'), 'conversation.deleted');
      expect(deleted.body.data).toMatchObject({ conversationId });
    } finally {
      await gateway.close();
      await receiver.close();
    }
  });
});

describe('claiming due deliveries', () => {
  let stores: Isolated;
  const databases: Database[] = [];
  const open = async () => {
    const database = await openDatabase({ databaseUrl: stores.databaseUrl, dataDir: stores.dataDir, poolSize: 4 });
    databases.push(database);
    await database.migrate();
    return new SqlWebhookRepository(database.db, database.dialect);
  };
  const due = (webhookId: string, at: number): Delivery => ({
    id: newId(),
    webhookId,
    eventId: newId(),
    event: 'profile.update',
    payload: {},
    eventCreatedAt: at,
    status: 'pending',
    attemptCount: 0,
    nextAttemptAt: at,
    createdAt: at,
    completedAt: null,
  });
  const webhook = (now: number) => ({
    id: newId(),
    ownerId: newId(),
    url: 'http://127.0.0.1:9/hook',
    events: ['*'],
    sealedSecret: 'sealed',
    active: true,
    createdAt: now,
    updatedAt: now,
  });

  beforeAll(async () => {
    stores = await isolatedStores();
  });
  afterAll(async () => {
    await Promise.all(databases.map((d) => d.close()));
    await stores?.cleanup();
  });

  it('leases a claimed delivery: no claim returns it again until the lease has passed', async () => {
    const repo = await open();
    const now = Date.now();
    const hook = webhook(now);
    await repo.insert(hook, 10);
    const delivery = due(hook.id, now);
    await repo.insertDelivery(delivery);
    expect((await repo.claimDue(now, now + 1000, 10)).map((d) => d.id)).toEqual([delivery.id]);
    expect(await repo.claimDue(now + 999, now + 2000, 10)).toEqual([]);
    // The instance that held it is gone: after its lease another takes it over.
    const [again] = await repo.claimDue(now + 1001, now + 3000, 10);
    expect(again).toMatchObject({ id: delivery.id, url: hook.url, sealedSecret: 'sealed', attemptCount: 0 });
  });

  // Row locking is PostgreSQL's; on SQLite one writer at a time is the database's own rule, and the
  // two-process burst test above covers it.
  const onPostgres = DATABASE_URL ? it : undefined;
  onPostgres?.('gives each delivery to one of two concurrent claimers (PostgreSQL)', async () => {
    const [first, second] = [await open(), await open()];
    const now = Date.now();
    const hook = webhook(now);
    await first.insert(hook, 10);
    const ids = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const delivery = due(hook.id, now);
      ids.add(delivery.id);
      await first.insertDelivery(delivery);
    }
    const claimed: string[][] = [[], []];
    await Promise.all(
      [first, second].map(async (repo, i) => {
        for (;;) {
          const batch = await repo.claimDue(now, now + 60_000, 7);
          if (batch.length === 0) return;
          claimed[i]!.push(...batch.map((d) => d.id));
        }
      }),
    );
    const all = [...claimed[0]!, ...claimed[1]!];
    expect(all).toHaveLength(ids.size);
    expect(new Set(all)).toEqual(ids);
    expect(claimed[0]!.length).toBeGreaterThan(0);
    expect(claimed[1]!.length).toBeGreaterThan(0);
  });
});
