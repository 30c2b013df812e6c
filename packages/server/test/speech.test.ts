import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskSecrets, loadConfig } from '../src/config/load.js';
import { splitForSpeech } from '../src/core/speech.js';
import { signUp, type Account } from './helpers/accounts.js';
import { FAKE_TRANSCRIPT, startFakeSpeech, wavBytes, type FakeSpeech } from './helpers/fake-speech.js';
import { isolatedStores } from './helpers/env.js';
import { startServer, type TestServer } from './helpers/server.js';

const AUDIO_MAX_BYTES = 64 * 1024;
const RECORDING = wavBytes(100);

let speech: FakeSpeech;
let server: TestServer;
let alice: Account;

function providers(fields: Record<string, unknown> = {}) {
  const provider = { provider: 'openai-compatible', baseUrl: speech.baseUrl, apiKey: 'sk-speech', ...fields };
  return {
    stt: [
      { ...provider, name: 'openai', displayName: 'OpenAI Whisper', timeoutMs: 500 },
      { ...provider, name: 'local', responseFormat: 'json' },
    ],
    tts: [
      {
        ...provider,
        name: 'openai',
        displayName: 'OpenAI TTS',
        voices: [
          { id: 'alloy', gender: 'neutral' },
          { id: 'nova', name: 'Nova', gender: 'female' },
        ],
      },
    ],
  };
}

beforeAll(async () => {
  speech = await startFakeSpeech({ apiKey: 'sk-speech' });
  server = await startServer({ speech: providers(), 'files.audioMaxBytes': AUDIO_MAX_BYTES });
  alice = await signUp(server.http);
});

afterAll(async () => {
  await server?.close();
  await speech?.close();
});

/** `POST /api/transcribe` as a browser or `requests` sends it: multipart, the key in X-API-Key. */
async function transcribe(
  parts: [name: string, value: string | Buffer, filename?: string][],
  target: TestServer = server,
  key = alice.key,
) {
  const form = new FormData();
  for (const [name, value, filename] of parts) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new Blob([value]), filename ?? 'recording');
  }
  const res = await fetch(`${target.url}/api/transcribe`, {
    method: 'POST',
    headers: { 'x-api-key': key },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('GET /api/speech/providers', () => {
  it('lists the speech-to-text providers by name, for a caller with a key', async () => {
    const res = await server.http.get('/api/speech/providers', { headers: { 'x-api-key': alice.key } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ providers: { openai: 'OpenAI Whisper', local: 'local' } });
  });

  it('refuses a caller without a key in the zeebee error format', async () => {
    const res = await server.http.get('/api/speech/providers');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: expect.any(String), code: 'UNAUTHORIZED' });
  });
});

