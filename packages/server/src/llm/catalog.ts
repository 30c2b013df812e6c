import type { ModelInfo } from '../core/chat-model.js';
import type { Channel } from '../core/channels/ports.js';
import type { ModelConfig } from '../config/schema.js';
import { undescribedModel, type Provider } from './providers/provider.js';

const DISCOVERY_TTL_MS = 5 * 60_000;
const DISCOVERY_TIMEOUT_MS = 5_000;

/**
 * The models on offer: those described in config, those channels name, and those the upstreams of
 * `*` channels list (asked at most every few minutes, never on a request's path).
 */
export class Catalog {
  private discovered: { at: number; models: Promise<Map<string, ModelInfo>> } | undefined;

  constructor(
    private readonly configured: ModelConfig[],
    private readonly channels: () => Promise<Channel[]>,
    private readonly provider: (channel: Channel) => Promise<Provider>,
  ) {}

  forget(): void {
    this.discovered = undefined;
  }

  /** The model's entry if some enabled channel serves it. */
  async find(id: string): Promise<ModelInfo | undefined> {
    const channels = await this.channels();
    const serving = channels.find((c) => c.models.includes(id)) ?? channels.find((c) => c.models.includes('*'));
    if (!serving) return undefined;
    const configured = this.configured.find((m) => m.id === id);
    if (configured) return fromConfig(configured, serving);
    const known = this.discovered && (await this.discovered.models).get(id);
    return known ?? undescribedModel(id, serving.provider);
  }

  async list(): Promise<ModelInfo[]> {
    const channels = await this.channels();
    const entries = new Map<string, ModelInfo>();
    if (channels.some((c) => c.models.includes('*'))) {
      for (const [id, info] of await this.discover(channels)) entries.set(id, info);
    }
    for (const channel of channels) {
      for (const id of channel.models) {
        if (id !== '*' && !entries.has(id)) {
          entries.set(id, undescribedModel(id, channel.provider));
        }
      }
    }
    for (const model of this.configured) {
      const serving = channels.find((c) => c.models.includes(model.id) || c.models.includes('*'));
      if (serving) entries.set(model.id, fromConfig(model, serving));
    }
    return [...entries.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  private discover(channels: Channel[]): Promise<Map<string, ModelInfo>> {
    if (this.discovered && Date.now() - this.discovered.at < DISCOVERY_TTL_MS) return this.discovered.models;
    const models = (async () => {
      const found = new Map<string, ModelInfo>();
      const lists = await Promise.allSettled(
        channels
          .filter((c) => c.models.includes('*'))
          .map(async (c) => (await this.provider(c)).listModels(AbortSignal.timeout(DISCOVERY_TIMEOUT_MS))),
      );
      for (const list of lists) {
        if (list.status === 'fulfilled')
          for (const model of list.value) if (!found.has(model.id)) found.set(model.id, model);
      }
      return found;
    })();
    this.discovered = { at: Date.now(), models };
    return models;
  }
}

function fromConfig(model: ModelConfig, serving: Channel): ModelInfo {
  return {
    id: model.id,
    displayName: model.displayName || model.id,
    provider: model.provider || serving.provider,
    contextLength: model.contextLength,
    maxTokens: model.maxTokens,
    capabilities: model.capabilities,
  };
}
