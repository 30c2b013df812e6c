import { Invalid, SpeechUnavailable, TooLarge } from './errors.js';
import { SIGNATURE_SAMPLE_BYTES, signatureOf } from './files/detect.js';

export interface Transcription {
  text: string;
  /** ISO 639-1, when the provider tells which language it heard (else the one asked for). */
  language?: string;
  /** 0–1, when the provider gives a measure of it. */
  confidence?: number;
}

export interface TranscribeOptions {
  /** A language tag (`en`, `en-US`); the provider detects the language without one. */
  language?: string;
  mimeType?: string;
  /** A name whose extension says the format, for providers that go by it. */
  fileName?: string;
  signal?: AbortSignal;
}

/** Speech recognition: a provider's port. */
export interface SpeechToText {
  transcribe(audio: Buffer, options: TranscribeOptions): Promise<Transcription>;
}

/** Audio whole, or in chunks as the provider produces them. */
export type AudioBytes = Buffer | AsyncIterable<Uint8Array>;

export interface Synthesis {
  audio: AudioBytes;
  mimeType: string;
}

export interface SynthesizeOptions {
  voice?: string;
  language?: string;
  signal?: AbortSignal;
}

/** Speech synthesis: a provider's port. */
export interface TextToSpeech {
  synthesize(text: string, options: SynthesizeOptions): Promise<Synthesis>;
}

export interface Voice {
  id: string;
  name: string;
  gender?: string;
}

export interface SpeechProviderInfo {
  /** The name clients choose it by. */
  id: string;
  displayName: string;
}

export interface TtsProviderInfo extends SpeechProviderInfo {
  voices: Voice[];
  defaultVoice?: string;
}

export interface SttEngine extends SpeechProviderInfo {
  engine: SpeechToText;
}

export interface TtsEngine extends TtsProviderInfo {
  /** The longest text one call takes; longer text is spoken in several. */
  maxInputChars: number;
  engine: TextToSpeech;
}

/** The configured providers, in order of preference: the first of each kind is the default. */
export interface SpeechEngines {
  stt: SttEngine[];
  tts: TtsEngine[];
}

export interface SpeechSettings {
  audioMaxBytes: number;
  /** ISO 639-1 codes offered to clients; the first is the default. */
  languages: string[];
}

type Kind = 'speech-to-text' | 'text-to-speech';

/** Extensions providers know these formats by (OpenAI reads the format from the file name). */
const EXTENSION_BY_DETECTED: Record<string, string> = { opus: 'ogg', oga: 'ogg' };
const LANGUAGE_TAG = /^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$/;
const LANGUAGE_NAMES = new Intl.DisplayNames(['en'], { type: 'language' });

/** Speech in and out for every surface, over whichever providers are configured. */
export class SpeechService {
  constructor(
    private readonly engines: SpeechEngines,
    private readonly settings: SpeechSettings,
  ) {}

  sttProviders(): SpeechProviderInfo[] {
    return this.engines.stt.map(({ id, displayName }) => ({ id, displayName }));
  }

  ttsProviders(): TtsProviderInfo[] {
    return this.engines.tts.map(({ id, displayName, voices, defaultVoice }) => ({
      id,
      displayName,
      voices,
      defaultVoice,
    }));
  }

  languages(): { code: string; name: string }[] {
    return this.settings.languages.map((code) => ({ code, name: LANGUAGE_NAMES.of(code) ?? code }));
  }

  /**
   * The text spoken in `audio`. The format is judged from the bytes (clients often send none, or
   * a wrong one): anything that is not audio or video is refused before any provider is called.
   */
  async transcribe(
    provider: string | undefined,
    audio: Buffer,
    options: TranscribeOptions = {},
  ): Promise<Transcription> {
    const { engine } = chosen(this.engines.stt, provider, 'speech-to-text');
    const language = languageOf(options.language);
    if (audio.length === 0) throw new Invalid('The audio is empty', 'audio');
    if (audio.length > this.settings.audioMaxBytes) {
      throw new TooLarge(`The audio is larger than ${this.settings.audioMaxBytes} bytes`, {
        field: 'audio',
        maxBytes: this.settings.audioMaxBytes,
      });
    }
    const type = await signatureOf(audio.subarray(0, SIGNATURE_SAMPLE_BYTES));
    if (!type || (type.kind !== 'audios' && type.kind !== 'videos')) {
      throw new Invalid(
        'The audio is not in a format that can be transcribed (WAV, MP3, OGG, WebM, FLAC, M4A…)',
        'audio',
      );
    }
    const extension = EXTENSION_BY_DETECTED[type.extension] ?? type.extension;
    const result = await engine.transcribe(audio, {
      language,
      mimeType: type.mime,
      fileName: `audio.${extension}`,
      signal: options.signal,
    });
    return { ...result, text: result.text.trim(), language: result.language ?? language };
  }

