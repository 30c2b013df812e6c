import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../../config/schema.js';
import { DomainError, Invalid, TooLarge } from '../../../core/errors.js';
import type { Core } from '../../../core/index.js';
import type { SpeechProviderInfo } from '../../../core/speech.js';
import type { NativeApp } from '../../native/types.js';
import type { SurfaceContext } from '../../surfaces.js';
import { abortOnDisconnect } from '../../client-gone.js';

const tags = ['zeebee'];
/** `provider` and `language_code`, plus room for a few a client adds; their values are short. */
const MAX_FIELDS = 10;

class NotMultipart extends Error {
  readonly statusCode = 415;
  constructor() {
    super('Send multipart/form-data: the recording in a file part named "audio", with "provider" and "language_code"');
  }
}

/** The document's speech routes: the speech-to-text providers, a transcription, and where the voice WebSocket is. */
export function zeebeeSpeechRoutes(app: NativeApp, { core, config }: SurfaceContext): void {
  app.get(
    '/speech/providers',
    { schema: { tags, summary: 'The speech-to-text providers, by name (empty when none is configured)' } },
    async () => ({ providers: displayNames(core.speech.sttProviders()) }),
  );

  app.get(
    '/websocket/config',
    {
      schema: {
        tags,
        summary: 'Where the voice WebSocket is, and the speech providers, voices and languages it offers',
      },
    },
    async (request) => websocketConfig(core, config, request),
  );

  // Multipart is accepted by this route only, and nothing else is: other bodies get 415.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(new NotMultipart(), undefined));
    await scope.register(multipart, {
      limits: {
        fileSize: config.files.audioMaxBytes,
        files: 1,
        fields: MAX_FIELDS,
        fieldNameSize: 100,
        fieldSize: 1024,
        parts: 1 + MAX_FIELDS,
        headerPairs: 20,
      },
    });
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/transcribe',
      {
        schema: {
          tags,
          summary: 'Transcribe a recording (multipart/form-data: "audio", "provider", "language_code")',
          description:
            `The format is judged from the recording itself (WAV, MP3, OGG, WebM, FLAC, M4A…); at most ` +
            `${config.files.audioMaxBytes} bytes (413 beyond). Without a speech-to-text provider: 503.`,
        },
      },
      async (request, reply) => {
        const form = await transcriptionForm(request, config.files.audioMaxBytes);
        const heard = await core.speech.transcribe(form.provider, form.audio, {
          language: form.language,
          signal: abortOnDisconnect(reply),
        });
        return { text: heard.text, detected_language: heard.language ?? null, confidence: heard.confidence ?? null };
      },
    );
  });
}

function displayNames(providers: SpeechProviderInfo[]): Record<string, string> {
  return Object.fromEntries(providers.map((p) => [p.id, p.displayName]));
}

/** The document's shape, naming Parley's own voice socket as the caller reached this server. */
function websocketConfig(core: Core, config: Config, request: FastifyRequest) {
  const secure = request.protocol === 'https';
  const path = config.surfaces.zeebee.websocket;
  const tts = core.speech.ttsProviders();
  const stt = core.speech.sttProviders();
  const languages = core.speech.languages();
  return {
    websocket: {
      url: `${secure ? 'wss' : 'ws'}://${request.host}${path}`,
      port: request.port ?? (secure ? 443 : 80),
      path,
    },
    tts: {
      providers: displayNames(tts),
      voices: tts.flatMap((provider) => provider.voices.map((voice) => ({ provider: provider.id, ...voice }))),
    },
    stt: { providers: displayNames(stt) },
    languages,
    defaults: {
      tts_provider: tts[0]?.id ?? null,
      stt_provider: stt[0]?.id ?? null,
      ...Object.fromEntries(tts.map((provider) => [`${provider.id}_voice`, provider.defaultVoice ?? null])),
      language: languages[0]?.code ?? null,
    },
  };
}

interface TranscriptionForm {
  audio: Buffer;
  provider?: string;
  language?: string;
}

/** The form's recording and fields, whichever order they come in. */
async function transcriptionForm(request: FastifyRequest, maxBytes: number): Promise<TranscriptionForm> {
  let audio: Buffer | undefined;
  const fields = new Map<string, string>();
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        if (typeof part.value === 'string') fields.set(part.fieldname, part.value);
        continue;
      }
      if (part.fieldname !== 'audio') {
        throw new Invalid(`The recording goes in a file part named "audio", not "${part.fieldname}"`, part.fieldname);
      }
      audio = await part.toBuffer();
    }
  } catch (err) {
    // The refusal is answered at once; the rest of the body is read and dropped, so that the
    // connection stays usable.
    request.raw.unpipe();
    request.raw.resume();
    throw multipartError(err, maxBytes);
  }
  if (!audio) {
    const hint = fields.has('audio') ? ' as a file part (with a filename), not a text field' : '';
    throw new Invalid(`audio is required: send the recording${hint}`, 'audio');
  }
  return { audio, provider: fields.get('provider') || undefined, language: fields.get('language_code') || undefined };
}

/** The multipart parser's refusals in domain terms: too large for size, invalid for the rest. */
function multipartError(err: unknown, maxBytes: number): unknown {
  if (err instanceof DomainError) return err;
  switch ((err as { code?: unknown }).code) {
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new NotMultipart();
    case 'FST_REQ_FILE_TOO_LARGE':
      return new TooLarge(`The audio is larger than ${maxBytes} bytes`, { field: 'audio', maxBytes });
    case 'FST_FILES_LIMIT':
      return new Invalid('Send one recording per request', 'audio');
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new Invalid('Too many form fields: send "audio", "provider" and "language_code"');
  }
  return new Invalid(`Malformed multipart body: ${(err as Error).message}`);
}
