import type { publicProfile } from './accounts/users.js';
import type { Conversation, Feedback, Message } from './conversations/model.js';
import type { Group } from './groups/model.js';
import { newId } from './ids.js';
import type { Trigger } from './triggers/model.js';
import type { Bus } from './shared-state.js';

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

export interface MessageDelta {
  conversationId: string;
  messageId: string;
  seq: number;
  text: string;
}

/**
 * The domain events on the bus, by topic, with what each carries: what publishers and subscribers
 * (the WebSocket, webhooks' wake-up, search) agree on.
 */
export interface DomainEvents {
  'conversation.created': { conversation: Conversation };
  'conversation.updated': { conversation: Conversation };
  'conversation.deleted': { conversationId: string; ownerId: string };
  'message.created': { message: Message };
  'message.delta': MessageDelta;
  'message.completed': { message: Message };
  'feedback.created': { feedback: Feedback };
  'group.created': { group: Omit<Group, 'inviteCodeHash'> };
  'group.updated': { group: Omit<Group, 'inviteCodeHash'> };
  'group.deleted': { groupId: string };
  'group.member.joined': { groupId: string; userId: string };
  'group.member.left': { groupId: string; conversationId: string; userId: string };
  'profile.updated': { profile: ReturnType<typeof publicProfile> };
  'profile.level_up': { userId: string; level: number; previousLevel: number; xp: number };
  'trigger.shared': { trigger: Trigger };
}

/** Publishes domain events without waiting: a failure to publish is reported, not thrown at the change. */
export class DomainEventPublisher {
  constructor(
    private readonly bus: Bus,
    private readonly onError: (err: unknown) => void,
  ) {}

  publish<Topic extends keyof DomainEvents>(topic: Topic, event: DomainEvents[Topic]): void {
    this.bus.publish(topic, event).catch(this.onError);
  }
}
