import { Type } from '@sinclair/typebox';
import { principalOf } from '../../auth.js';
import type { NativeApp, NativeContext } from '../types.js';
import { Millis } from '../schemas.js';

const ModelBody = Type.Object({
  id: Type.String(),
  displayName: Type.String(),
  provider: Type.String(),
  contextLength: Type.Integer(),
  maxTokens: Type.Integer(),
  capabilities: Type.Object({
    vision: Type.Optional(Type.Boolean()),
    tools: Type.Optional(Type.Boolean()),
    embeddings: Type.Optional(Type.Boolean()),
    audio: Type.Optional(Type.Boolean()),
  }),
});

export function modelRoutes(app: NativeApp, { core }: NativeContext): void {
  app.get(
    '/models',
    {
      schema: {
        tags: ['models'],
        summary: 'The model catalog, as far as your tier may use it',
        response: { 200: Type.Object({ items: Type.Array(ModelBody) }) },
      },
    },
    async (request) => ({ items: await core.completions.models(principalOf(request).user) }),
  );

  app.get(
    '/usage',
    {
      schema: {
        tags: ['models'],
        summary: 'Your model usage between two instants, by day or by model',
        querystring: Type.Object(
          {
            from: Type.Optional(Millis({ description: 'Start (epoch ms, inclusive); default 30 days before `to`' })),
            to: Type.Optional(Millis({ description: 'End (epoch ms, exclusive); default now' })),
            groupBy: Type.Optional(Type.Union([Type.Literal('day'), Type.Literal('model')], { default: 'day' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            groupBy: Type.String(),
            items: Type.Array(
              Type.Object({
                key: Type.Union([Type.String(), Type.Number()], {
                  description: 'The day (epoch ms of UTC midnight) or the model',
                }),
                requests: Type.Integer(),
                promptTokens: Type.Integer(),
                completionTokens: Type.Integer(),
                errors: Type.Integer(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const groupBy = request.query.groupBy ?? 'day';
      return {
        groupBy,
        items: await core.usage.summarize(principalOf(request).user.id, { ...request.query, groupBy }),
      };
    },
  );
}
