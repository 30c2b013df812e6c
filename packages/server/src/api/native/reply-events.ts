import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Message } from '../../core/conversations/model.js';
import type { Exchange, ReplyEvent } from '../../core/conversations/replies.js';
import { EVENT_STREAM_HEADERS } from '../sse.js';

/** Keeps proxies and browsers from closing a quiet stream (the model may think for a while). */
const HEARTBEAT_MS = 15_000;
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

type Follow = (onEvent: (event: ReplyEvent) => void) => Promise<() => void>;

/**
 * Answers with a reply's events: `message` frames first (e.g. the user message and the reply as
 * started), then `delta` frames (`id:` is their seq, so that `Last-Event-ID` resumes after the
 * last one received), then `completed` with the stored reply, or `error`. A client that goes away
 * stops following; the reply goes on.
 */
export async function sendReplyEvents(
  reply: FastifyReply,
  options: { messages: Message[]; replyId: string; follow: Follow; status?: number },
): Promise<FastifyReply> {
  const out = new PassThrough();
  const deltaPrefix = `{"messageId":${JSON.stringify(options.replyId)},"seq":`;
  reply.code(options.status ?? 200).headers(EVENT_STREAM_HEADERS);
  // Sent at once, so that the answer begins (headers included) before the first event is due;
  // it also tells EventSource how soon to reconnect.
  out.write(`retry: ${RECONNECT_MS}\n\n`);
  for (const message of options.messages) out.write(frame('message', messageBody(message)));
  let unfollow: (() => void) | undefined;
  let closed = false;
  const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const finish = () => {
    closed = true;
    clearInterval(heartbeat);
    unfollow?.();
  };
  reply.raw.once('close', finish);
  reply.send(out);
  let stop: () => void;
  try {
    stop = await options.follow(onEvent);
  } catch (err) {
    // The answer has begun: the failure can only be told as the stream's last event.
    out.end(frame('error', { error: { code: 'INTERNAL', message: 'The reply cannot be followed right now' } }));
    finish();
    reply.log.error({ err }, 'following a reply failed');
    return reply;
  }
  if (closed) stop();
  else unfollow = stop;
  return reply;

  function onEvent(event: ReplyEvent) {
    if (closed) return;
    if (event.type === 'delta') {
      out.write(
        `id: ${event.seq}\nevent: delta\ndata: ${deltaPrefix}${event.seq},"text":${JSON.stringify(event.text)}}\n\n`,
      );
      return;
    }
    const { message } = event;
    out.end(
      message.status === 'error'
        ? frame('error', { error: message.error, message: messageBody(message) })
        : frame('completed', { message: messageBody(message) }),
    );
    finish();
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
