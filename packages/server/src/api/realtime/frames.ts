import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FastifyError } from 'fastify';
import { CLIENT_ID, MAX_ATTACHMENTS_PER_MESSAGE } from '../../core/conversations/rules.js';
import { StringEnum } from '../../lib/schema.js';
import { toApiError, type ApiError } from '../errors.js';
import type { Message as StoredMessage } from '../../core/conversations/model.js';
import type { MessageDelta } from '../../core/events.js';
import { MessageBody } from '../native/conversation-schemas.js';
import { messageBody } from '../native/reply-events.js';

const Id = Type.String({ minLength: 1, maxLength: 64 });
const MAX_REF_LENGTH = 64;
const Ref = Type.Union([Type.String({ maxLength: MAX_REF_LENGTH }), Type.Integer()], {
  description: 'Any id of yours: echoed as `ref` in the answer or error to this frame',
});
const ConversationId = Type.String({ minLength: 1, maxLength: 64, description: 'The conversation (the room)' });
const MessageId = Type.String({ minLength: 1, maxLength: 64, description: 'A reply (an assistant message)' });

const clientFrame = <T extends string, P extends Record<string, TSchema>>(
  type: T,
  description: string,
  properties: P,
) =>
  Type.Object(
    { type: Type.Literal(type), id: Type.Optional(Ref), ...properties },
    { additionalProperties: false, description },
  );

/** Frames a client sends: JSON text, one object each, told apart by `type`. */
export const CLIENT_FRAMES = {
  auth: clientFrame('auth', 'Authenticate a socket opened without credentials (answered with `ready`)', {
    token: Type.String({ minLength: 1, maxLength: 4096, description: 'An API key or a session token' }),
  }),
  subscribe: clientFrame(
    'subscribe',
    "Join a conversation's room: its new messages, deltas, completions, typing and presence (answered with `subscribed`)",
    { conversationId: ConversationId },
  ),
  unsubscribe: clientFrame('unsubscribe', 'Leave a room (answered with `unsubscribed`)', {
    conversationId: ConversationId,
  }),
  message: clientFrame('message', 'Send a message, as `POST /conversations/{id}/messages` (answered with `sent`)', {
    conversationId: ConversationId,
    content: Type.String({ maxLength: 1_000_000, description: 'The text (at most `chat.maxMessageChars`)' }),
    clientId: Type.String({
      minLength: 1,
      maxLength: CLIENT_ID.maxLength,
      description: 'Your idempotency key: the same one again stores nothing new and answers the messages stored',
    }),
    attachmentIds: Type.Optional(Type.Array(Id, { maxItems: MAX_ATTACHMENTS_PER_MESSAGE, description: 'File ids' })),
  }),
  typing: clientFrame('typing', 'Tell the room you are typing (passed on at most once a second)', {
    conversationId: ConversationId,
  }),
  resume: clientFrame(
    'resume',
    "Follow a reply's deltas after `after`, those missed then live ones, then `completed`",
    {
      messageId: MessageId,
      after: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'The last `seq` you received' }),
    },
  ),
  stop: clientFrame('stop', 'Stop a reply being generated (answered with `stopped`)', { messageId: MessageId }),
  ping: clientFrame('ping', 'Answered with `pong`', {}),
};

export type ClientFrame = {
  [K in keyof typeof CLIENT_FRAMES]: Static<(typeof CLIENT_FRAMES)[K]>;
}[keyof typeof CLIENT_FRAMES];
export type FrameRef = string | number;

const RefOut = Type.Optional(Type.Union([Type.String(), Type.Integer()], { description: 'The `id` of your frame' }));
const serverFrame = <T extends string, P extends Record<string, TSchema>>(
  type: T,
  description: string,
  properties: P,
) => Type.Object({ type: Type.Literal(type), ...properties }, { description });
const Message = Type.Unsafe<Static<typeof MessageBody>>({
  ...MessageBody,
  description: 'A message as the REST API shows it',
});

