import { afterAll, beforeAll, expect, it } from 'vitest';
import { signUp } from './helpers/accounts.js';
import { REDIS_URL, isolatedStores, type Isolated } from './helpers/env.js';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { HttpClient } from './helpers/http.js';
import { sharedStoresEnv, startServerProcess, type ServerProcess } from './helpers/processes.js';
import { generousLimits } from './helpers/server.js';
import { allEvents, openEventStream } from './helpers/sse.js';

const REPLY = 'Once upon a time there was a little server that never lost a word. '.repeat(6);

let stores: Isolated;
let upstream: FakeUpstream;
let env: Record<string, string>;
let server: ServerProcess | undefined;

beforeAll(async () => {
  stores = await isolatedStores();
  upstream = await startFakeUpstream({ reply: REPLY, chunkSize: 2, chunkDelayMs: 15 });
  env = sharedStoresEnv(
    stores,
    {
      ...generousLimits,
      channels: [
        { name: 'fake', provider: 'openai-compatible', baseUrl: `${upstream.url}/v1`, models: ['fake-model'] },
      ],
      chat: { generateTitles: false, saveIntervalMs: 100, streamLeaseMs: 1000 },
    },
    REDIS_URL,
  );
});
afterAll(async () => {
  await server?.stop('SIGKILL');
  await upstream?.close();
  await stores?.cleanup();
});

it('keeps the partial reply of a server killed mid-stream, marked as an error, after a restart', async () => {
  server = await startServerProcess(env, stores.dataDir);
  const http = new HttpClient(server.url);
  const account = await signUp(http);
  const created = await http.post('/api/v1/conversations', {}, { bearer: account.key });
  const stream = await openEventStream(`${server.url}/api/v1/conversations/${created.body.conversation.id}/messages`, {
    method: 'POST',
    bearer: account.key,
    body: { content: 'Tell me a long story' },
  });
  let replyId = '';
  let received = '';
  let deltas = 0;
  while (deltas < 20) {
    const { value: event } = await stream.events.next();
    if (event.event === 'message' && event.data.role === 'assistant') replyId = event.data.id;
    if (event.event === 'delta') {
      received += event.data.text;
      deltas++;
    }
  }
  // Long enough for a save of what was received; far shorter than the whole reply.
  await new Promise((r) => setTimeout(r, 300));
  await server.stop('SIGKILL');
  stream.disconnect();

  server = await startServerProcess(env, stores.dataDir);
  const restarted = new HttpClient(server.url);
  let message: any;
  for (let i = 0; i < 100; i++) {
    message = (await restarted.get(`/api/v1/messages/${replyId}`, { bearer: account.key })).body.message;
    if (message.status !== 'streaming') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(message.status).toBe('error');
  expect(message.error.code).toBe('INTERRUPTED');
  expect(message.content.startsWith(received)).toBe(true);
  expect(REPLY.startsWith(message.content)).toBe(true);
  expect(message.content.length).toBeLessThan(REPLY.length);

  // Re-attaching to it replays what was kept, then the error.
  const replay = await allEvents(
    await openEventStream(`${server.url}/api/v1/messages/${replyId}/stream`, { bearer: account.key }),
  );
  expect(
    replay
      .filter((e) => e.event === 'delta')
      .map((e) => e.data.text)
      .join(''),
  ).toBe(message.content);
  expect(replay.at(-1)).toMatchObject({ event: 'error', data: { error: { code: 'INTERRUPTED' } } });
}, 30_000);
