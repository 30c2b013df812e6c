/** A custom variable of a bot's system prompt template: `{{name}}`, with the value used when a conversation gives none. */
export interface BotVariable {
  name: string;
  description: string;
  default: string;
}

/** `/alias args` in a message runs the command; one with a `prompt` expands into it. */
export interface BotCommand {
  alias: string;
  description: string;
  prompt: string | null;
}

export interface GenerationParams {
  temperature?: number;
  topP?: number;
  maxTokens?: number;
}

export type BotVisibility = 'public' | 'private';
export type BotKind = 'ai' | 'external';
export const BOT_VISIBILITIES = ['public', 'private'] as const satisfies readonly BotVisibility[];
export const BOT_KINDS = ['ai', 'external'] as const satisfies readonly BotKind[];

/** What chat platforms call bots, presets, templates and personas: one concept. */
export interface Bot {
  id: string;
  /** A unique slug. */
  name: string;
  displayName: string;
  description: string;
  avatarUrl: string | null;
  /** A template: `{{user_name}}`, `{{bot_name}}`, `{{date}}`, `{{group_name}}` and the declared variables. */
  systemPrompt: string;
  variables: BotVariable[];
  /** The model the bot answers with; null for the server's default. */
  model: string | null;
  params: GenerationParams;
  commands: BotCommand[];
  visibility: BotVisibility;
  kind: BotKind;
  /** Null for bots of the installation (the built-in ones, and those admins make public). */
  ownerId: string | null;
  /** Where an external bot receives the messages sent to it. */
  webhookUrl: string | null;
  /** Hash of an external bot's key; never leaves the core. */
  keyHash: string | null;
  /** The secret an external bot's deliveries are signed with, sealed; never leaves the core. */
  sealedSigningSecret?: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface BotRepository {
  /** Refuses (Conflict) a name already taken. */
  insert(bot: Bot): Promise<void>;
  /**
   * Inserts a built-in bot unless a built-in of that name was seeded before (even if an admin has
   * since renamed or deleted it) or the name is taken; safe when several instances start at once.
   */
  insertBuiltin(bot: Bot): Promise<boolean>;
  findById(id: string): Promise<Bot | undefined>;
  findByName(name: string): Promise<Bot | undefined>;
  /**
   * Public bots and the private bots of `ownerId`, by name: every bot when `ownerId` is undefined,
   * public bots only when it is null.
   */
  list(options: { ownerId?: string | null }): Promise<Bot[]>;
  /** Refuses (Conflict) a name already taken; false when the bot no longer exists. */
  update(bot: Bot): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  countOwnedBy(ownerId: string): Promise<number>;
  findByKeyHash(keyHash: string): Promise<Bot | undefined>;
  /** Replaces an external bot's key and signing secret (null for none). */
  setKey(id: string, key: { keyHash: string; sealedSigningSecret: string } | null): Promise<void>;
}
