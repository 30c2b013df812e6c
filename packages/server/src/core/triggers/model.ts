import type { OutboxEvent } from '../events.js';

/** A named prompt snippet a user activates for a conversation: added to its system prompt. */
export interface Trigger {
  id: string;
  creatorId: string;
  name: string;
  description: string;
  content: string;
  /** Visible to, and usable by, every user; otherwise the creator's own. */
  isPublic: boolean;
  createdAt: number;
  updatedAt: number;
}

/** A trigger as listed: with its creator's username. */
export type ListedTrigger = Trigger & { creator: string };

export interface TriggerRepository {
  /** Refuses (Conflict) a second trigger of the same name by the same creator. */
  insert(trigger: Trigger, events: OutboxEvent[]): Promise<void>;
  findById(id: string): Promise<ListedTrigger | undefined>;
  findManyByIds(ids: string[]): Promise<Trigger[]>;
  /** Public triggers and the user's own, newest first, starting after the cursor id. */
  listVisible(userId: string, options: { limit: number; before?: string; mine?: boolean }): Promise<ListedTrigger[]>;
  countByCreator(creatorId: string): Promise<number>;
  /** Names of the creator's triggers, public ones only unless `includePrivate`. */
  namesBy(creatorId: string, includePrivate: boolean): Promise<string[]>;
  update(
    id: string,
    patch: Partial<Pick<Trigger, 'name' | 'description' | 'content' | 'isPublic'>> & { updatedAt: number },
    events: OutboxEvent[],
  ): Promise<void>;
  /** Deletes the trigger and its activations. */
  delete(id: string): Promise<void>;
  /** The triggers active in a conversation, in the order they were activated. */
  active(conversationId: string): Promise<Trigger[]>;
  /** Replaces the conversation's active triggers. */
  setActive(conversationId: string, triggerIds: string[], at: number): Promise<void>;
}
