import { sql, type Kysely } from 'kysely';
import type { UsageRecord, UsageRepository, UsageSummaryRow } from '../../core/usage.js';
import { compiledOnce } from '../compiled.js';
import type { Tables } from '../tables.js';

const DAY_MS = 86_400_000;
/** How long a record may wait for others to be written with it. */
const BATCH_WINDOW_MS = 10;
const MAX_BATCH = 500;

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

  private pending: UsageRecord[] = [];
  private batch: { written: Promise<void>; settle: (err?: unknown) => void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  /**
   * Records arriving within a few milliseconds are written together, in one transaction: a commit
   * costs SQLite a write to its log and PostgreSQL a round trip, several times an insert in a
   * batch. The records of a batch share one promise.
   */
  insert(record: UsageRecord): Promise<void> {
    this.pending.push(record);
    if (!this.batch) {
      let settle!: (err?: unknown) => void;
      const written = new Promise<void>((resolve, reject) => {
        settle = (err) => (err === undefined ? resolve() : reject(err));
      });
      this.batch = { written, settle };
      this.timer = setTimeout(() => this.flush(), BATCH_WINDOW_MS);
    }
    const { written } = this.batch;
    if (this.pending.length >= MAX_BATCH) this.flush();
    return written;
  }

  /** Resolves once every record inserted so far is written. */
  async drain(): Promise<void> {
    if (this.batch) this.flush();
    await this.flushing;
  }

  private flush(): void {
    clearTimeout(this.timer);
    const records = this.pending;
    const { settle } = this.batch!;
    this.pending = [];
    this.batch = undefined;
    this.flushing = this.flushing.then(() => this.write(records).then(() => settle(), settle));
  }

  private async write(records: UsageRecord[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const record of records) await trx.executeQuery(this.insertRecord(USAGE_COLUMNS.map((c) => record[c])));
    });
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
