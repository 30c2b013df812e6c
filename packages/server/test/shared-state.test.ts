import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SharedState, StreamEvent } from '../src/core/shared-state.js';
import { createMemorySharedState } from '../src/shared-state/memory/index.js';
import { createRedisSharedState } from '../src/shared-state/redis/index.js';
import { TEST_REDIS_URL, redisAvailable, uniqueSuffix } from './helpers/env.js';

const hasRedis = await redisAvailable();

/** One contract, both implementations: whatever holds in memory must hold on Redis. */
const implementations: [string, () => Promise<SharedState>, boolean][] = [
  ['memory', async () => createMemorySharedState(), true],
  [
    'redis',
    () => createRedisSharedState({ url: TEST_REDIS_URL, keyPrefix: `parley-test:${uniqueSuffix()}:` }),
    hasRedis,
  ],
];

const nextMessage = (state: SharedState, topic: string) =>
  new Promise<unknown>((resolve) => {
    void state.bus.subscribe(topic, resolve);
  });

describe.each(implementations)('%s shared state', (_name, create, available) => {
  let state: SharedState;
  beforeAll(async () => {
    if (available) state = await create();
  });
  afterAll(() => state?.close());

  describe.skipIf(!available)('contract', () => {
    it('answers ping', async () => {
      await expect(state.ping()).resolves.toBeUndefined();
    });

    it('delivers published messages to every subscriber of the topic, as copies', async () => {
      const received: unknown[] = [];
      const off = await state.bus.subscribe('t1', (m) => received.push(m));
      const other = nextMessage(state, 't1');
      const message = { event: 'message.created', n: 1 };
      await state.bus.publish('t1', message);
      await state.bus.publish('t2', { wrong: 'topic' });
      expect(await other).toEqual(message);
      await expect.poll(() => received).toEqual([message]);
      expect(received[0]).not.toBe(message);
      await off();
      await state.bus.publish('t1', { after: 'unsubscribe' });
      await new Promise((r) => setTimeout(r, 50));
      expect(received).toHaveLength(1);
    });

    it('stores JSON values with expiry', async () => {
      await state.kv.set('a', { x: [1, 2] });
      expect(await state.kv.get('a')).toEqual({ x: [1, 2] });
      await state.kv.set('short', 'v', 60);
      expect(await state.kv.get('short')).toBe('v');
      await new Promise((r) => setTimeout(r, 120));
      expect(await state.kv.get('short')).toBeUndefined();
      await state.kv.delete('a');
      expect(await state.kv.get('a')).toBeUndefined();
    });

    it('counts hits in a window and refuses past the limit', async () => {
      const rule = { key: `r-${uniqueSuffix()}`, limit: 3, windowMs: 60_000 };
      const states = [];
      for (let i = 0; i < 4; i++) states.push(await state.limiter.consume([rule]));
      expect(states.map((s) => [s.allowed, s.remaining])).toEqual([
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
      ]);
      expect(states[3]!.resetMs).toBeGreaterThan(59_000);
      expect(states[3]!.resetMs).toBeLessThanOrEqual(60_000);
    });

    it('consumes several rules atomically: a refusal counts against none of them', async () => {
      const minute = { key: `m-${uniqueSuffix()}`, limit: 2, windowMs: 60_000 };
      const day = { key: `d-${uniqueSuffix()}`, limit: 10, windowMs: 86_400_000 };
      await state.limiter.consume([minute, day]);
      const second = await state.limiter.consume([minute, day]);
      expect(second).toMatchObject({ allowed: true, limit: 2, remaining: 0 });
      for (let i = 0; i < 5; i++) expect((await state.limiter.consume([minute, day])).allowed).toBe(false);
      await state.limiter.reset(minute.key);
      // The day counter saw only the two allowed hits, not the five refused ones.
      expect(await state.limiter.consume([minute, day])).toMatchObject({ allowed: true, limit: 2, remaining: 1 });
      expect(await state.limiter.consume([{ ...day, limit: 4 }])).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('starts a new window after the old one expires', async () => {
      const rule = { key: `w-${uniqueSuffix()}`, limit: 1, windowMs: 80 };
      expect((await state.limiter.consume([rule])).allowed).toBe(true);
      expect((await state.limiter.consume([rule])).allowed).toBe(false);
      await new Promise((r) => setTimeout(r, 120));
      expect((await state.limiter.consume([rule])).allowed).toBe(true);
    });

    it('never overshoots under concurrent hits', async () => {
      const rule = { key: `c-${uniqueSuffix()}`, limit: 25, windowMs: 60_000 };
      const results = await Promise.all(Array.from({ length: 60 }, () => state.limiter.consume([rule])));
      expect(results.filter((r) => r.allowed)).toHaveLength(25);
    });

    it('replays a stream from any point, then follows it live to its end, each delta once', async () => {
      const id = `s-${uniqueSuffix()}`;
      expect(await state.streams.text(id)).toBeUndefined();
      state.streams.append(id, 1, 'a');
      state.streams.append(id, 2, 'b');
      const events: StreamEvent[] = [];
      const ended = new Promise<void>((resolve) => {
        void state.streams.follow(id, 1, (event) => {
          events.push(event);
          if (event.type === 'end') resolve();
        });
      });
      // Written while the follower attaches, and after.
      state.streams.append(id, 3, 'c');
      await new Promise((r) => setTimeout(r, 20));
      state.streams.append(id, 4, 'd');
      state.streams.end(id, { status: 'complete' });
      await ended;
      expect(events).toEqual([
        { type: 'delta', seq: 2, text: 'b' },
        { type: 'delta', seq: 3, text: 'c' },
        { type: 'delta', seq: 4, text: 'd' },
        { type: 'end', status: 'complete' },
      ]);
      expect(await state.streams.text(id)).toBe('abcd');

      // An ended stream replays whole, its end included.
      const replay: StreamEvent[] = [];
      await new Promise<void>((resolve) => {
        void state.streams.follow(id, 0, (event) => {
          replay.push(event);
          if (event.type === 'end') resolve();
        });
      });
      expect(replay.map((e) => (e.type === 'delta' ? e.text : e.type))).toEqual(['a', 'b', 'c', 'd', 'end']);
    });

    it('stops delivering to a follower that stops following', async () => {
      const id = `s-${uniqueSuffix()}`;
      const seen: StreamEvent[] = [];
      const stop = await state.streams.follow(id, 0, (event) => seen.push(event));
      state.streams.append(id, 1, 'x');
      await new Promise((r) => setTimeout(r, 20));
      stop();
      state.streams.append(id, 2, 'y');
      state.streams.end(id, { status: 'error', error: { code: 'MODEL_ERROR', message: 'broke' } });
      await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual([{ type: 'delta', seq: 1, text: 'x' }]);
    });
  });
});

describe('redis shared state', () => {
  it('reports an unreachable Redis with a clear error', async () => {
    await expect(createRedisSharedState({ url: 'redis://127.0.0.1:1', keyPrefix: 'x:' })).rejects.toThrow(
      /Cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/,
    );
  });
});
