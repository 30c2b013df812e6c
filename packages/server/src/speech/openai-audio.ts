import { fetch, FormData, type Response } from 'undici';
import { Invalid, SpeechUnavailable } from '../core/errors.js';
import type { SpeechToText, TextToSpeech } from '../core/speech.js';
import type { SttProviderConfig, TtsProviderConfig } from '../config/schema.js';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** Where and how to reach one OpenAI-style audio endpoint. */
export interface AudioEndpoint {
  /** The provider's name, for the messages of its failures. */
  name: string;
  baseUrl: string;
  apiKey: string;
  model: string;
  timeoutMs: number;
}

type Format = TtsProviderConfig['format'];

const MIME_BY_FORMAT: Record<Format, string> = {
  mp3: 'audio/mpeg',
  opus: 'audio/ogg',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};

/** Statuses by which an upstream refuses what was sent (the audio or the text), not its own state. */
const REFUSALS = new Set([400, 413, 415, 422]);
const MAX_DETAIL_CHARS = 300;

interface WireTranscription {
  text?: unknown;
  language?: unknown;
  segments?: { avg_logprob?: unknown }[];
}

/** Speech recognition through `POST {baseUrl}/audio/transcriptions` (OpenAI Whisper and compatible servers). */
export function openAiTranscriber(
  endpoint: AudioEndpoint & { responseFormat: SttProviderConfig['responseFormat'] },
): SpeechToText {
  return {
    async transcribe(audio, { language, mimeType, fileName, signal }) {
      const form = new FormData();
      form.append('file', new Blob([audio], { type: mimeType ?? 'application/octet-stream' }), fileName ?? 'audio');
      form.append('model', endpoint.model);
      form.append('response_format', endpoint.responseFormat);
      if (language) form.append('language', language);
      const response = await post(endpoint, 'audio/transcriptions', form, signal);
      let body: WireTranscription;
      try {
        body = (await response.json()) as WireTranscription;
      } catch (err) {
        throw failure(endpoint, signal, err, 'answered with something other than JSON');
      }
      if (typeof body?.text !== 'string') throw unavailable(endpoint, 'answered without a transcription');
      return { text: body.text, language: languageCode(body.language), confidence: confidenceOf(body.segments) };
    },
  };
}

/** Speech synthesis through `POST {baseUrl}/audio/speech`, its audio streamed on as it comes. */
export function openAiSynthesizer(endpoint: AudioEndpoint & { format: Format }): TextToSpeech {
  return {
    async synthesize(text, { voice, signal }) {
      const body = JSON.stringify({ model: endpoint.model, input: text, voice, response_format: endpoint.format });
      const response = await post(endpoint, 'audio/speech', body, signal);
      const type = response.headers.get('content-type')?.split(';')[0]?.trim();
      return {
        mimeType: type?.startsWith('audio/') ? type : MIME_BY_FORMAT[endpoint.format],
        audio: audioOf(endpoint, response, signal),
      };
    },
  };
}

async function post(
  endpoint: AudioEndpoint,
  path: string,
  body: FormData | string,
  signal: AbortSignal | undefined,
): Promise<Response> {
  const root = endpoint.baseUrl.endsWith('/') ? endpoint.baseUrl : `${endpoint.baseUrl}/`;
  const headers: Record<string, string> = {};
  if (typeof body === 'string') headers['content-type'] = 'application/json';
  if (endpoint.apiKey) headers.authorization = `Bearer ${endpoint.apiKey}`;
  const timeout = AbortSignal.timeout(endpoint.timeoutMs);
  let response: Response;
  try {
    response = await fetch(new URL(path, root), {
      method: 'POST',
      headers,
      body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    throw failure(endpoint, signal, err, 'could not be reached');
  }
  if (response.ok) return response;
  const detail = await errorDetail(response);
  if (REFUSALS.has(response.status)) {
    throw new Invalid(`The speech provider '${endpoint.name}' refused the request${detail ? `: ${detail}` : ''}`);
  }
  throw unavailable(endpoint, `failed (HTTP ${response.status})`, { status: response.status });
}

async function* audioOf(
  endpoint: AudioEndpoint,
  response: Response,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array> {
  if (!response.body) return;
  try {
    for await (const chunk of response.body) yield chunk;
  } catch (err) {
    throw failure(endpoint, signal, err, 'stopped sending audio');
  }
}

/** What a call that threw became: the caller's own abort stays one; anything else is the provider's failure. */
function failure(endpoint: AudioEndpoint, signal: AbortSignal | undefined, err: unknown, what: string): unknown {
  if (signal?.aborted) return signal.reason;
  const timedOut = (err as Error).name === 'TimeoutError';
  return unavailable(endpoint, timedOut ? `did not answer within ${endpoint.timeoutMs} ms` : what);
}

function unavailable(endpoint: AudioEndpoint, what: string, details: Record<string, unknown> = {}): SpeechUnavailable {
  return new SpeechUnavailable(`The speech provider '${endpoint.name}' ${what}`, {
    provider: endpoint.name,
    ...details,
  });
}

/** The upstream's own words for a failure (OpenAI's `{error:{message}}`, or any short text). */
async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  let message: unknown = text;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    message =
      typeof parsed.error === 'object' ? parsed.error?.message : (parsed.error ?? parsed.message ?? parsed.detail);
  } catch {
    // Not JSON: the text itself.
  }
  return typeof message === 'string' ? message.trim().slice(0, MAX_DETAIL_CHARS) : '';
}

let codesByName: Map<string, string> | undefined;

/** ISO 639-1 from what providers say: a code already, or an English name (Whisper's `english`). */
function languageCode(language: unknown): string | undefined {
  if (typeof language !== 'string') return undefined;
  const lower = language.trim().toLowerCase();
  if (/^[a-z]{2,3}$/.test(lower)) return lower;
  codesByName ??= englishLanguageNames();
  return codesByName.get(lower);
}

function englishLanguageNames(): Map<string, string> {
  const names = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });
  const codes = new Map<string, string>();
  for (let first = 97; first <= 122; first++) {
    for (let second = 97; second <= 122; second++) {
      const code = String.fromCharCode(first, second);
      const name = names.of(code);
      if (name) codes.set(name.toLowerCase(), code);
    }
  }
  return codes;
}

/** The model's mean per-token probability over its segments, where it reports their log-probabilities. */
function confidenceOf(segments: WireTranscription['segments']): number | undefined {
  if (!Array.isArray(segments)) return undefined;
  const logprobs = segments.map((s) => s?.avg_logprob).filter((p): p is number => typeof p === 'number');
  if (logprobs.length === 0) return undefined;
  const mean = logprobs.reduce((sum, p) => sum + p, 0) / logprobs.length;
  return Math.round(Math.min(1, Math.exp(mean)) * 100) / 100;
}