/** Frames the server sends. */
export const SERVER_FRAMES = {
  ready: serverFrame('ready', 'The socket is authenticated', { userId: Type.String() }),
  subscribed: serverFrame('subscribed', 'You joined the room', {
    ref: RefOut,
    conversationId: Type.String(),
    online: Type.Array(Type.String(), { description: 'The users present in the room, you included' }),
  }),
  unsubscribed: serverFrame('unsubscribed', 'You left the room, or were taken out of it', {
    ref: RefOut,
    conversationId: Type.String(),
    reason: StringEnum(['requested', 'deleted', 'removed'], {
      description: 'Your `unsubscribe`; the conversation was deleted; you left its group or were removed from it',
    }),
  }),
  sent: serverFrame('sent', 'Your message is stored (and its reply started, unless an external bot answers it)', {
    ref: RefOut,
    conversationId: Type.String(),
    clientId: Type.String(),
    duplicate: Type.Boolean({ description: 'The clientId was sent before: these are the messages stored then' }),
    userMessage: Message,
    reply: Type.Union([Message, Type.Null()], { description: 'The reply as started, or null' }),
  }),
  stopped: serverFrame('stopped', 'The reply as it ended (status `cancelled` unless it had ended already)', {
    ref: RefOut,
    message: Message,
  }),
  message: serverFrame(
    'message',
    "A new message in a room you joined (yours too), replies as they start ('streaming')",
    {
      message: Message,
    },
  ),
  delta: serverFrame('delta', 'The next piece of a reply', {
    messageId: Type.String(),
    conversationId: Type.String(),
    seq: Type.Integer({ description: 'From 1 per reply, without gaps; each sent once per socket' }),
    text: Type.String(),
  }),
  completed: serverFrame('completed', 'A reply ended; `message.status` is complete, error or cancelled', {
    message: Message,
  }),
  typing: serverFrame('typing', 'Someone in the room is typing (show it for about 5 seconds)', {
    conversationId: Type.String(),
    userId: Type.String(),
  }),
  presence: serverFrame('presence', "Another user's first socket joined the room, or their last one left", {
    conversationId: Type.String(),
    userId: Type.String(),
    status: StringEnum(['online', 'offline']),
  }),
  error: serverFrame('error', 'A frame was refused; the socket stays open unless a close follows', {
    ref: RefOut,
    code: Type.String({
      description: 'As in the REST API: VALIDATION_ERROR, UNAUTHORIZED, NOT_FOUND, RATE_LIMITED, …',
    }),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
  pong: serverFrame('pong', 'The answer to `ping`', { ref: RefOut }),
};

type ServerFrames = typeof SERVER_FRAMES;
type ServerFrame<K extends keyof ServerFrames> = Omit<Static<ServerFrames[K]>, 'type'>;

/** A frame as sent: serialised once, whatever number of sockets receive it. */
export function frame<K extends keyof ServerFrames>(type: K, fields: ServerFrame<K>): string {
  return JSON.stringify({ type, ...fields });
}

export function deltaFrame({ messageId, conversationId, seq, text }: MessageDelta): string {
  return frame('delta', { messageId, conversationId, seq, text });
}

export function completedFrame(message: StoredMessage): string {
  return frame('completed', { message: messageBody(message) });
}

const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
const validators = new Map<string, ValidateFunction>(
  Object.entries(CLIENT_FRAMES).map(([type, schema]) => [type, ajv.compile(schema)]),
);

type Parsed = { frame: ClientFrame } | { error: ApiError; ref?: FrameRef };

/** Reads a client frame, or tells what is wrong with it in the words of the REST API's validation errors. */
export function parseFrame(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: invalid('A frame must be a JSON object') };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: invalid('A frame must be a JSON object') };
  }
  const { type, id } = value as { type?: unknown; id?: unknown };
  // Echoed only when it is a valid id (an oversize one would be sent back whole).
  const ref =
    (typeof id === 'string' && id.length <= MAX_REF_LENGTH) || Number.isSafeInteger(id) ? (id as FrameRef) : undefined;
  const validate = typeof type === 'string' ? validators.get(type) : undefined;
  if (!validate) {
    return { error: invalid(`frame.type must be one of ${[...validators.keys()].join(', ')}`, 'type'), ref };
  }
  if (validate(value)) return { frame: value as ClientFrame };
  return { error: validationError(validate.errors ?? []), ref };
}

export function invalid(message: string, field?: string): ApiError {
  return { status: 400, code: 'VALIDATION_ERROR', message, details: field ? { field, in: 'frame' } : { in: 'frame' } };
}

function validationError(errors: ErrorObject[]): ApiError {
  const error = Object.assign(new Error('Invalid frame'), { validation: errors, validationContext: 'frame' });
  return toApiError(error as unknown as FastifyError);
}

/** The frames, one line each with their fields (`id`, told of once for all), for the route's OpenAPI description. */
export function describeFrames(frames: Record<string, TObject>): string {
  return Object.entries(frames)
    .map(([type, schema]) => {
      const fields = Object.entries(schema.properties as Record<string, TSchema>)
        .filter(([name]) => name !== 'type' && name !== 'id')
        .map(([name, field]) => {
          const optional = !(schema.required ?? []).includes(name);
          const values = field.enum ? ` (${(field.enum as string[]).map((v) => `\`${v}\``).join(' | ')})` : '';
          const note = field.description ? `: ${field.description}` : '';
          return `\`${name}${optional ? '?' : ''}\`${values}${note}`;
        });
      return `- \`${type}\` — ${schema.description}${fields.length ? `. Fields: ${fields.join('; ')}` : ''}`;
    })
    .join('\n');
}
