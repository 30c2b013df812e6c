import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, type Account } from './helpers/accounts.js';
import { DEFAULT_REPLY, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.js';
import { FAKE_TRANSCRIPT, startFakeSpeech, wavBytes, type FakeSpeech } from './helpers/fake-speech.js';
import { generousLimits, startServer, type TestServer } from './helpers/server.js';
import { FrameClient, type Frame } from './helpers/ws-client.js';

/** The zeebee SDK's client takes frames under 1 MiB, its default limit. */
const SDK_FRAME_BYTES_UNDER = 1024 * 1024;

/** A voice client as the zeebee SDK is one: no headers, no subprotocol, JSON frames. */
const connect = (server: TestServer, query = '') =>
  FrameClient.open(server.url, `/api/ws/voice${query}`, { frameBytesUnder: SDK_FRAME_BYTES_UNDER });

/** The socket still takes frames: a ping gets its pong. */
async function expectAnswering(client: FrameClient) {
  client.send({ type: 'ping' });
  expect(await client.next()).toMatchObject({ type: 'pong' });
}

const sdkInit = (apiKey: string, fields: Record<string, unknown> = {}) => ({
  type: 'init',
  api_key: apiKey,
  user_id: randomUUID(),
  conversation_id: null,
  model: 'gpt-4o',
  client_info: { client_id: randomUUID(), sdk: 'python' },
  ...fields,
});

const sdkAudio = (audio: Buffer, fields: Record<string, unknown> = {}) => ({
  type: 'audio',
  audio_data: audio.toString('base64'),
  conversation_id: null,
  user_id: randomUUID(),
  model: 'gpt-4o',
  stt_provider: 'openai',
  tts_provider: 'openai',
  language_code: 'en-US',
  tts_voice: 'alloy',
  ...fields,
});

const RECORDING = wavBytes(200);
const AUDIO_MAX_BYTES = 256 * 1024;
const REALTIME = { authTimeoutMs: 1500, heartbeatMs: 60_000, maxSocketsPerUser: 3 };

function speechProviders(speech: FakeSpeech) {
  const provider = { name: 'openai', provider: 'openai-compatible', baseUrl: speech.baseUrl, apiKey: 'sk-speech' };
  return { stt: [{ ...provider, displayName: 'OpenAI Whisper' }], tts: [{ ...provider, displayName: 'OpenAI TTS' }] };
}

function llmChannel(upstream: FakeUpstream) {
  return [
    { name: 'fake', provider: 'openai-compatible', baseUrl: `${upstream.url}/v1`, apiKeys: ['sk-llm'], models: ['*'] },
  ];
}

/** The audio of a turn's `audio_chunk` frames, checked to sit between its start and end. */
function audioOf(frames: Frame[]): Buffer {
  const types = frames.map((f) => f.type);
  const start = types.indexOf('audio_stream_start');
  const end = types.indexOf('audio_stream_end');
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  expect(types.slice(start + 1, end).every((t) => t === 'audio_chunk')).toBe(true);
  return Buffer.concat(frames.slice(start + 1, end).map((f) => Buffer.from(f.data as string, 'base64')));
}

let llm: FakeUpstream;
let speech: FakeSpeech;
let server: TestServer;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  [llm, speech] = await Promise.all([startFakeUpstream(), startFakeSpeech({ apiKey: 'sk-speech' })]);
  server = await startServer({
    channels: llmChannel(llm),
    speech: speechProviders(speech),
    'chat.generateTitles': false,
    'files.audioMaxBytes': AUDIO_MAX_BYTES,
    realtime: REALTIME,
  });
  alice = await signUp(server.http);
  bob = await signUp(server.http);
});

afterAll(async () => {
  await server?.close();
  await Promise.all([llm?.close(), speech?.close()]);
});

