import type { TokenUsage } from '../../../core/chat-model.js';
import type { Conversation, Message } from '../../../core/conversations/model.js';
import { failureOf } from '../../../core/conversations/messages.js';
import { ModelError, type DomainError } from '../../../core/errors.js';
import { toApiError, type ApiError } from '../../errors.js';
import type { ReplyFrames } from '../../sse.js';

/** The document's error body. */
export function chataiError({ code, message }: Pick<ApiError, 'code' | 'message'>) {
  return { success: false, error: { code, message } };
}

/** On a conversation's routes, what is not found is the conversation (someone else's included). */
export function conversationError(apiError: ApiError) {
  return chataiError(apiError.code === 'NOT_FOUND' ? { ...apiError, code: 'CONVERSATION_NOT_FOUND' } : apiError);
}

export function usageBody(usage: TokenUsage | null) {
  const promptTokens = usage?.promptTokens ?? 0;
  const completionTokens = usage?.completionTokens ?? 0;
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

/** Why a reply did not complete, in the document's codes: an upstream's refusal is the model's error. */
export function replyFailure(ended: Message): DomainError | undefined {
  const failure = failureOf(ended);
  return failure?.code === 'UPSTREAM_REJECTED' ? new ModelError(failure.message) : failure;
}

export function conversationSummary(conversation: Conversation) {
  return {
    id: conversation.id,
    userId: conversation.endUserId,
    groupId: conversation.endGroupId,
    messageCount: conversation.messageCount,
    lastMessage: conversation.lastMessage?.preview ?? null,
    updatedAt: conversation.updatedAt,
  };
}

export function messageEntry(message: Message) {
  return { role: message.role, content: message.content, timestamp: message.createdAt };
}

/** The stream as the document frames it: `start`, `content` per delta, then `end` with usage, or `error`. */
export function chataiFrames(conversationId: string): ReplyFrames {
  return {
    opening: frame({ type: 'start', conversationId }),
    delta: ({ text }) => frame({ type: 'content', text }),
    end(message) {
      const failure = replyFailure(message);
      return failure ? errorFrame(toApiError(failure)) : frame({ type: 'end', usage: usageBody(message.usage) });
    },
    unfollowable: errorFrame({ code: 'INTERNAL', message: 'The reply cannot be followed right now' }),
  };
}

function errorFrame({ code, message }: Pick<ApiError, 'code' | 'message'>): string {
  return frame({ type: 'error', error: { code, message } });
}

function frame(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}
