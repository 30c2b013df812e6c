import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Exchange } from '../../../core/conversations/replies.js';
import { Invalid } from '../../../core/errors.js';
import type { Core } from '../../../core/index.js';
import { callerOf, principalOf } from '../../auth.js';
import {
  ConversationChanges,
  ConversationEnvelope,
  ConversationListQuery,
  ConversationPage,
  Exchange as ExchangeBody,
  FeedbackSummaryBody,
  MessageListQuery,
  MessagePage,
  NewConversation,
  NewMessage,
  StreamQuery,
} from '../conversation-schemas.js';
import { exchangeBody, messageBody, sendReplyEvents, wantsEvents } from '../reply-events.js';
import { IdParams } from '../schemas.js';
import type { NativeApp, NativeContext } from '../types.js';

const tags = ['conversations'];

export function conversationRoutes(app: NativeApp, { core }: NativeContext): void {
  const { conversations, replies, feedback } = core;

  app.post(
    '/conversations',
    {
      schema: {
        tags,
        summary: 'Start a conversation, with a bot or without',
        body: NewConversation,
        response: { 201: ConversationEnvelope },
      },
    },
    async (request, reply) => {
      const conversation = await conversations.create(principalOf(request).user, request.body);
      return reply.code(201).send({ conversation });
    },
  );

  app.get(
    '/conversations',
    {
      schema: {
        tags,
        summary: 'Your conversations, latest activity first: by cursor, or by offset with the total',
        querystring: ConversationListQuery,
        response: { 200: ConversationPage },
      },
    },
    async (request) => {
      const { cursor, offset } = request.query;
      if (cursor !== undefined && offset !== undefined) throw new Invalid('Use either cursor or offset', 'cursor');
      return conversations.list(principalOf(request).user, { ...request.query, limit: request.query.limit! });
    },
  );

  app.get(
    '/conversations/:id',
    { schema: { tags, summary: 'One conversation', params: IdParams, response: { 200: ConversationEnvelope } } },
    async (request) => ({ conversation: await conversations.get(principalOf(request).user, request.params.id) }),
  );

  app.patch(
    '/conversations/:id',
    {
      schema: {
        tags,
        summary: "Change a conversation's title, model, bot, system prompt or template variables",
        params: IdParams,
        body: ConversationChanges,
        response: { 200: ConversationEnvelope },
      },
    },
    async (request) => ({
      conversation: await conversations.update(principalOf(request).user, request.params.id, request.body),
    }),
  );

  app.delete(
    '/conversations/:id',
    {
      schema: {
        tags,
        summary: 'Delete a conversation with its messages, feedback, and the files nothing else references',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await conversations.delete(principalOf(request).user, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/conversations/:id/clear',
    {
      schema: {
        tags,
        summary: "Clear the model's context: the history stays, earlier messages no longer reach the model",
        params: IdParams,
        response: { 200: ConversationEnvelope },
      },
    },
    async (request) => ({ conversation: await conversations.clear(principalOf(request).user, request.params.id) }),
  );

  app.post(
    '/conversations/:id/messages',
    {
      schema: {
        tags,
        summary: "Send a message; the bot's reply is generated whether or not you stay connected",
        description:
          'Without streaming, answers once the reply is complete. With `?stream=true` (or `Accept: text/event-stream`), ' +
          'answers with server-sent events: `message` (your message, then the reply as started), `delta` ' +
          '(`{messageId, seq, text}`, with `id: seq`), then `completed` (`{message}`) or `error` (`{error, message}`). ' +
          'A client that loses the stream re-attaches with `GET /messages/{replyId}/stream`.',
        params: IdParams,
        querystring: StreamQuery,
        body: NewMessage,
        response: { 200: ExchangeBody, 201: ExchangeBody },
      },
    },
    async (request, reply) => {
      const exchange = await replies.send(callerOf(request, 'native'), request.params.id, request.body);
      return answer(core, request, reply, exchange, request.query.stream);
    },
  );

  app.get(
    '/conversations/:id/messages',
    {
      schema: {
        tags,
        summary: 'History: the newest page (or the page before/after a message), oldest first',
        params: IdParams,
        querystring: MessageListQuery,
        response: { 200: MessagePage },
      },
    },
    async (request) => {
      const { page, before, after } = request.query;
      if (page !== undefined && (before !== undefined || after !== undefined)) {
        throw new Invalid('Use either page or the before/after cursors', 'page');
      }
      const result = await conversations.messages(principalOf(request).user, request.params.id, {
        ...request.query,
        limit: request.query.limit!,
      });
      return { ...result, items: result.items.map(messageBody) };
    },
  );

  app.get(
    '/conversations/:id/feedback',
    {
      schema: {
        tags,
        summary: "The feedback given on a conversation's replies, with totals",
        params: IdParams,
        response: { 200: FeedbackSummaryBody },
      },
    },
    async (request) => feedback.summary(principalOf(request).user, request.params.id),
  );
}

/** An exchange as JSON once its reply has ended, or as events from the start. */
export async function answer(
  core: Core,
  request: FastifyRequest,
  reply: FastifyReply,
  exchange: Exchange,
  stream: boolean | undefined,
) {
  const status = exchange.duplicate ? 200 : 201;
  const started = exchange.reply;
  if (wantsEvents(request, stream) && started) {
    return sendReplyEvents(reply, {
      status,
      messages: exchange.duplicate ? [started] : [exchange.userMessage, started],
      replyId: started.id,
      follow: (onEvent) => core.replies.followReply(started, 0, onEvent),
    });
  }
  const settled = started && (await core.replies.settled(started));
  return reply.code(status).send(exchangeBody({ ...exchange, reply: settled }));
}
