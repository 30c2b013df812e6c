import { DomainError, ModelError, type ErrorCode } from '../errors.js';
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

/** Failures a reply keeps its own code for: they tell the caller more than "the model failed". */
const TOLD_AS_THEY_ARE = new Set<string>([
  'CHANNEL_UNAVAILABLE',
  'MODEL_NOT_FOUND',
  'CONTEXT_LENGTH_EXCEEDED',
  'UPSTREAM_REJECTED',
  'RATE_LIMITED',
] satisfies ErrorCode[]);

/**
 * Why a reply that has ended is not complete, as an error to answer with; undefined when it is
 * complete. A reply stopped, interrupted or broken off mid-answer is the model's error.
 */
export function failureOf(reply: Message): DomainError | undefined {
  if (reply.status === 'complete') return undefined;
  const error = reply.error ?? { code: 'MODEL_ERROR', message: 'The reply was stopped before it was complete' };
  return TOLD_AS_THEY_ARE.has(error.code)
    ? new DomainError(error.code as ErrorCode, error.message)
    : new ModelError(error.message);
}