describe('a spoken turn, as the zeebee SDK takes it', () => {
  it('answers init, then audio sent before the ack: transcript, response, the reply spoken in chunks', async () => {
    const client = await connect(server);
    const endUser = randomUUID();
    // The SDK sends its audio right after init, without waiting for the ack.
    client.send(sdkInit(alice.key, { user_id: endUser }));
    client.send(sdkAudio(RECORDING, { user_id: endUser }));

    expect(await client.next()).toEqual({
      type: 'init_ack',
      status: 'connected',
      user_id: endUser,
      conversation_id: null,
    });
    const frames = await client.until('audio_stream_end');
    expect(frames.map((f) => f.type).filter((t) => t !== 'audio_chunk')).toEqual([
      'transcript',
      'response',
      'audio_stream_start',
      'audio_stream_end',
    ]);
    expect(frames[0]).toEqual({ type: 'transcript', text: FAKE_TRANSCRIPT, detected_language: 'en', confidence: 0.9 });
    const response = frames[1]!;
    expect(response).toMatchObject({ type: 'response', text: DEFAULT_REPLY });
    expect(response.conversation_id).toEqual(expect.any(String));
    expect(frames[2]).toEqual({ type: 'audio_stream_start', mime_type: 'audio/mpeg' });
    expect(audioOf(frames).equals(speech.audioFor(DEFAULT_REPLY))).toBe(true);

    // The providers were asked as OpenAI's API is: the recording as a named file, the language as ISO 639-1.
    const [heard, spoken] = speech.requests.slice(-2);
    expect(heard).toMatchObject({
      path: '/v1/audio/transcriptions',
      fields: { model: 'whisper-1', language: 'en', response_format: 'verbose_json' },
      file: { name: 'audio.wav', type: 'audio/wav' },
    });
    expect(heard!.file!.bytes.equals(RECORDING)).toBe(true);
    expect(spoken).toMatchObject({
      path: '/v1/audio/speech',
      fields: { model: 'tts-1', input: DEFAULT_REPLY, voice: 'alloy', response_format: 'mp3' },
    });

    // The turn is in alice's new conversation, with the end user the SDK named; bob cannot see it.
    const conversation = await server.http.get(`/api/v1/conversations/${response.conversation_id}`, {
      bearer: alice.key,
    });
    expect(conversation.status).toBe(200);
    const messages = await server.http.get(`/api/v1/conversations/${response.conversation_id}/messages`, {
      bearer: alice.key,
    });
    expect(messages.body.items.map((m: any) => [m.role, m.content])).toEqual([
      ['user', FAKE_TRANSCRIPT],
      ['assistant', DEFAULT_REPLY],
    ]);
    const foreign = await server.http.get(`/api/v1/conversations/${response.conversation_id}`, { bearer: bob.key });
    expect(foreign.status).toBe(404);
    client.close();
  });

  it('keeps talking in the conversation it started, or the one init or the frame names', async () => {
    const client = await connect(server);
    client.send(sdkInit(alice.key));
    client.send(sdkAudio(RECORDING));
    await client.next();
    const first = (await client.until('audio_stream_end')).find((f) => f.type === 'response')!;
    client.send(sdkAudio(RECORDING));
    const second = (await client.until('audio_stream_end')).find((f) => f.type === 'response')!;
    expect(second.conversation_id).toBe(first.conversation_id);
    const messages = await server.http.get(`/api/v1/conversations/${first.conversation_id}/messages`, {
      bearer: alice.key,
    });
    expect(messages.body.items).toHaveLength(4);
    client.close();

    // A new socket picks the conversation up from init.
    const again = await connect(server);
    again.send(sdkInit(alice.key, { conversation_id: first.conversation_id }));
    expect(await again.next()).toMatchObject({ type: 'init_ack', conversation_id: first.conversation_id });
    again.send(sdkAudio(RECORDING));
    const third = (await again.until('audio_stream_end')).find((f) => f.type === 'response')!;
    expect(third.conversation_id).toBe(first.conversation_id);
    again.close();
  });

  it('splits long audio into chunks under 1 MiB a frame, and speaks a long reply in several calls', async () => {
    const reply = `${'This sentence is part of a long reply. '.repeat(8)}The end.`;
    llm.configure({ reply, chunkSize: 50 });
    speech.configure({ speechBytes: 600 * 1024 });
    const longReplyServer = await startServer({
      channels: llmChannel(llm),
      speech: { ...speechProviders(speech), tts: [{ ...speechProviders(speech).tts[0], maxInputChars: 100 }] },
      'chat.generateTitles': false,
    });
    try {
      const user = await signUp(longReplyServer.http);
      const client = await connect(longReplyServer);
      client.send(sdkInit(user.key));
      client.send(sdkAudio(RECORDING));
      await client.next();
      const before = speech.requests.length;
      const frames = await client.until('audio_stream_end');
      expect(frames.find((f) => f.type === 'response')!.text).toBe(reply);
      const calls = speech.requests.slice(before).filter((r) => r.path === '/v1/audio/speech');
      const pieces = calls.map((r) => r.fields.input as string);
      expect(pieces.length).toBeGreaterThan(1);
      expect(pieces.every((p) => p.length <= 100)).toBe(true);
      expect(pieces.join(' ')).toBe(reply);
      const chunks = frames.filter((f) => f.type === 'audio_chunk');
      expect(chunks.length).toBeGreaterThan(pieces.length);
      expect(audioOf(frames).equals(Buffer.concat(pieces.map((p) => speech.audioFor(p))))).toBe(true);
      client.close();
    } finally {
      llm.configure({ reply: DEFAULT_REPLY, chunkSize: 4 });
      speech.configure({ speechBytes: 1000 });
      await longReplyServer.close();
    }
  });

  it('answers ping with pong, before and after init', async () => {
    const client = await connect(server);
    client.send({ type: 'ping', timestamp: Date.now() / 1000, client_id: randomUUID() });
    expect(await client.next()).toMatchObject({ type: 'pong' });
    client.send(sdkInit(alice.key));
    expect(await client.next()).toMatchObject({ type: 'init_ack' });
    client.send({ type: 'ping', timestamp: Date.now() / 1000 });
    expect(await client.next()).toMatchObject({ type: 'pong' });
    client.close();
  });

  it('takes the key from ?api_key= when init has none', async () => {
    const client = await connect(server, `?api_key=${alice.key}`);
    client.send({ type: 'init', user_id: null, conversation_id: null });
    expect(await client.next()).toMatchObject({ type: 'init_ack', status: 'connected' });
    client.close();
  });

  it('answers a plain GET of its path with 426 in the zeebee error format', async () => {
    const res = await server.http.get('/api/ws/voice');
    expect(res.status).toBe(426);
    expect(res.body).toEqual({ error: expect.any(String), code: 'UPGRADE_REQUIRED' });
  });
});

