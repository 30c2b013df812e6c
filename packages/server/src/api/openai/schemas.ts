import { Type, type Static } from '@sinclair/typebox';

/**
 * Request bodies as OpenAI's API reference defines them. Parameters Parley does not act on (such
 * as `user`, `store`, `metadata`, `logprobs`) are accepted and ignored, as clients send them freely;
 * those it acts on are validated.
 */
const TextPart = Type.Object({ type: Type.Literal('text'), text: Type.String() });
const ImagePart = Type.Object({
  type: Type.Literal('image_url'),
  image_url: Type.Object({
    url: Type.String({ minLength: 1 }),
    detail: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('low'), Type.Literal('high')])),
  }),
});
const Content = Type.Union([Type.String(), Type.Array(Type.Union([TextPart, ImagePart]), { maxItems: 1000 })]);
const TextContent = Type.Union([Type.String(), Type.Array(TextPart, { maxItems: 1000 })]);

const ToolCall = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  type: Type.Literal('function'),
  function: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), arguments: Type.String() }),
});

export const ChatMessage = Type.Union([
  Type.Object({ role: Type.Union([Type.Literal('system'), Type.Literal('developer')]), content: TextContent }),
  Type.Object({ role: Type.Literal('user'), content: Content, name: Type.Optional(Type.String({ maxLength: 200 })) }),
  Type.Object({
    role: Type.Literal('assistant'),
    content: Type.Optional(Type.Union([TextContent, Type.Null()])),
    tool_calls: Type.Optional(Type.Array(ToolCall, { maxItems: 128 })),
  }),
  Type.Object({
    role: Type.Literal('tool'),
    tool_call_id: Type.String({ minLength: 1, maxLength: 200 }),
    content: TextContent,
  }),
]);
export type ChatMessage = Static<typeof ChatMessage>;

const Tool = Type.Object({
  type: Type.Literal('function'),
  function: Type.Object({
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9_-]+$' }),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  }),
});

const ToolChoice = Type.Union([
  Type.Literal('auto'),
  Type.Literal('none'),
  Type.Literal('required'),
  Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String({ minLength: 1 }) }) }),
]);

const ResponseFormat = Type.Union([
  Type.Object({ type: Type.Literal('text') }),
  Type.Object({ type: Type.Literal('json_object') }),
  Type.Object({
    type: Type.Literal('json_schema'),
    json_schema: Type.Object({
      name: Type.String({ maxLength: 64 }),
      schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    }),
  }),
]);

const OptionalNumber = (min: number, max: number) =>
  Type.Optional(Type.Union([Type.Number({ minimum: min, maximum: max }), Type.Null()]));

export const ChatCompletionBody = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 200 }),
  messages: Type.Array(ChatMessage, { minItems: 1, maxItems: 10_000 }),
  stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  stream_options: Type.Optional(
    Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()]),
  ),
  temperature: OptionalNumber(0, 2),
  top_p: OptionalNumber(0, 1),
  max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  stop: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 }), Type.Null()])),
  seed: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  presence_penalty: OptionalNumber(-2, 2),
  frequency_penalty: OptionalNumber(-2, 2),
  n: Type.Optional(Type.Union([Type.Literal(1), Type.Null()])),
  tools: Type.Optional(Type.Array(Tool, { maxItems: 128 })),
  tool_choice: Type.Optional(ToolChoice),
  response_format: Type.Optional(ResponseFormat),
});
export type ChatCompletionBody = Static<typeof ChatCompletionBody>;

export const EmbeddingBody = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 200 }),
  input: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: 2048 })]),
  encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
  dimensions: Type.Optional(Type.Integer({ minimum: 1 })),
  user: Type.Optional(Type.String()),
});
export type EmbeddingBody = Static<typeof EmbeddingBody>;
