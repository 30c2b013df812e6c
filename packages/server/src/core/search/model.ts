import type { Conversation, Message } from '../conversations/model.js';

/** How results were found: by the words they contain. Semantic search will say `semantic` or `hybrid`. */
export type SearchMode = 'lexical';

export interface SearchResults<T> {
  mode: SearchMode;
  /** Best first. */
  results: T[];
}

export interface ConversationResult {
  conversation: Conversation;
  /** In (0, 1], higher is better; relative to the best result of the same search. */
  score: number;
  /** An excerpt around the first match in the conversation's best matching message, or its title. */
  snippet: string;
}

export interface MessageResult {
  message: Message;
  /** In (0, 1], higher is better; relative to the best result of the same search. */
  score: number;
}

/** Where to search: what the user may read, optionally narrowed. */
export interface SearchScope {
  /** The conversations this user owns, and the rooms of the groups they are in. */
  userId: string;
  /** Only conversations with this end user of the caller's application. */
  endUserId?: string;
  /** Only this conversation's messages. */
  conversationId?: string;
}

/**
 * Terms are words as the core extracts them (letters and digits only, lowercase): the store quotes
 * them itself, and a document matches when it contains every term. Ranks are the store's own
 * relevance, higher is better and always positive; only their ratios mean something.
 */
export interface SearchRequest {
  terms: string[];
  scope: SearchScope;
  limit: number;
}

export interface ConversationHit {
  conversationId: string;
  /** The conversation's best matching message, or null when its title matched best. */
  messageId: string | null;
  /** The text that matched: that message's content, or the title. */
  text: string;
  rank: number;
}

export interface MessageHit {
  messageId: string;
  rank: number;
}

/** The lexical index over searchable messages (complete, from users and assistants) and titles. */
export interface SearchRepository {
  /** Conversations whose title or one of whose messages matches, best first, one hit each. */
  conversations(request: SearchRequest): Promise<ConversationHit[]>;
  /** Matching messages, best first. */
  messages(request: SearchRequest): Promise<MessageHit[]>;
}
