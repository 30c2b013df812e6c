import type { Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../../../core/accounts/model.js';
import type { GenerationParams } from '../../../core/bots/model.js';
import { failureOf } from '../../../core/conversations/messages.js';
import type { Conversation, Message } from '../../../core/conversations/model.js';
import type { Caller, Exchange } from '../../../core/conversations/replies.js';
import type { ConversationPatch } from '../../../core/conversations/service.js';
import { Invalid, NotFound } from '../../../core/errors.js';
import type { Core } from '../../../core/index.js';
import { callerOf } from '../../auth.js';
import { toApiError, type ApiError } from '../../errors.js';
import { sendFollowedReply, type ReplyFrames } from '../../sse.js';
import type { NativeApp } from '../../native/types.js';
import type { SurfaceContext } from '../../surfaces.js';
import { zeebeeError } from './errors.js';
import { ChatBody, CompletionBody } from './schemas.js';
import { templateBot } from './templates.js';

const tags = ['zeebee'];

/** A turn of a chat: the user's new message, where it goes, and what the conversation should be like. */
interface Turn {
  content: string;
  conversationId?: string | null;
  endUserId?: string | null;
  model?: string | null;
  systemPrompt?: string | null;
  template?: { name: string; variables?: Record<string, string> | null } | null;
  stream?: boolean | null;
  params: GenerationParams;
}

/**
 * `POST /chat` (the document's) and `POST /chat/completions` (the SDK's): the history lives in the
 * conversation (`conversation_id`; none starts one), so each request brings only the new message.
 */
export function chatRoutes(app: NativeApp, { core }: SurfaceContext): void {
  app.post(
    '/chat',
    { schema: { tags, summary: 'Send a message and receive the reply', body: ChatBody } },
    async (request, reply) =>
      answerTurn(core, request, reply, { ...fields(request.body), content: request.body.message }),
  );

  app.post(
    '/chat/completions',
    {
      schema: {
        tags,
        summary: "Send the conversation's new message, OpenAI-style; streams as `data:` lines ending `data: [DONE]`",
        body: CompletionBody,
      },
    },
    async (request, reply) => {
      const { content, systemPrompt } = newTurnOf(request.body.messages);
      return answerTurn(core, request, reply, {
        ...fields(request.body),
        content,
        systemPrompt: request.body.system_prompt ?? systemPrompt,
      });
    },
  );
}

function fields(body: Static<typeof ChatBody> | Static<typeof CompletionBody>): Omit<Turn, 'content'> {
  return {
    conversationId: body.conversation_id,
    endUserId: body.user_id,
    model: body.model,
    systemPrompt: body.system_prompt,
    template: body.template,
    stream: body.stream,
    params: {
      ...(body.temperature != null && { temperature: body.temperature }),
      ...(body.top_p != null && { topP: body.top_p }),
      ...(body.max_tokens != null && { maxTokens: body.max_tokens }),
    },
  };
}

type CompletionMessage = Static<typeof CompletionBody>['messages'][number];

/** The new user message and the system prompt of an OpenAI-style message list. */
function newTurnOf(messages: CompletionMessage[]): { content: string; systemPrompt?: string } {
  const text = (m: CompletionMessage) =>
    typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
  const last = messages[messages.length - 1]!;
  const earlierTurns = messages.slice(0, -1).some((m) => m.role === 'user' || m.role === 'assistant');
  if (last.role !== 'user' || earlierTurns) {
    throw new Invalid(
      'messages must be the new user message, after an optional system prompt: the conversation (conversation_id) keeps the history',
      'messages',
    );
  }
  const system = messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map(text)
    .join('\n\n');
  return { content: text(last), systemPrompt: system || undefined };
}

async function answerTurn(core: Core, request: FastifyRequest, reply: FastifyReply, turn: Turn) {
  const caller = callerOf(request, 'zeebee');
  if (!turn.content.trim()) throw new Invalid('message must not be empty', 'message');
  const { conversation, exchange } = await sendTurn(core, caller, turn);
  const started = exchange.reply;
  if (!started) return chatAnswer(conversation, null);
  if (turn.stream) {
    return sendFollowedReply(reply, {
      follow: (onEvent) => core.replies.followReply(started, 0, onEvent),
      frames: streamFrames(conversation, started),
    });
  }
  return chatAnswer(conversation, await core.replies.completed(started));
}

/** Sends the turn's message in the conversation named (brought in line with the turn), or starts one with it. */
async function sendTurn(
  core: Core,
  caller: Caller,
  turn: Turn,
): Promise<{ conversation: Conversation; exchange: Exchange }> {
  const template = turn.template ?? undefined;
  const bot = template && (await templateBot(core, caller.user, template.name));
  const message = { content: turn.content, params: turn.params };
  if (!turn.conversationId) {
    const input = {
      endUserId: turn.endUserId ?? undefined,
      botId: bot?.id,
      variables: template?.variables ?? undefined,
      model: turn.model ?? undefined,
      systemPrompt: turn.systemPrompt ?? undefined,
    };
    return core.conversations.startWith(caller, input, message);
  }
  const current = await conversationOf(core, caller.user, turn.conversationId, turn.endUserId);
  const patch: ConversationPatch = {};
  if (turn.model && turn.model !== current.model) patch.model = turn.model;
  if (typeof turn.systemPrompt === 'string' && turn.systemPrompt !== current.systemPrompt) {
    patch.systemPrompt = turn.systemPrompt;
  }
  if (template && bot) Object.assign(patch, { botId: bot.id, variables: template.variables ?? {} });
  const conversation = Object.keys(patch).length
    ? await core.conversations.update(caller.user, current.id, patch)
    : current;
  return { conversation, exchange: await core.replies.send(caller, conversation.id, message) };
}

/**
 * One of the caller's conversations; when an end user is named, only one that is theirs (or no
 * one's), so that an application's end users do not reach each other's conversations by id.
 */
async function conversationOf(core: Core, user: User, id: string, endUserId?: string | null): Promise<Conversation> {
  const conversation = await core.conversations.get(user, id);
  if (endUserId && conversation.endUserId !== null && conversation.endUserId !== endUserId) {
    throw new NotFound('Conversation');
  }
  return conversation;
}

/**
 * The reply, under every name clients read it by: `message` (the document), `response` (the SDK's
 * readme) and `choices` (OpenAI-style). Null when an external bot answers later, through its own API.
 */
function chatAnswer(conversation: Conversation, answer: Message | null) {
  const text = answer?.content ?? '';
  const usage = answer?.usage;
  return {
    message: text,
    response: text,
    conversation_id: conversation.id,
    message_id: answer?.id ?? null,
    model: answer?.model ?? null,
    user_id: conversation.endUserId,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: usage
      ? {
          prompt_tokens: usage.promptTokens,
          completion_tokens: usage.completionTokens,
          total_tokens: usage.promptTokens + usage.completionTokens,
        }
      : null,
  };
}

/**
 * The reply as `data: {json}` lines: one that opens it, then one per delta (`text`, and
 * `choices[0].delta.content`), each naming the conversation and the reply; then one that ends it
 * (or an `error`), then `data: [DONE]`.
 */
function streamFrames(conversation: Conversation, started: Message): ReplyFrames {
  const ids = { conversation_id: conversation.id, message_id: started.id };
  const chunk = (text: string, delta: Record<string, string>, finish: string | null) =>
    data({ text, ...ids, choices: [{ index: 0, delta, finish_reason: finish }] });
  const failure = (error: ApiError) => data({ ...zeebeeError(error), ...ids }) + DONE;
  return {
    opening: chunk('', { role: 'assistant' }, null),
    delta: ({ text }) => chunk(text, { content: text }, null),
    end: (message) =>
      message.status === 'error'
        ? failure(toApiError(failureOf(message)!))
        : chunk('', {}, message.status === 'cancelled' ? 'cancelled' : 'stop') + DONE,
    unfollowable: failure({ status: 500, code: 'INTERNAL', message: 'The reply cannot be followed right now' }),
  };
}

const DONE = 'data: [DONE]\n\n';

function data(body: unknown): string {
  return `data: ${JSON.stringify(body)}\n\n`;
}
