import type { Kysely, Selectable } from 'kysely';
import type { Channel, ChannelRepository } from '../../core/channels/ports.js';
import { Conflict } from '../../core/errors.js';
import { isUniqueViolation } from '../database.js';
import type { ChannelsTable, Tables } from '../tables.js';

export class SqlChannelRepository implements ChannelRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  async list(): Promise<Channel[]> {
    return (await this.db.selectFrom('channels').selectAll().orderBy('id').execute()).map(toChannel);
  }

  async findById(id: string): Promise<Channel | undefined> {
    const row = await this.db.selectFrom('channels').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toChannel(row);
  }

  async insert(channel: Channel): Promise<void> {
    await uniqueName(() => this.db.insertInto('channels').values(toRow(channel)).execute());
  }

  async update(id: string, patch: Partial<Omit<Channel, 'id' | 'source' | 'createdAt'>>): Promise<Channel | undefined> {
    const { sealedApiKeys, models, enabled, ...rest } = patch;
    const row = await uniqueName(() =>
      this.db
        .updateTable('channels')
        .set({
          ...rest,
          ...(sealedApiKeys && { sealedApiKeys: JSON.stringify(sealedApiKeys) }),
          ...(models && { models: JSON.stringify(models) }),
          ...(enabled !== undefined && { enabled: Number(enabled) }),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),
    );
    return row && toChannel(row);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('channels').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

async function uniqueName<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new Conflict('A channel with this name already exists', 'name');
    throw err;
  }
}

function toRow(channel: Channel): ChannelsTable {
  const { source: _source, sealedApiKeys, models, enabled, ...rest } = channel;
  return {
    ...rest,
    sealedApiKeys: JSON.stringify(sealedApiKeys),
    models: JSON.stringify(models),
    enabled: Number(enabled),
  };
}

function toChannel(row: Selectable<ChannelsTable>): Channel {
  return {
    ...row,
    provider: row.provider as Channel['provider'],
    strategy: row.strategy as Channel['strategy'],
    sealedApiKeys: JSON.parse(row.sealedApiKeys) as string[],
    models: JSON.parse(row.models) as string[],
    enabled: row.enabled === 1,
    source: 'database',
  };
}
