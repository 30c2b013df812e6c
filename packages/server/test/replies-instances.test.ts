import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { TEST_REDIS_URL, isolatedStores, redisAvailable, type Isolated } from './helpers/env.js';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { HttpClient } from './helpers/http.js';
import { sharedStoresEnv, startServerProcess, type ServerProcess } from './helpers/processes.js';
import { generousLimits } from './helpers/server.js';
import { allEvents, openEventStream } from './helpers/sse.js';

const hasRedis = await redisAvailable();
const REPLY = 'The quick brown fox jumps over the lazy dog. '.repeat(4);

/** Two `parley serve` processes on one database and one Redis: a reply belongs to no single instance. */
describe.skipIf(!hasRedis)('replies across instances', () => {
  let stores: Isolated;
  let upstream: FakeUpstream;
  let a: ServerProcess;
  let b: ServerProcess;
  let account: Account;

  beforeAll(async () => {
    stores = await isolatedStores();
    upstream = await startFakeUpstream({ reply: REPLY, chunkSize: 3, chunkDelayMs: 20 });
    const env = sharedStoresEnv(
      stores,
      {
        ...generousLimits,
        channels: [
          { name: 'fake', provider: 'openai-compatible', baseUrl: `${upstream.url}/v1`, models: ['fake-model'] },
        ],
        chat: { generateTitles: false },
      },
      TEST_REDIS_URL,
    );
    a = await startServerProcess(env, stores.dataDir);
    b = await startServerProcess(env, stores.dataDir);
    account = await signUp(new HttpClient(a.url));
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await upstream?.close();
    await stores?.cleanup();
  });

  async function startReply(on: ServerProcess) {
    const created = await new HttpClient(on.url).post('/api/v1/conversations', {}, { bearer: account.key });
    const stream = await openEventStream(`${on.url}/api/v1/conversations/${created.body.conversation.id}/messages`, {
      method: 'POST',
      bearer: account.key,
      body: { content: 'Go' },
    });
    let replyId = '';
    const seen: { seq: number; text: string }[] = [];
    while (seen.length < 4) {
      const { value: event } = await stream.events.next();
      if (event.event === 'message' && event.data.role === 'assistant') replyId = event.data.id;
      if (event.event === 'delta') seen.push(event.data);
    }
    return { stream, replyId, seen };
  }

  it('re-attaches on the other instance and receives every delta exactly once', async () => {
    const { stream, replyId, seen } = await startReply(a);
    stream.disconnect();
    const resumed = await allEvents(
      await openEventStream(`${b.url}/api/v1/messages/${replyId}/stream`, {
        bearer: account.key,
        headers: { 'last-event-id': String(seen.at(-1)!.seq) },
      }),
    );
    const all = [...seen, ...resumed.filter((e) => e.event === 'delta').map((e) => e.data)];
    expect(all.map((d) => d.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all.map((d) => d.text).join('')).toBe(REPLY);
    expect(resumed.at(-1)).toMatchObject({ event: 'completed', data: { message: { id: replyId, content: REPLY } } });
  });

  it('stops, through the other instance, a reply generated on the first', async () => {
    const { stream, replyId } = await startReply(a);
    const aborted = upstream.waitForAbort(5000);
    const stopped = await new HttpClient(b.url).post(`/api/v1/messages/${replyId}/stop`, undefined, {
      bearer: account.key,
    });
    expect(stopped.status).toBe(200);
    expect(stopped.body.message.status).toBe('cancelled');
    await aborted;
    const rest = await allEvents(stream);
    expect(rest.at(-1)).toMatchObject({ event: 'completed', data: { message: { status: 'cancelled' } } });
  });
});
