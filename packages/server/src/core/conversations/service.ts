import type { User } from '../accounts/model.js';
import type { Bot } from '../bots/model.js';
import type { BotService } from '../bots/service.js';
import type { CompletionService } from '../completions.js';
import { Conflict, Invalid } from '../errors.js';
import { outboxEvent, type DomainEventPublisher } from '../events.js';
import type { FileService } from '../files/service.js';
import { newId } from '../ids.js';
import type { ConversationAccess } from './access.js';
import type { Conversation, ConversationQuery, ConversationRepository, Message, MessageQuery } from './model.js';
import type { Caller, Exchange, NewMessage, ReplyService } from './replies.js';
import { SYSTEM_PROMPT } from '../bots/rules.js';
import { END_ID, TITLE } from './rules.js';

export interface ConversationInput {
  botId?: string;
  title?: string;
  model?: string;
  systemPrompt?: string;
  variables?: Record<string, string>;
  /** The end user of the caller's application the conversation is with (see `Conversation.endUserId`). */
  endUserId?: string;
}

/** Whom an application's conversation is for: one of its end users, one of its groups, or a member of a group. */
export interface ThreadKey {
  endUserId: string | null;
  endGroupId: string | null;
}

export interface ConversationPatch {
  title?: string | null;
  model?: string | null;
  systemPrompt?: string | null;
  variables?: Record<string, string>;
  botId?: string | null;
}

/** Conversations and their history; replies are the ReplyService's. */
export class ConversationService {
  constructor(
    private readonly repo: ConversationRepository,
    private readonly access: ConversationAccess,
    private readonly bots: BotService,
    private readonly completions: CompletionService,
    private readonly files: FileService,
    private readonly replies: ReplyService,
    private readonly events: DomainEventPublisher,
  ) {}

  /** With `maxWithBot`, refused (Conflict) when the user has that many conversations with the bot already. */
  async create(user: User, input: ConversationInput, limits: { maxWithBot?: number } = {}): Promise<Conversation> {
    const bot = input.botId === undefined ? null : await this.bots.get(user, input.botId);
    await this.check(user, bot, input);
    const conversation = this.newConversation(user, { ...input, botId: bot?.id ?? null, groupId: null });
    if (limits.maxWithBot === undefined) await this.repo.insert(conversation);
    else if (!(await this.repo.insertCapped(conversation, limits.maxWithBot))) {
      throw new Conflict(`At most ${limits.maxWithBot} conversations with one bot: delete one first`);
    }
    this.events.publish('conversation.created', { conversation });
    return conversation;
  }

  /** Starts a conversation with its first message; it is not kept when the message is refused. */
  async startWith(
    caller: Caller,
    input: ConversationInput,
    message: NewMessage,
  ): Promise<{ conversation: Conversation; exchange: Exchange }> {
    const conversation = await this.create(caller.user, input);
    try {
      return { conversation, exchange: await this.replies.send(caller, conversation.id, message) };
    } catch (err) {
      await this.remove(conversation);
      throw err;
    }
  }

  /**
   * The one conversation the user's application keeps for an end user or group, made on first use
   * (safely when two requests come at once). It follows the bot the application names last; a null
   * bot leaves it without one, an absent bot keeps the one it has.
   */
  async thread(user: User, key: ThreadKey, input: { botId?: string | null }): Promise<Conversation> {
    if (key.endUserId === null && key.endGroupId === null) throw new Invalid('An end user or a group is required');
    const bot = input.botId == null ? null : await this.bots.get(user, input.botId);
    checkEndId(key.endUserId, 'endUserId');
    checkEndId(key.endGroupId, 'endGroupId');
    const fresh = this.newConversation(user, { botId: bot?.id ?? null, groupId: null });
    const threadKey = JSON.stringify([key.endGroupId, key.endUserId]);
    const { conversation, created } = await this.repo.insertThread({ ...fresh, ...key, threadKey });
    if (created) {
      this.events.publish('conversation.created', { conversation });
      return conversation;
    }
    const botId = bot?.id ?? null;
    if (input.botId === undefined || conversation.botId === botId) return conversation;
    return this.update(user, conversation.id, { botId });
  }

