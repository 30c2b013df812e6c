import type { User } from '../accounts/model.js';
import { NotFound } from '../errors.js';
import type { Conversation, ConversationRepository, Message } from './model.js';

/**
 * Who may read a conversation and its messages: its owner. Someone else's conversation does not
 * exist for them (NotFound, never Forbidden), so that ids reveal nothing.
 */
export class ConversationAccess {
  constructor(private readonly repo: ConversationRepository) {}

  async conversation(user: User, id: string): Promise<Conversation> {
    const conversation = await this.repo.findById(id);
    if (!conversation || !canRead(user, conversation)) throw new NotFound('Conversation');
    return conversation;
  }

  async message(user: User, id: string): Promise<{ message: Message; conversation: Conversation }> {
    const message = await this.repo.findMessage(id);
    const conversation = message && (await this.repo.findById(message.conversationId));
    if (!message || !conversation || !canRead(user, conversation)) throw new NotFound('Message');
    return { message, conversation };
  }
}

export function canRead(user: User, conversation: Conversation): boolean {
  return conversation.ownerId === user.id;
}

/** Whose webhooks hear of a change in the conversation. */
export function audienceOf(conversation: Conversation): string[] {
  return [conversation.ownerId];
}
