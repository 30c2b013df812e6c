import { newId } from './ids.js';

/**
 * A change that webhooks deliver. It is written to the outbox in the same transaction as the change
 * itself, so that no committed change misses its delivery and no rolled-back one is delivered.
 */
export interface OutboxEvent {
  id: string;
  /** The webhook event: `message.new`, `message.completed`, `conversation.deleted`, `profile.update`, … */
  type: string;
  /** The users whose webhooks receive it. */
  audience: string[];
  payload: Record<string, unknown>;
  createdAt: number;
}

export function outboxEvent(type: string, audience: string[], payload: Record<string, unknown>): OutboxEvent {
  return { id: newId(), type, audience, payload, createdAt: Date.now() };
}
