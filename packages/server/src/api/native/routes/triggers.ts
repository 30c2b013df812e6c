import { Type } from '@sinclair/typebox';
import {
  MAX_ACTIVE_TRIGGERS,
  TRIGGERS_PAGE,
  TRIGGER_CONTENT,
  TRIGGER_DESCRIPTION,
  TRIGGER_NAME,
} from '../../../core/triggers/rules.js';
import { principalOf } from '../../auth.js';
import { IdParams, Millis } from '../schemas.js';
import type { NativeApp, NativeContext } from '../types.js';

const TriggerBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  content: Type.String(),
  isPublic: Type.Boolean(),
  creator: Type.String({ description: "The creator's username" }),
  createdAt: Millis(),
  updatedAt: Millis(),
});

const ActiveTriggerBody = Type.Omit(TriggerBody, ['creator']);

const fields = {
  name: Type.String(TRIGGER_NAME),
  description: Type.String(TRIGGER_DESCRIPTION),
  content: Type.String(TRIGGER_CONTENT),
  isPublic: Type.Boolean(),
};

export function triggerRoutes(app: NativeApp, { core }: NativeContext): void {
  const { triggers } = core;

  app.get(
    '/triggers',
    {
      schema: {
        tags: ['triggers'],
        summary: 'Public triggers and yours, newest first',
        querystring: Type.Object(
          {
            mine: Type.Optional(Type.Boolean({ description: 'Only yours' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: TRIGGERS_PAGE.maxLimit })),
            before: Type.Optional(Type.String({ maxLength: 64, description: 'The last id of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(TriggerBody) }) },
      },
    },
    async (request) => ({ items: await triggers.list(principalOf(request).user, request.query) }),
  );

  app.post(
    '/triggers',
    {
      schema: {
        tags: ['triggers'],
        summary: 'Create a trigger: a named prompt snippet to activate in conversations',
        body: Type.Object(
          {
            name: fields.name,
            content: fields.content,
            description: Type.Optional(fields.description),
            isPublic: Type.Optional(fields.isPublic),
          },
          { additionalProperties: false },
        ),
        response: { 201: TriggerBody },
      },
    },
    async (request, reply) => reply.code(201).send(await triggers.create(principalOf(request).user, request.body)),
  );

  app.get(
    '/triggers/:id',
    { schema: { tags: ['triggers'], summary: 'One trigger', params: IdParams, response: { 200: TriggerBody } } },
    async (request) => triggers.get(principalOf(request).user, request.params.id),
  );

  app.patch(
    '/triggers/:id',
    {
      schema: {
        tags: ['triggers'],
        summary: 'Change one of your triggers',
        params: IdParams,
        body: Type.Partial(Type.Object(fields), { additionalProperties: false }),
        response: { 200: TriggerBody },
      },
    },
    async (request) => triggers.update(principalOf(request).user, request.params.id, request.body),
  );

  app.delete(
    '/triggers/:id',
    {
      schema: {
        tags: ['triggers'],
        summary: 'Delete one of your triggers (it leaves the conversations it was active in)',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await triggers.delete(principalOf(request).user, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/conversations/:id/triggers',
    {
      schema: {
        tags: ['triggers'],
        summary: "The triggers active in a conversation: their content follows the bot's system prompt",
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(ActiveTriggerBody) }) },
      },
    },
    async (request) => ({ items: await triggers.active(principalOf(request).user, request.params.id) }),
  );

  app.put(
    '/conversations/:id/triggers',
    {
      schema: {
        tags: ['triggers'],
        summary: 'Set the triggers active in a conversation (replaces the set; each reply they shape earns XP)',
        params: IdParams,
        body: Type.Object(
          {
            triggerIds: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: MAX_ACTIVE_TRIGGERS }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(ActiveTriggerBody) }) },
      },
    },
    async (request) => ({
      items: await triggers.activate(principalOf(request).user, request.params.id, request.body.triggerIds),
    }),
  );
}
