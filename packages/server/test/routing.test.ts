import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REPLY } from './helpers/fake-upstream.js';
import { startGateway, testRouting, type Gateway } from './helpers/gateway.js';

const ask = { model: 'fake-model', messages: [{ role: 'user' as const, content: 'hi' }] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let gateway: Gateway;
beforeAll(async () => {
  gateway = await startGateway({ upstreams: 2 });
});
afterAll(() => gateway.close());

const [primary, backup] = [() => gateway.upstreams[0]!, () => gateway.upstreams[1]!];
const channelHealth = async (name: string) => {
  const channels = (await gateway.server.http.get('/api/v1/admin/channels', { bearer: gateway.admin.key })).body.items;
  return channels.find((c: { name: string }) => c.name === name).health;
};

/** Each test starts with healthy channels: wait out any cooldown left by the previous one. */
afterEach(async () => {
  primary().configure({ firstTokenDelayMs: 0, chunkDelayMs: 0 });
  await sleep(Math.max(...testRouting.cooldownMs) + 50);
  await gateway.openai.chat.completions.create(ask);
});

describe('failover', () => {
  it.each([
    ['a 500', [false, true], () => primary().failNext(500)],
    ['a 503', [false, true], () => primary().failNext(503)],
    ['a 429', [false, true], () => primary().failNext(429)],
    // Only a streamed answer has a connection to drop between its first frames and its first token.
    ['a connection dropped before any token', [true], () => primary().dropNext(0)],
    [
      'a stalled first token',
      [false, true],
      () => primary().configure({ firstTokenDelayMs: testRouting.firstTokenTimeoutMs + 300 }),
    ],
  ])(
    'moves on to the next channel after %s, before any byte reached the client',
    async (_case, modes, breakPrimary) => {
      breakPrimary();
      const before = backup().requests.length;
      for (const stream of modes) {
        const started = performance.now();
        if (stream) {
          let text = '';
          for await (const chunk of await gateway.openai.chat.completions.create({ ...ask, stream: true })) {
            text += chunk.choices[0]?.delta.content ?? '';
          }
          expect(text).toBe(DEFAULT_REPLY);
        } else {
          const answer = await gateway.openai.chat.completions.create(ask);
          expect(answer.choices[0]!.message.content).toBe(DEFAULT_REPLY);
        }
        expect(performance.now() - started).toBeLessThan(testRouting.firstTokenTimeoutMs + 1000);
      }
      expect(backup().requests.length).toBe(before + modes.length);
    },
  );

  it('cools a failing channel down, skips it meanwhile, and takes it back after the cooldown', async () => {
    primary().failNext(500);
    await gateway.openai.chat.completions.create(ask);
    const health = await channelHealth('fake-0');
    expect(health.consecutiveFailures).toBe(1);
    expect(health.coolingUntil).toBeGreaterThan(Date.now());

    const primaryCalls = primary().requests.length;
    await gateway.openai.chat.completions.create(ask);
    expect(primary().requests.length).toBe(primaryCalls);

    await sleep(testRouting.cooldownMs[0]! + 50);
    await gateway.openai.chat.completions.create(ask);
    expect(primary().requests.length).toBe(primaryCalls + 1);
    expect((await channelHealth('fake-0')).consecutiveFailures).toBe(0);
  });

  it('cools down longer after repeated failures', async () => {
    for (let i = 1; i <= 2; i++) {
      primary().failNext(500);
      await gateway.openai.chat.completions.create(ask);
      const health = await channelHealth('fake-0');
      expect(health.consecutiveFailures).toBe(i);
      const remaining = health.coolingUntil - Date.now();
      expect(remaining).toBeGreaterThan(testRouting.cooldownMs[i - 1]! - 200);
      expect(remaining).toBeLessThanOrEqual(testRouting.cooldownMs[i - 1]!);
      await sleep(remaining + 50);
    }
  });

  it('answers 503 CHANNEL_UNAVAILABLE when every channel fails', async () => {
    primary().failNext(500);
    backup().failNext(500);
    const err = await gateway.openai.chat.completions.create(ask).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(503);
    expect(err.code).toBe('channel_unavailable');
    // Both are cooling down now: the next request fails at once, without calling either.
    const calls = primary().requests.length + backup().requests.length;
    const refused = await gateway.openai.chat.completions.create(ask).catch((e) => e);
    expect(refused.status).toBe(503);
    expect(primary().requests.length + backup().requests.length).toBe(calls);
  });

  it('passes an upstream 4xx back to the caller, without failover', async () => {
    primary().failNext(400);
    const before = backup().requests.length;
    const err = await gateway.openai.chat.completions.create(ask).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(backup().requests.length).toBe(before);
    expect((await channelHealth('fake-0')).consecutiveFailures).toBe(0);
  });

  it('ends a stream that breaks after its first bytes with an error event', async () => {
    primary().dropNext(2);
    const stream = await gateway.openai.chat.completions.create({ ...ask, stream: true });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e) => e);
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThan(DEFAULT_REPLY.length);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toMatch(/failed mid-answer/);
  });
});

describe('bookkeeping', () => {
  it('ends each complete answer: none stays in flight, streamed or not', async () => {
    await gateway.openai.chat.completions.create(ask);
    for (const include_usage of [false, true]) {
      const stream = await gateway.openai.chat.completions.create({
        ...ask,
        stream: true,
        stream_options: { include_usage },
      });
      for await (const _ of stream) void _;
    }
    await expect.poll(async () => (await channelHealth('fake-0')).inFlight).toBe(0);
  });
});

describe('abort propagation', () => {
  it('aborts the upstream request when the client goes away mid-stream', async () => {
    primary().configure({ chunkDelayMs: 100 });
    const controller = new AbortController();
    const messages = [{ role: 'user' as const, content: 'abort me while streaming' }];
    const aborted = primary().waitForAbort(5000, (r) => r.body.messages[0].content === messages[0]!.content);
    const stream = await gateway.openai.chat.completions.create(
      { ...ask, messages, stream: true },
      { signal: controller.signal },
    );
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) {
        controller.abort();
        break;
      }
    }
    const request = await aborted;
    expect(request.aborted).toBe(true);
    expect(request.body.stream).toBe(true);
  });

  it('aborts the upstream request when a non-streaming client gives up', async () => {
    primary().configure({ firstTokenDelayMs: 2000 });
    const controller = new AbortController();
    const messages = [{ role: 'user' as const, content: 'abort me while waiting' }];
    const aborted = primary().waitForAbort(5000, (r) => r.body.messages[0].content === messages[0]!.content);
    const pending = gateway.openai.chat.completions
      .create({ ...ask, messages }, { signal: controller.signal })
      .catch((e) => e);
    await sleep(250);
    controller.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect((await aborted).aborted).toBe(true);
  });
});
