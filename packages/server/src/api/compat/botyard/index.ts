import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../../../core/accounts/model.js';
import type { Conversation, Message } from '../../../core/conversations/model.js';
import { CONVERSATIONS_PAGE } from '../../../core/conversations/rules.js';
import type { Core } from '../../../core/index.js';
import { BOTYARD_SESSION_COOKIE, callerOf, principalOf, registerAuthHooks, setSessionCookie } from '../../auth.js';
import type { Surface } from '../../surfaces.js';
import { acceptUploads, storeUploads } from '../../uploads.js';
import {
  BotBody,
  ChatBody,
  ChatsQuery,
  CommandBody,
  Deleted,
  ErrorBody,
  FileBody,
  IdParams,
  MessageBody,
  MessagesPage,
  MessagesQuery,
  MESSAGES_PAGE,
  NewChat,
  NewMessage,
  NewUser,
  ServiceInfo,
  UserBody,
} from './schemas.js';
import { botView, chatView, commandView, fileView, messageView, serviceInfo, userView } from './shapes.js';
import { webClientFiles, webRootOf } from './web-client.js';

/** Botyard's client keeps one chat per bot; a few more are allowed, not an unbounded number. */
export const MAX_CHATS_PER_BOT = 10;

const tags = ['botyard'];
const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
/** Reads the client repeats on every page and while it waits for a reply do not count against quotas. */
const FREE_READ = { quota: false } as const;
const PUBLIC = { auth: 'optional' } as const;

/**
 * Botyard's client API: guests sign in with a nickname (a JWT in the `token` cookie), chat with
 * the public bots, and poll for replies, which show only once complete. Errors are `{message}`.
 */
