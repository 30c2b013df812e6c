import { sql, type Kysely, type RawBuilder } from 'kysely';
import type {
  ConversationHit,
  MessageHit,
  SearchRepository,
  SearchRequest,
  SearchScope,
} from '../../core/search/model.js';
import type { Tables } from '../tables.js';

/** What a search matches, before picking: `message_id` is null for a title. */
interface Hit {
  conversationId: string;
  messageId: string | null;
  rank: number;
}

/**
 * The lexical index of migration 0009: SQLite's FTS5 table ranked by bm25, or PostgreSQL's
 * expression indexes ranked by ts_rank. Both match documents containing every term and rank
 * higher-is-better; only what the user may read is matched, so limits count readable hits.
 */
export class SqlSearchRepository implements SearchRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async conversations({ terms, scope, limit }: SearchRequest): Promise<ConversationHit[]> {
    const { rows } = await sql<Hit & { text: string | null }>`
      with hits as (${this.hits(terms, scope, { titles: true })}),
      best as (
        select conversation_id, message_id, rank,
          row_number() over (partition by conversation_id order by rank desc, coalesce(message_id, '')) as nth
        from hits
      )
      select b.conversation_id, b.message_id, b.rank, coalesce(m.content, c.title) as text
      from best b
      join conversations c on c.id = b.conversation_id
      left join messages m on m.id = b.message_id
      where b.nth = 1
      order by b.rank desc, b.conversation_id desc
      limit ${limit}`.execute(this.db);
    return rows.map((row) => ({ ...row, text: row.text ?? '' }));
  }

  async messages({ terms, scope, limit }: SearchRequest): Promise<MessageHit[]> {
    const { rows } = await sql<Hit & { messageId: string }>`
      select message_id, rank from (${this.hits(terms, scope, { titles: false })}) hits
      order by rank desc, message_id desc
      limit ${limit}`.execute(this.db);
    return rows;
  }

  /** Every matching message (and title) the scope allows, as `Hit` rows. */
  private hits(terms: string[], scope: SearchScope, options: { titles: boolean }): RawBuilder<Hit> {
    return this.dialect === 'postgres' ? postgresHits(terms, scope, options) : sqliteHits(terms, scope, options);
  }
}

/** bm25 is lower for better matches, and negative. */
function sqliteHits(terms: string[], scope: SearchScope, { titles }: { titles: boolean }): RawBuilder<Hit> {
  // Each term a quoted string: FTS5 reads nothing inside as an operator, and a space means "and".
  const match = terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(' ');
  return sql<Hit>`
    select d.conversation_id, d.message_id, -bm25(search_index) as rank
    from search_index
    join search_documents d on d.doc = search_index.rowid
    join conversations c on c.id = d.conversation_id
    where search_index match ${match}
      ${titles ? sql`` : sql`and d.message_id is not null`}
      and ${readable(scope)}`;
}

/** Messages ranked by their kept words; titles by an expression that repeats their index's, so that the planner uses it. */
function postgresHits(terms: string[], scope: SearchScope, { titles }: { titles: boolean }): RawBuilder<Hit> {
  // plainto_tsquery reads its text as words joined by "and", never as operators.
  const query = sql`plainto_tsquery('simple', ${terms.join(' ')})`;
  const messages = sql<Hit>`
    select s.conversation_id, s.message_id, ts_rank(s.document, ${query}) as rank
    from message_search s
    join conversations c on c.id = s.conversation_id
    where s.document @@ ${query} and ${readable(scope)}`;
  if (!titles) return messages;
  const title = sql`to_tsvector('simple', c.title)`;
  return sql<Hit>`${messages}
    union all
    select c.id, null, ts_rank(${title}, ${query})
    from conversations c
    where ${title} @@ ${query} and ${readable(scope)}`;
}

/** The scope as conditions on the conversation `c`: the user's own, and their groups' rooms. */
function readable(scope: SearchScope): RawBuilder<unknown> {
  const conditions = [
    sql`(c.owner_id = ${scope.userId}
      or c.group_id in (select group_id from group_members where user_id = ${scope.userId}))`,
  ];
  if (scope.endUserId !== undefined) conditions.push(sql`c.end_user_id = ${scope.endUserId}`);
  if (scope.conversationId !== undefined) conditions.push(sql`c.id = ${scope.conversationId}`);
  return sql.join(conditions, sql` and `);
}
