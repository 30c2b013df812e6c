import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake speech upstream speaking OpenAI's audio wire protocol over real loopback HTTP:
 * `POST /v1/audio/transcriptions` (multipart: `file`, `model`, `response_format`, `language`) and
 * `POST /v1/audio/speech` (JSON: `model`, `input`, `voice`, `response_format`) answered with audio
 * bytes, streamed in pieces. Deterministic, and able to fail on demand.
 */

export interface FakeSpeechOptions {
  /** What the fake hears in any recording (default 'Hello from the fake speech upstream.'); a function gets the request. */
  transcript?: string | ((request: SpeechRequest) => string);
  /** Whisper's name for the language heard, in `verbose_json` answers (default 'english'). */
  heardLanguage?: string;
  /** Bytes of audio per synthesis (default 1000); the input text is repeated to fill them. */
  speechBytes?: number;
  /** Delay before answering, ms (default 0). */
  delayMs?: number;
  /** The key callers must send as a bearer token; empty: any. */
  apiKey?: string;
}

export interface SpeechRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Form fields (transcriptions) or JSON fields (speech). */
  fields: Record<string, unknown>;
  /** The uploaded file of a transcription. */
  file?: { name: string; type: string; bytes: Buffer };
  aborted: boolean;
}

export interface FakeSpeech {
  /** e.g. http://127.0.0.1:41234/v1 — the base URL to configure. */
  baseUrl: string;
  requests: SpeechRequest[];
  /** The next `times` requests (default 1) fail with this status and an OpenAI-shaped error body. */
  failNext(status: number, times?: number): void;
  configure(options: Partial<FakeSpeechOptions>): void;
  /** The audio the fake answers a synthesis of `text` with (what a client should receive). */
  audioFor(text: string): Buffer;
  close(): Promise<void>;
}

export const FAKE_TRANSCRIPT = 'Hello from the fake speech upstream.';
/** A fake MP3: an ID3 tag's magic, then the payload. */
const AUDIO_MAGIC = Buffer.from('ID3');
const PIECE_BYTES = 16 * 1024;

export async function startFakeSpeech(initial: FakeSpeechOptions = {}): Promise<FakeSpeech> {
  let options: FakeSpeechOptions = { ...initial };
  const requests: SpeechRequest[] = [];
  const failures: number[] = [];

  const audioFor = (text: string): Buffer => {
    const size = options.speechBytes ?? 1000;
    const body = Buffer.alloc(size);
    AUDIO_MAGIC.copy(body);
    const filler = Buffer.from(text || '-');
    for (let i = AUDIO_MAGIC.length; i < size; i++) body[i] = filler[i % filler.length]!;
    return body;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) sendError(res, 500, err.message);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const record: SpeechRequest = { path: req.url ?? '', headers: req.headers, fields: {}, aborted: false };
    requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendError(res, 401, 'Incorrect API key provided');
    }
    const failure = failures.shift();
    if (failure !== undefined) return sendError(res, failure, `Failing on purpose with ${failure}`);
    if (req.method === 'POST' && req.url === '/v1/audio/transcriptions') return transcribe(req, res, body, record);
    if (req.method === 'POST' && req.url === '/v1/audio/speech') return speak(res, body, record);
    sendError(res, 404, `No route ${req.method} ${req.url}`);
  }

  async function transcribe(req: IncomingMessage, res: ServerResponse, body: Buffer, record: SpeechRequest) {
    // The platform's own multipart parser reads the form, as an OpenAI server would read it.
    const form = await new Response(body, {
      headers: { 'content-type': req.headers['content-type'] ?? '' },
    }).formData();
    for (const [name, value] of form) {
      if (typeof value === 'string') record.fields[name] = value;
      else record.file = { name: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
    }
    if (!record.file) return sendError(res, 400, "'file' is a required property");
    if (!record.fields.model) return sendError(res, 400, "'model' is a required property");
    const transcript = options.transcript ?? FAKE_TRANSCRIPT;
    const text = typeof transcript === 'function' ? transcript(record) : transcript;
    const answer =
      record.fields.response_format === 'verbose_json'
        ? {
            task: 'transcribe',
            language: options.heardLanguage ?? 'english',
            duration: 1.5,
            text,
            segments: [
              { id: 0, text, avg_logprob: -0.05 },
              { id: 1, text: '', avg_logprob: -0.15 },
            ],
          }
        : { text };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  }

  async function speak(res: ServerResponse, body: Buffer, record: SpeechRequest) {
    let request: { model?: unknown; input?: unknown; voice?: unknown; response_format?: unknown };
    try {
      request = JSON.parse(body.toString()) as typeof request;
    } catch {
      return sendError(res, 400, 'Body is not JSON');
    }
    record.fields = request;
    if (typeof request.input !== 'string' || !request.input) return sendError(res, 400, "'input' is required");
    if (typeof request.voice !== 'string') return sendError(res, 400, "'voice' is required");
    const audio = audioFor(request.input);
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'transfer-encoding': 'chunked' });
    for (let offset = 0; offset < audio.length; offset += PIECE_BYTES) {
      if (res.destroyed) return;
      res.write(audio.subarray(offset, offset + PIECE_BYTES));
      await new Promise((resolve) => setImmediate(resolve));
    }
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    failNext(status, times = 1) {
      for (let i = 0; i < times; i++) failures.push(status);
    },
    configure(changes) {
      options = { ...options, ...changes };
    },
    audioFor,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sendError(res: ServerResponse, status: number, message: string) {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: null } }));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A valid WAV file of silence: `ms` milliseconds of 16 kHz, 16-bit mono PCM. */
export function wavBytes(ms: number): Buffer {
  const samples = Math.round((16_000 * ms) / 1000);
  const data = samples * 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(16_000, 24);
  header.writeUInt32LE(32_000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data, 40);
  return Buffer.concat([header, Buffer.alloc(data)]);
}
