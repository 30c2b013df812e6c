import type { Static } from '@sinclair/typebox';
import type { User } from '../../../core/accounts/model.js';
import { Invalid } from '../../../core/errors.js';
import type { Core } from '../../../core/index.js';
import { SEARCH_LIMIT } from '../../../core/search/text.js';
import { principalOf } from '../../auth.js';
import type { NativeApp } from '../../native/types.js';
import type { SurfaceContext } from '../../surfaces.js';
import { ConversationParams, MessageSearchBody, SearchBody } from './schemas.js';
import { iso } from './views.js';

const tags = ['zeebee'];
/** The document's default number of results. */
const DEFAULT_LIMIT = 10;

/**
 * Search over the caller's conversations (all of them, or one end user's with `user_id`). Each
 * answer says how results were found (`mode`): by their words until an embedding model is set up.
 */
export function searchRoutes(app: NativeApp, { core }: SurfaceContext): void {
  app.post(
    '/search/conversations',
    { schema: { tags, summary: 'Find your conversations by what was said in them', body: SearchBody } },
    async (request) => {
      const { query, user_id } = request.body;
      const { limit, offset } = window(request.body);
      const found = await core.search.conversations(principalOf(request).user, {
        query,
        endUserId: user_id ?? undefined,
        limit: offset + limit,
      });
      return {
        mode: found.mode,
        results: found.results.slice(offset).map(({ conversation, score, snippet }) => ({
          conversation_id: conversation.id,
          title: conversation.title ?? '',
          created_at: iso(conversation.createdAt),
          updated_at: iso(conversation.updatedAt),
          similarity_score: score,
          snippet,
        })),
      };
    },
  );

  app.post(
    '/search/messages',
    { schema: { tags, summary: 'Find messages in your conversations, or in one', body: MessageSearchBody } },
    async (request) =>
      searchMessages(core, principalOf(request).user, request.body, request.body.conversation_id ?? undefined),
  );

  app.post(
    '/conversations/:conversation_id/search',
    { schema: { tags, summary: 'Find messages in one conversation', params: ConversationParams, body: SearchBody } },
    async (request) => searchMessages(core, principalOf(request).user, request.body, request.params.conversation_id),
  );
}

async function searchMessages(
  core: Core,
  user: User,
  body: Static<typeof SearchBody>,
  conversationId: string | undefined,
) {
  const { limit, offset } = window(body);
  const found = await core.search.messages(user, {
    query: body.query,
    endUserId: body.user_id ?? undefined,
    conversationId,
    limit: offset + limit,
  });
  return {
    mode: found.mode,
    results: found.results.slice(offset).map(({ message, score }) => ({
      message_id: message.id,
      conversation_id: message.conversationId,
      role: message.role,
      content: message.content,
      created_at: iso(message.createdAt),
      similarity_score: score,
    })),
  };
}

function window(body: Static<typeof SearchBody>): { limit: number; offset: number } {
  const limit = body.limit ?? DEFAULT_LIMIT;
  const offset = body.offset ?? 0;
  if (offset + limit > SEARCH_LIMIT.max) {
    throw new Invalid(`offset + limit must be at most ${SEARCH_LIMIT.max}`, 'offset');
  }
  return { limit, offset };
}
