import { Type } from '@sinclair/typebox';
import { Invalid } from '../../../core/errors.js';
import { SEARCH_LIMIT, SEARCH_QUERY, SNIPPET_CHARS } from '../../../core/search/text.js';
import { StringEnum } from '../../../lib/schema.js';
import { principalOf } from '../../auth.js';
import { ConversationBody, MessageBody } from '../conversation-schemas.js';
import { messageBody } from '../reply-events.js';
import type { NativeApp, NativeContext } from '../types.js';

const SearchBody = Type.Object(
  {
    query: Type.String({
      description: `Words to find, ${SEARCH_QUERY.maxLength} characters at most once trimmed; punctuation is ignored`,
    }),
    type: StringEnum(['conversations', 'messages'], { description: 'What to find' }),
    conversationId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'Messages search only: within this conversation' }),
    ),
    limit: Type.Optional(
      Type.Integer({ minimum: SEARCH_LIMIT.min, maximum: SEARCH_LIMIT.max, default: SEARCH_LIMIT.defaultLimit }),
    ),
  },
  { additionalProperties: false },
);

/** One schema for both types (no anyOf, which keeps the serialiser fast): a result has a conversation or a message. */
const SearchResults = Type.Object({
  mode: StringEnum(['lexical'], { description: 'How results were found: by the words they contain' }),
  results: Type.Array(
    Type.Object({
      score: Type.Number({ description: 'In (0, 1], relative to the best result' }),
      conversation: Type.Optional(ConversationBody),
      snippet: Type.Optional(
        Type.String({ description: `Conversations: up to ${SNIPPET_CHARS} characters around the first match` }),
      ),
      message: Type.Optional(MessageBody),
    }),
    { description: 'Best first' },
  ),
});

export function searchRoutes(app: NativeApp, { core }: NativeContext): void {
  app.post(
    '/search',
    {
      schema: {
        tags: ['search'],
        summary: 'Find your conversations, or messages in them, that contain every word of a query',
        body: SearchBody,
        response: { 200: SearchResults },
      },
    },
    async (request) => {
      const { query, type, conversationId, limit } = request.body;
      const user = principalOf(request).user;
      const search = { query, limit: limit! };
      if (type === 'conversations') {
        if (conversationId !== undefined)
          throw new Invalid('conversationId narrows a messages search only', 'conversationId');
        return core.search.conversations(user, search);
      }
      const found = await core.search.messages(user, { ...search, conversationId });
      return { ...found, results: found.results.map((r) => ({ ...r, message: messageBody(r.message) })) };
    },
  );
}
