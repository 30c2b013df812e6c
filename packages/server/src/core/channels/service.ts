import type { ChannelConfig } from '../../config/schema.js';
import type { User } from '../accounts/model.js';
import { requireAdmin } from '../accounts/users.js';
import { Conflict, Invalid, NotFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Channel, ChannelInput, ChannelRepository, SecretBox } from './ports.js';

export interface ChannelView extends Omit<Channel, 'sealedApiKeys'> {
  /** Keys are write-only: only how many there are is ever shown. */
  apiKeyCount: number;
  health: { consecutiveFailures: number; coolingUntil: number; inFlight: number };
}

export type ChannelPatch = Partial<ChannelInput>;

export const MAX_CHANNELS = 500;

/**
 * Upstream channels: those of the config file (read-only here) and those admins manage. Upstream
 * keys are sealed before they are stored and never shown again.
 */
export class ChannelService {
  /** Config channels, their keys sealed once (so that routing treats every channel alike). */
  private sealedConfig: Channel[] | undefined;

  constructor(
    private readonly repository: ChannelRepository,
    private readonly fromConfig: ChannelConfig[],
    private readonly secretBox: SecretBox,
    private readonly health: (channelId: string) => ChannelView['health'],
    /** Tells routing (on every instance) that channels changed. */
    private readonly changed: () => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every channel, config ones first; what routing uses. */
  async all(): Promise<Channel[]> {
    return [...this.configChannels(), ...(await this.repository.list())];
  }

  async list(actor: User): Promise<ChannelView[]> {
    requireAdmin(actor);
    return (await this.all()).map((c) => this.view(c));
  }

  async get(actor: User, id: string): Promise<ChannelView> {
    requireAdmin(actor);
    return this.view(await this.find(id));
  }

  async create(actor: User, input: ChannelInput): Promise<ChannelView> {
    requireAdmin(actor);
    check(input);
    if ((await this.repository.list()).length >= MAX_CHANNELS) throw new Conflict(`At most ${MAX_CHANNELS} channels`);
    if (this.fromConfig.some((c) => c.name === input.name))
      throw new Conflict('A channel with this name already exists', 'name');
    const now = this.now();
    const { apiKeys, ...rest } = input;
    const channel: Channel = {
      ...rest,
      id: newId(),
      sealedApiKeys: apiKeys.map((k) => this.secretBox.seal(k)),
      source: 'database',
      createdAt: now,
      updatedAt: now,
    };
    await this.repository.insert(channel);
    await this.changed();
    return this.view(channel);
  }

  async update(actor: User, id: string, patch: ChannelPatch): Promise<ChannelView> {
    requireAdmin(actor);
    const current = await this.find(id);
    if (current.source === 'config') throw new Conflict('Channels from the config file are changed in the config file');
    const { apiKeys, ...rest } = patch;
    check({ ...current, apiKeys: apiKeys ?? [], ...rest });
    if (rest.name && this.fromConfig.some((c) => c.name === rest.name)) {
      throw new Conflict('A channel with this name already exists', 'name');
    }
    const updated = await this.repository.update(id, {
      ...rest,
      ...(apiKeys && { sealedApiKeys: apiKeys.map((k) => this.secretBox.seal(k)) }),
      updatedAt: Math.max(this.now(), current.updatedAt + 1),
    });
    if (!updated) throw new NotFound('Channel');
    await this.changed();
    return this.view(updated);
  }

  async remove(actor: User, id: string): Promise<void> {
    requireAdmin(actor);
    const current = await this.find(id);
    if (current.source === 'config') throw new Conflict('Channels from the config file are removed in the config file');
    await this.repository.delete(id);
    await this.changed();
  }

  private async find(id: string): Promise<Channel> {
    const channel = this.configChannels().find((c) => c.id === id) ?? (await this.repository.findById(id));
    if (!channel) throw new NotFound('Channel');
    return channel;
  }

  private configChannels(): Channel[] {
    this.sealedConfig ??= this.fromConfig.map(({ apiKeys, ...rest }) => ({
      ...rest,
      id: `config:${rest.name}`,
      sealedApiKeys: apiKeys.map((k) => this.secretBox.seal(k)),
      source: 'config' as const,
      createdAt: 0,
      updatedAt: 0,
    }));
    return this.sealedConfig;
  }

  private view(channel: Channel): ChannelView {
    const { sealedApiKeys, ...rest } = channel;
    return { ...rest, apiKeyCount: sealedApiKeys.length, health: this.health(channel.id) };
  }
}

/** Rules the schema cannot state: what each provider kind needs to be reachable. */
function check(input: ChannelInput): void {
  const needsUrl = input.provider === 'openai-compatible' || input.provider === 'ollama';
  if (input.provider === 'local') {
    if (!input.baseUrl) throw new Invalid('A local channel needs baseUrl: the path of its GGUF file', 'baseUrl');
    return;
  }
  if (needsUrl && !input.baseUrl) throw new Invalid(`A ${input.provider} channel needs a baseUrl`, 'baseUrl');
  if (input.baseUrl && !/^https?:\/\/[^\s]+$/.test(input.baseUrl)) {
    throw new Invalid('baseUrl must be an http(s) URL', 'baseUrl');
  }
}
