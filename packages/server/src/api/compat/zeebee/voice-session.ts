import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { Config } from '../../../config/schema.js';
import type { Principal } from '../../../core/accounts/authenticate.js';
import { callerOf, type Caller } from '../../../core/conversations/replies.js';
import { END_ID } from '../../../core/conversations/rules.js';
import { Forbidden, Invalid, RateLimited, SpeechUnavailable, Unauthorized } from '../../../core/errors.js';
import type { Core } from '../../../core/index.js';
import { chunksOf } from '../../../core/speech.js';
import { Nullable } from '../../../lib/schema.js';
import { toApiError } from '../../errors.js';
import { FrameBudget, FrameQueue, Heartbeat, isOpen } from '../../realtime/socket-plumbing.js';

/** Close codes, as on the native WebSocket. */
export const VOICE_CLOSE = {
  goingAway: 1001,
  unauthorized: 4401,
  authTimeout: 4408,
  tooMany: 4429,
} as const;

/** Frames read and not yet handled: at this many the socket is not read until they are (TCP pushes back). */
const MAX_PENDING_FRAMES = 4;
const MAX_FRAMES_PER_SECOND = 20;
/** Audio bytes per `audio_chunk`: its base64 in a frame well under the 1 MiB clients accept by default. */
export const AUDIO_CHUNK_BYTES = 256 * 1024;
const SURFACE = 'zeebee';

const Text = (maxLength: number) => Nullable(Type.String({ maxLength }));
const frameOf = <T extends string, P extends Record<string, TSchema>>(type: T, properties: P) =>
  // Clients send fields of their own (client_info, timestamp…): they are read past, not refused.
  Type.Object({ type: Type.Literal(type), ...properties });

const CLIENT_FRAMES = {
  init: frameOf('init', {
    api_key: Type.Optional(Text(4096)),
    conversation_id: Type.Optional(Text(64)),
    user_id: Type.Optional(Text(END_ID.maxLength)),
    model: Type.Optional(Text(200)),
  }),
  audio: frameOf('audio', {
    audio_data: Type.String(),
    conversation_id: Type.Optional(Text(64)),
    user_id: Type.Optional(Text(END_ID.maxLength)),
    model: Type.Optional(Text(200)),
    stt_provider: Type.Optional(Text(64)),
    tts_provider: Type.Optional(Text(64)),
    tts_voice: Type.Optional(Text(200)),
    language_code: Type.Optional(Text(35)),
  }),
  ping: frameOf('ping', {}),
};

type ClientFrame = { [K in keyof typeof CLIENT_FRAMES]: Static<(typeof CLIENT_FRAMES)[K]> }[keyof typeof CLIENT_FRAMES];
type AudioFrame = Static<typeof CLIENT_FRAMES.audio>;

const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
const validators = new Map<string, ValidateFunction>(
  Object.entries(CLIENT_FRAMES).map(([type, schema]) => [type, ajv.compile(schema)]),
);

/** Reads a frame, or throws what is wrong with it in the words of the REST API's validation errors. */
function parseFrame(text: string): ClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Invalid('A frame must be a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Invalid('A frame must be a JSON object');
  }
  const { type } = value as { type?: unknown };
  const validate = typeof type === 'string' ? validators.get(type) : undefined;
  if (!validate) throw new Invalid(`type must be one of ${[...validators.keys()].join(', ')}`, 'type');
  if (validate(value)) return value as ClientFrame;
  throw Object.assign(new Error('Invalid frame'), { validation: validate.errors, validationContext: 'frame' });
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeAudio(data: string): Buffer {
  if (data.length === 0 || data.length % 4 !== 0 || !BASE64.test(data)) {
    throw new Invalid('audio_data must be the audio in base64', 'audio_data');
  }
  return Buffer.from(data, 'base64');
}

/** The answer to a frame has been given already: the socket was refused and is closing. */
const REFUSED = Symbol('refused');

export interface VoiceDependencies {
  core: Core;
  limits: Config['realtime'];
  log: FastifyBaseLogger;
  /** Whether the user may hold one more voice socket (counted until `left`). */
  admit(userId: string): boolean;
  left(session: VoiceSession, userId: string | undefined): void;
}

/**
 * One voice socket: `init` authenticates it (by the key in the frame), then each `audio` frame is a
 * turn — transcript, the bot's reply, the reply spoken. Frames are handled one at a time, in the
 * order they came, so audio sent right after `init` waits for its answer instead of being refused.
 */
