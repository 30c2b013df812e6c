import type { Config } from '../../config/schema.js';
import type { Bot } from '../bots/model.js';
import { Conflict, Invalid, NotFound } from '../errors.js';
import { outboxEvent, type DomainEventPublisher } from '../events.js';
import type { StreamBuffer } from '../shared-state.js';
import type { ConversationAccess } from './access.js';
import { completedEvent, newMessage } from './messages.js';
import type { ConversationRepository, Message } from './model.js';

/** What an external bot's program posts. */
export interface BotMessage {
  conversationId: string;
  /** The whole message; empty when it is streamed as deltas. */
  content?: string;
  /** Streamed: the message stays `streaming` until completed, taking deltas meanwhile. */
  stream?: boolean;
  /** The message answered; default the conversation's latest. */
  replyTo?: string;
}

export interface BotReplyDependencies {
  repo: ConversationRepository;
  access: ConversationAccess;
  streams: StreamBuffer;
  events: DomainEventPublisher;
  chat: Config['chat'];
}

/**
 * Messages an external bot's program posts through the bot API, whole or streamed: stored,
 * buffered and announced like the replies Parley generates, so that followers see no difference.
 */
export class BotReplies {
  constructor(private readonly deps: BotReplyDependencies) {}

  /** A message from an external bot's program, in a conversation the bot answers (a group's room included). */
  async post(bot: Bot, input: BotMessage): Promise<Message> {
    const conversation = await this.deps.repo.findById(input.conversationId);
    if (!conversation || conversation.botId !== bot.id) throw new NotFound('Conversation');
    const content = input.content ?? '';
    if (content.length > this.deps.chat.maxMessageChars) {
      throw new Invalid(`content must be at most ${this.deps.chat.maxMessageChars} characters`, 'content');
    }
    if (input.stream ? content !== '' : !content.trim()) {
      throw new Invalid(
        input.stream ? 'A streamed message starts empty: send its text as deltas' : 'content must not be empty',
        'content',
      );
    }
    let parentId = await this.deps.repo.latestMessageId(conversation.id);
    if (input.replyTo !== undefined) {
      const question = await this.deps.repo.findMessage(input.replyTo);
      if (!question || question.conversationId !== conversation.id) throw new NotFound('Message');
      parentId = question.id;
    }
    const message = newMessage({
      conversationId: conversation.id,
      senderId: bot.id,
      role: 'assistant',
      content,
      status: input.stream ? 'streaming' : 'complete',
      parentId,
    });
    const audience = await this.deps.access.audience(conversation);
    const events = [outboxEvent('message.new', audience, { conversationId: conversation.id, message })];
    if (!input.stream) events.push(await completedEvent(this.deps.access, conversation, message, audience));
    await this.deps.repo.insertMessages([message], events);
    this.deps.events.publish('message.created', { message });
    if (!input.stream) {
      this.deps.streams.append(message.id, 1, content);
      this.deps.streams.end(message.id, { status: 'complete' });
      this.deps.events.publish('message.completed', { message });
    }
    return message;
  }

  /** The next piece of a message an external bot streams; its seq. Deltas are to be sent one at a time. */
  async delta(bot: Bot, messageId: string, text: string): Promise<number> {
    const message = await this.own(bot, messageId);
    if (!text) throw new Invalid('text must not be empty', 'text');
    if (message.content.length + text.length > this.deps.chat.maxMessageChars) {
      throw new Invalid(`A message may hold at most ${this.deps.chat.maxMessageChars} characters`, 'text');
    }
    const seq = await this.deps.repo.appendDelta(message.id, text, Date.now());
    if (seq === undefined) throw new Conflict('The message is complete; it takes no more deltas');
    this.deps.streams.append(message.id, seq, text);
    this.deps.events.publish('message.delta', {
      conversationId: message.conversationId,
      messageId: message.id,
      seq,
      text,
    });
    return seq;
  }

  /** Ends a message an external bot streamed. */
  async complete(bot: Bot, messageId: string): Promise<Message> {
    const message = await this.own(bot, messageId);
    if (message.status !== 'streaming') return message;
    const conversation = await this.deps.repo.findById(message.conversationId);
    const ended: Message = { ...message, status: 'complete', updatedAt: Date.now() };
    await this.deps.repo.updateMessage(
      message,
      { content: message.content, status: 'complete', updatedAt: ended.updatedAt },
      conversation ? [await completedEvent(this.deps.access, conversation, ended)] : [],
    );
    this.deps.streams.end(message.id, { status: 'complete' });
    this.deps.events.publish('message.completed', { message: ended });
    return ended;
  }

  private async own(bot: Bot, messageId: string): Promise<Message> {
    const message = await this.deps.repo.findMessage(messageId);
    if (!message || message.senderId !== bot.id) throw new NotFound('Message');
    return message;
  }
}
