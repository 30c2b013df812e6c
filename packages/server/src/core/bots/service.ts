import type { User } from '../accounts/model.js';
import { Conflict, Forbidden, NotFound } from '../errors.js';
import { newId } from '../ids.js';
import { BUILTIN_BOTS } from './builtins.js';
import { commandsOf, interpretMessage, type CommandOutcome } from './commands.js';
import type { Bot, BotCommand, BotKind, BotRepository, BotVisibility, GenerationParams } from './model.js';
import { checkBot, checkVariableValues, isBotName } from './rules.js';
import { renderSystemPrompt, type PromptContext } from './templates.js';

export type { CommandOutcome } from './commands.js';
export type { PromptContext } from './templates.js';

export interface VariableInput {
  name: string;
  description?: string;
  default?: string;
}

export interface CommandInput {
  alias: string;
  description?: string;
  /** Null or absent: the command is listed but the message goes on as typed. */
  prompt?: string | null;
}

export interface BotInput {
  name: string;
  displayName?: string;
  description?: string;
  avatarUrl?: string | null;
  systemPrompt?: string;
  variables?: VariableInput[];
  model?: string | null;
  params?: GenerationParams;
  commands?: CommandInput[];
  visibility?: BotVisibility;
  kind?: BotKind;
  webhookUrl?: string | null;
}

/**
 * Who sees and changes which bot: public bots are the installation's (no owner) and only admins
 * change them; a private bot is its owner's, visible to nobody else but admins; a private bot
 * without an owner (a built-in or public bot an admin withdrew) is visible to admins only.
 */
