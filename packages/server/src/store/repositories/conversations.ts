import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import type {
  Conversation,
  ConversationQuery,
  ConversationRepository,
  Feedback,
  Message,
  MessageQuery,
} from '../../core/conversations/model.js';
import type { OutboxEvent } from '../../core/events.js';
import { compiledOnce } from '../compiled.js';
import { writeOutbox } from '../outbox.js';
import type { ConversationsTable, FeedbackTable, MessagesTable, Tables } from '../tables.js';

/** How much of a message a conversation list shows. */
const PREVIEW_CHARS = 200;

export class SqlConversationRepository implements ConversationRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async insert(conversation: Conversation): Promise<void> {
    await this.db.insertInto('conversations').values(toConversationRow(conversation)).execute();
  }

  async insertCapped(conversation: Conversation, max: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // Concurrent starts by one owner queue on their user row (SQLite runs one writer at a time anyway).
      if (this.dialect === 'postgres') {
        await trx.selectFrom('users').select('id').where('id', '=', conversation.ownerId).forUpdate().execute();
      }
      let same = trx
        .selectFrom('conversations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('ownerId', '=', conversation.ownerId)
        .where('groupId', 'is', null);
      same =
        conversation.botId === null ? same.where('botId', 'is', null) : same.where('botId', '=', conversation.botId);
      const { n } = await same.executeTakeFirstOrThrow();
      if (Number(n) >= max) return false;
      await trx.insertInto('conversations').values(toConversationRow(conversation)).execute();
      return true;
    });
  }

  async insertThread(
    conversation: Conversation & { threadKey: string },
  ): Promise<{ conversation: Conversation; created: boolean }> {
    const inserted = await this.db
      .insertInto('conversations')
      .values(toConversationRow(conversation))
      .onConflict((oc) => oc.columns(['ownerId', 'threadKey']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return { conversation, created: true };
    const row = await this.db
      .selectFrom('conversations')
      .selectAll()
      .where('ownerId', '=', conversation.ownerId)
      .where('threadKey', '=', conversation.threadKey)
      .executeTakeFirstOrThrow();
    return { conversation: toConversation(row), created: false };
  }

  /** Read on every message request. */
  private readonly byId = compiledOnce(() =>
    this.db.selectFrom('conversations').selectAll().where('id', '=', '').compile(),
  );

  async findById(id: string): Promise<Conversation | undefined> {
    const [row] = (await this.db.executeQuery<Selectable<ConversationsTable>>(this.byId([id]))).rows;
    return row && toConversation(row);
  }

  async findManyByIds(ids: string[]): Promise<Conversation[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('conversations').selectAll().where('id', 'in', ids).execute();
    return rows.map(toConversation);
  }

  async list(query: ConversationQuery): Promise<{ items: Conversation[]; nextCursor: string | null; total?: number }> {
    let filtered = this.db
      .selectFrom('conversations')
      .where((eb) =>
        eb.or([
          eb('ownerId', '=', query.userId),
          eb('groupId', 'in', eb.selectFrom('groupMembers').select('groupId').where('userId', '=', query.userId)),
        ]),
      );
    if (query.botId !== undefined) filtered = filtered.where('botId', '=', query.botId);
    if (query.groupId !== undefined) filtered = filtered.where('groupId', '=', query.groupId);
    if (query.endUserId !== undefined) filtered = filtered.where('endUserId', '=', query.endUserId);
    if (query.endGroupId !== undefined) filtered = filtered.where('endGroupId', '=', query.endGroupId);
    if (query.threadsOnly) filtered = filtered.where('threadKey', 'is not', null);
    if (query.plainOnly) {
      filtered = filtered
        .where('ownerId', '=', query.userId)
        .where('groupId', 'is', null)
        .where('botId', 'is', null)
        .where('endUserId', 'is', null)
        .where('threadKey', 'is', null);
    }
    let page = filtered
      .selectAll()
      .orderBy('updatedAt', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit + 1);
    let total: number | undefined;
    if (query.offset !== undefined) {
      page = page.offset(query.offset);
      const counted = await filtered.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      total = Number(counted.n);
    } else if (query.cursor !== undefined) {
      const { updatedAt, id } = decodeCursor(query.cursor);
      page = page.where((eb) =>
        eb.or([eb('updatedAt', '<', updatedAt), eb.and([eb('updatedAt', '=', updatedAt), eb('id', '<', id)])]),
      );
    }
    const rows = await page.execute();
    const items = rows.slice(0, query.limit).map(toConversation);
    const last = items.at(-1);
    const nextCursor = rows.length > query.limit && last ? encodeCursor(last) : null;
    return total === undefined ? { items, nextCursor } : { items, nextCursor, total };
  }

  async update(
    id: string,
    patch: Partial<
      Pick<Conversation, 'title' | 'model' | 'systemPrompt' | 'variables' | 'botId' | 'contextClearedAt'>
    > & {
      updatedAt: number;
    },
  ): Promise<void> {
    const { variables, ...rest } = patch;
    await this.db
      .updateTable('conversations')
      .set({ ...rest, ...(variables === undefined ? {} : { variables: JSON.stringify(variables) }) })
      .where('id', '=', id)
      .execute();
  }

  async setTitleIfEmpty(id: string, title: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('conversations')
      .set({ title, updatedAt: at })
      .where('id', '=', id)
      .where('title', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async delete(id: string, events: OutboxEvent[] = []): Promise<string[]> {
    return this.db.transaction().execute(async (trx) => {
      const files = await trx
        .selectFrom('messageFiles')
        .select('fileId')
        .distinct()
        .where('conversationId', '=', id)
        .execute();
      await trx.deleteFrom('feedback').where('conversationId', '=', id).execute();
      await trx.deleteFrom('conversationTriggers').where('conversationId', '=', id).execute();
      await trx.deleteFrom('messageFiles').where('conversationId', '=', id).execute();
      await trx.deleteFrom('messages').where('conversationId', '=', id).execute();
      await trx.deleteFrom('conversations').where('id', '=', id).execute();
      await writeOutbox(trx, events);
      return files.map((f) => f.fileId);
    });
  }

  async insertMessages(messages: Message[], events: OutboxEvent[] = []): Promise<void> {
    const last = messages.at(-1);
    if (!last) return;
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('messages').values(messages.map(toMessageRow)).execute();
      const references = messages.flatMap((m) =>
        m.attachments.map((fileId) => ({ messageId: m.id, fileId, conversationId: m.conversationId })),
      );
      if (references.length) await trx.insertInto('messageFiles').values(references).execute();
      await trx
        .updateTable('conversations')
        .set((eb) => ({
          messageCount: eb('messageCount', '+', messages.length),
          lastMessageId: last.id,
          lastMessagePreview: preview(last.content),
          lastMessageAt: last.createdAt,
          updatedAt: last.createdAt,
        }))
        .where('id', '=', last.conversationId)
        .execute();
      await writeOutbox(trx, events);
    });
  }

  private readonly messageById = compiledOnce(() =>
    this.db.selectFrom('messages').selectAll().where('id', '=', '').compile(),
  );

  async findMessage(id: string): Promise<Message | undefined> {
    const [row] = (await this.db.executeQuery<Selectable<MessagesTable>>(this.messageById([id]))).rows;
    return row && toMessage(row);
  }

  async findMessages(ids: string[]): Promise<Message[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('messages').selectAll().where('id', 'in', ids).execute();
    return rows.map(toMessage);
  }

  async findMessageByClientId(conversationId: string, clientId: string): Promise<Message | undefined> {
    const row = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversationId', '=', conversationId)
      .where('clientId', '=', clientId)
      .executeTakeFirst();
    return row && toMessage(row);
  }

  /** The newest page of a conversation, the history every client opens with: compiled once. */
  private readonly newestMessages = compiledOnce(() =>
    this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversationId', '=', '')
      .orderBy('id', 'desc')
      .limit(0)
      .compile(),
  );

  async listMessages(query: MessageQuery): Promise<{ items: Message[]; hasMore: boolean; total?: number }> {
    const plain =
      query.before === undefined &&
      query.after === undefined &&
      query.since === undefined &&
      query.senderId === undefined &&
      query.settledOnly !== true &&
      query.page === undefined &&
      query.offset === undefined;
    if (plain) {
      const { rows } = await this.db.executeQuery<Selectable<MessagesTable>>(
        this.newestMessages([query.conversationId, query.limit + 1]),
      );
      return newestFirstPage(rows, query.limit);
    }

    let filtered = this.db.selectFrom('messages').where('conversationId', '=', query.conversationId);
    if (query.since !== undefined) filtered = filtered.where('createdAt', '>', query.since);
    if (query.senderId !== undefined) filtered = filtered.where('senderId', '=', query.senderId);
    if (query.settledOnly) filtered = filtered.where('status', '!=', 'streaming');
    if (query.page !== undefined || query.offset !== undefined) {
      const counted = await filtered.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const rows = await filtered
        .selectAll()
        .orderBy('id', 'desc')
        .limit(query.limit + 1)
        .offset(query.offset ?? ((query.page ?? 1) - 1) * query.limit)
        .execute();
      return { ...newestFirstPage(rows, query.limit), total: Number(counted.n) };
    }
    if (query.after !== undefined) {
      // Forward from a cursor: the oldest messages after it.
      let forward = filtered.where('id', '>', query.after);
      if (query.before !== undefined) forward = forward.where('id', '<', query.before);
      const rows = await forward
        .selectAll()
        .orderBy('id', 'asc')
        .limit(query.limit + 1)
        .execute();
      return { items: rows.slice(0, query.limit).map(toMessage), hasMore: rows.length > query.limit };
    }
    if (query.before !== undefined) filtered = filtered.where('id', '<', query.before);
    const rows = await filtered
      .selectAll()
      .orderBy('id', 'desc')
      .limit(query.limit + 1)
      .execute();
    return newestFirstPage(rows, query.limit);
  }

  async recentMessages(
    conversationId: string,
    options: { limit: number; createdAfter: number | null },
  ): Promise<Message[]> {
    let query = this.db.selectFrom('messages').selectAll().where('conversationId', '=', conversationId);
    if (options.createdAfter !== null) query = query.where('createdAt', '>', options.createdAfter);
    const rows = await query.orderBy('id', 'desc').limit(options.limit).execute();
    return rows.map(toMessage);
  }

  private readonly latestId = compiledOnce(() =>
    this.db.selectFrom('conversations').select('lastMessageId').where('id', '=', '').compile(),
  );

  async latestMessageId(conversationId: string): Promise<string | null> {
    const [row] = (await this.db.executeQuery<{ lastMessageId: string | null }>(this.latestId([conversationId]))).rows;
    return row?.lastMessageId ?? null;
  }

  async updateMessage(
    message: Pick<Message, 'id' | 'conversationId'>,
    patch: Partial<Pick<Message, 'content' | 'status' | 'error' | 'usage' | 'model'>> & { updatedAt: number },
    events: OutboxEvent[] = [],
  ): Promise<void> {
    const { usage, error, ...rest } = patch;
    const values = {
      ...rest,
      ...(usage === undefined
        ? {}
        : { promptTokens: usage?.promptTokens ?? null, completionTokens: usage?.completionTokens ?? null }),
      ...(error === undefined ? {} : { error: error && JSON.stringify(error) }),
    };
    const ended = patch.status !== undefined && patch.status !== 'streaming';
    if (!ended && events.length === 0) {
      await this.db.updateTable('messages').set(values).where('id', '=', message.id).execute();
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('messages').set(values).where('id', '=', message.id).execute();
      if (ended && patch.content !== undefined) await refreshPreview(trx, message, patch.content);
      await writeOutbox(trx, events);
    });
  }

  async appendDelta(id: string, text: string, at: number): Promise<number | undefined> {
    const row = await this.db
      .updateTable('messages')
      .set((eb) => ({ content: sql<string>`content || ${text}`, deltaCount: eb('deltaCount', '+', 1), updatedAt: at }))
      .where('id', '=', id)
      .where('status', '=', 'streaming')
      .returning('deltaCount')
      .executeTakeFirst();
    return row?.deltaCount;
  }

  async staleStreamingMessages(updatedBefore: number): Promise<Message[]> {
    const rows = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('status', '=', 'streaming')
      .where('updatedAt', '<', updatedBefore)
      .execute();
    return rows.map(toMessage);
  }

  async upsertFeedback(feedback: Feedback): Promise<Feedback> {
    const { id, createdAt, messageId, userId, conversationId, ...change } = feedback;
    await this.db
      .insertInto('feedback')
      .values({ id, createdAt, messageId, userId, conversationId, ...change })
      .onConflict((oc) => oc.columns(['messageId', 'userId']).doUpdateSet(change))
      .execute();
    const row = await this.db
      .selectFrom('feedback')
      .selectAll()
      .where('messageId', '=', messageId)
      .where('userId', '=', userId)
      .executeTakeFirstOrThrow();
    return toFeedback(row);
  }

  async listFeedback(conversationId: string): Promise<Feedback[]> {
    const rows = await this.db
      .selectFrom('feedback')
      .selectAll()
      .where('conversationId', '=', conversationId)
      .orderBy('id')
      .execute();
    return rows.map(toFeedback);
  }
}

