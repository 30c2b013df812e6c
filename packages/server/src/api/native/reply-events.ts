import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Message } from '../../core/conversations/model.js';
import type { Exchange } from '../../core/conversations/replies.js';
import { sendFollowedReply, type FollowReply } from '../sse.js';

/** How soon a browser's EventSource re-attaches after losing the stream. */
const RECONNECT_MS = 1000;

/** The native message shape: usage with its total. */
export function messageBody(message: Message) {
  const { usage } = message;
  return { ...message, usage: usage && { ...usage, totalTokens: usage.promptTokens + usage.completionTokens } };
}

export function exchangeBody(exchange: Exchange) {
  return { userMessage: messageBody(exchange.userMessage), reply: exchange.reply && messageBody(exchange.reply) };
}

/** Whether the caller asked for server-sent events (`?stream=true`, or by Accept). */
export function wantsEvents(request: FastifyRequest, stream: boolean | undefined): boolean {
  return stream ?? (request.headers.accept ?? '').includes('text/event-stream');
}

/** The seq after which a re-attaching client wants deltas: `Last-Event-ID`, else `?after`, else 0. */
export function resumeAfter(request: FastifyRequest, after: number | undefined): number {
  const header = request.headers['last-event-id'];
  const seq = typeof header === 'string' && /^\d{1,15}$/.test(header.trim()) ? Number(header) : undefined;
  return seq ?? after ?? 0;
}

/**
 * Answers with a reply's events: `message` frames first (e.g. the user message and the reply as
 * started), then `delta` frames (`id:` is their seq, so that `Last-Event-ID` resumes after the
 * last one received), then `completed` with the stored reply, or `error`. A client that goes away
 * stops following; the reply goes on.
 */
export function sendReplyEvents(
  reply: FastifyReply,
  options: { messages: Message[]; replyId: string; follow: FollowReply; status?: number },
): Promise<FastifyReply> {
  const deltaPrefix = `{"messageId":${JSON.stringify(options.replyId)},"seq":`;
  return sendFollowedReply(reply, {
    follow: options.follow,
    status: options.status,
    frames: {
      // It also tells EventSource how soon to reconnect.
      opening: `retry: ${RECONNECT_MS}\n\n` + options.messages.map((m) => frame('message', messageBody(m))).join(''),
      delta: ({ seq, text }) =>
        `id: ${seq}\nevent: delta\ndata: ${deltaPrefix}${seq},"text":${JSON.stringify(text)}}\n\n`,
      end: (message) =>
        message.status === 'error'
          ? frame('error', { error: message.error, message: messageBody(message) })
          : frame('completed', { message: messageBody(message) }),
      unfollowable: frame('error', {
        error: { code: 'INTERNAL', message: 'The reply cannot be followed right now' },
      }),
    },
  });
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
