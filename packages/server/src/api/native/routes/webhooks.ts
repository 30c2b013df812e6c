import { Type } from '@sinclair/typebox';
import {
  ALL_EVENTS,
  DELIVERIES_PAGE,
  PING_EVENT,
  WEBHOOK_EVENTS,
  WEBHOOK_SECRET,
  WEBHOOK_URL,
} from '../../../core/webhooks/rules.js';
import { Nullable, StringEnum } from '../../../lib/schema.js';
import { principalOf } from '../../auth.js';
import { IdParams, Millis } from '../schemas.js';
import type { NativeApp, NativeContext } from '../types.js';

const tags = ['webhooks'];

const Url = Type.String({
  minLength: 1,
  maxLength: WEBHOOK_URL.maxLength,
  description:
    'http(s) URL; loopback, private, link-local and other internal addresses are refused unless the server allow-lists them',
});
const Events = Type.Array(StringEnum([...WEBHOOK_EVENTS, ALL_EVENTS]), {
  minItems: 1,
  maxItems: WEBHOOK_EVENTS.length + 1,
  uniqueItems: true,
  description: `Event types to receive; \`${ALL_EVENTS}\` for all (also those added later). \`${PING_EVENT}\` is sent on request.`,
});
const Secret = Type.String({
  minLength: WEBHOOK_SECRET.minLength,
  maxLength: WEBHOOK_SECRET.maxLength,
  description: 'Signs every delivery (`X-Parley-Signature`); write-only',
});

const WebhookBody = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  active: Type.Boolean(),
  createdAt: Millis(),
  updatedAt: Millis(),
});
const WebhookEnvelope = Type.Object({ webhook: WebhookBody });

const DeliveryBody = Type.Object({
  id: Type.String({ description: 'Sent as the body `id` and `X-Parley-Delivery`' }),
  webhookId: Type.String(),
  eventId: Type.String({ description: 'The event delivered: a redelivery has the same' }),
  event: Type.String(),
  status: StringEnum(['pending', 'delivered', 'failed']),
  attemptCount: Type.Integer(),
  nextAttemptAt: Nullable(Millis()),
  createdAt: Millis(),
  completedAt: Nullable(Millis()),
  attempts: Type.Array(
    Type.Object({
      attemptedAt: Millis(),
      statusCode: Nullable(Type.Integer({ description: "The receiver's answer" })),
      error: Nullable(Type.String({ description: 'Why there was no answer' })),
      durationMs: Type.Integer(),
    }),
  ),
});
const DeliveryEnvelope = Type.Object({ delivery: DeliveryBody });

export function webhookRoutes(app: NativeApp, { core }: NativeContext): void {
  const { webhooks } = core;

  app.post(
    '/webhooks',
    {
      schema: {
        tags,
        summary: 'Subscribe a URL to your events',
        body: Type.Object({ url: Url, events: Events, secret: Secret }, { additionalProperties: false }),
        response: { 201: WebhookEnvelope },
      },
    },
    async (request, reply) => {
      const webhook = await webhooks.create(principalOf(request).user, request.body);
      return reply.code(201).send({ webhook });
    },
  );

  app.get(
    '/webhooks',
    {
      schema: {
        tags,
        summary: 'Your webhooks, oldest first',
        response: { 200: Type.Object({ items: Type.Array(WebhookBody) }) },
      },
    },
    async (request) => ({ items: await webhooks.list(principalOf(request).user) }),
  );

  app.get(
    '/webhooks/:id',
    { schema: { tags, summary: 'One of your webhooks', params: IdParams, response: { 200: WebhookEnvelope } } },
    async (request) => ({ webhook: await webhooks.get(principalOf(request).user, request.params.id) }),
  );

  app.patch(
    '/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'Change a webhook; an inactive one receives nothing (its pending deliveries wait)',
        params: IdParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            events: Type.Optional(Events),
            secret: Type.Optional(Secret),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: WebhookEnvelope },
      },
    },
    async (request) => ({
      webhook: await webhooks.update(principalOf(request).user, request.params.id, request.body),
    }),
  );

  app.delete(
    '/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'Delete a webhook with its deliveries',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await webhooks.delete(principalOf(request).user, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        summary: "A webhook's deliveries, newest first, each with its attempts",
        params: IdParams,
        querystring: Type.Object(
          {
            limit: Type.Optional(
              Type.Integer({ minimum: 1, maximum: DELIVERIES_PAGE.maxLimit, default: DELIVERIES_PAGE.defaultLimit }),
            ),
            cursor: Type.Optional(Type.String({ maxLength: 64, description: 'nextCursor of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(DeliveryBody), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (request) => webhooks.deliveries(principalOf(request).user, request.params.id, request.query),
  );

  app.post(
    '/webhooks/:id/deliveries/:deliveryId/redeliver',
    {
      schema: {
        tags,
        summary: 'Deliver the same event again, as a new delivery',
        params: Type.Object({ id: IdParams.properties.id, deliveryId: IdParams.properties.id }),
        response: { 201: DeliveryEnvelope },
      },
    },
    async (request, reply) => {
      const { id, deliveryId } = request.params;
      const delivery = await webhooks.redeliver(principalOf(request).user, id, deliveryId);
      return reply.code(201).send({ delivery });
    },
  );

  app.post(
    '/webhooks/:id/ping',
    {
      schema: {
        tags,
        summary: 'Send a `ping` event now; the answer holds its first attempt',
        params: IdParams,
        response: { 201: DeliveryEnvelope },
      },
    },
    async (request, reply) => {
      const delivery = await webhooks.ping(principalOf(request).user, request.params.id);
      return reply.code(201).send({ delivery });
    },
  );
}
