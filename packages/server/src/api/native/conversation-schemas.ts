import { Type } from '@sinclair/typebox';
import {
  CLIENT_ID,
  CONVERSATIONS_PAGE,
  FEEDBACK_COMMENT,
  MAX_ATTACHMENTS_PER_MESSAGE,
  MESSAGES_PAGE,
  RATING,
  TITLE,
} from '../../core/conversations/rules.js';
import { MAX_VARIABLE_VALUES, SYSTEM_PROMPT, VARIABLE_NAME, VARIABLE_VALUE } from '../../core/bots/rules.js';
import { FEEDBACK_TYPES, MESSAGE_STATUSES } from '../../core/conversations/model.js';
import { Nullable, StringEnum } from '../../lib/schema.js';
import { Millis } from './schemas.js';

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Variables = Type.Record(
  Type.String({ maxLength: VARIABLE_NAME.maxLength, pattern: VARIABLE_NAME.pattern }),
  Type.String({ maxLength: VARIABLE_VALUE.maxLength }),
  { maxProperties: MAX_VARIABLE_VALUES, description: 'Values of the system prompt template variables' },
);
const Title = Type.String({ minLength: 1, maxLength: TITLE.maxLength });
const SystemPrompt = Type.String({ maxLength: SYSTEM_PROMPT.maxLength });
const ModelId = Type.String({ minLength: 1, maxLength: 200 });

export const ConversationBody = Type.Object({
  id: Type.String(),
  ownerId: Type.String(),
  botId: Nullable(Type.String()),
  groupId: Nullable(Type.String()),
  title: Nullable(Type.String()),
  model: Nullable(Type.String()),
  systemPrompt: Nullable(Type.String()),
  variables: Type.Record(Type.String(), Type.String()),
  contextClearedAt: Nullable(Millis({ description: 'Messages up to then no longer reach the model' })),
  messageCount: Type.Integer(),
  lastMessage: Nullable(Type.Object({ id: Type.String(), preview: Type.String(), createdAt: Millis() })),
  createdAt: Millis(),
  updatedAt: Millis(),
});
export const ConversationEnvelope = Type.Object({ conversation: ConversationBody });

export const NewConversation = Type.Object(
  {
    botId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A bot id or name' })),
    title: Type.Optional(Title),
    model: Type.Optional(ModelId),
    systemPrompt: Type.Optional(SystemPrompt),
    variables: Type.Optional(Variables),
  },
  { additionalProperties: false },
);

export const ConversationChanges = Type.Object(
  {
    botId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 64 }))),
    title: Type.Optional(Nullable(Title)),
    model: Type.Optional(Nullable(ModelId)),
    systemPrompt: Type.Optional(Nullable(SystemPrompt)),
    variables: Type.Optional(Variables),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ConversationListQuery = Type.Object(
  {
    botId: Type.Optional(Id),
    groupId: Type.Optional(Id),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: CONVERSATIONS_PAGE.maxLimit, default: CONVERSATIONS_PAGE.defaultLimit }),
    ),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
    offset: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: CONVERSATIONS_PAGE.maxOffset,
        description: 'Instead of a cursor; adds total',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ConversationPage = Type.Object({
  items: Type.Array(ConversationBody),
  nextCursor: Nullable(Type.String()),
  total: Type.Optional(Type.Integer({ description: 'With offset only' })),
});

export const MessageBody = Type.Object({
  id: Type.String(),
  conversationId: Type.String(),
  senderId: Nullable(Type.String({ description: 'The user, or the bot (null for a conversation without one)' })),
  role: StringEnum(['user', 'assistant', 'system']),
  content: Type.String(),
  attachments: Type.Array(Type.String(), { description: 'File ids' }),
  model: Nullable(Type.String()),
  usage: Nullable(
    Type.Object({ promptTokens: Type.Integer(), completionTokens: Type.Integer(), totalTokens: Type.Integer() }),
  ),
  status: StringEnum(MESSAGE_STATUSES),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  parentId: Nullable(Type.String({ description: 'The message this one follows; siblings are branches' })),
  clientId: Nullable(Type.String()),
  createdAt: Millis(),
  updatedAt: Millis(),
});
export const MessageEnvelope = Type.Object({ message: MessageBody });

export const NewMessage = Type.Object(
  {
    content: Type.String({ maxLength: 1_000_000 }),
    attachmentIds: Type.Optional(Type.Array(Id, { maxItems: MAX_ATTACHMENTS_PER_MESSAGE })),
    clientId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: CLIENT_ID.maxLength,
        description: 'Idempotency key: sending the same one again stores nothing new',
      }),
    ),
  },
  { additionalProperties: false },
);

export const MessageEdit = Type.Object(
  { content: Type.String({ maxLength: 1_000_000 }) },
  { additionalProperties: false },
);

export const StreamQuery = Type.Object(
  {
    stream: Type.Optional(
      Type.Boolean({ description: 'Answer as server-sent events (as does Accept: text/event-stream)' }),
    ),
  },
  { additionalProperties: false },
);

export const Exchange = Type.Object({ userMessage: MessageBody, reply: Nullable(MessageBody) });

export const MessageListQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MESSAGES_PAGE.maxLimit, default: MESSAGES_PAGE.defaultLimit }),
    ),
    before: Type.Optional(Type.String({ maxLength: 64, description: 'Messages older than this message id' })),
    after: Type.Optional(Type.String({ maxLength: 64, description: 'Messages newer than this message id' })),
    since: Type.Optional(Millis({ description: 'Messages created strictly after this time' })),
    senderId: Type.Optional(Id),
    page: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'From the newest, 1-based; adds total' }),
    ),
  },
  { additionalProperties: false },
);

export const MessagePage = Type.Object({
  items: Type.Array(MessageBody, { description: 'Oldest first' }),
  hasMore: Type.Boolean({ description: 'Whether more messages lie beyond this page in the direction of travel' }),
  total: Type.Optional(Type.Integer({ description: 'With page only: the messages matching the filters' })),
});

export const ResumeQuery = Type.Object(
  { after: Type.Optional(Type.Integer({ minimum: 0, description: 'The last seq received (as Last-Event-ID)' })) },
  { additionalProperties: false },
);

export const FeedbackInputBody = Type.Object(
  {
    type: StringEnum(FEEDBACK_TYPES),
    value: Type.Optional(
      Type.Integer({ minimum: RATING.min, maximum: RATING.max, description: 'Stars of a rating; 1 for a thumb' }),
    ),
    comment: Type.Optional(Nullable(Type.String({ maxLength: FEEDBACK_COMMENT.maxLength }))),
  },
  { additionalProperties: false },
);

export const FeedbackBody = Type.Object({
  id: Type.String(),
  messageId: Type.String(),
  conversationId: Type.String(),
  userId: Type.String(),
  type: StringEnum(FEEDBACK_TYPES),
  value: Type.Integer(),
  comment: Nullable(Type.String()),
  createdAt: Millis(),
  updatedAt: Millis(),
});

export const FeedbackSummaryBody = Type.Object({
  total: Type.Integer(),
  positive: Type.Integer({ description: 'Thumbs up, and ratings of 4 or more' }),
  negative: Type.Integer({ description: 'Thumbs down, and ratings of 2 or less' }),
  averageRating: Nullable(Type.Number()),
  items: Type.Array(FeedbackBody),
});
