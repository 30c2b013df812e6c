import { PostgresAdapter, sql, type Kysely } from 'kysely';

/** How much of a message is indexed: PostgreSQL refuses a tsvector over 1 MB, and a message may be longer. */
const INDEXED_MESSAGE_CHARS = 100_000;

/** Which messages are searchable: finished turns of the dialogue, not system notes or failed replies. */
const searchable = (row: string) => `${row}.status = 'complete' and ${row}.role in ('user', 'assistant')`;

/**
 * Lexical search over message contents and conversation titles. PostgreSQL keeps each searchable
 * message's words (a tsvector, kept current by triggers) under a GIN index, and titles under an
 * expression index. SQLite keeps an FTS5 index, contentless (the text stays
 * in its own table only) and kept current by triggers in the writing transaction; because rows of
 * a contentless index are integers, `search_documents` numbers each indexed message and title.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    // Each searchable message's words are kept, not only indexed, so that ranking reads them
    // instead of parsing every matching message again.
    await db.schema
      .createTable('message_search')
      .addColumn('message_id', 'text', (c) => c.primaryKey())
      .addColumn('conversation_id', 'text', (c) => c.notNull())
      .addColumn('document', sql`tsvector`, (c) => c.notNull())
      .execute();
    await sql`create index message_search_document on message_search using gin (document)`.execute(db);
    const document = (row: string) => `to_tsvector('simple', left(${row}.content, ${INDEXED_MESSAGE_CHARS}))`;
    await sql
      .raw(
        `create function message_search_sync() returns trigger language plpgsql as $$
        begin
          if tg_op <> 'INSERT' then delete from message_search where message_id = old.id; end if;
          if tg_op <> 'DELETE' and ${searchable('new')} then
            insert into message_search (message_id, conversation_id, document)
              values (new.id, new.conversation_id, ${document('new')});
          end if;
          return null;
        end $$`,
      )
      .execute(db);
    for (const trigger of [
      `message_search_insert after insert on messages for each row when (${searchable('new')})`,
      `message_search_update after update of content, status, role on messages for each row
        when ((${searchable('old')}) or (${searchable('new')}))`,
      `message_search_delete after delete on messages for each row when (${searchable('old')})`,
    ]) {
      await sql.raw(`create trigger ${trigger} execute function message_search_sync()`).execute(db);
    }
    await sql
      .raw(
        `insert into message_search (message_id, conversation_id, document)
          select id, conversation_id, ${document('messages')} from messages where ${searchable('messages')}`,
      )
      .execute(db);
    await sql`create index conversations_search on conversations using gin (to_tsvector('simple', title))`.execute(db);
    return;
  }

  await db.schema
    .createTable('search_documents')
    .addColumn('doc', 'integer', (c) => c.primaryKey())
    .addColumn('conversation_id', 'text', (c) => c.notNull())
    // Null for the conversation's title.
    .addColumn('message_id', 'text')
    .execute();
  await db.schema
    .createIndex('search_documents_message')
    .on('search_documents')
    .column('message_id')
    .unique()
    .execute();
  await db.schema
    .createIndex('search_documents_title')
    .on('search_documents')
    .column('conversation_id')
    .unique()
    .where(sql.ref('message_id'), 'is', null)
    .execute();
  await sql`create virtual table search_index using fts5(body, content = '', tokenize = 'unicode61 remove_diacritics 2')`.execute(
    db,
  );

  const messageText = (row: string) => `substr(${row}.content, 1, ${INDEXED_MESSAGE_CHARS})`;
  const forgetMessage = `
    insert into search_index (search_index, rowid, body)
      select 'delete', doc, ${messageText('old')} from search_documents where message_id = old.id;
    delete from search_documents where message_id = old.id;`;
  const indexMessage = `
    insert into search_documents (conversation_id, message_id) select new.conversation_id, new.id where ${searchable('new')};
    insert into search_index (rowid, body) select doc, ${messageText('new')} from search_documents where message_id = new.id;`;
  const forgetTitle = `
    insert into search_index (search_index, rowid, body)
      select 'delete', doc, old.title from search_documents where conversation_id = old.id and message_id is null;
    delete from search_documents where conversation_id = old.id and message_id is null;`;
  const indexTitle = `
    insert into search_documents (conversation_id, message_id) select new.id, null where new.title is not null;
    insert into search_index (rowid, body)
      select doc, new.title from search_documents where conversation_id = new.id and message_id is null;`;

  for (const trigger of [
    `search_message_insert after insert on messages when ${searchable('new')} begin ${indexMessage} end`,
    `search_message_update after update of content, status, role on messages
      when (${searchable('old')}) or (${searchable('new')}) begin ${forgetMessage} ${indexMessage} end`,
    `search_message_delete after delete on messages when ${searchable('old')} begin ${forgetMessage} end`,
    `search_title_insert after insert on conversations when new.title is not null begin ${indexTitle} end`,
    `search_title_update after update of title on conversations when old.title is not new.title
      begin ${forgetTitle} ${indexTitle} end`,
    `search_title_delete after delete on conversations when old.title is not null begin ${forgetTitle} end`,
  ]) {
    await sql.raw(`create trigger ${trigger}`).execute(db);
  }

  // What was written before the index existed.
  await sql
    .raw(
      `insert into search_documents (conversation_id, message_id)
        select conversation_id, id from messages where ${searchable('messages')}`,
    )
    .execute(db);
  await sql
    .raw(
      `insert into search_documents (conversation_id, message_id)
        select id, null from conversations where title is not null`,
    )
    .execute(db);
  await sql
    .raw(
      `insert into search_index (rowid, body)
        select d.doc, coalesce(${messageText('m')}, c.title) from search_documents d
          left join messages m on m.id = d.message_id
          left join conversations c on d.message_id is null and c.id = d.conversation_id`,
    )
    .execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await db.schema.dropIndex('conversations_search').execute();
    for (const trigger of ['message_search_insert', 'message_search_update', 'message_search_delete']) {
      await sql.raw(`drop trigger ${trigger} on messages`).execute(db);
    }
    await sql`drop function message_search_sync()`.execute(db);
    await db.schema.dropTable('message_search').execute();
    return;
  }
  for (const trigger of [
    'search_message_insert',
    'search_message_update',
    'search_message_delete',
    'search_title_insert',
    'search_title_update',
    'search_title_delete',
  ]) {
    await sql.raw(`drop trigger ${trigger}`).execute(db);
  }
  await db.schema.dropTable('search_index').execute();
  await db.schema.dropTable('search_documents').execute();
}
