import { Type, type TSchema } from '@sinclair/typebox';
import {
  BOT_NAME,
  MAX_TOKENS,
  MAX_VARIABLE_VALUES,
  SYSTEM_PROMPT,
  TEMPERATURE,
  TOP_P,
  VARIABLE_NAME,
  VARIABLE_VALUE,
} from '../../../core/bots/rules.js';
import { FEEDBACK_TYPES } from '../../../core/conversations/model.js';
import {
  CONVERSATIONS_PAGE,
  END_ID,
  FEEDBACK_COMMENT,
  MESSAGES_PAGE,
  TITLE,
} from '../../../core/conversations/rules.js';
import { SEARCH_LIMIT, SEARCH_QUERY } from '../../../core/search/text.js';
import { Nullable, StringEnum } from '../../../lib/schema.js';

/**
 * Requests as the zeebee document and its published SDK send them. Objects stay open (the SDK
 * sends fields Parley does not act on, such as `layout`, `metadata` or `frequency_penalty`), and
 * every optional field may also be sent as null, which means the same as leaving it out.
 */
const Maybe = <T extends TSchema>(schema: T) => Type.Optional(Nullable(schema));

const Id = Type.String({ minLength: 1, maxLength: 64 });
/** An end user of the caller's application, as the application names them. */
const EndUserId = Type.String({ minLength: 1, maxLength: END_ID.maxLength });
const ModelId = Type.String({ minLength: 1, maxLength: 200 });
const SystemPrompt = Type.String({ maxLength: SYSTEM_PROMPT.maxLength });
const TemplateName = Type.String({ minLength: 1, maxLength: BOT_NAME.maxLength });
const Variables = Type.Record(
  Type.String({ maxLength: VARIABLE_NAME.maxLength, pattern: VARIABLE_NAME.pattern }),
  Type.String({ maxLength: VARIABLE_VALUE.maxLength }),
  { maxProperties: MAX_VARIABLE_VALUES },
);
const Template = Type.Object({ name: TemplateName, variables: Maybe(Variables) });

/** What both chat routes take besides the text: where the turn goes and how it is answered. */
const TurnFields = {
  model: Maybe(ModelId),
  user_id: Maybe(EndUserId),
  conversation_id: Maybe(Id),
  system_prompt: Maybe(SystemPrompt),
  template: Maybe(Template),
  stream: Maybe(Type.Boolean()),
  temperature: Maybe(Type.Number(TEMPERATURE)),
  top_p: Maybe(Type.Number(TOP_P)),
  max_tokens: Maybe(Type.Integer(MAX_TOKENS)),
};

export const ChatBody = Type.Object({ message: Type.String(), ...TurnFields });

const TextPart = Type.Object({ type: Type.Literal('text'), text: Type.String() });
const CompletionMessage = Type.Object({
  role: StringEnum(['system', 'developer', 'user', 'assistant'] as const),
  content: Type.Union([Type.String(), Type.Array(TextPart, { maxItems: 100 })]),
});

export const CompletionBody = Type.Object({
  messages: Type.Array(CompletionMessage, { minItems: 1, maxItems: 100 }),
  ...TurnFields,
});

export const ConversationParams = Type.Object({ conversation_id: Id });
export const TemplateParams = Type.Object({ template_name: TemplateName });

export const ConversationListQuery = Type.Object({
  user_id: Type.Optional(EndUserId),
  limit: Type.Integer({ minimum: 1, maximum: CONVERSATIONS_PAGE.maxLimit, default: 10 }),
  offset: Type.Integer({ minimum: 0, maximum: CONVERSATIONS_PAGE.maxOffset, default: 0 }),
});

export const MessageListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: MESSAGES_PAGE.maxLimit, default: MESSAGES_PAGE.defaultLimit }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
});

const Title = Type.String({ minLength: 1, maxLength: TITLE.maxLength });

export const NewConversationBody = Type.Object({
  title: Maybe(Title),
  model: Maybe(ModelId),
  system_prompt: Maybe(SystemPrompt),
  user_id: Maybe(EndUserId),
  template: Maybe(Template),
});

export const ConversationChangesBody = Type.Object({
  title: Maybe(Title),
  model: Maybe(ModelId),
  system_prompt: Maybe(SystemPrompt),
});

export const ExportQuery = Type.Object({
  format: StringEnum(['json', 'markdown', 'text'] as const, { default: 'json' }),
});

export const TemplateSwitchBody = Type.Object({ template_name: TemplateName, variables: Maybe(Variables) });

export const FeedbackBody = Type.Object({
  conversation_id: Maybe(Id),
  message_id: Id,
  feedback_type: StringEnum(FEEDBACK_TYPES),
  feedback_value: Maybe(Type.Number()),
  comment: Maybe(Type.String({ maxLength: FEEDBACK_COMMENT.maxLength })),
  user_id: Maybe(EndUserId),
});

/** Results are the best `offset + limit`, less the first `offset`. */
const SearchFields = {
  query: Type.String({ maxLength: SEARCH_QUERY.maxLength }),
  user_id: Maybe(EndUserId),
  limit: Maybe(Type.Integer({ minimum: SEARCH_LIMIT.min, maximum: SEARCH_LIMIT.max })),
  offset: Maybe(Type.Integer({ minimum: 0, maximum: SEARCH_LIMIT.max - SEARCH_LIMIT.min })),
};

/** A search of conversations, or of the messages of the conversation in the path. */
export const SearchBody = Type.Object(SearchFields);
export const MessageSearchBody = Type.Object({ ...SearchFields, conversation_id: Maybe(Id) });
