import type { Kysely, Selectable } from 'kysely';
import type { Bot, BotKind, BotRepository, BotVisibility } from '../../core/bots/model.js';
import { Conflict } from '../../core/errors.js';
import { isUniqueViolation } from '../database.js';
import type { BotsTable, Tables } from '../tables.js';

/** Marks a built-in as seeded once, so that one an admin deleted or renamed does not come back. */
const seededFlag = (name: string) => `builtin_bot:${name}`;

export class SqlBotRepository implements BotRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  async insert(bot: Bot): Promise<void> {
    try {
      await this.db.insertInto('bots').values(toRow(bot)).execute();
    } catch (err) {
      throw nameTakenOr(err);
    }
  }

  async insertBuiltin(bot: Bot): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // Instances starting at once race for the flag's primary key; the losers wait and insert nothing.
      const flag = await trx
        .insertInto('instanceFlags')
        .values({ name: seededFlag(bot.name), createdAt: bot.createdAt })
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirst();
      if (Number(flag.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      const inserted = await trx
        .insertInto('bots')
        .values(toRow(bot))
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirst();
      return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
    });
  }

  async findById(id: string): Promise<Bot | undefined> {
    const row = await this.db.selectFrom('bots').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toBot(row);
  }

  async findByKeyHash(keyHash: string): Promise<Bot | undefined> {
    const row = await this.db.selectFrom('bots').selectAll().where('keyHash', '=', keyHash).executeTakeFirst();
    return row && toBot(row);
  }

  async setKey(id: string, key: { keyHash: string; sealedSigningSecret: string } | null): Promise<void> {
    await this.db
      .updateTable('bots')
      .set(key ?? { keyHash: null, sealedSigningSecret: null })
      .where('id', '=', id)
      .execute();
  }

  async findByName(name: string): Promise<Bot | undefined> {
    const row = await this.db.selectFrom('bots').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toBot(row);
  }

  async list({ ownerId }: { ownerId?: string | null }): Promise<Bot[]> {
    let query = this.db.selectFrom('bots').selectAll().orderBy('name');
    if (ownerId === null) {
      query = query.where('visibility', '=', 'public');
    } else if (ownerId !== undefined) {
      query = query.where((eb) => eb.or([eb('visibility', '=', 'public'), eb('ownerId', '=', ownerId)]));
    }
    return (await query.execute()).map(toBot);
  }

  async update(bot: Bot): Promise<boolean> {
    const { id, ...values } = toRow(bot);
    try {
      const result = await this.db.updateTable('bots').set(values).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    } catch (err) {
      throw nameTakenOr(err);
    }
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('bots').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async countOwnedBy(ownerId: string): Promise<number> {
    const { count } = await this.db
      .selectFrom('bots')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('ownerId', '=', ownerId)
      .executeTakeFirstOrThrow();
    return Number(count);
  }
}

function nameTakenOr(err: unknown): unknown {
  return isUniqueViolation(err) ? new Conflict('A bot with this name already exists', 'name') : err;
}

function toRow(bot: Bot): BotsTable {
  return {
    ...bot,
    variables: JSON.stringify(bot.variables),
    params: JSON.stringify(bot.params),
    commands: JSON.stringify(bot.commands),
  };
}

function toBot(row: Selectable<BotsTable>): Bot {
  return {
    ...row,
    variables: JSON.parse(row.variables) as Bot['variables'],
    params: JSON.parse(row.params) as Bot['params'],
    commands: JSON.parse(row.commands) as Bot['commands'],
    visibility: row.visibility as BotVisibility,
    kind: row.kind as BotKind,
  };
}
