import { outboxEvent } from '../events.js';
import { newId } from '../ids.js';
import type { ConversationAccess } from './access.js';
import type { Conversation, Message } from './model.js';

/** A message as it is first stored: what differs between kinds of message is given, the rest is blank. */
export function newMessage(
  fields: Pick<Message, 'conversationId' | 'senderId' | 'role' | 'content' | 'status' | 'parentId'> &
    Partial<Pick<Message, 'attachments' | 'model' | 'clientId'>>,
  /** Messages that follow another are stamped after it, even within the same millisecond. */
  after?: Pick<Message, 'createdAt'>,
): Message {
  const now = after ? Math.max(Date.now(), after.createdAt + 1) : Date.now();
  return {
    id: newId(),
    attachments: [],
    model: null,
    usage: null,
    error: null,
    clientId: null,
    ...fields,
    createdAt: now,
    updatedAt: now,
  };
}

/** The outbox event of a message that has ended, for the conversation's audience. */
export async function completedEvent(
  access: ConversationAccess,
  conversation: Conversation,
  message: Message,
  audience?: string[],
) {
  return outboxEvent('message.completed', audience ?? (await access.audience(conversation)), {
    conversationId: conversation.id,
    message,
  });
}