export class VoiceSession {
  private principal: Principal | undefined;
  private apiKey = '';
  /** The conversation the socket talks in: from `init`, or the first one a turn started. */
  private conversationId: string | null = null;
  private endUserId: string | null = null;
  private model: string | null = null;
  private closing = false;
  /** Ends the provider calls of a turn when the socket goes. */
  private readonly gone = new AbortController();
  private readonly frames: FrameQueue;
  private readonly budget: FrameBudget;
  private readonly heartbeat: Heartbeat;
  private readonly authTimer: NodeJS.Timeout;

  constructor(
    private readonly socket: WebSocket,
    private readonly ip: string,
    /** A key given in the URL (`?api_key=`), for an `init` without one. */
    private readonly urlKey: string | undefined,
    private readonly deps: VoiceDependencies,
  ) {
    this.frames = new FrameQueue(socket, MAX_PENDING_FRAMES, () => this.closing);
    this.budget = new FrameBudget(MAX_FRAMES_PER_SECOND, (message) =>
      this.send({ type: 'error', code: 'RATE_LIMITED', message }),
    );
    // Text and binary frames alike arrive as one Buffer (ws's default `nodebuffer`).
    socket.on('message', (data: RawData, isBinary) => this.receive(data as Buffer, isBinary));
    socket.on('close', () => this.end());
    socket.on('error', (err) => deps.log.debug({ err }, 'voice websocket error'));
    this.heartbeat = new Heartbeat(socket, deps.limits.heartbeatMs, {
      silent: () => this.end(),
    });
    this.authTimer = setTimeout(() => {
      this.sendError(new Unauthorized('Not authenticated in time: send init with your api_key first'));
      this.close(VOICE_CLOSE.authTimeout, 'Not authenticated in time');
    }, deps.limits.authTimeoutMs);
  }

