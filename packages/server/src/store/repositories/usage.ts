import { sql, type Kysely } from 'kysely';
import type { UsageRecord, UsageRepository, UsageSummaryRow } from '../../core/usage.js';
import { compiledOnce } from '../compiled.js';
import type { Tables } from '../tables.js';

const DAY_MS = 86_400_000;

const USAGE_COLUMNS = [
  'id',
  'userId',
  'apiKeyId',
  'surface',
  'model',
  'channelId',
  'promptTokens',
  'completionTokens',
  'latencyMs',
  'ttftMs',
  'overheadMs',
  'status',
  'errorCode',
  'createdAt',
] as const satisfies readonly (keyof UsageRecord)[];

export class SqlUsageRepository implements UsageRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  /** Written once per model call: compiled once, with the columns in a fixed order. */
  private readonly insertRecord = compiledOnce(() =>
    this.db
      .insertInto('usageRecords')
      .values(Object.fromEntries(USAGE_COLUMNS.map((c) => [c, null])) as unknown as UsageRecord)
      .compile(),
  );

  private pending: { record: UsageRecord; done: (err?: unknown) => void }[] = [];
  private flushing: Promise<void> = Promise.resolve();

  /**
   * Records arriving in the same turn of the event loop are written together, in one transaction:
   * a lone insert costs SQLite a commit (several times the insert itself), one in a batch does not.
   */
  insert(record: UsageRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ record, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (this.pending.length === 1) setImmediate(() => (this.flushing = this.flushing.then(() => this.flush())));
    });
  }

  /** Resolves once every record inserted so far is written. */
  async drain(): Promise<void> {
    while (this.pending.length) await new Promise((resolve) => setImmediate(resolve));
    await this.flushing;
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      await this.db.transaction().execute(async (trx) => {
        for (const { record } of batch) await trx.executeQuery(this.insertRecord(USAGE_COLUMNS.map((c) => record[c])));
      });
      for (const entry of batch) entry.done();
    } catch (err) {
      for (const entry of batch) entry.done(err);
    }
  }

  async summarize(query: {
    userId: string;
    from: number;
    to: number;
    groupBy: 'day' | 'model';
  }): Promise<UsageSummaryRow[]> {
    // Integer division buckets by UTC day on both SQLite and PostgreSQL.
    const key =
      query.groupBy === 'day'
        ? sql<string | number>`(created_at / ${sql.lit(DAY_MS)}) * ${sql.lit(DAY_MS)}`
        : sql<string | number>`model`;
    const rows = await this.db
      .selectFrom('usageRecords')
      .select([
        key.as('key'),
        (eb) => eb.fn.countAll<number>().as('requests'),
        (eb) => eb.fn.sum<number>('promptTokens').as('promptTokens'),
        (eb) => eb.fn.sum<number>('completionTokens').as('completionTokens'),
        sql<number>`sum(case when status = 'ok' then 0 else 1 end)`.as('errors'),
      ])
      .where('userId', '=', query.userId)
      .where('createdAt', '>=', query.from)
      .where('createdAt', '<', query.to)
      .groupBy(key)
      .orderBy(key)
      .execute();
    // PostgreSQL returns sums and counts as numeric text.
    return rows.map((r) => ({
      key: query.groupBy === 'day' ? Number(r.key) : r.key,
      requests: Number(r.requests),
      promptTokens: Number(r.promptTokens),
      completionTokens: Number(r.completionTokens),
      errors: Number(r.errors),
    }));
  }
}
