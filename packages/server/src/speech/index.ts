import type { Config, SttProviderConfig, TtsProviderConfig } from '../config/schema.js';
import type { SpeechEngines, Voice } from '../core/speech.js';
import { OPENAI_BASE_URL, openAiSynthesizer, openAiTranscriber, type AudioEndpoint } from './openai-audio.js';

/** The speech providers of the config, checked: unique names, an address for each, a default voice it lists. */
export function createSpeechEngines(config: Config['speech']): SpeechEngines {
  return {
    stt: named(config.stt, 'speech.stt').map((provider) => ({
      id: provider.name,
      displayName: provider.displayName || provider.name,
      engine: openAiTranscriber({ ...endpointOf(provider, 'speech.stt'), responseFormat: provider.responseFormat }),
    })),
    tts: named(config.tts, 'speech.tts').map((provider) => {
      const voices = provider.voices.map(({ id, name, gender }): Voice => ({
        id,
        name: name || capitalised(id),
        ...(gender ? { gender } : {}),
      }));
      const defaultVoice = provider.defaultVoice || voices[0]?.id;
      if (provider.defaultVoice && voices.length > 0 && !voices.some((v) => v.id === provider.defaultVoice)) {
        throw new Error(`speech.tts '${provider.name}': defaultVoice '${provider.defaultVoice}' is not in its voices`);
      }
      return {
        id: provider.name,
        displayName: provider.displayName || provider.name,
        voices,
        defaultVoice,
        maxInputChars: provider.maxInputChars,
        engine: openAiSynthesizer({ ...endpointOf(provider, 'speech.tts'), format: provider.format }),
      };
    }),
  };
}

function named<T extends { name: string }>(providers: T[], key: string): T[] {
  const seen = new Set<string>();
  for (const { name } of providers) {
    if (seen.has(name)) throw new Error(`${key} names '${name}' twice: each provider needs a name of its own`);
    seen.add(name);
  }
  return providers;
}

function endpointOf(provider: SttProviderConfig | TtsProviderConfig, key: string): AudioEndpoint {
  const baseUrl = provider.baseUrl || (provider.provider === 'openai' ? OPENAI_BASE_URL : '');
  if (!baseUrl) throw new Error(`${key} '${provider.name}': an openai-compatible provider needs a baseUrl`);
  if (!URL.canParse(baseUrl)) throw new Error(`${key} '${provider.name}': baseUrl '${baseUrl}' is not a URL`);
  return {
    name: provider.name,
    baseUrl,
    apiKey: provider.apiKey,
    model: provider.model,
    timeoutMs: provider.timeoutMs,
  };
}

function capitalised(id: string): string {
  return id.charAt(0).toUpperCase() + id.slice(1);
}
