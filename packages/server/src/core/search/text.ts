/** Query and snippet text rules: the words searched for, and the excerpt shown around one. */
export const SEARCH_QUERY = { maxLength: 500 } as const;
export const SEARCH_LIMIT = { min: 1, max: 100, defaultLimit: 20 } as const;
export const SNIPPET_CHARS = 200;

/** More words than this adds little but cost: each is one more index lookup. */
const MAX_TERMS = 32;
/** How much text a snippet shows before its match. */
const SNIPPET_LEAD = 60;
const ELLIPSIS = '…';
/** How far a snippet's edge moves to fall between words rather than inside one. */
const WORD_SLACK = 20;

/** Letters and digits with their combining marks: words as both stores' tokenizers split them. */
const WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}]*/gu;

/**
 * The distinct words of a query, lowercase. Everything else (quotes, operators, punctuation) is a
 * separator, so no user text can change the meaning of a store's query syntax.
 */
export function searchTerms(query: string): string[] {
  const words = query.normalize('NFKC').toLowerCase().match(WORD) ?? [];
  return [...new Set(words)].slice(0, MAX_TERMS);
}

/** At most SNIPPET_CHARS of `text` on one line, starting a little before the first word that matches a term. */
export function snippetOf(text: string, terms: string[]): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= SNIPPET_CHARS) return line;
  const at = firstMatch(line, terms);
  let start = at > SNIPPET_LEAD ? wordStartAfter(line, at - SNIPPET_LEAD, at) : 0;
  // A window reaching the end would leave room unused: show more of what comes before instead.
  start = Math.min(start, wordStartAfter(line, line.length - (SNIPPET_CHARS - ELLIPSIS.length), at));
  const room = SNIPPET_CHARS - (start > 0 ? ELLIPSIS.length : 0);
  if (line.length - start <= room) return (start > 0 ? ELLIPSIS : '') + line.slice(start);
  const end = wordEndBefore(line, start + room - ELLIPSIS.length, at);
  return (start > 0 ? ELLIPSIS : '') + line.slice(start, end).trimEnd() + ELLIPSIS;
}

/** Where the first word equal to a term begins, ignoring case and accents; 0 when none does. */
function firstMatch(line: string, terms: string[]): number {
  const wanted = new Set(terms.map(fold));
  for (const word of line.matchAll(WORD)) {
    if (wanted.has(fold(word[0]))) return word.index;
  }
  return 0;
}

function fold(word: string): string {
  return word.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/** A word start just at or after `from` (and before `limit`), else `from` itself, kept off a surrogate pair's middle. */
function wordStartAfter(line: string, from: number, limit: number): number {
  if (from <= 0) return 0;
  const space = line.indexOf(' ', from - 1);
  return space !== -1 && space < Math.min(limit, from + WORD_SLACK) ? space + 1 : pairSafe(line, from);
}

/** A word end just at or before `to` (and after `after`), else `to` itself, kept off a surrogate pair's middle. */
function wordEndBefore(line: string, to: number, after: number): number {
  const space = line.lastIndexOf(' ', to);
  return space > Math.max(after, to - WORD_SLACK) ? space : pairSafe(line, to);
}

function pairSafe(line: string, index: number): number {
  const code = line.charCodeAt(index);
  return code >= 0xdc00 && code <= 0xdfff ? index - 1 : index;
}