  /** Closes with a code; what was written before still reaches a client that reads it. */
  close(code: number, reason: string): void {
    if (this.end()) this.socket.close(code, reason);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.closing || !this.budget.allows()) return;
    this.frames.push(() => this.handle(data, isBinary).catch((err: unknown) => this.fail(err)));
  }

  private async handle(data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary) throw new Invalid('Frames are JSON text; audio goes base64 in audio_data');
    const frame = parseFrame(data.toString());
    switch (frame.type) {
      case 'ping':
        return this.send({ type: 'pong', timestamp: Date.now() / 1000 });
      case 'init':
        return this.init(frame);
      case 'audio':
        return this.turn(frame);
    }
  }

  private async init(frame: Static<typeof CLIENT_FRAMES.init>): Promise<void> {
    const apiKey = frame.api_key || this.urlKey;
    if (!apiKey) return this.refuse(new Unauthorized('init needs your api_key'));
    let admission;
    try {
      admission = await this.deps.core.gatekeeper.admit({
        credentials: { bearer: apiKey },
        ip: this.ip,
        auth: 'required',
        quota: true,
      });
    } catch (err) {
      return this.refuse(err);
    }
    // Required authentication admits no one without a principal.
    const principal = admission.principal!;
    if (this.closing) return;
    if (!this.principal && !this.deps.admit(principal.user.id)) {
      const message = `At most ${this.deps.limits.maxSocketsPerUser} voice sockets per user`;
      this.send({ type: 'error', code: 'RATE_LIMITED', message });
      return this.close(VOICE_CLOSE.tooMany, 'Too many sockets for this user');
    }
    if (this.principal && this.principal.user.id !== principal.user.id) {
      throw new Invalid('This socket is already authenticated as another user', 'api_key');
    }
    clearTimeout(this.authTimer);
    this.principal = principal;
    this.apiKey = apiKey;
    this.conversationId = frame.conversation_id ?? this.conversationId;
    this.endUserId = frame.user_id ?? this.endUserId;
    this.model = frame.model ?? this.model;
    this.send({
      type: 'init_ack',
      status: 'connected',
      user_id: this.endUserId,
      conversation_id: this.conversationId,
    });
  }

  /** One spoken turn: what was said, the bot's answer to it, and that answer spoken. */
  private async turn(frame: AudioFrame): Promise<void> {
    if (!this.principal) throw new Unauthorized('Send init with your api_key first');
    const caller = await this.admit();
    const audio = decodeAudio(frame.audio_data);
    const heard = await this.deps.core.speech.transcribe(frame.stt_provider ?? undefined, audio, {
      language: frame.language_code ?? undefined,
      signal: this.gone.signal,
    });
    if (!heard.text) throw new Invalid('No speech was recognised in the audio', 'audio_data');
    this.send({
      type: 'transcript',
      text: heard.text,
      detected_language: heard.language ?? null,
      confidence: heard.confidence ?? null,
    });
    const { conversationId, text, messageId } = await this.reply(caller, frame, heard.text);
    this.send({ type: 'response', text, conversation_id: conversationId, message_id: messageId });
    await this.speak(text, frame);
  }

  /** The bot's reply to `content`, in the conversation the frame names, the socket's, or a new one. */
  private async reply(caller: Caller, frame: AudioFrame, content: string) {
    const { core } = this.deps;
    const named = frame.conversation_id ?? this.conversationId;
    const { conversation, exchange } =
      named === null
        ? await core.conversations.startWith(
            caller,
            { endUserId: frame.user_id ?? this.endUserId ?? undefined, model: frame.model ?? this.model ?? undefined },
            { content },
          )
        : { conversation: { id: named }, exchange: await core.replies.send(caller, named, { content }) };
    const conversationId = conversation.id;
    this.conversationId = conversationId;
    if (!exchange.reply) throw new Invalid("This conversation's bot answers through its own API, not here");
    const settled = await core.replies.completed(exchange.reply);
    return { conversationId, text: settled.content, messageId: settled.id };
  }

  private async speak(text: string, frame: AudioFrame): Promise<void> {
    const speech = await this.deps.core.speech.synthesize(frame.tts_provider ?? undefined, text, {
      voice: frame.tts_voice ?? undefined,
      language: frame.language_code ?? undefined,
      signal: this.gone.signal,
    });
    this.send({ type: 'audio_stream_start', mime_type: speech.mimeType });
    let chunks = 0;
    for await (const piece of inPieces(chunksOf(speech.audio), AUDIO_CHUNK_BYTES)) {
      if (this.closing) return;
      await this.sendDrained({ type: 'audio_chunk', data: piece.toString('base64') });
      chunks++;
    }
    this.send({ type: 'audio_stream_end' });
    // Clients wait for audio or an error: an empty stream alone would leave them waiting.
    if (chunks === 0) throw new SpeechUnavailable('The speech provider returned no audio');
  }

  /**
   * Counts an audio frame against the user's quota, as a request, with the key checked again: a
   * revoked key closes the socket; a spent quota refuses the frame (RateLimited) and keeps it.
   */
  private async admit(): Promise<Caller> {
    try {
      const { principal } = await this.deps.core.gatekeeper.admit({
        credentials: { bearer: this.apiKey },
        ip: this.ip,
        auth: 'required',
        quota: true,
      });
      this.principal = principal!;
    } catch (err) {
      if (!isRefusal(err)) throw err;
      this.refuse(err);
      throw REFUSED;
    }
    return callerOf(this.principal, SURFACE);
  }

  /** Tells why the socket is refused, then closes it. */
  private refuse(err: unknown): void {
    this.sendError(err);
    if (err instanceof RateLimited) this.close(VOICE_CLOSE.tooMany, 'Rate limited');
    else this.close(VOICE_CLOSE.unauthorized, 'Unauthorized');
  }

  /** A frame's failure, told to the client; the socket stays open (clients reconnect when it closes). */
  private fail(err: unknown): void {
    if (err !== REFUSED && !this.closing) this.sendError(err);
  }

  private sendError(err: unknown): void {
    const apiError = toApiError(err);
    if (apiError.status === 500) this.deps.log.error({ err }, 'voice websocket frame failed');
    this.send({ type: 'error', message: apiError.message, code: apiError.code });
  }

  private send(frame: Record<string, unknown>): void {
    if (!this.closing && isOpen(this.socket)) this.socket.send(JSON.stringify(frame));
  }

  /** Sends, and resolves once the frame is handed to the network: large audio goes no faster than the client reads. */
  private sendDrained(frame: Record<string, unknown>): Promise<void> {
    if (this.closing || !isOpen(this.socket)) return Promise.resolve();
    return new Promise((resolve) => this.socket.send(JSON.stringify(frame), () => resolve()));
  }

  /** Decides the socket's end (once: false when it was decided before), and stops what it started. */
  private end(): boolean {
    if (this.closing) return false;
    this.closing = true;
    this.heartbeat.stop();
    clearTimeout(this.authTimer);
    this.gone.abort(new Error('The voice socket closed'));
    this.deps.left(this, this.principal?.user.id);
    return true;
  }
}

function isRefusal(err: unknown): boolean {
  return err instanceof Unauthorized || err instanceof Forbidden;
}

/** The bytes of `source` in pieces of `size` (the last one shorter), whatever sizes they came in. */
async function* inPieces(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    held.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    length += chunk.byteLength;
    while (length >= size) {
      const all = Buffer.concat(held, length);
      yield all.subarray(0, size);
      held = [all.subarray(size)];
      length -= size;
    }
  }
  if (length > 0) yield Buffer.concat(held, length);
}
