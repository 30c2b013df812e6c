import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import type { Config } from '../../../config/schema.js';
import type { Core } from '../../../core/index.js';
import type { NativeApp } from '../../native/types.js';
import type { SurfaceContext } from '../../surfaces.js';
import { AUDIO_CHUNK_BYTES, VOICE_CLOSE, VoiceSession } from './voice-session.js';

/** Room in an `audio` frame for its JSON and fields besides the audio's base64. */
const FRAME_ENVELOPE_BYTES = 64 * 1024;
/** How long a closing handshake may take before the socket is cut. */
const CLOSE_TIMEOUT_MS = 5000;
/**
 * A WebSocket client sends nothing after its upgrade request until the server's handshake answer
 * (RFC 6455 §4.1), so no bytes of the connection are left over when the upgrade is taken.
 */
const NO_HEAD = Buffer.alloc(0);

const DESCRIPTION = `Upgrade to a WebSocket for spoken turns: audio in, its transcript, the bot's reply, and the reply spoken.

Frames are JSON text. Send \`{"type":"init","api_key":…,"conversation_id"?,"user_id"?,"model"?}\` first (the key may also come as \`?api_key=\`); it is answered with \`init_ack\`. Frames sent before that answer wait for it, in order.

Client frames: \`init\`; \`ping\` (answered with \`pong\`); \`audio\` with \`audio_data\` (a whole recording — WAV, MP3, OGG, WebM, FLAC, M4A — in base64, at most \`files.audioMaxBytes\` bytes), and optionally \`conversation_id\` (none: the socket's conversation, or a new one), \`user_id\`, \`model\`, \`stt_provider\`, \`tts_provider\`, \`tts_voice\`, \`language_code\`.

Server frames for each \`audio\`: \`transcript\` {text, detected_language, confidence}, \`response\` {text, conversation_id, message_id}, \`audio_stream_start\` {mime_type}, \`audio_chunk\` {data: base64, ${AUDIO_CHUNK_BYTES} bytes of audio at most}, \`audio_stream_end\`. A frame that fails is answered with \`error\` {message, code} and the socket stays open — without a speech provider, the error says speech is unavailable.

Each \`init\` and \`audio\` counts as one request against your quota. Close codes: 1001 the server is shutting down; 1009 a frame larger than the audio limit allows; 4401 the key is refused or revoked; 4408 no \`init\` within \`realtime.authTimeoutMs\`; 4429 over quota at \`init\`, or too many sockets for the user.`;

/**
 * The zeebee voice WebSocket, at `surfaces.zeebee.websocket`. Its sockets are served by a WebSocket
 * server of their own: a recording comes whole in one frame, far larger than the native socket's
 * frame limit, so the frame limit here follows the audio limit instead.
 */
export function zeebeeVoiceRoutes(app: NativeApp, { core, config }: SurfaceContext): void {
  const voice = new VoiceSockets(core, config, app.log);
  app.addHook('preClose', (done) => {
    voice.close();
    done();
  });
  app.get(
    config.surfaces.zeebee.websocket,
    {
      // The key rides in the first frame (or the URL, kept out of the request log): none on the upgrade.
      config: { auth: 'none', quota: false },
      logLevel: 'warn',
      schema: {
        tags: ['zeebee'],
        summary: 'The voice WebSocket: spoken turns with transcripts, replies and the replies spoken',
        description: DESCRIPTION,
      },
      onRequest: async (request, reply) => {
        if (!request.ws) return;
        reply.hijack();
        voice.upgrade(request);
      },
    },
    async (_request, reply) =>
      reply
        .code(426)
        .header('upgrade', 'websocket')
        .send({ error: 'Connect with a WebSocket client', code: 'UPGRADE_REQUIRED' }),
  );
}

/** The open voice sockets of this instance, and how many each user holds. */
class VoiceSockets {
  private readonly server: WebSocketServer;
  private readonly sessions = new Set<VoiceSession>();
  private readonly perUser = new Map<string, number>();

  constructor(
    private readonly core: Core,
    private readonly config: Config,
    private readonly log: FastifyBaseLogger,
  ) {
    const maxPayload = Math.ceil(config.files.audioMaxBytes / 3) * 4 + FRAME_ENVELOPE_BYTES;
    // `closeTimeout` is newer than ws's published types.
    const options: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      maxPayload,
      closeTimeout: CLOSE_TIMEOUT_MS,
    };
    this.server = new WebSocketServer(options);
  }

  upgrade(request: FastifyRequest): void {
    const { api_key: urlKey } = request.query as { api_key?: unknown };
    this.server.handleUpgrade(request.raw, request.raw.socket, NO_HEAD, (socket: WebSocket) => {
      const session = new VoiceSession(socket, request.ip, typeof urlKey === 'string' ? urlKey : undefined, {
        core: this.core,
        limits: this.config.realtime,
        log: this.log,
        admit: (userId) => this.admit(userId),
        left: (gone, userId) => this.left(gone, userId),
      });
      this.sessions.add(session);
    });
  }

  close(): void {
    for (const session of this.sessions) session.close(VOICE_CLOSE.goingAway, 'Server shutting down');
    this.server.close();
  }

  private admit(userId: string): boolean {
    const held = this.perUser.get(userId) ?? 0;
    if (held >= this.config.realtime.maxSocketsPerUser) return false;
    this.perUser.set(userId, held + 1);
    return true;
  }

  private left(session: VoiceSession, userId: string | undefined): void {
    if (!this.sessions.delete(session) || userId === undefined) return;
    const held = (this.perUser.get(userId) ?? 1) - 1;
    if (held > 0) this.perUser.set(userId, held);
    else this.perUser.delete(userId);
  }
}
