import type { FastifyRequest } from 'fastify';
import type { User } from '../../../core/accounts/model.js';
import { MESSAGES_PAGE } from '../../../core/conversations/rules.js';
import type { ThreadKey } from '../../../core/conversations/service.js';
import { Conflict, Invalid, NotFound } from '../../../core/errors.js';
import type { Core } from '../../../core/index.js';
import { callerOf, principalOf, registerAuthHooks } from '../../auth.js';
import { errorHandler } from '../../errors.js';
import { sendFollowedReply } from '../../sse.js';
import type { Surface } from '../../surfaces.js';
import { chatBody, ConversationListQuery, ConversationParams, type ChatBody } from './schemas.js';
import {
  chataiError,
  chataiFrames,
  conversationError,
  conversationSummary,
  messageEntry,
  replyFailure,
  usageBody,
} from './shapes.js';

const tags = ['chatai'];
/** The preset of the document's own example: the conversation without a bot, unless a bot has that name. */
const DEFAULT_PRESET = 'default';

/**
 * The chatai API: an application (a chat bot on Discord, QQ, …) speaks for its end users with its
 * Parley API key; `userId` and `groupId` are the application's ids of an end user and a group. Each
 * private chat, and each group (or each member of a group, with `isolateGroupMembers`), has one
 * conversation, found from those ids; presets are bots.
 *
 * Group messages are stored and sent to the model as the application sent them, without the
 * speaker's id in front: Parley knows the speaker only by an opaque id that means nothing to the
 * model, a prefix would hide a bot command (which must begin the message), and the history read
 * back would no longer be what was sent. An application that wants the model to tell speakers
 * apart writes their names into the message, as it alone knows them.
 */
export const chataiSurface: Surface = {
  name: 'chatai',
  errorBody: chataiError,
  routes(app, { core, config, countError }) {
    registerAuthHooks(app, core, { cookies: false });
    const ChatBody = chatBody(config.chat.maxMessageChars);
    const { isolateGroupMembers } = config.surfaces.chatai;

    /** Finds the conversation of the end user or group and sends the message in it. */
    async function converse(request: FastifyRequest, { message, userId, groupId, preset }: ChatBody) {
      const caller = callerOf(request, 'chatai');
      const conversation = await core.conversations.thread(caller.user, threadKey(userId, groupId), {
        botId: await presetBot(core, caller.user, preset),
      });
      const { reply } = await core.replies.send(caller, conversation.id, { content: message });
      if (!reply) throw new Conflict("This conversation's bot is an external bot: it answers through its own API");
      return { conversationId: conversation.id, reply };
    }

    function threadKey(userId: string, groupId: string | null | undefined): ThreadKey {
      if (groupId == null) return { endUserId: userId, endGroupId: null };
      return { endUserId: isolateGroupMembers ? userId : null, endGroupId: groupId };
    }

    app.post(
      '/api/chat',
      { schema: { tags, summary: 'Send a message and get the reply once it is complete', body: ChatBody } },
      async (request) => {
        const { conversationId, reply } = await converse(request, request.body);
        const ended = await core.replies.settled(reply);
        const failure = replyFailure(ended);
        if (failure) throw failure;
        return { success: true, data: { response: ended.content, conversationId, usage: usageBody(ended.usage) } };
      },
    );

    app.post(
      '/api/chat/stream',
      {
        schema: {
          tags,
          summary: 'Send a message and stream the reply',
          description:
            'Server-sent events: `{"type":"start","conversationId"}`, `{"type":"content","text"}` per piece, then ' +
            '`{"type":"end","usage"}`, or `{"type":"error","error":{code,message}}`. The reply is generated to the ' +
            'end even if the client goes away.',
          body: ChatBody,
        },
      },
      async (request, reply) => {
        const { conversationId, reply: started } = await converse(request, request.body);
        return sendFollowedReply(reply, {
          follow: (onEvent) => core.replies.followReply(started, 0, onEvent),
          frames: chataiFrames(conversationId),
        });
      },
    );

    // On the routes of one conversation, what is not found is the conversation.
    const ofConversation = { errorHandler: errorHandler(conversationError, countError) };

    app.get(
      '/api/conversations',
      {
        schema: {
          tags,
          summary: 'Conversations, latest activity first, optionally of one end user or group',
          querystring: ConversationListQuery,
        },
      },
      async (request) => {
        const { userId, groupId, limit, offset } = request.query;
        const { items, total } = await core.conversations.list(principalOf(request).user, {
          endUserId: userId,
          endGroupId: groupId,
          threadsOnly: true,
          limit,
          offset,
        });
        return { success: true, data: { conversations: items.map(conversationSummary), total } };
      },
    );

    app.get(
      '/api/conversations/:id',
      {
        ...ofConversation,
        schema: {
          tags,
          summary: `A conversation with its newest ${MESSAGES_PAGE.maxLimit} messages, oldest first`,
          params: ConversationParams,
        },
      },
      async (request) => {
        const { id } = request.params;
        const { items } = await core.conversations.messages(principalOf(request).user, id, {
          limit: MESSAGES_PAGE.maxLimit,
          settledOnly: true,
        });
        return { success: true, data: { id, messages: items.map(messageEntry) } };
      },
    );

    app.delete(
      '/api/conversations/:id',
      { ...ofConversation, schema: { tags, summary: 'Delete a conversation', params: ConversationParams } },
      async (request) => {
        await core.conversations.delete(principalOf(request).user, request.params.id);
        return { success: true };
      },
    );

    app.post(
      '/api/conversations/:id/clear',
      {
        ...ofConversation,
        schema: {
          tags,
          summary: "Clear a conversation's context: the history stays, earlier messages no longer reach the model",
          params: ConversationParams,
        },
      },
      async (request) => {
        await core.conversations.clear(principalOf(request).user, request.params.id);
        return { success: true, message: 'Context cleared' };
      },
    );
  },
};

/**
 * The bot a preset names, by name or id (undefined: the conversation keeps its bot; null: none).
 * Only bots that answer here will do: an external bot answers through its own API.
 */
async function presetBot(
  core: Core,
  user: User,
  preset: string | null | undefined,
): Promise<string | null | undefined> {
  if (preset == null) return undefined;
  const bot = await core.bots.get(user, preset).catch((err: unknown) => {
    if (err instanceof NotFound && preset === DEFAULT_PRESET) return null;
    if (err instanceof NotFound) throw new Invalid(`Unknown preset '${preset}'`, 'preset');
    throw err;
  });
  if (bot?.kind === 'external') throw new Invalid(`The preset '${preset}' answers through its own API`, 'preset');
  return bot && bot.id;
}
