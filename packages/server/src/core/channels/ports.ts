import type { ChannelConfig } from '../../config/schema.js';

/** Reversible encryption for secrets Parley must use again (upstream API keys), unlike passwords. */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

/** A channel as stored: its upstream keys stay sealed until a provider needs them. */
export interface Channel extends Omit<ChannelConfig, 'apiKeys'> {
  id: string;
  /** Sealed with the `SecretBox`. */
  sealedApiKeys: string[];
  /** Config channels are read-only: the admin API lists them but cannot change them. */
  source: 'config' | 'database';
  createdAt: number;
  updatedAt: number;
}

export type ChannelInput = Omit<ChannelConfig, 'apiKeys'> & { apiKeys: string[] };

export interface ChannelRepository {
  list(): Promise<Channel[]>;
  findById(id: string): Promise<Channel | undefined>;
  insert(channel: Channel): Promise<void>;
  update(id: string, patch: Partial<Omit<Channel, 'id' | 'source' | 'createdAt'>>): Promise<Channel | undefined>;
  delete(id: string): Promise<boolean>;
}