describe('POST /api/transcribe', () => {
  it('transcribes a recording, whichever order the fields come in', async () => {
    for (const parts of [
      [
        ['audio', RECORDING, 'hello.wav'],
        ['provider', 'openai'],
        ['language_code', 'en-US'],
      ],
      [
        ['language_code', 'en'],
        ['provider', 'openai'],
        ['audio', RECORDING],
      ],
    ] as [string, string | Buffer, string?][][]) {
      const res = await transcribe(parts);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ text: FAKE_TRANSCRIPT, detected_language: 'en', confidence: 0.9 });
      const sent = speech.requests.at(-1)!;
      expect(sent.headers.authorization).toBe('Bearer sk-speech');
      expect(sent.fields).toMatchObject({ model: 'whisper-1', language: 'en', response_format: 'verbose_json' });
      expect(sent.file).toMatchObject({ name: 'audio.wav', type: 'audio/wav' });
    }
  });

  it('uses the first provider without one, and another by name', async () => {
    speech.configure({ heardLanguage: 'german' });
    try {
      const first = await transcribe([['audio', RECORDING]]);
      expect(first.body).toEqual({ text: FAKE_TRANSCRIPT, detected_language: 'de', confidence: 0.9 });
      expect(speech.requests.at(-1)!.fields.language).toBeUndefined();
      // `json` answers carry no language or confidence: the language asked for stands in.
      const local = await transcribe([
        ['audio', RECORDING],
        ['provider', 'local'],
        ['language_code', 'fr'],
      ]);
      expect(local.body).toEqual({ text: FAKE_TRANSCRIPT, detected_language: 'fr', confidence: null });
      expect(speech.requests.at(-1)!.fields.response_format).toBe('json');
    } finally {
      speech.configure({ heardLanguage: 'english' });
    }
  });

  it('refuses bad input with a 4xx in the zeebee format, calling no provider', async () => {
    const before = speech.requests.length;
    const cases: [parts: [string, string | Buffer, string?][], status: number, code: string][] = [
      [[['provider', 'openai']], 400, 'VALIDATION_ERROR'],
      [[['audio', 'text, not a file']], 400, 'VALIDATION_ERROR'],
      [[['file', RECORDING]], 400, 'VALIDATION_ERROR'],
      [[['audio', Buffer.from('not a recording at all')]], 400, 'VALIDATION_ERROR'],
      [[['audio', Buffer.alloc(0)]], 400, 'VALIDATION_ERROR'],
      [
        [
          ['audio', RECORDING],
          ['provider', 'nobody'],
        ],
        400,
        'VALIDATION_ERROR',
      ],
      [
        [
          ['audio', RECORDING],
          ['language_code', 'english please'],
        ],
        400,
        'VALIDATION_ERROR',
      ],
      [
        [
          ['audio', RECORDING],
          ['audio', RECORDING],
        ],
        400,
        'VALIDATION_ERROR',
      ],
      [[['audio', Buffer.concat([RECORDING, Buffer.alloc(AUDIO_MAX_BYTES)])]], 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [parts, status, code] of cases) {
      const res = await transcribe(parts);
      expect({ parts: parts.map((p) => p[0]), status: res.status }).toEqual({ parts: parts.map((p) => p[0]), status });
      expect(res.body).toMatchObject({ error: expect.any(String), code });
    }
    const json = await server.http.post(
      '/api/transcribe',
      { audio: RECORDING.toString('base64') },
      {
        headers: { 'x-api-key': alice.key },
      },
    );
    expect(json.status).toBe(415);
    expect(json.body).toMatchObject({ error: expect.stringContaining('multipart'), code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(speech.requests.length).toBe(before);
    // The connection is still usable after a refusal mid-body.
    expect((await transcribe([['audio', RECORDING]])).status).toBe(200);
  });

  it('answers 503 when the provider fails or does not answer in time, and 400 when it refuses the audio', async () => {
    speech.failNext(500);
    const failed = await transcribe([['audio', RECORDING]]);
    expect(failed).toEqual({
      status: 503,
      body: {
        error: "The speech provider 'openai' failed (HTTP 500)",
        code: 'SPEECH_UNAVAILABLE',
        details: { provider: 'openai', status: 500 },
      },
    });
    speech.failNext(401);
    expect((await transcribe([['audio', RECORDING]])).status).toBe(503);
    speech.failNext(400);
    const refused = await transcribe([['audio', RECORDING]]);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/refused the request: Failing on purpose with 400/);

    speech.configure({ delayMs: 1000 });
    try {
      const slow = await transcribe([['audio', RECORDING]]);
      expect(slow.status).toBe(503);
      expect(slow.body.error).toBe("The speech provider 'openai' did not answer within 500 ms");
    } finally {
      speech.configure({ delayMs: 0 });
    }
  });

  it('answers 503 SPEECH_UNAVAILABLE, not a 500, on a server without speech providers', async () => {
    const bare = await startServer();
    try {
      const user = await signUp(bare.http);
      const res = await transcribe(
        [
          ['audio', RECORDING],
          ['provider', 'openai'],
          ['language_code', 'en'],
        ],
        bare,
        user.key,
      );
      expect(res).toEqual({
        status: 503,
        body: {
          error: 'Speech recognition is unavailable: no speech-to-text provider is configured',
          code: 'SPEECH_UNAVAILABLE',
        },
      });
      const listed = await bare.http.get('/api/speech/providers', { bearer: user.key });
      expect(listed.body).toEqual({ providers: {} });
      const ws = await bare.http.get('/api/websocket/config', { bearer: user.key });
      expect(ws.body).toMatchObject({
        tts: { providers: {}, voices: [] },
        stt: { providers: {} },
        defaults: { tts_provider: null, stt_provider: null, language: 'en' },
      });
    } finally {
      await bare.close();
    }
  });
});

