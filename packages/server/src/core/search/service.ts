import type { User } from '../accounts/model.js';
import type { ConversationAccess } from '../conversations/access.js';
import type { ConversationRepository } from '../conversations/model.js';
import { Invalid } from '../errors.js';
import type {
  ConversationResult,
  MessageResult,
  SearchRepository,
  SearchRequest,
  SearchResults,
  SearchScope,
} from './model.js';
import { SEARCH_LIMIT, SEARCH_QUERY, searchTerms, snippetOf } from './text.js';

export interface ConversationSearch {
  query: string;
  endUserId?: string;
  limit: number;
}

export interface MessageSearch extends ConversationSearch {
  /** Only this conversation's messages; one the user cannot read does not exist. */
  conversationId?: string;
}

/**
 * Search over the history a user can read: their conversations and their groups' rooms. Lexical
 * for now: results contain every word of the query, ranked by the store's relevance.
 */
export class SearchService {
  constructor(
    private readonly index: SearchRepository,
    private readonly conversationRepo: ConversationRepository,
    private readonly access: ConversationAccess,
  ) {}

  async conversations(user: User, q: ConversationSearch): Promise<SearchResults<ConversationResult>> {
    const request = this.request(q, { userId: user.id, endUserId: q.endUserId });
    if (request.terms.length === 0) return { mode: 'lexical', results: [] };
    const hits = await this.index.conversations(request);
    const byId = new Map(
      (await this.conversationRepo.findManyByIds(hits.map((hit) => hit.conversationId))).map((c) => [c.id, c]),
    );
    const found = hits.map((hit) => {
      const conversation = byId.get(hit.conversationId);
      return conversation && { conversation, rank: hit.rank, snippet: snippetOf(hit.text, request.terms) };
    });
    return { mode: 'lexical', results: scored(found) };
  }

  async messages(user: User, q: MessageSearch): Promise<SearchResults<MessageResult>> {
    const request = this.request(q, { userId: user.id, endUserId: q.endUserId, conversationId: q.conversationId });
    if (q.conversationId !== undefined) await this.access.conversation(user, q.conversationId);
    if (request.terms.length === 0) return { mode: 'lexical', results: [] };
    const hits = await this.index.messages(request);
    const byId = new Map(
      (await this.conversationRepo.findMessages(hits.map((hit) => hit.messageId))).map((m) => [m.id, m]),
    );
    const found = hits.map((hit) => {
      const message = byId.get(hit.messageId);
      return message && { message, rank: hit.rank };
    });
    return { mode: 'lexical', results: scored(found) };
  }

  /** The store's request; without terms (a query of punctuation only) nothing can match. */
  private request(q: ConversationSearch, scope: SearchScope): SearchRequest {
    const query = q.query.trim();
    if (query.length < 1 || query.length > SEARCH_QUERY.maxLength) {
      throw new Invalid(`query must be 1 to ${SEARCH_QUERY.maxLength} characters`, 'query');
    }
    if (!Number.isInteger(q.limit) || q.limit < SEARCH_LIMIT.min || q.limit > SEARCH_LIMIT.max) {
      throw new Invalid(`limit must be an integer from ${SEARCH_LIMIT.min} to ${SEARCH_LIMIT.max}`, 'limit');
    }
    return { terms: searchTerms(query), scope, limit: q.limit };
  }
}

/** The lowest score reported, so that a match never scores as none (stores may rank a weak one 0). */
const MIN_SCORE = 1e-6;

/**
 * Ranks as scores relative to the best: the best is 1 and none reaches 0. Hits whose conversation
 * or message went away between the index and the read are dropped.
 */
function scored<T extends { rank: number }>(found: (T | undefined)[]): (Omit<T, 'rank'> & { score: number })[] {
  const present = found.filter((hit): hit is T => hit !== undefined);
  const best = Math.max(...present.map((hit) => hit.rank));
  return present.map(({ rank, ...rest }) => ({ ...rest, score: best > 0 ? Math.max(rank / best, MIN_SCORE) : 1 }));
}