describe('refusals', () => {
  it('refuses a bad api_key with an error frame, then closes 4401 without answering what followed', async () => {
    const client = await connect(server);
    client.send(sdkInit('pk_not_a_real_key'));
    client.send(sdkAudio(RECORDING));
    expect(await client.next()).toMatchObject({ type: 'error', message: expect.any(String), code: 'UNAUTHORIZED' });
    expect((await client.closed).code).toBe(4401);
    expect(client.frames).toHaveLength(1);

    const keyless = await connect(server);
    keyless.send({ type: 'init' });
    expect(await keyless.next()).toMatchObject({ type: 'error', code: 'UNAUTHORIZED' });
    expect((await keyless.closed).code).toBe(4401);
  });

  it('refuses audio before init, and closes a socket that never sends init with 4408', async () => {
    const client = await connect(server);
    const before = speech.requests.length;
    client.send(sdkAudio(RECORDING));
    expect(await client.next()).toMatchObject({
      type: 'error',
      code: 'UNAUTHORIZED',
      message: expect.stringMatching(/init/),
    });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'UNAUTHORIZED' });
    expect((await client.closed).code).toBe(4408);
    expect(speech.requests.length).toBe(before);
  });

  it('answers garbage with error frames and keeps the socket open, calling no provider', async () => {
    const client = await connect(server);
    client.send(sdkInit(alice.key));
    await client.next();
    const before = speech.requests.length;
    const conversations = (await server.http.get('/api/v1/conversations', { bearer: alice.key })).body;
    const garbage: (string | Buffer)[] = [
      'not json',
      '[1,2]',
      JSON.stringify({ type: 'dance' }),
      JSON.stringify({ type: 'audio' }),
      JSON.stringify({ type: 'audio', audio_data: 42 }),
      JSON.stringify(sdkAudio(RECORDING, { language_code: 12 })),
      JSON.stringify({ type: 'audio', audio_data: 'not base64!' }),
      JSON.stringify({ type: 'audio', audio_data: '' }),
      JSON.stringify(sdkAudio(Buffer.from('plain text is not a recording'))),
      JSON.stringify(sdkAudio(RECORDING, { language_code: 'not a language' })),
      JSON.stringify(sdkAudio(RECORDING, { stt_provider: 'nobody' })),
      Buffer.from([1, 2, 3]),
    ];
    for (const frame of garbage) {
      client.send(frame);
      const answer = await client.next();
      expect(answer).toMatchObject({ type: 'error', message: expect.any(String), code: 'VALIDATION_ERROR' });
    }
    await expectAnswering(client);
    expect(speech.requests.length).toBe(before);
    // Nothing was written.
    expect((await server.http.get('/api/v1/conversations', { bearer: alice.key })).body).toEqual(conversations);
    client.close();
  });

  it('refuses audio over files.audioMaxBytes with an error, and a frame over the frame limit with 1009', async () => {
    const client = await connect(server);
    client.send(sdkInit(alice.key));
    await client.next();
    const oversize = Buffer.concat([RECORDING, Buffer.alloc(AUDIO_MAX_BYTES)]);
    client.send(sdkAudio(oversize));
    expect(await client.next()).toMatchObject({ type: 'error', code: 'PAYLOAD_TOO_LARGE' });
    await expectAnswering(client);
    client.send(sdkAudio(Buffer.alloc(AUDIO_MAX_BYTES * 2)));
    expect((await client.closed).code).toBe(1009);
  });

  it("never talks in another user's conversation, and writes nothing there", async () => {
    const owner = await connect(server);
    owner.send(sdkInit(alice.key));
    owner.send(sdkAudio(RECORDING));
    await owner.next();
    const { conversation_id: conversationId } = (await owner.until('audio_stream_end')).find(
      (f) => f.type === 'response',
    )!;
    owner.close();

    const intruder = await connect(server);
    intruder.send(sdkInit(bob.key, { conversation_id: conversationId }));
    intruder.send(sdkAudio(RECORDING));
    intruder.send(sdkAudio(RECORDING, { conversation_id: conversationId }));
    expect(await intruder.next()).toMatchObject({ type: 'init_ack' });
    for (let i = 0; i < 2; i++) {
      const frames = await intruder.until('error');
      expect(frames.at(-1)).toMatchObject({ code: 'NOT_FOUND' });
      expect(frames.some((f) => f.type === 'response')).toBe(false);
    }
    const messages = await server.http.get(`/api/v1/conversations/${conversationId}/messages`, { bearer: alice.key });
    expect(messages.body.items).toHaveLength(2);
    intruder.close();
  });

  it('tells of a failing provider with an error frame and goes on', async () => {
    const client = await connect(server);
    client.send(sdkInit(alice.key));
    await client.next();
    speech.failNext(500);
    client.send(sdkAudio(RECORDING));
    expect(await client.next()).toMatchObject({
      type: 'error',
      code: 'SPEECH_UNAVAILABLE',
      message: expect.stringContaining("'openai'"),
    });
    client.send(sdkAudio(RECORDING));
    const frames = await client.until('audio_stream_end');
    expect(frames[0]).toMatchObject({ type: 'transcript' });

    // Audio that never comes ends in an error too, or the client would wait for it.
    speech.configure({ speechBytes: 0 });
    try {
      client.send(sdkAudio(RECORDING));
      const empty = await client.until('error');
      expect(empty.map((f) => f.type)).toEqual([
        'transcript',
        'response',
        'audio_stream_start',
        'audio_stream_end',
        'error',
      ]);
      expect(empty.at(-1)).toMatchObject({ code: 'SPEECH_UNAVAILABLE', message: expect.stringMatching(/no audio/) });
    } finally {
      speech.configure({ speechBytes: 1000 });
    }
    client.close();
  });

  it('closes a socket whose key was revoked at its next audio', async () => {
    const user = await signUp(server.http);
    const client = await connect(server);
    client.send(sdkInit(user.key));
    await client.next();
    const keys = await server.http.get('/api/v1/keys', { cookie: user.cookie });
    for (const key of keys.body.items ?? keys.body) {
      expect((await server.http.delete(`/api/v1/keys/${key.id}`, { cookie: user.cookie })).status).toBe(204);
    }
    client.send(sdkAudio(RECORDING));
    expect(await client.next()).toMatchObject({ type: 'error', code: 'UNAUTHORIZED' });
    expect((await client.closed).code).toBe(4401);
  });

  it('holds at most realtime.maxSocketsPerUser sockets per user', async () => {
    const user = await signUp(server.http);
    const open: FrameClient[] = [];
    for (let i = 0; i < REALTIME.maxSocketsPerUser; i++) {
      const client = await connect(server);
      client.send(sdkInit(user.key));
      expect(await client.next()).toMatchObject({ type: 'init_ack' });
      open.push(client);
    }
    const extra = await connect(server);
    extra.send(sdkInit(user.key));
    expect(await extra.next()).toMatchObject({ type: 'error', code: 'RATE_LIMITED' });
    expect((await extra.closed).code).toBe(4429);
    // A socket that goes frees its place.
    open.pop()!.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const replacement = await connect(server);
    replacement.send(sdkInit(user.key));
    expect(await replacement.next()).toMatchObject({ type: 'init_ack' });
    for (const client of [...open, replacement]) client.close();
  });

  it('drops frames beyond 20 a second, telling once', async () => {
    const client = await connect(server);
    for (let i = 0; i < 25; i++) client.send({ type: 'ping' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(client.of('pong')).toHaveLength(20);
    expect(client.of('error')).toEqual([expect.objectContaining({ code: 'RATE_LIMITED' })]);
    client.close();
  });
});