async function refreshPreview(
  trx: Transaction<Tables>,
  message: Pick<Message, 'id' | 'conversationId'>,
  content: string,
): Promise<void> {
  await trx
    .updateTable('conversations')
    .set({ lastMessagePreview: preview(content) })
    .where('id', '=', message.conversationId)
    .where('lastMessageId', '=', message.id)
    .execute();
}

/** Rows read newest first, one more than the page: the page oldest-first, and whether older ones exist. */
function newestFirstPage(rows: Selectable<MessagesTable>[], limit: number): { items: Message[]; hasMore: boolean } {
  return { items: rows.slice(0, limit).reverse().map(toMessage), hasMore: rows.length > limit };
}

function preview(content: string): string {
  return content.length > PREVIEW_CHARS ? content.slice(0, PREVIEW_CHARS) : content;
}

function encodeCursor(conversation: Conversation): string {
  return Buffer.from(`${conversation.updatedAt}:${conversation.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { updatedAt: number; id: string } {
  const [updatedAt, id] = Buffer.from(cursor, 'base64url').toString().split(':');
  return { updatedAt: Number(updatedAt) || 0, id: id ?? '' };
}

export function toConversationRow(conversation: Conversation): ConversationsTable {
  const { variables, lastMessage, ...same } = conversation;
  return {
    ...same,
    variables: JSON.stringify(variables),
    lastMessageId: lastMessage?.id ?? null,
    lastMessagePreview: lastMessage?.preview ?? null,
    lastMessageAt: lastMessage?.createdAt ?? null,
  };
}

function toConversation(row: Selectable<ConversationsTable>): Conversation {
  const { variables, lastMessageId, lastMessagePreview, lastMessageAt, ...same } = row;
  return {
    ...same,
    variables: JSON.parse(variables) as Record<string, string>,
    lastMessage:
      lastMessageId === null
        ? null
        : { id: lastMessageId, preview: lastMessagePreview ?? '', createdAt: lastMessageAt ?? 0 },
  };
}

function toMessageRow(message: Message): Insertable<MessagesTable> {
  const { attachments, usage, error, ...same } = message;
  return {
    ...same,
    attachments: JSON.stringify(attachments),
    promptTokens: usage?.promptTokens ?? null,
    completionTokens: usage?.completionTokens ?? null,
    error: error && JSON.stringify(error),
  };
}

function toMessage(row: Selectable<MessagesTable>): Message {
  const { attachments, promptTokens, completionTokens, error, deltaCount: _seq, ...same } = row;
  return {
    ...same,
    role: row.role as Message['role'],
    status: row.status as Message['status'],
    attachments: JSON.parse(attachments) as string[],
    usage: promptTokens === null || completionTokens === null ? null : { promptTokens, completionTokens },
    error: error === null ? null : (JSON.parse(error) as Message['error']),
  };
}

function toFeedback(row: Selectable<FeedbackTable>): Feedback {
  return { ...row, type: row.type as Feedback['type'] };
}