  /** A conversation of the user's, not yet stored (a group stores its room with the group). */
  newConversation(
    user: User,
    fields: Omit<ConversationInput, 'botId'> & { botId: string | null; groupId: string | null },
  ): Conversation {
    checkEndId(fields.endUserId ?? null, 'endUserId');
    const now = Date.now();
    return {
      id: newId(),
      ownerId: user.id,
      botId: fields.botId,
      groupId: fields.groupId,
      title: fields.title ?? null,
      model: fields.model ?? null,
      systemPrompt: fields.systemPrompt ?? null,
      variables: fields.variables ?? {},
      contextClearedAt: null,
      endUserId: fields.endUserId ?? null,
      endGroupId: null,
      threadKey: null,
      messageCount: 0,
      lastMessage: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  /** A group's room follows the group's bot. */
  async setBot(conversationId: string, botId: string | null): Promise<void> {
    await this.repo.update(conversationId, { botId, updatedAt: Date.now() });
  }

  /** The user's conversations and the rooms of their groups. */
  async list(user: User, query: Omit<ConversationQuery, 'userId'>) {
    return this.repo.list({ ...query, userId: user.id });
  }

  async get(user: User, id: string): Promise<Conversation> {
    return this.access.conversation(user, id);
  }

  async update(user: User, id: string, patch: ConversationPatch): Promise<Conversation> {
    const current = await this.access.conversation(user, id, 'manage');
    if (current.groupId !== null && patch.botId !== undefined) {
      throw new Conflict("A group room's bot is the group's: change the group instead");
    }
    // A bot deleted since the conversation began no longer shapes it; naming a new one must find it.
    let bot: Bot | null = null;
    if (patch.botId === undefined) {
      if (current.botId !== null) bot = await this.bots.get(user, current.botId).catch(() => null);
    } else if (patch.botId !== null) {
      bot = await this.bots.get(user, patch.botId);
    }
    // Variables are checked against the bot the conversation will have.
    await this.check(user, bot, {
      title: patch.title ?? undefined,
      model: patch.model ?? undefined,
      systemPrompt: patch.systemPrompt ?? undefined,
      variables: patch.variables ?? (patch.botId === undefined ? undefined : current.variables),
    });
    const change = {
      ...patch,
      ...(patch.botId === undefined ? {} : { botId: bot?.id ?? null }),
      updatedAt: Date.now(),
    };
    await this.repo.update(id, change);
    const conversation = { ...current, ...change };
    this.events.publish('conversation.updated', { conversation });
    return conversation;
  }

  /** Deletes the conversation, its messages and feedback, and the files nothing else references. */
  async delete(user: User, id: string): Promise<void> {
    const conversation = await this.access.conversation(user, id, 'manage');
    if (conversation.groupId !== null) throw new Conflict("A group's room goes with its group: delete the group");
    await this.remove(conversation);
  }

  /** A group's room, as its group is deleted. */
  async deleteRoom(user: User, id: string): Promise<void> {
    await this.remove(await this.access.conversation(user, id, 'manage'));
  }

  private async remove(conversation: Conversation): Promise<void> {
    const audience = await this.access.audience(conversation);
    await this.replies.stopConversation(conversation.id);
    const fileIds = await this.repo.delete(conversation.id, [
      outboxEvent('conversation.deleted', audience, { conversationId: conversation.id }),
    ]);
    await this.files.removeUnreferenced(fileIds);
    this.events.publish('conversation.deleted', { conversationId: conversation.id, ownerId: conversation.ownerId });
  }

  /** Keeps the history but starts the model's context afresh from now. */
  async clear(user: User, id: string): Promise<Conversation> {
    const current = await this.access.conversation(user, id, 'manage');
    const now = Date.now();
    await this.repo.update(id, { contextClearedAt: now, updatedAt: now });
    const conversation = { ...current, contextClearedAt: now, updatedAt: now };
    this.events.publish('conversation.updated', { conversation });
    return conversation;
  }

  async messages(
    user: User,
    conversationId: string,
    query: Omit<MessageQuery, 'conversationId'>,
  ): Promise<{ items: Message[]; hasMore: boolean; total?: number }> {
    const conversation = await this.access.conversation(user, conversationId);
    return this.repo.listMessages({ ...query, conversationId: conversation.id });
  }

  async message(user: User, id: string): Promise<Message> {
    return (await this.access.message(user, id)).message;
  }

  private async check(user: User, bot: Bot | null, input: Omit<ConversationInput, 'botId'>): Promise<void> {
    if (input.title !== undefined && (input.title.trim() === '' || input.title.length > TITLE.maxLength)) {
      throw new Invalid(`title must be 1-${TITLE.maxLength} characters`, 'title');
    }
    if (input.systemPrompt !== undefined && input.systemPrompt.length > SYSTEM_PROMPT.maxLength) {
      throw new Invalid(`systemPrompt must be at most ${SYSTEM_PROMPT.maxLength} characters`, 'systemPrompt');
    }
    if (input.variables !== undefined) this.bots.checkVariables(bot, input.variables);
    if (input.model !== undefined) await this.completions.modelFor(user, input.model);
  }
}

function checkEndId(id: string | null, field: string): void {
  if (id !== null && (id.length === 0 || id.length > END_ID.maxLength)) {
    throw new Invalid(`${field} must be 1-${END_ID.maxLength} characters`, field);
  }
}