describe('limited deployments', () => {
  it('without speech providers, says speech is unavailable and keeps the socket open', async () => {
    const bare = await startServer({ channels: llmChannel(llm) });
    try {
      const user = await signUp(bare.http);
      const client = await connect(bare);
      client.send(sdkInit(user.key));
      client.send(sdkAudio(RECORDING));
      expect(await client.next()).toMatchObject({ type: 'init_ack' });
      expect(await client.next()).toEqual({
        type: 'error',
        code: 'SPEECH_UNAVAILABLE',
        message: 'Speech recognition is unavailable: no speech-to-text provider is configured',
      });
      await expectAnswering(client);
      client.close();
    } finally {
      await bare.close();
    }
  });

  it('without a speech synthesis provider, answers in text then says so; counts each audio frame against the quota', async () => {
    const perMinute = 4;
    const sttOnly = await startServer({
      channels: llmChannel(llm),
      speech: { stt: speechProviders(speech).stt },
      'chat.generateTitles': false,
      tiers: {
        ...generousLimits.tiers,
        free: { requestsPerMinute: perMinute, requestsPerDay: 1000, features: [], models: ['*'] },
      },
    });
    try {
      const user = await signUp(sttOnly.http);
      const client = await connect(sttOnly);
      client.send(sdkInit(user.key));
      expect(await client.next()).toMatchObject({ type: 'init_ack' });
      let turns = 0;
      for (;;) {
        client.send(sdkAudio(RECORDING));
        const first = await client.next();
        if (first.type === 'error' && first.code === 'RATE_LIMITED') break;
        turns++;
        const frames = [first, ...(await client.until('error'))];
        expect(frames.map((f) => f.type)).toEqual(['transcript', 'response', 'error']);
        expect(frames[2]).toMatchObject({
          code: 'SPEECH_UNAVAILABLE',
          message: 'Speech synthesis is unavailable: no text-to-speech provider is configured',
        });
      }
      // The minute's requests: the key's creation, init, then one per audio frame.
      expect(turns).toBe(perMinute - 2);
      // Over quota, the socket stays open.
      await expectAnswering(client);
      client.close();
    } finally {
      await sttOnly.close();
    }
  });

  it('closes voice sockets with 1001 when the server shuts down', async () => {
    const closing = await startServer({ channels: llmChannel(llm) });
    const user = await signUp(closing.http);
    const client = await connect(closing);
    client.send(sdkInit(user.key));
    await client.next();
    await closing.close();
    expect((await client.closed).code).toBe(1001);
  });
});
