import { UpstreamError, type ModelInfo } from '../../core/chat-model.js';
import { sdkProvider, classify } from './ai-sdk.js';
import { undescribedModel, type Provider, type ProviderKind } from './provider.js';

export interface Endpoint {
  kind: ProviderKind;
  /** API base URL (empty: the provider's public API); for `local`, the GGUF file. */
  baseUrl: string;
  apiKey: string;
}

/** A provider for one endpoint and key. Provider packages are loaded only when a channel uses them. */
export async function createProvider(endpoint: Endpoint): Promise<Provider> {
  const { kind, apiKey } = endpoint;
  const baseURL = endpoint.baseUrl.replace(/\/+$/, '') || undefined;
  switch (kind) {
    case 'openai':
    case 'openai-compatible':
    case 'ollama': {
      if (kind !== 'openai' && !baseURL) throw new UpstreamError(`A ${kind} channel needs a baseUrl`, false, 400);
      // Ollama serves the OpenAI protocol under /v1.
      const root =
        kind === 'ollama' && !baseURL!.endsWith('/v1') ? `${baseURL}/v1` : (baseURL ?? 'https://api.openai.com/v1');
      const { openAiWireProvider } = await import('./openai-wire.js');
      return openAiWireProvider({ kind, baseUrl: root, apiKey });
    }
    case 'anthropic': {
      const { createAnthropic } = await import('@ai-sdk/anthropic');
      const anthropic = createAnthropic({ apiKey, baseURL });
      const root = baseURL ?? 'https://api.anthropic.com/v1';
      return sdkProvider(kind, {
        language: (id) => anthropic.languageModel(id),
        listModels: (signal) =>
          listAnthropicModels(kind, root, { 'x-api-key': apiKey, 'anthropic-version': '2023-06-01' }, signal),
      });
    }
    case 'google': {
      const { createGoogleGenerativeAI } = await import('@ai-sdk/google');
      const google = createGoogleGenerativeAI({ apiKey, baseURL });
      const root = baseURL ?? 'https://generativelanguage.googleapis.com/v1beta';
      return sdkProvider(kind, {
        language: (id) => google.languageModel(id),
        embedding: (id) => google.embedding(id),
        listModels: (signal) => listGoogleModels(root, apiKey, signal),
      });
    }
    case 'local': {
      const { createLocalProvider } = await import('./local.js');
      return createLocalProvider({ modelPath: endpoint.baseUrl });
    }
  }
}

/** `GET /models` in Anthropic's list format (`data[].id`, as OpenAI's). */
async function listAnthropicModels(
  kind: ProviderKind,
  root: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<ModelInfo[]> {
  const body = await getJson<{ data?: { id: string; display_name?: string }[] }>(`${root}/models`, headers, signal);
  return (body.data ?? []).map((m) => undescribedModel(m.id, kind, m.display_name));
}

async function listGoogleModels(root: string, apiKey: string, signal: AbortSignal): Promise<ModelInfo[]> {
  const body = await getJson<{
    models?: { name: string; displayName?: string; inputTokenLimit?: number; outputTokenLimit?: number }[];
  }>(`${root}/models`, { 'x-goog-api-key': apiKey }, signal);
  return (body.models ?? []).map((m) => ({
    ...undescribedModel(m.name.replace(/^models\//, ''), 'google', m.displayName),
    ...(m.inputTokenLimit && { contextLength: m.inputTokenLimit }),
    ...(m.outputTokenLimit && { maxTokens: m.outputTokenLimit }),
  }));
}

async function getJson<T>(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { headers, signal });
  } catch (err) {
    throw classify(err, signal);
  }
  if (!res.ok)
    throw new UpstreamError(`GET ${url} answered ${res.status}`, res.status >= 500 || res.status === 429, res.status);
  return (await res.json()) as T;
}
