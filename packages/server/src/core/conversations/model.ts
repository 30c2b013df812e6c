import type { TokenUsage } from '../chat-model.js';
import type { OutboxEvent } from '../events.js';

export interface Conversation {
  id: string;
  ownerId: string;
  botId: string | null;
  groupId: string | null;
  /** Generated after the first exchange unless given. */
  title: string | null;
  /** Overrides the bot's model. */
  model: string | null;
  /** Overrides the bot's system prompt template. */
  systemPrompt: string | null;
  /** Values of the template's variables. */
  variables: Record<string, string>;
  /** Messages up to this instant stay in the history but no longer reach the model. */
  contextClearedAt: number | null;
  /** The end user of the owner's application this conversation is with, as the application names them. */
  endUserId: string | null;
  /** The application's group (channel, room) this conversation is of. */
  endGroupId: string | null;
  /** The key the application finds this conversation by: one per end user or group (see `thread`). */
  threadKey: string | null;
  messageCount: number;
  lastMessage: { id: string; preview: string; createdAt: number } | null;
  createdAt: number;
  updatedAt: number;
}

export type MessageRole = 'user' | 'assistant' | 'system';
export type MessageStatus = 'streaming' | 'complete' | 'error' | 'cancelled';
export const MESSAGE_STATUSES = [
  'streaming',
  'complete',
  'error',
  'cancelled',
] as const satisfies readonly MessageStatus[];

export interface Message {
  id: string;
  conversationId: string;
  /** The user who wrote it, or the bot that answered (null for a conversation without a bot). */
  senderId: string | null;
  role: MessageRole;
  content: string;
  /** File ids, in the order given. */
  attachments: string[];
  model: string | null;
  usage: TokenUsage | null;
  status: MessageStatus;
  error: { code: string; message: string } | null;
  /** The message this one follows: regenerating or editing makes siblings, i.e. branches. */
  parentId: string | null;
  /** The sender's idempotency key: the same one twice in a conversation stores one message. */
  clientId: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface MessageQuery {
  conversationId: string;
  limit: number;
  /** Only messages older than this id (the next page back). */
  before?: string;
  /** Only messages newer than this id. */
  after?: string;
  /** Only messages created strictly after this instant (ms). */
  since?: number;
  senderId?: string;
  /** Leave out replies still being written. */
  settledOnly?: boolean;
  /** 1-based page counted from the newest; with it the answer carries the total. */
  page?: number;
  /** Instead of a page: how many of the newest messages to skip; with it the answer carries the total. */
  offset?: number;
}

export interface ConversationQuery {
  /** The conversations this user owns, and the rooms of the groups they are in. */
  userId: string;
  botId?: string;
  groupId?: string;
  endUserId?: string;
  endGroupId?: string;
  /** Only the conversations an application keeps for its end users and groups (see `thread`). */
  threadsOnly?: boolean;
  /** Only the user's own conversations with nobody else: no bot, group, end user or thread (chat sessions). */
  plainOnly?: boolean;
  limit: number;
  /** Opaque, from a previous page. */
  cursor?: string;
  /** Instead of a cursor; the answer then carries the total. */
  offset?: number;
}

export type FeedbackType = 'thumbs_up' | 'thumbs_down' | 'rating';
export const FEEDBACK_TYPES = ['thumbs_up', 'thumbs_down', 'rating'] as const satisfies readonly FeedbackType[];

export interface Feedback {
  id: string;
  messageId: string;
  conversationId: string;
  userId: string;
  type: FeedbackType;
  /** 1 for a thumb; 1-5 for a rating. */
  value: number;
  comment: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ConversationRepository {
  insert(conversation: Conversation): Promise<void>;
  /**
   * Inserts the conversation unless its owner already has `max` of their own (not group rooms) with
   * its bot, decided atomically; false when refused.
   */
  insertCapped(conversation: Conversation, max: number): Promise<boolean>;
  /** Inserts the conversation unless its owner has one with the same thread key; returns the one stored. */
  insertThread(
    conversation: Conversation & { threadKey: string },
  ): Promise<{ conversation: Conversation; created: boolean }>;
  findById(id: string): Promise<Conversation | undefined>;
  /** Those of the ids that exist, in no particular order. */
  findManyByIds(ids: string[]): Promise<Conversation[]>;
  /** Newest activity first. */
  list(query: ConversationQuery): Promise<{ items: Conversation[]; nextCursor: string | null; total?: number }>;
  update(
    id: string,
    patch: Partial<
      Pick<Conversation, 'title' | 'model' | 'systemPrompt' | 'variables' | 'botId' | 'contextClearedAt'>
    > & {
      updatedAt: number;
    },
  ): Promise<void>;
  /** Sets the title only if none is set yet (a generated title never overwrites one given meanwhile). */
  setTitleIfEmpty(id: string, title: string, at: number): Promise<boolean>;
  /**
   * Deletes the conversation, its messages, their file references and feedback; returns the ids of
   * files it referenced. Here and below, `events` go to the outbox in the same transaction.
   */
  delete(id: string, events?: OutboxEvent[]): Promise<string[]>;

  /** Stores messages (and their file references) and updates the conversation's count and last message, atomically. */
  insertMessages(messages: Message[], events?: OutboxEvent[]): Promise<void>;
  findMessage(id: string): Promise<Message | undefined>;
  /** Those of the ids that exist, in no particular order. */
  findMessages(ids: string[]): Promise<Message[]>;
  findMessageByClientId(conversationId: string, clientId: string): Promise<Message | undefined>;
  listMessages(query: MessageQuery): Promise<{ items: Message[]; hasMore: boolean; total?: number }>;
  /** The newest `limit` messages created after `after` (ms), newest first: what a model's context is built from. */
  recentMessages(conversationId: string, options: { limit: number; createdAfter: number | null }): Promise<Message[]>;
  /** The id of the newest message: the leaf new messages follow. */
  latestMessageId(conversationId: string): Promise<string | null>;
  /** Saves a streaming message's progress or its end (which also refreshes the conversation's last message). */
  updateMessage(
    message: Pick<Message, 'id' | 'conversationId'>,
    patch: Partial<Pick<Message, 'content' | 'status' | 'error' | 'usage' | 'model'>> & { updatedAt: number },
    events?: OutboxEvent[],
  ): Promise<void>;
  /**
   * Appends a delta to a message still streaming (an external bot's); returns the delta's seq, or
   * undefined when the message is not streaming (any more).
   */
  appendDelta(id: string, text: string, at: number): Promise<number | undefined>;
  /** Streaming messages not saved since `updatedBefore`: their writer is gone. */
  staleStreamingMessages(updatedBefore: number): Promise<Message[]>;

  upsertFeedback(feedback: Feedback): Promise<Feedback>;
  listFeedback(conversationId: string): Promise<Feedback[]>;
}
