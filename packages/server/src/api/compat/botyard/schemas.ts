import { Type } from '@sinclair/typebox';
import { MAX_ATTACHMENTS_PER_MESSAGE } from '../../../core/conversations/rules.js';

/** Botyard's nickname rule: 3-32 English letters, digits, spaces and hyphens (here, not blank). */
export const NICKNAME = { minLength: 3, maxLength: 32, pattern: '^(?=.*[A-Za-z0-9])[A-Za-z0-9 -]+$' } as const;
export const MESSAGES_PAGE = { defaultLimit: 20, maxLimit: 100, maxPage: 1_000_000 } as const;

const Id = Type.String({ minLength: 1, maxLength: 100 });

export const IdParams = Type.Object({ id: Id });

export const NewUser = Type.Object(
  {
    nickname: Type.String({
      ...NICKNAME,
      description: `${NICKNAME.minLength}-${NICKNAME.maxLength} English letters, digits, spaces and hyphens`,
    }),
  },
  { additionalProperties: false },
);

export const NewChat = Type.Object({ botId: Id }, { additionalProperties: false });

export const ChatsQuery = Type.Object({ bot_id: Id });

export const NewMessage = Type.Object(
  {
    chatId: Id,
    body: Type.String({ description: 'May be empty when files are attached' }),
    attachmentIds: Type.Optional(Type.Array(Id, { maxItems: MAX_ATTACHMENTS_PER_MESSAGE })),
    senderId: Type.Optional(
      Type.String({ maxLength: 100, description: "Sent by Botyard's client; the sender is always the caller" }),
    ),
  },
  { additionalProperties: false },
);

export const MessagesQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: MESSAGES_PAGE.maxPage, default: 1 })),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MESSAGES_PAGE.maxLimit, default: MESSAGES_PAGE.defaultLimit }),
  ),
  sender_id: Type.Optional(Type.String({ maxLength: 100 })),
  since: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Only messages sent strictly after this instant (ms); 0: all' }),
  ),
});

export const ErrorBody = Type.Object({ message: Type.String() }, { title: 'BotyardError' });

export const ServiceInfo = Type.Object({
  name: Type.String(),
  description: Type.String(),
  socials: Type.Array(Type.Object({ title: Type.String(), url: Type.String() })),
});

export const UserBody = Type.Object({ id: Type.String(), nickname: Type.String() });

export const BotBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.Optional(Type.String()),
  avatar: Type.Optional(Type.String()),
});

export const CommandBody = Type.Object({ id: Type.String(), alias: Type.String(), description: Type.String() });

export const ChatBody = Type.Object({ id: Type.String(), userId: Type.String(), botId: Type.String() });

export const FileBody = Type.Object({
  id: Type.String(),
  path: Type.String({ description: 'Served at /<path>, e.g. static/images/<id>.png' }),
  name: Type.String(),
  size: Type.Integer(),
  mimeType: Type.String(),
});

export const MessageBody = Type.Object({
  id: Type.String(),
  chatId: Type.String(),
  senderId: Type.String(),
  body: Type.String({ description: 'HTML-escaped text' }),
  attachments: Type.Array(FileBody),
  timestamp: Type.Integer({ description: 'ms' }),
});

export const MessagesPage = Type.Object({
  chatId: Type.String(),
  page: Type.Integer(),
  limit: Type.Integer(),
  total: Type.Integer({ description: 'Messages matching the filters, on all pages' }),
  messages: Type.Array(MessageBody),
});

export const Deleted = Type.Object({ message: Type.String() });
