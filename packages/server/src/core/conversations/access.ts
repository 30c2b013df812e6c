import type { User } from '../accounts/model.js';
import { Forbidden, NotFound } from '../errors.js';
import type { GroupRepository } from '../groups/model.js';
import type { Conversation, ConversationRepository, Message } from './model.js';

/** Reading a conversation (and writing in it), or managing it (settings, clearing, deleting). */
export type AccessLevel = 'read' | 'manage';

/**
 * Who may do what in a conversation: its owner everything; the members of its group (a room)
 * read and write. Someone else's conversation does not exist for them (NotFound, never
 * Forbidden), so that ids reveal nothing.
 */
export class ConversationAccess {
  constructor(
    private readonly repo: ConversationRepository,
    private readonly groups: GroupRepository,
  ) {}

  async conversation(user: User, id: string, level: AccessLevel = 'read'): Promise<Conversation> {
    const conversation = await this.repo.findById(id);
    if (!conversation) throw new NotFound('Conversation');
    await this.check(user, conversation, level, 'Conversation');
    return conversation;
  }

  async message(user: User, id: string): Promise<{ message: Message; conversation: Conversation }> {
    const message = await this.repo.findMessage(id);
    const conversation = message && (await this.repo.findById(message.conversationId));
    if (!message || !conversation) throw new NotFound('Message');
    await this.check(user, conversation, 'read', 'Message');
    return { message, conversation };
  }

  /** Whose webhooks hear of a change in the conversation: its owner, or its group's members. */
  async audience(conversation: Conversation): Promise<string[]> {
    return conversation.groupId === null ? [conversation.ownerId] : this.groups.memberIds(conversation.groupId);
  }

  private async check(user: User, conversation: Conversation, level: AccessLevel, what: string): Promise<void> {
    if (conversation.ownerId === user.id) return;
    const member = conversation.groupId !== null && (await this.groups.member(conversation.groupId, user.id));
    if (!member) throw new NotFound(what);
    if (level === 'manage') throw new Forbidden("Only the group's owner may change its room");
  }
}
