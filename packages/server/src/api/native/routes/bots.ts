import { Type } from '@sinclair/typebox';
import { BOT_KINDS, BOT_VISIBILITIES } from '../../../core/bots/model.js';
import {
  BOT_AVATAR_URL,
  BOT_DESCRIPTION,
  BOT_DISPLAY_NAME,
  BOT_MODEL,
  BOT_NAME,
  BUILTIN_VARIABLES,
  COMMAND_ALIAS,
  COMMAND_DESCRIPTION,
  COMMAND_PROMPT,
  HELP_ALIAS,
  MAX_COMMANDS,
  MAX_DECLARED_VARIABLES,
  MAX_TOKENS,
  SYSTEM_PROMPT,
  TEMPERATURE,
  TOP_P,
  VARIABLE_DESCRIPTION,
  VARIABLE_NAME,
  VARIABLE_VALUE,
  WEBHOOK_URL,
} from '../../../core/bots/rules.js';
import { Nullable, StringEnum } from '../../../lib/schema.js';
import { principalOf } from '../../auth.js';
import { Millis } from '../schemas.js';
import type { NativeApp, NativeContext } from '../types.js';

const tags = ['bots'];

const Variable = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: VARIABLE_NAME.maxLength,
      pattern: VARIABLE_NAME.pattern,
      description: `Used as {{name}} in the system prompt; not one of the built-ins (${BUILTIN_VARIABLES.join(', ')})`,
    }),
    description: Type.Optional(Type.String({ maxLength: VARIABLE_DESCRIPTION.maxLength })),
    default: Type.Optional(
      Type.String({ maxLength: VARIABLE_VALUE.maxLength, description: 'Used when a conversation sets no value' }),
    ),
  },
  { additionalProperties: false },
);

const Command = Type.Object(
  {
    alias: Type.String({
      minLength: COMMAND_ALIAS.minLength,
      maxLength: COMMAND_ALIAS.maxLength,
      pattern: COMMAND_ALIAS.pattern,
      description: `Run as /alias; unique within the bot regardless of case; "${HELP_ALIAS}" is reserved`,
    }),
    description: Type.Optional(Type.String({ maxLength: COMMAND_DESCRIPTION.maxLength })),
    prompt: Type.Optional(
      Nullable(
        Type.String({
          minLength: COMMAND_PROMPT.minLength,
          maxLength: COMMAND_PROMPT.maxLength,
          description:
            'What the model receives instead of the message: {{input}} is replaced by the text after the alias, ' +
            'otherwise that text follows after a blank line. Without a prompt the message goes on as typed.',
        }),
      ),
    ),
  },
  { additionalProperties: false },
);

const Params = Type.Object(
  {
    temperature: Type.Optional(Type.Number(TEMPERATURE)),
    topP: Type.Optional(Type.Number(TOP_P)),
    maxTokens: Type.Optional(Type.Integer(MAX_TOKENS)),
  },
  { additionalProperties: false },
);

const fields = {
  name: Type.String({
    minLength: BOT_NAME.minLength,
    maxLength: BOT_NAME.maxLength,
    pattern: BOT_NAME.pattern,
    description: `Unique slug: ${BOT_NAME.minLength}-${BOT_NAME.maxLength} lower-case letters, digits, "-" or "_", starting with a letter`,
  }),
  displayName: Type.String({ minLength: BOT_DISPLAY_NAME.minLength, maxLength: BOT_DISPLAY_NAME.maxLength }),
  description: Type.String({ maxLength: BOT_DESCRIPTION.maxLength }),
  avatarUrl: Nullable(Type.String({ maxLength: BOT_AVATAR_URL.maxLength, pattern: BOT_AVATAR_URL.pattern })),
  systemPrompt: Type.String({
    maxLength: SYSTEM_PROMPT.maxLength,
    description: `A template: {{${BUILTIN_VARIABLES.join('}}, {{')}}} (YYYY-MM-DD, UTC) and the declared variables are filled in`,
  }),
  variables: Type.Array(Variable, { maxItems: MAX_DECLARED_VARIABLES }),
  model: Nullable(
    Type.String({
      minLength: BOT_MODEL.minLength,
      maxLength: BOT_MODEL.maxLength,
      description: "Null: the server's default",
    }),
  ),
  params: Params,
  commands: Type.Array(Command, { maxItems: MAX_COMMANDS }),
  visibility: StringEnum(BOT_VISIBILITIES, { description: 'Only admins create public bots or make bots public' }),
  kind: StringEnum(BOT_KINDS, {
    description: '`ai` replies with a model; `external` receives each message at its webhookUrl',
  }),
  webhookUrl: Nullable(
    Type.String({
      maxLength: WEBHOOK_URL.maxLength,
      pattern: WEBHOOK_URL.pattern,
      description: 'Required for external bots, refused for AI bots',
    }),
  ),
};

