import { Type } from '@sinclair/typebox';
import { GROUP_NAME, GROUP_PREFIX } from '../../../core/groups/rules.js';
import { ISOLATIONS, REPLY_POLICIES } from '../../../core/groups/model.js';
import { publicGroup } from '../../../core/groups/service.js';
import { Nullable, StringEnum } from '../../../lib/schema.js';
import { principalOf } from '../../auth.js';
import { IdParams, Millis } from '../schemas.js';
import type { NativeApp, NativeContext } from '../types.js';

const tags = ['groups'];

const GroupBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  ownerId: Type.String(),
  botId: Nullable(Type.String()),
  conversationId: Type.String({ description: "The room: send and read messages through the conversation's routes" }),
  replyPolicy: StringEnum(REPLY_POLICIES),
  prefix: Nullable(Type.String()),
  isolation: StringEnum(ISOLATIONS),
  createdAt: Millis(),
  updatedAt: Millis(),
});
const GroupEnvelope = Type.Object({ group: GroupBody });

const Settings = {
  name: Type.String({ minLength: GROUP_NAME.minLength, maxLength: GROUP_NAME.maxLength }),
  botId: Nullable(Type.String({ minLength: 1, maxLength: 64, description: 'A bot id or name' })),
  replyPolicy: StringEnum(REPLY_POLICIES, {
    description:
      '`mention`: the bot answers messages that mention `@<its name>`; `prefix`: messages that start with `prefix`; `always`',
  }),
  prefix: Nullable(Type.String({ minLength: GROUP_PREFIX.minLength, maxLength: GROUP_PREFIX.maxLength })),
  isolation: StringEnum(ISOLATIONS, {
    description: '`shared`: the bot keeps one context for the group; `member`: one per member',
  }),
};

const MemberBody = Type.Object({
  userId: Type.String(),
  role: StringEnum(['owner', 'member']),
  joinedAt: Millis(),
});

export function groupRoutes(app: NativeApp, { core }: NativeContext): void {
  const { groups } = core;

  app.post(
    '/groups',
    {
      schema: {
        tags,
        summary: 'Create a group room; you are its owner',
        body: Type.Object(
          {
            name: Settings.name,
            botId: Type.Optional(Settings.botId),
            replyPolicy: Type.Optional(Settings.replyPolicy),
            prefix: Type.Optional(Settings.prefix),
            isolation: Type.Optional(Settings.isolation),
          },
          { additionalProperties: false },
        ),
        response: { 201: GroupEnvelope },
      },
    },
    async (request, reply) => {
      const group = await groups.create(principalOf(request).user, request.body);
      return reply.code(201).send({ group: publicGroup(group) });
    },
  );

  app.get(
    '/groups',
    {
      schema: {
        tags,
        summary: 'The groups you are in',
        response: { 200: Type.Object({ items: Type.Array(GroupBody) }) },
      },
    },
    async (request) => ({ items: (await groups.list(principalOf(request).user)).map(publicGroup) }),
  );

  app.get(
    '/groups/:id',
    { schema: { tags, summary: 'A group you are in', params: IdParams, response: { 200: GroupEnvelope } } },
    async (request) => ({ group: publicGroup(await groups.get(principalOf(request).user, request.params.id)) }),
  );

  app.patch(
    '/groups/:id',
    {
      schema: {
        tags,
        summary: "Change a group's name, bot or rules (owner)",
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Settings.name),
            botId: Type.Optional(Settings.botId),
            replyPolicy: Type.Optional(Settings.replyPolicy),
            prefix: Type.Optional(Settings.prefix),
            isolation: Type.Optional(Settings.isolation),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: GroupEnvelope },
      },
    },
    async (request) => ({
      group: publicGroup(await groups.update(principalOf(request).user, request.params.id, request.body)),
    }),
  );

  app.delete(
    '/groups/:id',
    {
      schema: {
        tags,
        summary: 'Delete a group with its room and everything in it (owner)',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await groups.delete(principalOf(request).user, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/groups/:id/invites',
    {
      schema: {
        tags,
        summary: 'A new invite code for the group (owner); the previous one stops working',
        params: IdParams,
        response: { 201: Type.Object({ code: Type.String({ description: 'Give it to whom you invite' }) }) },
      },
    },
    async (request, reply) => reply.code(201).send(await groups.invite(principalOf(request).user, request.params.id)),
  );

  app.post(
    '/groups/join',
    {
      schema: {
        tags,
        summary: 'Join a group with an invite code',
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 200: GroupEnvelope },
      },
    },
    async (request) => ({ group: publicGroup(await groups.join(principalOf(request).user, request.body.code)) }),
  );

  app.post(
    '/groups/:id/leave',
    { schema: { tags, summary: 'Leave a group (members)', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await groups.leave(principalOf(request).user, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/groups/:id/members',
    {
      schema: {
        tags,
        summary: "A group's members, in the order they joined",
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(MemberBody) }) },
      },
    },
    async (request) => ({ items: await groups.members(principalOf(request).user, request.params.id) }),
  );

  app.delete(
    '/groups/:id/members/:userId',
    {
      schema: {
        tags,
        summary: 'Remove a member (owner)',
        params: Type.Object({
          id: Type.String({ minLength: 1, maxLength: 64 }),
          userId: Type.String({ minLength: 1, maxLength: 64 }),
        }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await groups.remove(principalOf(request).user, request.params.id, request.params.userId);
      return reply.code(204).send(null);
    },
  );
}