describe('GET /api/websocket/config', () => {
  it("names Parley's own voice WebSocket as the caller reached it, with the providers, voices and languages", async () => {
    const res = await server.http.get('/api/websocket/config', { headers: { 'x-api-key': alice.key } });
    expect(res.status).toBe(200);
    const port = Number(new URL(server.url).port);
    expect(res.body).toEqual({
      websocket: { url: `ws://127.0.0.1:${port}/api/ws/voice`, port, path: '/api/ws/voice' },
      tts: {
        providers: { openai: 'OpenAI TTS' },
        voices: [
          { provider: 'openai', id: 'alloy', name: 'Alloy', gender: 'neutral' },
          { provider: 'openai', id: 'nova', name: 'Nova', gender: 'female' },
        ],
      },
      stt: { providers: { openai: 'OpenAI Whisper', local: 'local' } },
      languages: expect.arrayContaining([
        { code: 'en', name: 'English' },
        { code: 'es', name: 'Spanish' },
      ]),
      defaults: { tts_provider: 'openai', stt_provider: 'openai', openai_voice: 'alloy', language: 'en' },
    });
  });

  it('follows the configured WebSocket path', async () => {
    const moved = await startServer({ 'surfaces.zeebee.websocket': '/voice/socket', speech: { languages: ['de'] } });
    try {
      const user = await signUp(moved.http);
      const res = await moved.http.get('/api/websocket/config', { bearer: user.key });
      expect(res.body.websocket.url).toBe(`${moved.url.replace('http', 'ws')}/voice/socket`);
      expect(res.body.languages).toEqual([{ code: 'de', name: 'German' }]);
      expect((await moved.http.get('/voice/socket')).status).toBe(426);
    } finally {
      await moved.close();
    }
  });
});

describe('speech configuration', () => {
  const configWith = (speechConfig: unknown) => loadConfig({ env: {}, overrides: { speech: speechConfig } });

  it('fills in OpenAI defaults, and masks provider keys when printed', () => {
    const config = configWith({ stt: [{ apiKey: 'sk-secret' }], tts: [{ apiKey: 'sk-secret' }] });
    expect(config.speech.stt[0]).toMatchObject({ name: 'openai', provider: 'openai', model: 'whisper-1' });
    expect(config.speech.tts[0]).toMatchObject({ name: 'openai', model: 'tts-1', format: 'mp3', maxInputChars: 4096 });
    expect(config.speech.tts[0]!.voices.map((v) => v.id)).toContain('alloy');
    const printed = JSON.stringify(maskSecrets(config));
    expect(printed).not.toContain('sk-secret');
  });

  it('refuses unknown keys and bad values at load', () => {
    expect(() => configWith({ stt: [{ apiKey: 'k', colour: 'red' }] })).toThrow(/unknown key "speech.stt.0.colour"/);
    expect(() => configWith({ tts: [{ format: 'midi' }] })).toThrow(/speech\.tts\.0\.format/);
    expect(() => configWith({ stt: [{ name: 'has spaces' }] })).toThrow(/speech\.stt\.0\.name/);
  });

  it('stops the start on providers that cannot work', async () => {
    const stores = await isolatedStores();
    try {
      const bad = [
        { stt: [{ provider: 'openai-compatible' }] },
        { stt: [{ apiKey: 'a' }, { apiKey: 'b' }] },
        { tts: [{ baseUrl: 'not a url' }] },
        { tts: [{ apiKey: 'a', defaultVoice: 'nobody' }] },
      ];
      for (const speechConfig of bad) {
        await expect(startServer({ speech: speechConfig }, stores)).rejects.toThrow(/speech\.(stt|tts)/);
      }
    } finally {
      await stores.cleanup();
    }
  });
});

describe('splitForSpeech', () => {
  it('keeps text that fits whole', () => {
    expect(splitForSpeech('  Short enough.  ', 100)).toEqual(['Short enough.']);
  });

  it('cuts between sentences, then between words, then anywhere, never past the limit', () => {
    const sentences = 'One two three. Four five six! Seven eight nine? Ten.';
    expect(splitForSpeech(sentences, 30)).toEqual(['One two three. Four five six!', 'Seven eight nine? Ten.']);
    expect(splitForSpeech('alpha beta gamma delta epsilon', 12)).toEqual(['alpha beta', 'gamma delta', 'epsilon']);
    expect(splitForSpeech('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(splitForSpeech('这是第一句。这是第二句。', 7)).toEqual(['这是第一句。', '这是第二句。']);
    const long = 'word '.repeat(1000);
    expect(splitForSpeech(long, 64).every((piece) => piece.length <= 64)).toBe(true);
  });

  it('never cuts a character in two', () => {
    const pieces = splitForSpeech('😀😀😀', 3);
    expect(pieces).toEqual(['😀', '😀', '😀']);
  });
});
