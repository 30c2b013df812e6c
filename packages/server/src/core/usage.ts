import { Invalid } from './errors.js';

/** One call to a model, as the ledger keeps it. */
export interface UsageRecord {
  id: string;
  userId: string;
  apiKeyId: string | null;
  /** The API surface the call came through (`openai`, `native`, …). */
  surface: string;
  model: string;
  channelId: string | null;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  /** Time to the first token; null when none came. */
  ttftMs: number | null;
  /** Time spent inside Parley, the upstream's time excluded. */
  overheadMs: number;
  status: 'ok' | 'error' | 'cancelled';
  errorCode: string | null;
  createdAt: number;
}

export type UsageGrouping = 'day' | 'model';

export interface UsageSummaryRow {
  /** The day (epoch ms of its UTC midnight) or the model id. */
  key: string | number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  errors: number;
}

export interface UsageRepository {
  insert(record: UsageRecord): Promise<void>;
  /** Resolves once every record inserted so far is stored. */
  drain(): Promise<void>;
  summarize(query: { userId: string; from: number; to: number; groupBy: UsageGrouping }): Promise<UsageSummaryRow[]>;
}

const MAX_RANGE_MS = 366 * 24 * 3600 * 1000;

export class UsageService {
  constructor(
    private readonly records: UsageRepository,
    private readonly now: () => number = Date.now,
  ) {}

  record(record: UsageRecord): Promise<void> {
    return this.records.insert(record);
  }

  /** Waits for the records still being written (before the store closes). */
  drain(): Promise<void> {
    return this.records.drain();
  }

  /** A user's own usage between two instants (default: the last 30 days), grouped by day or model. */
  async summarize(
    userId: string,
    query: { from?: number; to?: number; groupBy?: UsageGrouping },
  ): Promise<UsageSummaryRow[]> {
    const to = query.to ?? this.now();
    const from = query.from ?? to - 30 * 24 * 3600 * 1000;
    if (from > to) throw new Invalid('from must not be after to', 'from');
    if (to - from > MAX_RANGE_MS) throw new Invalid('the range from..to may span at most 366 days', 'from');
    // Records wait a moment to be written in batches: a summary counts every call made before it.
    await this.records.drain();
    return this.records.summarize({ userId, from, to, groupBy: query.groupBy ?? 'day' });
  }
}
