import type { Kysely, Selectable } from 'kysely';
import { Conflict } from '../../core/errors.js';
import type { OutboxEvent } from '../../core/events.js';
import type { ListedTrigger, Trigger, TriggerRepository } from '../../core/triggers/model.js';
import { isUniqueViolation } from '../database.js';
import { writeOutbox } from '../outbox.js';
import type { Tables, TriggersTable } from '../tables.js';

export class SqlTriggerRepository implements TriggerRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  async insert(trigger: Trigger, events: OutboxEvent[]): Promise<void> {
    await uniqueName(() =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('triggers')
          .values({ ...trigger, isPublic: Number(trigger.isPublic) })
          .execute();
        await writeOutbox(trx, events);
      }),
    );
  }

  private listed() {
    return this.db
      .selectFrom('triggers')
      .innerJoin('users', 'users.id', 'triggers.creatorId')
      .selectAll('triggers')
      .select('users.username as creator');
  }

  async findById(id: string): Promise<ListedTrigger | undefined> {
    const row = await this.listed().where('triggers.id', '=', id).executeTakeFirst();
    return row && { ...toTrigger(row), creator: row.creator };
  }

  async findManyByIds(ids: string[]): Promise<Trigger[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('triggers').selectAll().where('id', 'in', ids).execute();
    return rows.map(toTrigger);
  }

  async listVisible(
    userId: string,
    options: { limit: number; before?: string; mine?: boolean },
  ): Promise<ListedTrigger[]> {
    let query = this.listed().where((eb) =>
      options.mine
        ? eb('triggers.creatorId', '=', userId)
        : eb.or([eb('triggers.isPublic', '=', 1), eb('triggers.creatorId', '=', userId)]),
    );
    if (options.before !== undefined) query = query.where('triggers.id', '<', options.before);
    const rows = await query.orderBy('triggers.id', 'desc').limit(options.limit).execute();
    return rows.map((row) => ({ ...toTrigger(row), creator: row.creator }));
  }

  async countByCreator(creatorId: string): Promise<number> {
    const { n } = await this.db
      .selectFrom('triggers')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('creatorId', '=', creatorId)
      .executeTakeFirstOrThrow();
    return Number(n);
  }

  async namesBy(creatorId: string, includePrivate: boolean): Promise<string[]> {
    let query = this.db.selectFrom('triggers').select('name').where('creatorId', '=', creatorId);
    if (!includePrivate) query = query.where('isPublic', '=', 1);
    return (await query.orderBy('id').execute()).map((row) => row.name);
  }

  async update(
    id: string,
    patch: Partial<Pick<Trigger, 'name' | 'description' | 'content' | 'isPublic'>> & { updatedAt: number },
    events: OutboxEvent[],
  ): Promise<void> {
    const { isPublic, ...rest } = patch;
    await uniqueName(() =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('triggers')
          .set({ ...rest, ...(isPublic === undefined ? {} : { isPublic: Number(isPublic) }) })
          .where('id', '=', id)
          .execute();
        await writeOutbox(trx, events);
      }),
    );
  }

  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('conversationTriggers').where('triggerId', '=', id).execute();
      await trx.deleteFrom('triggers').where('id', '=', id).execute();
    });
  }

  async active(conversationId: string): Promise<Trigger[]> {
    const rows = await this.db
      .selectFrom('conversationTriggers')
      .innerJoin('triggers', 'triggers.id', 'conversationTriggers.triggerId')
      .selectAll('triggers')
      .where('conversationTriggers.conversationId', '=', conversationId)
      .orderBy('conversationTriggers.activatedAt')
      .orderBy('triggers.id')
      .execute();
    return rows.map(toTrigger);
  }

  async setActive(conversationId: string, triggerIds: string[], at: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('conversationTriggers').where('conversationId', '=', conversationId).execute();
      if (triggerIds.length === 0) return;
      await trx
        .insertInto('conversationTriggers')
        .values(triggerIds.map((triggerId, i) => ({ conversationId, triggerId, activatedAt: at + i })))
        .execute();
    });
  }
}

async function uniqueName(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new Conflict('You already have a trigger of that name', 'name');
    throw err;
  }
}

function toTrigger(row: Selectable<TriggersTable>): Trigger {
  const { id, creatorId, name, description, content, isPublic, createdAt, updatedAt } = row;
  return { id, creatorId, name, description, content, isPublic: isPublic === 1, createdAt, updatedAt };
}