export class BotService {
  constructor(
    private readonly repo: BotRepository,
    private readonly options: {
      maxPerUser: number;
      /** Refuses an external bot's webhook URL that may not be called (internal addresses). */
      checkWebhookUrl?: (url: string) => Promise<void>;
      /** Told of every change to a bot (`deleted` when it is gone), after it is stored. */
      onChange?: (bot: Bot, deleted: boolean) => Promise<void>;
    },
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds the built-in bots missing from the store (never overwrites an admin's edits). */
  async seedBuiltins(): Promise<void> {
    const now = this.now();
    for (const builtin of BUILTIN_BOTS) {
      await this.repo.insertBuiltin({
        ...builtin,
        id: newId(),
        avatarUrl: null,
        model: null,
        params: {},
        visibility: 'public',
        kind: 'ai',
        ownerId: null,
        webhookUrl: null,
        keyHash: null,
        createdAt: now,
        updatedAt: now,
      });
    }
  }

  /** The bots the user may see, by name: for an admin, every bot; for nobody signed in (null), the public ones. */
  list(user: User | null): Promise<Bot[]> {
    return this.repo.list(user === null ? { ownerId: null } : isAdmin(user) ? {} : { ownerId: user.id });
  }

  /** A bot the user (or, when null, anyone) may see, by id or name; NotFound otherwise. */
  async get(user: User | null, idOrName: string): Promise<Bot> {
    const bot = isBotName(idOrName) ? await this.repo.findByName(idOrName) : await this.repo.findById(idOrName);
    const visible = bot?.visibility === 'public' || (user !== null && (bot?.ownerId === user.id || isAdmin(user)));
    if (!bot || !visible) throw new NotFound('Bot');
    return bot;
  }

  /**
   * The bot of a conversation, for whoever writes in it: its owner chose the bot when they could
   * see it, and a group room's members talk to the group's bot even if it is the owner's private one.
   */
  async ofConversation(conversation: { botId: string | null }): Promise<Bot | null> {
    return conversation.botId === null ? null : ((await this.repo.findById(conversation.botId)) ?? null);
  }

  async create(user: User, input: BotInput): Promise<Bot> {
    const visibility = input.visibility ?? 'private';
    if (visibility === 'public' && !isAdmin(user)) throw new Forbidden('Only admins may create public bots');
    const now = this.now();
    const bot = withInput(
      {
        id: newId(),
        name: input.name,
        displayName: input.name,
        description: '',
        avatarUrl: null,
        systemPrompt: '',
        variables: [],
        model: null,
        params: {},
        commands: [],
        visibility,
        kind: 'ai',
        ownerId: visibility === 'public' ? null : user.id,
        webhookUrl: null,
        keyHash: null,
        createdAt: now,
        updatedAt: now,
      },
      input,
    );
    checkBot(bot);
    if (bot.webhookUrl) await this.options.checkWebhookUrl?.(bot.webhookUrl);
    if (bot.ownerId !== null && (await this.repo.countOwnedBy(bot.ownerId)) >= this.options.maxPerUser) {
      throw new Conflict(`A user can have at most ${this.options.maxPerUser} private bots; delete one first`);
    }
    await this.repo.insert(bot);
    return bot;
  }

  /** Changes the given fields; making a bot public hands it to the installation (no owner). */
  async update(user: User, id: string, patch: Partial<BotInput>): Promise<Bot> {
    const bot = await this.get(user, id);
    requireEditable(user, bot);
    if (patch.visibility === 'public' && !isAdmin(user)) throw new Forbidden('Only admins may make bots public');
    const updated = withInput({ ...bot, updatedAt: this.now() }, patch);
    if (updated.visibility === 'public') updated.ownerId = null;
    checkBot(updated);
    if (updated.webhookUrl && updated.webhookUrl !== bot.webhookUrl)
      await this.options.checkWebhookUrl?.(updated.webhookUrl);
    if (!(await this.repo.update(updated))) throw new NotFound('Bot');
    await this.options.onChange?.(updated, false);
    return updated;
  }

  /** A bot the user may change; NotFound or Forbidden otherwise. */
  async editable(user: User, id: string): Promise<Bot> {
    const bot = await this.get(user, id);
    requireEditable(user, bot);
    return bot;
  }

  async delete(user: User, id: string): Promise<void> {
    const bot = await this.editable(user, id);
    if (!(await this.repo.delete(bot.id))) throw new NotFound('Bot');
    await this.options.onChange?.(bot, true);
  }

  /** The bot's commands, `/help` included. */
  async commands(user: User, id: string): Promise<BotCommand[]> {
    return commandsOf(await this.get(user, id));
  }

  /** Refuses (Invalid) template variable values the bot does not declare, or that break the rules. */
  checkVariables(bot: Bot | null, variables: Record<string, string>): void {
    checkVariableValues(bot?.variables ?? null, variables);
  }

  /** The system prompt of a conversation: its own template or the bot's, with every variable filled in. */
  systemPrompt(
    bot: Bot | null,
    conversation: { systemPrompt: string | null; variables: Record<string, string> },
    context: PromptContext,
  ): string {
    return renderSystemPrompt(bot, conversation, context);
  }

  /** Whether a message runs one of the bot's commands, and what it then means. */
  interpret(bot: Bot | null, content: string): CommandOutcome {
    return interpretMessage(bot, content);
  }
}

function isAdmin(user: User): boolean {
  return user.role === 'admin';
}

/** Called once the user is known to see the bot: owners change their private bots, admins any bot. */
function requireEditable(user: User, bot: Bot): void {
  if (bot.ownerId !== user.id && !isAdmin(user)) throw new Forbidden('Only admins may change public and built-in bots');
}

/** The bot with the given fields of the input applied; absent fields are kept. */
function withInput(bot: Bot, input: Partial<BotInput>): Bot {
  const next: Bot = { ...bot };
  if (input.name !== undefined) next.name = input.name;
  if (input.displayName !== undefined) next.displayName = input.displayName.trim();
  if (input.description !== undefined) next.description = input.description;
  if (input.avatarUrl !== undefined) next.avatarUrl = input.avatarUrl;
  if (input.systemPrompt !== undefined) next.systemPrompt = input.systemPrompt;
  if (input.model !== undefined) next.model = input.model;
  if (input.visibility !== undefined) next.visibility = input.visibility;
  if (input.kind !== undefined) next.kind = input.kind;
  if (input.webhookUrl !== undefined) next.webhookUrl = input.webhookUrl;
  // The URL and credentials mean nothing to an AI bot; turning an external bot into one drops them.
  else if (input.kind === 'ai') next.webhookUrl = null;
  if (input.kind === 'ai') {
    next.keyHash = null;
    next.sealedSigningSecret = null;
  }
  if (input.params !== undefined) {
    const { temperature, topP, maxTokens } = input.params;
    next.params = {
      ...(temperature !== undefined && { temperature }),
      ...(topP !== undefined && { topP }),
      ...(maxTokens !== undefined && { maxTokens }),
    };
  }
  if (input.variables !== undefined) {
    next.variables = input.variables.map((v) => ({
      name: v.name,
      description: v.description ?? '',
      default: v.default ?? '',
    }));
  }
  if (input.commands !== undefined) {
    next.commands = input.commands.map((c) => ({
      alias: c.alias,
      description: c.description ?? '',
      prompt: c.prompt ?? null,
    }));
  }
  return next;
}