const BotFields = Type.Partial(Type.Object(fields));

const CommandBody = Type.Object({ alias: Type.String(), description: Type.String(), prompt: Nullable(Type.String()) });

export const BotBody = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    displayName: Type.String(),
    description: Type.String(),
    avatarUrl: Nullable(Type.String()),
    systemPrompt: Type.String(),
    variables: Type.Array(Type.Object({ name: Type.String(), description: Type.String(), default: Type.String() })),
    model: Nullable(Type.String()),
    params: Type.Object({
      temperature: Type.Optional(Type.Number()),
      topP: Type.Optional(Type.Number()),
      maxTokens: Type.Optional(Type.Integer()),
    }),
    commands: Type.Array(CommandBody),
    visibility: StringEnum(BOT_VISIBILITIES),
    kind: StringEnum(BOT_KINDS),
    ownerId: Nullable(Type.String({ description: 'Null for the installation’s bots: built-in and public ones' })),
    webhookUrl: Nullable(Type.String()),
    createdAt: Millis(),
    updatedAt: Millis(),
  },
  { title: 'Bot' },
);

const BotEnvelope = Type.Object({ bot: BotBody });

const Credentials = {
  botKey: Type.String({ description: "An external bot's key for the bot API, shown only here" }),
  signingSecret: Type.String({
    description: 'Verifies the deliveries to the webhook URL (X-Parley-Signature), shown only here',
  }),
};
const CreatedBot = Type.Object({
  bot: BotBody,
  botKey: Type.Optional(Credentials.botKey),
  signingSecret: Type.Optional(Credentials.signingSecret),
});

const BotParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: BOT_NAME.maxLength, description: 'The bot’s id or name' }),
});

export function botRoutes(app: NativeApp, { core }: NativeContext): void {
  const { bots } = core;

  app.get(
    '/bots',
    {
      schema: {
        tags,
        summary: 'The bots you may use, by name: public ones and your private ones (every bot for admins)',
        response: { 200: Type.Object({ items: Type.Array(BotBody) }) },
      },
    },
    async (request) => ({ items: await bots.list(principalOf(request).user) }),
  );

  app.post(
    '/bots',
    {
      schema: {
        tags,
        summary: 'Create a bot (private unless an admin makes it public)',
        body: Type.Object({ ...BotFields.properties, name: fields.name }, { additionalProperties: false }),
        description: 'An external bot also gets its `botKey` and `signingSecret`, in this answer only.',
        response: { 201: CreatedBot },
      },
    },
    async (request, reply) => {
      const { user } = principalOf(request);
      const bot = await bots.create(user, request.body);
      const credentials = bot.kind === 'external' ? await core.botKeys.issue(user, bot.id) : {};
      return reply.code(201).send({ bot, ...credentials });
    },
  );

  app.post(
    '/bots/:id/key',
    {
      schema: {
        tags,
        summary: "Rotate an external bot's key and signing secret; the old ones stop working at once",
        params: BotParams,
        response: { 201: Type.Object(Credentials) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await core.botKeys.issue(principalOf(request).user, request.params.id)),
  );

  app.get(
    '/bots/:id',
    {
      schema: { tags, summary: 'One bot, by id or name', params: BotParams, response: { 200: BotEnvelope } },
    },
    async (request) => ({ bot: await bots.get(principalOf(request).user, request.params.id) }),
  );

  app.patch(
    '/bots/:id',
    {
      schema: {
        tags,
        summary: 'Change a bot: owners their private bots, admins any bot',
        description: 'Lists (variables, commands) and params are replaced whole. A bot made public loses its owner.',
        params: BotParams,
        body: Type.Object(BotFields.properties, { additionalProperties: false, minProperties: 1 }),
        response: { 200: BotEnvelope },
      },
    },
    async (request) => ({ bot: await bots.update(principalOf(request).user, request.params.id, request.body) }),
  );

  app.delete(
    '/bots/:id',
    {
      schema: {
        tags,
        summary: 'Delete a bot: owners their private bots, admins any bot',
        params: BotParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await bots.delete(principalOf(request).user, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/bots/:id/commands',
    {
      schema: {
        tags,
        summary: `The bot's commands, /${HELP_ALIAS} first`,
        params: BotParams,
        response: { 200: Type.Object({ items: Type.Array(CommandBody) }) },
      },
    },
    async (request) => ({ items: await bots.commands(principalOf(request).user, request.params.id) }),
  );
}
