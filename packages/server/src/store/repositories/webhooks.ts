import type { Kysely, Selectable, Transaction } from 'kysely';
import type {
  Attempt,
  Delivery,
  DeliveryProgress,
  DeliveryStatus,
  DeliveryWithAttempts,
  DueDelivery,
  OutboxEntry,
  PlannedDelivery,
  Webhook,
  WebhookRepository,
} from '../../core/webhooks/model.js';
import type { Tables, WebhookDeliveriesTable, WebhooksTable } from '../tables.js';

/** Rows per insert: well under both databases' limits on bound parameters. */
const INSERT_CHUNK = 500;

export class SqlWebhookRepository implements WebhookRepository {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async insert(webhook: Webhook, maxPerOwner: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // Concurrent inserts of one owner are serialised: on PostgreSQL by the owner's row lock,
      // on SQLite by the write lock the transaction takes at its start.
      if (this.dialect === 'postgres') {
        await trx.selectFrom('users').select('id').where('id', '=', webhook.ownerId).forUpdate().execute();
      }
      const { count } = await trx
        .selectFrom('webhooks')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('ownerId', '=', webhook.ownerId)
        .executeTakeFirstOrThrow();
      if (Number(count) >= maxPerOwner) return false;
      await trx.insertInto('webhooks').values(toWebhookRow(webhook)).execute();
      return true;
    });
  }

  async findById(id: string): Promise<Webhook | undefined> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toWebhook(row);
  }

  async listByOwner(ownerId: string): Promise<Webhook[]> {
    const rows = await this.db
      .selectFrom('webhooks')
      .selectAll()
      .where('ownerId', '=', ownerId)
      .orderBy('id')
      .execute();
    return rows.map(toWebhook);
  }

  async update(
    id: string,
    patch: Partial<Pick<Webhook, 'url' | 'events' | 'sealedSecret' | 'active'>> & { updatedAt: number },
  ): Promise<Webhook | undefined> {
    const { events, active, ...rest } = patch;
    const row = await this.db
      .updateTable('webhooks')
      .set({
        ...rest,
        ...(events === undefined ? {} : { events: JSON.stringify(events) }),
        ...(active === undefined ? {} : { active: Number(active) }),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toWebhook(row);
  }

  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const deliveries = trx.selectFrom('webhookDeliveries').select('id').where('webhookId', '=', id);
      await trx.deleteFrom('webhookAttempts').where('deliveryId', 'in', deliveries).execute();
      await trx.deleteFrom('webhookDeliveries').where('webhookId', '=', id).execute();
      const result = await trx.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    });
  }

  async insertDelivery(delivery: Delivery, leaseUntil?: number): Promise<void> {
    await this.db
      .insertInto('webhookDeliveries')
      .values(toDeliveryRow(delivery, leaseUntil ?? null))
      .execute();
  }

  async findDelivery(id: string): Promise<Delivery | undefined> {
    const row = await this.db.selectFrom('webhookDeliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toDelivery(row);
  }

  async listDeliveries(query: { webhookId: string; before?: string; limit: number }): Promise<DeliveryWithAttempts[]> {
    let select = this.db
      .selectFrom('webhookDeliveries')
      .selectAll()
      .where('webhookId', '=', query.webhookId)
      .orderBy('id', 'desc')
      .limit(query.limit);
    if (query.before !== undefined) select = select.where('id', '<', query.before);
    const deliveries = (await select.execute()).map(toDelivery);
    if (deliveries.length === 0) return [];
    const attempts = await this.db
      .selectFrom('webhookAttempts')
      .selectAll()
      .where(
        'deliveryId',
        'in',
        deliveries.map((d) => d.id),
      )
      .orderBy('id')
      .execute();
    const byDelivery = new Map<string, Attempt[]>(deliveries.map((d) => [d.id, []]));
    for (const attempt of attempts) byDelivery.get(attempt.deliveryId)!.push(attempt);
    return deliveries.map((d) => ({ ...d, attempts: byDelivery.get(d.id)! }));
  }

  async dispatch(
    limit: number,
    at: number,
    plan: (events: OutboxEntry[], webhooks: Webhook[]) => PlannedDelivery[],
  ): Promise<number> {
    // Every instance polls: a plain read first, so that an idle poll takes no lock.
    const waiting = await this.db
      .selectFrom('outboxEvents')
      .select('id')
      .where('dispatchedAt', 'is', null)
      .limit(1)
      .executeTakeFirst();
    if (!waiting) return 0;
    return this.db.transaction().execute(async (trx) => {
      let pending = trx
        .selectFrom('outboxEvents')
        .select(['id', 'type', 'audience', 'createdAt'])
        .where('dispatchedAt', 'is', null)
        .orderBy('id')
        .limit(limit);
      // Events another instance is dispatching are left to it.
      if (this.dialect === 'postgres') pending = pending.forUpdate().skipLocked();
      const rows = await pending.execute();
      if (rows.length === 0) return 0;
      const events = rows.map((row) => ({ ...row, audience: JSON.parse(row.audience) as string[] }));
      const audience = [...new Set(events.flatMap((e) => e.audience))];
      const webhooks =
        audience.length === 0
          ? []
          : (
              await trx
                .selectFrom('webhooks')
                .selectAll()
                .where('ownerId', 'in', audience)
                .where('active', '=', 1)
                .execute()
            ).map(toWebhook);
      const planned = plan(events, webhooks);
      // Payloads are copied as stored, and only for the events someone receives.
      const payloads = new Map<string, string>();
      const received = [...new Set(planned.map((d) => d.eventId))];
      for (let i = 0; i < received.length; i += INSERT_CHUNK) {
        const chunk = await trx
          .selectFrom('outboxEvents')
          .select(['id', 'payload'])
          .where('id', 'in', received.slice(i, i + INSERT_CHUNK))
          .execute();
        for (const { id, payload } of chunk) payloads.set(id, payload);
      }
      const deliveries = planned.map((d) => ({ ...d, payload: payloads.get(d.eventId)!, lockedUntil: null }));
      for (let i = 0; i < deliveries.length; i += INSERT_CHUNK) {
        await trx
          .insertInto('webhookDeliveries')
          .values(deliveries.slice(i, i + INSERT_CHUNK))
          .execute();
      }
      await trx
        .updateTable('outboxEvents')
        .set({ dispatchedAt: at })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.length;
    });
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<DueDelivery[]> {
    const due = (db: Kysely<Tables> | Transaction<Tables>) =>
      db
        .selectFrom('webhookDeliveries as d')
        .innerJoin('webhooks as w', 'w.id', 'd.webhookId')
        .where('d.status', '=', 'pending')
        .where('d.nextAttemptAt', '<=', now)
        .where((eb) => eb.or([eb('d.lockedUntil', 'is', null), eb('d.lockedUntil', '<', now)]))
        .where('w.active', '=', 1);
    if (!(await due(this.db).select('d.id').limit(1).executeTakeFirst())) return [];
    return this.db.transaction().execute(async (trx) => {
      let select = due(trx).selectAll('d').select(['w.url', 'w.sealedSecret']).orderBy('d.nextAttemptAt').limit(limit);
      // Rows another instance is claiming are skipped, not waited for.
      if (this.dialect === 'postgres') select = select.forUpdate(['d']).skipLocked();
      const rows = await select.execute();
      if (rows.length === 0) return [];
      // The lease is taken only where no other is held (the guard matters where rows are not locked).
      const claimed = await trx
        .updateTable('webhookDeliveries')
        .set({ lockedUntil: leaseUntil })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .where((eb) => eb.or([eb('lockedUntil', 'is', null), eb('lockedUntil', '<', now)]))
        .returning('id')
        .execute();
      const ids = new Set(claimed.map((c) => c.id));
      return rows
        .filter((r) => ids.has(r.id))
        .map((r) => ({ ...toDelivery(r), url: r.url, sealedSecret: r.sealedSecret }));
    });
  }

  async recordAttempt(attempt: Attempt, progress: DeliveryProgress): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('webhookDeliveries')
        .set({ ...progress, lockedUntil: null })
        .where('id', '=', attempt.deliveryId)
        .executeTakeFirst();
      // The webhook was deleted while the attempt was on its way: nothing is left to record it on.
      if (Number(updated.numUpdatedRows) === 1) await trx.insertInto('webhookAttempts').values(attempt).execute();
    });
  }
}

function toWebhookRow(webhook: Webhook) {
  return { ...webhook, events: JSON.stringify(webhook.events), active: Number(webhook.active) };
}

function toWebhook(row: Selectable<WebhooksTable>): Webhook {
  return { ...row, events: JSON.parse(row.events) as string[], active: row.active === 1 };
}

function toDeliveryRow(delivery: Delivery, lockedUntil: number | null) {
  return { ...delivery, payload: JSON.stringify(delivery.payload), lockedUntil };
}

function toDelivery(row: Selectable<WebhookDeliveriesTable>): Delivery {
  const { lockedUntil: _lease, payload, status, ...rest } = row;
  return { ...rest, status: status as DeliveryStatus, payload: JSON.parse(payload) as Record<string, unknown> };
}
