import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { MessageEnvelope } from '../conversation-schemas.js';
import { bearerToken } from '../../auth.js';
import { messageBody } from '../reply-events.js';
import { IdParams } from '../schemas.js';
import type { NativeApp, NativeContext } from '../types.js';

const tags = ['bot api'];
/** Bot keys are checked here, not by the user admission: a bot is no user. */
const BOT_AUTH = { auth: 'none', quota: false } as const;

/** The API an external bot's program answers with, authenticated by its bot key. */
export function botApiRoutes(app: NativeApp, { core }: NativeContext): void {
  const { botKeys, botReplies } = core;
  const botOf = (request: FastifyRequest) => botKeys.authenticate(bearerToken(request).bearer);

  app.post(
    '/bot/messages',
    {
      config: BOT_AUTH,
      schema: {
        tags,
        summary: 'Post a message as the bot, in a conversation it answers',
        description:
          'With `stream: true` the message starts empty with `status: streaming`; send its text with ' +
          '`POST /bot/messages/{id}/deltas`, one at a time, then `POST /bot/messages/{id}/complete`.',
        security: [{ botKey: [] }],
        body: Type.Object(
          {
            conversationId: Type.String({ minLength: 1, maxLength: 64 }),
            content: Type.Optional(Type.String({ maxLength: 1_000_000 })),
            stream: Type.Optional(Type.Boolean()),
            replyTo: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The message answered' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: MessageEnvelope },
      },
    },
    async (request, reply) => {
      const message = await botReplies.post(await botOf(request), request.body);
      return reply.code(201).send({ message: messageBody(message) });
    },
  );

  app.post(
    '/bot/messages/:id/deltas',
    {
      config: BOT_AUTH,
      schema: {
        tags,
        summary: 'Append the next piece of a streamed message',
        security: [{ botKey: [] }],
        params: IdParams,
        body: Type.Object({ text: Type.String({ minLength: 1, maxLength: 100_000 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ seq: Type.Integer({ description: "The delta's place, from 1" }) }) },
      },
    },
    async (request) => ({ seq: await botReplies.delta(await botOf(request), request.params.id, request.body.text) }),
  );

  app.post(
    '/bot/messages/:id/complete',
    {
      config: BOT_AUTH,
      schema: {
        tags,
        summary: 'End a streamed message',
        security: [{ botKey: [] }],
        params: IdParams,
        response: { 200: MessageEnvelope },
      },
    },
    async (request) => ({
      message: messageBody(await botReplies.complete(await botOf(request), request.params.id)),
    }),
  );
}