  /** `text` spoken; text longer than the provider takes at once is spoken piece by piece, as one stream. */
  async synthesize(provider: string | undefined, text: string, options: SynthesizeOptions = {}): Promise<Synthesis> {
    const tts = chosen(this.engines.tts, provider, 'text-to-speech');
    const input = text.trim();
    if (!input) throw new Invalid('There is no text to speak', 'text');
    if (options.voice !== undefined && tts.voices.length > 0 && !tts.voices.some((v) => v.id === options.voice)) {
      const known = tts.voices.map((v) => v.id).join(', ');
      throw new Invalid(`Unknown voice '${options.voice}' for '${tts.id}'; available: ${known}`, 'voice');
    }
    const call = {
      voice: options.voice ?? tts.defaultVoice,
      language: languageOf(options.language),
      signal: options.signal,
    };
    const [first, ...rest] = splitForSpeech(input, tts.maxInputChars) as [string, ...string[]];
    // The first call is awaited here, so that a failing provider fails before any audio is handed on.
    const opening = await tts.engine.synthesize(first, call);
    if (rest.length === 0) return opening;
    return { mimeType: opening.mimeType, audio: spokenInTurn(tts.engine, opening.audio, rest, call) };
  }
}

function chosen<T extends SpeechProviderInfo>(providers: T[], name: string | undefined, kind: Kind): T {
  if (providers.length === 0) {
    const what = kind === 'speech-to-text' ? 'Speech recognition' : 'Speech synthesis';
    throw new SpeechUnavailable(`${what} is unavailable: no ${kind} provider is configured`);
  }
  if (name === undefined || name === '') return providers[0]!;
  const found = providers.find((p) => p.id === name);
  if (!found) {
    const known = providers.map((p) => p.id).join(', ');
    throw new Invalid(`Unknown ${kind} provider '${name}'; available: ${known}`, 'provider');
  }
  return found;
}

/** The language of a tag (`en-US` → `en`), as providers take it. */
function languageOf(tag: string | undefined): string | undefined {
  if (tag === undefined || tag === '') return undefined;
  const match = LANGUAGE_TAG.exec(tag);
  if (!match) throw new Invalid(`'${tag}' is not a language code such as "en" or "en-US"`, 'language');
  return match[1]!.toLowerCase();
}

async function* spokenInTurn(
  engine: TextToSpeech,
  opening: AudioBytes,
  rest: string[],
  options: SynthesizeOptions,
): AsyncGenerator<Uint8Array> {
  yield* chunksOf(opening);
  for (const piece of rest) yield* chunksOf((await engine.synthesize(piece, options)).audio);
}

/** Audio as chunks, whichever way it came. */
export async function* chunksOf(audio: AudioBytes): AsyncGenerator<Uint8Array> {
  if (Buffer.isBuffer(audio)) yield audio;
  else yield* audio;
}

const SENTENCE_END = /[.!?…;:]["'”’)\]]?$/;
const CJK_SENTENCE_END = /[。！？]/;

/**
 * Text cut into pieces of at most `max` characters: between sentences where one ends in the
 * second half of a piece, else between words, else anywhere (never inside a surrogate pair).
 */
export function splitForSpeech(text: string, max: number): string[] {
  const pieces: string[] = [];
  let rest = text.trim();
  while (rest.length > max) {
    // A break right after `max` characters still leaves a piece of `max`.
    const window = rest.slice(0, max + 1);
    let cut = lastBreak(window, true);
    if (cut < max / 2) cut = Math.max(cut, lastBreak(window, false));
    if (cut === 0) cut = isHighSurrogate(rest.charCodeAt(max - 1)) ? max - 1 : max;
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest) pieces.push(rest);
  return pieces;
}

/** The last index in `window` where it can be cut: after a sentence, or (`sentences` false) between words. */
function lastBreak(window: string, sentences: boolean): number {
  for (let i = window.length - 1; i > 0; i--) {
    const before = window.slice(Math.max(0, i - 2), i);
    if (sentences && CJK_SENTENCE_END.test(window[i - 1]!)) return i;
    if (!/\s/.test(window[i]!)) continue;
    if (!sentences || SENTENCE_END.test(before)) return i;
  }
  return 0;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