export const botyardSurface: Surface = {
  name: 'botyard',
  errorBody: ({ message }) => ({ message }),

  async unprefixedRoutes(app, { config }) {
    const root = webRootOf(config);
    if (root !== undefined) await webClientFiles(app, root);
  },

  async routes(app, { core, config }) {
    const { users, sessions, bots, conversations, replies, files } = core;
    registerAuthHooks(app, core, { cookies: [BOTYARD_SESSION_COOKIE] });

    app.get(
      '/service-info',
      {
        config: { auth: 'none', quota: false },
        schema: {
          tags,
          summary: 'The service: name, description, social links',
          response: { 200: ServiceInfo, ...errors },
        },
      },
      async () => serviceInfo(config.service),
    );

    app.post(
      '/user',
      {
        config: { auth: 'none' },
        schema: {
          tags,
          summary: 'Sign in as a new guest with a nickname; sets the `token` cookie',
          body: NewUser,
          response: { 201: UserBody, ...errors },
        },
      },
      async (request, reply) => {
        const user = await users.createGuest(request.body.nickname);
        setSessionCookie(reply, sessions.openGuest(user), sessions.lifetimeMs, BOTYARD_SESSION_COOKIE);
        return reply.code(201).send(userView(user));
      },
    );

    app.get(
      '/user',
      {
        config: FREE_READ,
        schema: { tags, summary: 'The signed-in user', response: { 200: UserBody, ...errors } },
      },
      async (request) => userView(principalOf(request).user),
    );

    app.get(
      '/bots',
      {
        config: PUBLIC,
        schema: { tags, summary: 'The bots you may chat with', response: { 200: Type.Array(BotBody), ...errors } },
      },
      async (request) => (await bots.list(request.principal?.user ?? null)).map(botView),
    );

    app.get(
      '/bot/:id',
      {
        config: PUBLIC,
        schema: { tags, summary: 'One bot', params: IdParams, response: { 200: BotBody, ...errors } },
      },
      async (request) => botView(await bots.get(request.principal?.user ?? null, request.params.id)),
    );

    app.get(
      '/bot/:id/commands',
      {
        config: FREE_READ,
        schema: {
          tags,
          summary: "A bot's commands (a message `/alias` runs one)",
          params: IdParams,
          response: { 200: Type.Array(CommandBody), ...errors },
        },
      },
      async (request) => {
        const user = principalOf(request).user;
        const bot = await bots.get(user, request.params.id);
        return (await bots.commands(user, bot.id)).map((command) => commandView(bot, command));
      },
    );

    app.post(
      '/chat',
      {
        schema: {
          tags,
          summary: `Start a chat with a bot (at most ${MAX_CHATS_PER_BOT} per bot)`,
          body: NewChat,
          response: { 201: ChatBody, ...errors },
        },
      },
      async (request, reply) => {
        const user = principalOf(request).user;
        const bot = await bots.get(user, request.body.botId);
        const chat = await conversations.create(user, { botId: bot.id }, { maxWithBot: MAX_CHATS_PER_BOT });
        return reply.code(201).send(chatView(chat));
      },
    );

    app.get(
      '/chats',
      {
        config: FREE_READ,
        schema: {
          tags,
          summary: 'Your chats with a bot, oldest first',
          querystring: ChatsQuery,
          response: { 200: Type.Array(ChatBody), ...errors },
        },
      },
      async (request) => (await chatsWith(core, principalOf(request).user, request.query.bot_id)).map(chatView),
    );

    app.delete(
      '/chat/:id',
      {
        schema: {
          tags,
          summary: 'Delete a chat and its messages',
          params: IdParams,
          response: { 200: Deleted, ...errors },
        },
      },
      async (request) => {
        await conversations.delete(principalOf(request).user, request.params.id);
        return { message: 'Chat deleted' };
      },
    );

    app.post(
      '/chat/message',
      {
        schema: {
          tags,
          summary: "Send a message; the bot's reply is listed once it is complete",
          body: NewMessage,
          response: { 201: MessageBody, ...errors },
        },
      },
      async (request, reply) => {
        const caller = callerOf(request, 'botyard');
        const { chatId, body, attachmentIds } = request.body;
        const { userMessage } = await replies.send(caller, chatId, { content: body, attachmentIds });
        const [message] = await withFiles(core, [userMessage]);
        return reply.code(201).send(message!);
      },
    );

    app.get(
      '/chat/:id/messages',
      {
        config: FREE_READ,
        schema: {
          tags,
          summary: 'A page of messages, newest page first, each page oldest first',
          params: IdParams,
          querystring: MessagesQuery,
          response: { 200: MessagesPage, ...errors },
        },
      },
      async (request) => {
        const user = principalOf(request).user;
        const { page = 1, limit = MESSAGES_PAGE.defaultLimit, sender_id: senderId, since } = request.query;
        const found = await conversations.messages(user, request.params.id, {
          page,
          limit,
          senderId,
          since: since || undefined,
          // Botyard's client shows the first reply it finds and never looks again: only complete ones.
          settledOnly: true,
        });
        return {
          chatId: request.params.id,
          page,
          limit,
          total: found.total ?? found.items.length,
          messages: await withFiles(core, found.items),
        };
      },
    );

    // Multipart is taken by this route only.
    await app.register(async (scope) => {
      await acceptUploads(scope, config.files);
      scope.post(
        '/files',
        {
          schema: {
            tags,
            summary: 'Upload files (multipart/form-data, parts named "file"), to attach to a message',
            response: { 200: Type.Array(FileBody), ...errors },
          },
        },
        async (request: FastifyRequest, reply: FastifyReply) => {
          const stored = await storeUploads(files, principalOf(request).user, request);
          return reply.code(200).send(stored.map(fileView));
        },
      );
    });
  },
};

/** The user's own chats with the bot, in the order they were started. */
async function chatsWith(core: Core, user: User, botId: string): Promise<Conversation[]> {
  const { items } = await core.conversations.list(user, { botId, limit: CONVERSATIONS_PAGE.maxLimit });
  return items
    .filter((chat) => chat.ownerId === user.id && chat.groupId === null)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Messages with their attachments as file objects, as Botyard's client shows them (deleted ones left out). */
async function withFiles(core: Core, messages: Message[]) {
  const byId = await core.files.attachedTo(messages);
  return messages.map((message) => messageView(message, byId));
}
