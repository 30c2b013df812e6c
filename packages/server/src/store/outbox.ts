import type { Kysely, Transaction } from 'kysely';
import type { OutboxEvent } from '../core/events.js';
import type { Tables } from './tables.js';

/** Writes events to the outbox within the caller's transaction (the change they describe). */
export async function writeOutbox(trx: Transaction<Tables> | Kysely<Tables>, events: readonly OutboxEvent[]) {
  if (events.length === 0) return;
  await trx
    .insertInto('outboxEvents')
    .values(
      events.map((e) => ({
        id: e.id,
        type: e.type,
        audience: JSON.stringify(e.audience),
        payload: JSON.stringify(e.payload),
        createdAt: e.createdAt,
        dispatchedAt: null,
      })),
    )
    .execute();
}
