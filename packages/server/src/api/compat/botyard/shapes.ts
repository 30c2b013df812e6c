import { createHash } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import type { Config } from '../../../config/schema.js';
import type { User } from '../../../core/accounts/model.js';
import type { Bot, BotCommand } from '../../../core/bots/model.js';
import type { Conversation, Message } from '../../../core/conversations/model.js';
import type { StoredFile } from '../../../core/files/model.js';
import type { BotBody, ChatBody, CommandBody, FileBody, MessageBody, ServiceInfo, UserBody } from './schemas.js';

export function serviceInfo(service: Config['service']): Static<typeof ServiceInfo> {
  const socials = Object.entries(service.socials).map(([title, url]) => ({ title, url }));
  return { name: service.name, description: service.description, socials };
}

export function userView(user: User): Static<typeof UserBody> {
  return { id: user.id, nickname: user.displayName };
}

/** Empty fields are left out, as Botyard does (its client shows initials when there is no avatar). */
export function botView(bot: Bot): Static<typeof BotBody> {
  return {
    id: bot.id,
    name: bot.displayName,
    ...(bot.description && { description: bot.description }),
    ...(bot.avatarUrl && { avatar: bot.avatarUrl }),
  };
}

/** Commands have no ids of their own: theirs is derived from the bot and the alias, so it stays the same. */
export function commandView(bot: Bot, command: BotCommand): Static<typeof CommandBody> {
  const id = createHash('sha256').update(`${bot.id}\0${command.alias.toLowerCase()}`).digest('hex').slice(0, 26);
  return { id, alias: command.alias, description: command.description };
}

export function chatView(conversation: Conversation): Static<typeof ChatBody> {
  return { id: conversation.id, userId: conversation.ownerId, botId: conversation.botId ?? '' };
}

export function fileView(file: StoredFile): Static<typeof FileBody> {
  return { id: file.id, path: file.path, name: file.name, size: file.size, mimeType: file.mimeType };
}

/**
 * Botyard's web client puts message bodies into the page as HTML. The client is served from
 * Parley's own origin, so a body that a model (or a prompt injected into it) or another user wrote
 * must not run there: bodies go out with `&`, `<` and `>` escaped, and show as the text they are.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>]/g, (c) => HTML_ENTITIES[c]!);
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** A message; `files` holds the attachments the caller may read, by id (others are left out). */
export function messageView(message: Message, files: ReadonlyMap<string, StoredFile>): Static<typeof MessageBody> {
  return {
    id: message.id,
    chatId: message.conversationId,
    senderId: message.senderId ?? '',
    body: escapeHtml(bodyOf(message)),
    attachments: message.attachments.flatMap((id) => {
      const file = files.get(id);
      return file ? [fileView(file)] : [];
    }),
    timestamp: message.createdAt,
  };
}

/** A reply that failed before it said anything says why, rather than showing as an empty bubble. */
function bodyOf(message: Message): string {
  if (message.content || message.status === 'complete') return message.content;
  return message.error?.message ?? 'The reply was cancelled';
}
