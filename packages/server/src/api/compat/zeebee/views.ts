import type { Bot } from '../../../core/bots/model.js';
import type { Conversation, Message } from '../../../core/conversations/model.js';

/** Times on this surface are ISO 8601, as its document shows them. */
export const iso = (ms: number) => new Date(ms).toISOString();

/** A conversation as the document lists it; `user_id` is the end user it is with, if any. */
export function conversationView(conversation: Conversation) {
  return {
    id: conversation.id,
    title: conversation.title ?? '',
    created_at: iso(conversation.createdAt),
    updated_at: iso(conversation.updatedAt),
    message_count: conversation.messageCount,
    user_id: conversation.endUserId,
    model: conversation.model,
    system_prompt: conversation.systemPrompt,
  };
}

export function messageView(message: Message) {
  return {
    id: message.id,
    role: message.role,
    content: message.content,
    created_at: iso(message.createdAt),
    model: message.model,
    status: message.status,
  };
}

/** A template is what Parley calls a bot; its name is the bot's. */
export function templateSummary(bot: Bot) {
  return { id: bot.id, name: bot.name, display_name: bot.displayName, description: bot.description };
}
