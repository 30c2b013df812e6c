import { Type, type Static } from '@sinclair/typebox';
import { CONVERSATIONS_PAGE, END_ID } from '../../../core/conversations/rules.js';

/** The application's own id of an end user or group, as its platform (Discord, QQ, …) gives it. */
const EndId = Type.String({ minLength: 1, maxLength: END_ID.maxLength });
/** Ids Parley hands out, and bot names or ids given as presets. */
const Id = Type.String({ minLength: 1, maxLength: 200 });

/**
 * `POST /api/chat` and `/api/chat/stream`. The message's length is bounded by the server's
 * `chat.maxMessageChars`; `groupId` and `preset` may be sent as null for "none".
 */
export function chatBody(maxMessageChars: number) {
  return Type.Object(
    {
      // Not blank: a message of spaces would begin a conversation and then be refused.
      message: Type.String({ minLength: 1, maxLength: maxMessageChars, pattern: '\\S' }),
      userId: EndId,
      groupId: Type.Optional(Type.Union([EndId, Type.Null()])),
      preset: Type.Optional(Type.Union([Id, Type.Null()])),
    },
    { additionalProperties: false },
  );
}
export type ChatBody = Static<ReturnType<typeof chatBody>>;

export const ConversationListQuery = Type.Object(
  {
    userId: Type.Optional(EndId),
    groupId: Type.Optional(EndId),
    limit: Type.Integer({ minimum: 1, maximum: CONVERSATIONS_PAGE.maxLimit, default: CONVERSATIONS_PAGE.defaultLimit }),
    offset: Type.Integer({ minimum: 0, maximum: CONVERSATIONS_PAGE.maxOffset, default: 0 }),
  },
  { additionalProperties: false },
);

export const ConversationParams = Type.Object({ id: Id });
