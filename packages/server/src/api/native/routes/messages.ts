import { Type } from '@sinclair/typebox';
import { callerOf, principalOf } from '../../auth.js';
import {
  Exchange as ExchangeBody,
  FeedbackBody,
  FeedbackInputBody,
  MessageEdit,
  MessageEnvelope,
  ResumeQuery,
  StreamQuery,
} from '../conversation-schemas.js';
import { messageBody, resumeAfter, sendReplyEvents } from '../reply-events.js';
import { IdParams } from '../schemas.js';
import type { NativeApp, NativeContext } from '../types.js';
import { answer } from './conversations.js';

const tags = ['messages'];

export function messageRoutes(app: NativeApp, { core }: NativeContext): void {
  const { conversations, replies, feedback } = core;

  app.get(
    '/messages/:id',
    { schema: { tags, summary: 'One message', params: IdParams, response: { 200: MessageEnvelope } } },
    async (request) => ({
      message: messageBody(await conversations.message(principalOf(request).user, request.params.id)),
    }),
  );

  app.patch(
    '/messages/:id',
    {
      schema: {
        tags,
        summary: 'Edit one of your messages: a changed copy becomes a new branch (same parent), and is answered anew',
        params: IdParams,
        querystring: StreamQuery,
        body: MessageEdit,
        response: { 201: ExchangeBody },
      },
    },
    async (request, reply) => {
      const exchange = await replies.edit(callerOf(request, 'native'), request.params.id, request.body.content);
      return answer(core, request, reply, exchange, request.query.stream);
    },
  );

  app.post(
    '/messages/:id/regenerate',
    {
      schema: {
        tags,
        summary: 'Answer the same question again: a new reply, sibling of the one given',
        params: IdParams,
        querystring: StreamQuery,
        response: { 201: ExchangeBody },
      },
    },
    async (request, reply) => {
      const exchange = await replies.regenerate(callerOf(request, 'native'), request.params.id);
      return answer(core, request, reply, exchange, request.query.stream);
    },
  );

  app.post(
    '/messages/:id/stop',
    {
      schema: {
        tags,
        summary: 'Stop a reply being generated; answers the reply as it ended (status cancelled)',
        params: IdParams,
        response: { 200: MessageEnvelope },
      },
    },
    async (request) => ({ message: messageBody(await replies.stop(principalOf(request).user, request.params.id)) }),
  );

  app.get(
    '/messages/:id/stream',
    {
      schema: {
        tags,
        summary: 'Re-attach to a reply: the deltas after Last-Event-ID (or ?after), then live ones, then its end',
        description:
          'Server-sent events as for sending a message (`delta`, then `completed` or `error`). A finished reply ' +
          'replays whole; one whose deltas have expired is sent as one delta with its stored content.',
        params: IdParams,
        querystring: ResumeQuery,
      },
    },
    async (request, reply) => {
      const { user } = principalOf(request);
      const after = resumeAfter(request, request.query.after);
      const message = await replies.reply(user, request.params.id);
      return sendReplyEvents(reply, {
        messages: [],
        replyId: message.id,
        follow: (onEvent) => replies.followReply(message, after, onEvent),
      });
    },
  );

  app.post(
    '/messages/:id/feedback',
    {
      schema: {
        tags,
        summary: 'Rate a reply (one verdict per user per reply; sending again changes it)',
        params: IdParams,
        body: FeedbackInputBody,
        response: { 200: Type.Object({ feedback: FeedbackBody }) },
      },
    },
    async (request) => ({
      feedback: await feedback.give(principalOf(request).user, request.params.id, request.body),
    }),
  );
}
