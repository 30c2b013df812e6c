import { Type } from '@sinclair/typebox';
import type { NativeApp, NativeContext } from '../types.js';
import { principalOf } from '../../auth.js';
import { ApiKeyBody, IdParams, KeyName, Millis } from '../schemas.js';

export function keyRoutes(app: NativeApp, { core }: NativeContext): void {
  const { apiKeys } = core;

  app.post(
    '/keys',
    {
      schema: {
        tags: ['api keys'],
        summary: 'Create an API key; the secret is in this answer only',
        body: Type.Object(
          { name: KeyName, expiresAt: Type.Optional(Type.Union([Millis(), Type.Null()])) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            id: Type.String(),
            name: Type.String(),
            prefix: Type.String(),
            key: Type.String({ description: 'The secret: send it as `Authorization: Bearer <key>`' }),
            expiresAt: Type.Union([Millis(), Type.Null()]),
            createdAt: Millis(),
          }),
        },
      },
    },
    async (request, reply) => {
      const key = await apiKeys.create(principalOf(request).user, request.body);
      return reply.code(201).send({ ...key, key: key.secret });
    },
  );

  app.get(
    '/keys',
    {
      schema: {
        tags: ['api keys'],
        summary: 'Your API keys, newest first (revoked ones included, marked by revokedAt)',
        response: { 200: Type.Object({ items: Type.Array(ApiKeyBody) }) },
      },
    },
    async (request) => ({ items: await apiKeys.list(principalOf(request).user) }),
  );

  app.delete(
    '/keys/:id',
    {
      schema: {
        tags: ['api keys'],
        summary: 'Revoke one of your API keys; it is refused from this moment on',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await apiKeys.revoke(principalOf(request).user, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
