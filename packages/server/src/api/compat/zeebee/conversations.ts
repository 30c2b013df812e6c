import type { User } from '../../../core/accounts/model.js';
import type { Conversation, Message } from '../../../core/conversations/model.js';
import { MESSAGES_PAGE } from '../../../core/conversations/rules.js';
import type { Core } from '../../../core/index.js';
import { principalOf } from '../../auth.js';
import type { NativeApp } from '../../native/types.js';
import type { SurfaceContext } from '../../surfaces.js';
import {
  ConversationChangesBody,
  ConversationListQuery,
  ConversationParams,
  ExportQuery,
  MessageListQuery,
  NewConversationBody,
} from './schemas.js';
import { templateBot } from './templates.js';
import { conversationView, iso, messageView } from './views.js';

const tags = ['zeebee'];
const DELETED = { status: 'success', message: 'Conversation deleted successfully' } as const;

/**
 * The document's conversation routes (`/conversations`, `/conversation/{id}/messages`,
 * `DELETE /conversation/{id}`) and the SDK's (`/conversations/{id}…`), over the caller's conversations.
 */
export function conversationRoutes(app: NativeApp, { core }: SurfaceContext): void {
  const { conversations } = core;

  app.get(
    '/conversations',
    {
      schema: {
        tags,
        summary: "Your conversations, latest first; `user_id` narrows them to one of your application's users",
        querystring: ConversationListQuery,
      },
    },
    async (request) => {
      const { user_id: endUserId, limit, offset } = request.query;
      const page = await conversations.list(principalOf(request).user, { endUserId, limit, offset });
      return { conversations: page.items.map(conversationView), total: page.total ?? 0, limit, offset };
    },
  );

  app.post(
    '/conversations',
    { schema: { tags, summary: 'Start a conversation', body: NewConversationBody } },
    async (request, reply) => {
      const { title, model, system_prompt, user_id, template } = request.body;
      const { user } = principalOf(request);
      const bot = template && (await templateBot(core, user, template.name));
      const conversation = await conversations.create(user, {
        title: title ?? undefined,
        model: model ?? undefined,
        systemPrompt: system_prompt ?? undefined,
        endUserId: user_id ?? undefined,
        botId: bot?.id,
        variables: template?.variables ?? undefined,
      });
      return reply.code(201).send(conversationAnswer(conversation));
    },
  );

  app.get(
    '/conversations/:conversation_id',
    { schema: { tags, summary: 'One conversation, with its newest messages', params: ConversationParams } },
    async (request) => {
      const { user } = principalOf(request);
      const conversation = await conversations.get(user, request.params.conversation_id);
      const [bot, page] = await Promise.all([
        core.bots.ofConversation(conversation),
        conversations.messages(user, conversation.id, { limit: MESSAGES_PAGE.maxLimit }),
      ]);
      return {
        conversation: {
          ...conversationView(conversation),
          template: bot?.name ?? null,
          messages: page.items.map(messageView),
        },
      };
    },
  );

  app.patch(
    '/conversations/:conversation_id',
    {
      schema: {
        tags,
        summary: "Change a conversation's title, model or system prompt",
        params: ConversationParams,
        body: ConversationChangesBody,
      },
    },
    async (request) => {
      const { title, model, system_prompt } = request.body;
      const conversation = await conversations.update(principalOf(request).user, request.params.conversation_id, {
        ...(title != null && { title }),
        ...(model != null && { model }),
        ...(system_prompt != null && { systemPrompt: system_prompt }),
      });
      return conversationAnswer(conversation);
    },
  );

  for (const path of ['/conversation/:conversation_id', '/conversations/:conversation_id']) {
    app.delete(
      path,
      { schema: { tags, summary: 'Delete a conversation with its messages', params: ConversationParams } },
      async (request) => {
        await conversations.delete(principalOf(request).user, request.params.conversation_id);
        return DELETED;
      },
    );

    app.get(
      `${path}/messages`,
      {
        schema: {
          tags,
          summary: "A conversation's messages, oldest first; `offset` counts back from the newest",
          params: ConversationParams,
          querystring: MessageListQuery,
        },
      },
      async (request) => {
        const { user } = principalOf(request);
        const { limit, offset } = request.query;
        const conversation = await conversations.get(user, request.params.conversation_id);
        const page = await conversations.messages(user, conversation.id, { limit, offset });
        return {
          conversation_id: conversation.id,
          title: conversation.title ?? '',
          messages: page.items.map(messageView),
          total: page.total ?? page.items.length,
          limit,
          offset,
        };
      },
    );
  }

  app.get(
    '/conversations/:conversation_id/export',
    {
      schema: {
        tags,
        summary: 'A whole conversation as JSON, Markdown or plain text',
        params: ConversationParams,
        querystring: ExportQuery,
      },
    },
    async (request, reply) => {
      const { user } = principalOf(request);
      const conversation = await conversations.get(user, request.params.conversation_id);
      const messages = await allMessages(core, user, conversation.id);
      const { format } = request.query;
      if (format === 'json')
        return { conversation: { ...conversationView(conversation), messages: messages.map(messageView) } };
      reply.type(format === 'markdown' ? 'text/markdown; charset=utf-8' : 'text/plain; charset=utf-8');
      return format === 'markdown' ? markdown(conversation, messages) : plainText(conversation, messages);
    },
  );
}

/** A conversation created or changed: its fields, and its id under both names clients look for. */
function conversationAnswer(conversation: Conversation) {
  return { ...conversationView(conversation), conversation_id: conversation.id };
}

/** Every message of a conversation, oldest first, read a page at a time. */
async function allMessages(core: Core, user: User, conversationId: string): Promise<Message[]> {
  const pages: Message[][] = [];
  let before: string | undefined;
  for (;;) {
    const page = await core.conversations.messages(user, conversationId, { limit: MESSAGES_PAGE.maxLimit, before });
    pages.unshift(page.items);
    if (!page.hasMore || page.items.length === 0) return pages.flat();
    before = page.items[0]!.id;
  }
}

const SPEAKERS = { user: 'User', assistant: 'Assistant', system: 'System' } as const;

function markdown(conversation: Conversation, messages: Message[]): string {
  const turns = messages.map((m) => `### ${SPEAKERS[m.role]} (${iso(m.createdAt)})\n\n${m.content}\n`);
  return [`# ${conversation.title || 'Conversation'}\n`, ...turns].join('\n');
}

function plainText(conversation: Conversation, messages: Message[]): string {
  const turns = messages.map((m) => `${SPEAKERS[m.role]}: ${m.content}\n`);
  return [`${conversation.title || 'Conversation'}\n`, ...turns].join('\n');
}
