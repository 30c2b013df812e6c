import { Type } from '@sinclair/typebox';
import { PROVIDER_KINDS, ROUTING_STRATEGIES } from '../../../config/schema.js';
import { principalOf } from '../../auth.js';
import { StringEnum } from '../../../lib/schema.js';
import type { NativeApp, NativeContext } from '../types.js';
import { IdParams, Millis } from '../schemas.js';

const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  provider: StringEnum(PROVIDER_KINDS),
  baseUrl: Type.String({
    maxLength: 2000,
    description: 'API base URL (empty: the provider’s public API); for local, the GGUF path',
  }),
  apiKeys: Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), {
    maxItems: 100,
    description: 'Write-only: stored encrypted, never returned',
  }),
  models: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
    minItems: 1,
    maxItems: 1000,
    description: 'Model ids served, or ["*"]',
  }),
  priority: Type.Integer({ minimum: -1000, maximum: 1000, description: 'Higher first' }),
  weight: Type.Integer({ minimum: 1, maximum: 1000 }),
  strategy: StringEnum(ROUTING_STRATEGIES),
  enabled: Type.Boolean(),
  dailyQuota: Type.Integer({ minimum: 0, description: 'Requests per day; 0 for no limit' }),
};

const ChannelBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  provider: Type.String(),
  baseUrl: Type.String(),
  apiKeyCount: Type.Integer(),
  models: Type.Array(Type.String()),
  priority: Type.Integer(),
  weight: Type.Integer(),
  strategy: Type.String(),
  enabled: Type.Boolean(),
  dailyQuota: Type.Integer(),
  source: Type.String({ description: '`config` (read-only here) or `database`' }),
  health: Type.Object({
    consecutiveFailures: Type.Integer(),
    coolingUntil: Millis({ description: '0 when the channel is not cooling down' }),
    inFlight: Type.Integer(),
  }),
  createdAt: Millis(),
  updatedAt: Millis(),
});

export function channelRoutes(app: NativeApp, { core }: NativeContext): void {
  const { channels } = core;
  const tags = ['admin'];

  app.get(
    '/admin/channels',
    {
      schema: {
        tags,
        summary: 'Upstream channels and their health',
        response: { 200: Type.Object({ items: Type.Array(ChannelBody) }) },
      },
    },
    async (request) => ({ items: await channels.list(principalOf(request).user) }),
  );

  app.get(
    '/admin/channels/:id',
    { schema: { tags, summary: 'One channel', params: IdParams, response: { 200: ChannelBody } } },
    async (request) => channels.get(principalOf(request).user, request.params.id),
  );

  app.post(
    '/admin/channels',
    {
      schema: {
        tags,
        summary: 'Add a channel',
        body: Type.Object(
          {
            name: fields.name,
            provider: fields.provider,
            baseUrl: Type.Optional(fields.baseUrl),
            apiKeys: Type.Optional(fields.apiKeys),
            models: Type.Optional(fields.models),
            priority: Type.Optional(fields.priority),
            weight: Type.Optional(fields.weight),
            strategy: Type.Optional(fields.strategy),
            enabled: Type.Optional(fields.enabled),
            dailyQuota: Type.Optional(fields.dailyQuota),
          },
          { additionalProperties: false },
        ),
        response: { 201: ChannelBody },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const created = await channels.create(principalOf(request).user, {
        baseUrl: '',
        apiKeys: [],
        models: ['*'],
        priority: 0,
        weight: 1,
        strategy: 'priority',
        enabled: true,
        dailyQuota: 0,
        ...body,
      });
      return reply.code(201).send(created);
    },
  );

  app.patch(
    '/admin/channels/:id',
    {
      schema: {
        tags,
        summary: 'Change a channel (apiKeys, when given, replace the stored keys)',
        params: IdParams,
        body: Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 }),
        response: { 200: ChannelBody },
      },
    },
    async (request) => channels.update(principalOf(request).user, request.params.id, request.body),
  );

  app.delete(
    '/admin/channels/:id',
    { schema: { tags, summary: 'Remove a channel', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await channels.remove(principalOf(request).user, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
