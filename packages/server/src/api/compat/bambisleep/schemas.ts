import { Type, type Static } from '@sinclair/typebox';
import { AVATAR_URL, DISPLAY_NAME } from '../../../core/accounts/rules.js';
import { CONVERSATIONS_PAGE } from '../../../core/conversations/rules.js';
import {
  MAX_ACTIVE_TRIGGERS,
  TRIGGERS_PAGE,
  TRIGGER_CONTENT,
  TRIGGER_DESCRIPTION,
  TRIGGER_NAME,
} from '../../../core/triggers/rules.js';
import { ALL_EVENTS, WEBHOOK_EVENTS, WEBHOOK_SECRET, WEBHOOK_URL } from '../../../core/webhooks/rules.js';
import { ProfileBody as NativeProfileBody } from '../../native/routes/profiles.js';
import { Nullable, StringEnum } from '../../../lib/schema.js';

/** Times are ISO 8601 strings on this surface. */
const Iso = Type.String({ format: 'date-time' });
const Id = Type.String({ minLength: 1, maxLength: 64 });

export const ErrorBody = Type.Object(
  {
    error: Type.Literal(true),
    code: Type.String({ description: 'e.g. VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, RATE_LIMITED' }),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { title: 'BambisleepError' },
);

export const LoginBody = Type.Object(
  { username: Type.String({ maxLength: 256 }), password: Type.String({ maxLength: 256 }) },
  { additionalProperties: false },
);

export const LoginAnswer = Type.Object({
  success: Type.Boolean(),
  message: Type.String(),
  user: Type.Object({ id: Type.String(), username: Type.String() }),
});

export const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) });

/** The native profile, with its time in ISO 8601 as the document writes times. */
export const ProfileBody = Type.Composite([
  Type.Omit(NativeProfileBody, ['createdAt']),
  Type.Object({ createdAt: Iso }),
]);

export const ProfileChanges = Type.Object(
  {
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: DISPLAY_NAME.maxLength })),
    avatarUrl: Type.Optional(Nullable(Type.String({ maxLength: AVATAR_URL.maxLength, pattern: AVATAR_URL.pattern }))),
    isPublic: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** `POST /ai/generate`; the prompt is bounded by the server's `chat.maxMessageChars`. */
export function generateBody(maxMessageChars: number) {
  return Type.Object(
    {
      // Not blank: a prompt of spaces would be refused only once a session had been chosen.
      prompt: Type.String({ minLength: 1, maxLength: maxMessageChars, pattern: '\\S' }),
      settings: Type.Optional(
        Type.Object(
          {
            model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            includeAudio: Type.Optional(Type.Boolean()),
            includeTriggers: Type.Optional(Type.Boolean()),
            triggers: Type.Optional(
              Type.Array(Type.String({ minLength: 1, maxLength: TRIGGER_NAME.maxLength }), {
                maxItems: MAX_ACTIVE_TRIGGERS,
                description:
                  "Names or ids of triggers (public or yours) to make the session's active ones, replacing those " +
                  'active; `[]` deactivates them all. Without it the session keeps its triggers.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
      ),
    },
    { additionalProperties: false },
  );
}
export type GenerateBody = Static<ReturnType<typeof generateBody>>;

export const GenerateAnswer = Type.Object({
  response: Type.String(),
  audioUrl: Type.Optional(Type.String({ description: 'With `includeAudio`: the reply spoken, as an audio file' })),
  triggers: Type.Optional(
    Type.Array(Type.String(), {
      description: 'With `includeTriggers`: the triggers (that you may see) the reply names',
    }),
  ),
});

export const TriggerBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  isPublic: Type.Boolean(),
  creator: Type.String({ description: "The creator's username" }),
});

export const TriggerList = Type.Object({ triggers: Type.Array(TriggerBody) });

export const TriggersQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: TRIGGERS_PAGE.maxLimit, default: TRIGGERS_PAGE.maxLimit }),
    before: Type.Optional(Type.String({ maxLength: 64, description: 'The last id of the previous page' })),
  },
  { additionalProperties: false },
);

export const NewTrigger = Type.Object(
  {
    name: Type.String(TRIGGER_NAME),
    description: Type.Optional(Type.String(TRIGGER_DESCRIPTION)),
    isPublic: Type.Optional(Type.Boolean()),
    content: Type.String(TRIGGER_CONTENT),
  },
  { additionalProperties: false },
);

export const SessionsQuery = Type.Object(
  {
    limit: Type.Integer({
      minimum: 1,
      maximum: CONVERSATIONS_PAGE.maxLimit,
      default: CONVERSATIONS_PAGE.maxLimit,
    }),
    offset: Type.Integer({ minimum: 0, maximum: CONVERSATIONS_PAGE.maxOffset, default: 0 }),
  },
  { additionalProperties: false },
);

const SessionSummary = Type.Object({ id: Type.String(), createdAt: Iso, messageCount: Type.Integer() });
export const SessionList = Type.Object({ sessions: Type.Array(SessionSummary) });

export const SessionParams = Type.Object({ sessionId: Id });

export const SessionBody = Type.Object({
  id: Type.String(),
  createdAt: Iso,
  messages: Type.Array(
    Type.Object({ role: StringEnum(['user', 'assistant', 'system']), content: Type.String(), timestamp: Iso }),
  ),
});

export const NewWebhook = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: WEBHOOK_URL.maxLength,
      description: 'http(s); internal addresses are refused unless the server allow-lists them',
    }),
    events: Type.Array(StringEnum([...WEBHOOK_EVENTS, ALL_EVENTS]), {
      minItems: 1,
      maxItems: WEBHOOK_EVENTS.length + 1,
      uniqueItems: true,
    }),
    secret: Type.String({
      minLength: WEBHOOK_SECRET.minLength,
      maxLength: WEBHOOK_SECRET.maxLength,
      description: 'Signs every delivery: `X-Parley-Signature: sha256=<HMAC-SHA256 of "<X-Parley-Timestamp>.<body>">`',
    }),
  },
  { additionalProperties: false },
);

export const WebhookBody = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  active: Type.Boolean(),
  createdAt: Iso,
});
