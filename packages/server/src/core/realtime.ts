import type { User } from './accounts/model.js';
import type { ConversationAccess } from './conversations/access.js';
import type { Conversation, Message } from './conversations/model.js';
import type { MessageDelta } from './events.js';
import { newId } from './ids.js';
import type { Bus } from './shared-state.js';

/** A typing signal is passed on at most this often per socket and conversation; clients show it for a few seconds. */
export const TYPING_MIN_INTERVAL_MS = 1000;

export interface Typing {
  conversationId: string;
  userId: string;
  /** The connection it came from, which does not hear its own signal. */
  origin: string;
}

export interface Presence {
  conversationId: string;
  userId: string;
  status: 'online' | 'offline';
}

/** What live clients of this instance hear of, from every instance. */
export interface RealtimeListener {
  messageCreated(message: Message): void;
  messageDelta(delta: MessageDelta): void;
  messageCompleted(message: Message): void;
  conversationDeleted(conversationId: string): void;
  /** A member left a group (or was removed): they may no longer read its room. */
  memberLeft(conversationId: string, userId: string): void;
  typing(typing: Typing): void;
  /** A user's first socket (on any instance) joined the conversation, or their last one left it. */
  presence(presence: Presence): void;
}

const TOPICS = {
  created: 'message.created',
  delta: 'message.delta',
  completed: 'message.completed',
  deleted: 'conversation.deleted',
  memberLeft: 'group.member.left',
  typing: 'conversation.typing',
  presence: 'conversation.presence',
  alive: 'realtime.alive',
  hello: 'realtime.hello',
} as const;

/** Missed beacons after which an instance is taken for dead, and its users' presence for ended. */
const MISSED_BEACONS = 3;

/** As published: a change in the count of one instance's sockets. */
interface InstancePresence extends Presence {
  instance: string;
}

/**
 * Live signals of conversations beyond their stored messages: who is in one (presence) and who is
 * typing. Presence is counted per instance (its sockets joined to a conversation) and merged from
 * every instance's announcements, so a user with sockets on two instances stays online until both
 * have left. An instance that starts says hello, and the others announce their users to it again;
 * each instance also sends a beacon now and then, and the users of one that falls silent (it
 * crashed) go offline.
 */
export class RealtimeService {
  private readonly instance = newId();
  /** `conversationId userId` → this instance's sockets of that user joined to that conversation. */
  private readonly local = new Map<string, number>();
  /** conversationId → userId → the instances where the user has sockets joined to it. */
  private readonly present = new Map<string, Map<string, Set<string>>>();
  /** instance → when it was last heard from. */
  private readonly lastHeard = new Map<string, number>();
  private listening = false;

  constructor(
    private readonly access: ConversationAccess,
    private readonly bus: Bus,
    private readonly beaconMs: number,
    private readonly onBackgroundError: (err: unknown) => void,
  ) {}

  /** Joins one of the user's sockets to a conversation they may read (NotFound otherwise). */
  async join(user: User, conversationId: string): Promise<Conversation> {
    const conversation = await this.access.conversation(user, conversationId);
    const key = `${conversation.id} ${user.id}`;
    const count = this.local.get(key) ?? 0;
    this.local.set(key, count + 1);
    if (count === 0) this.announce({ conversationId: conversation.id, userId: user.id, status: 'online' });
    return conversation;
  }

  /** The users present in a conversation that `userId` has joined, them included. */
  online(conversationId: string, userId: string): string[] {
    return [...new Set(this.present.get(conversationId)?.keys()).add(userId)];
  }

  /** One socket that `join` admitted has left the conversation. */
  leave(userId: string, conversationId: string): void {
    const key = `${conversationId} ${userId}`;
    const count = this.local.get(key) ?? 0;
    if (count > 1) {
      this.local.set(key, count - 1);
      return;
    }
    if (count === 0) return;
    this.local.delete(key);
    this.announce({ conversationId, userId, status: 'offline' });
  }

  /** Tells the conversation's other sockets that the user is typing. */
  async typing(user: User, conversationId: string, origin: string): Promise<void> {
    const conversation = await this.access.conversation(user, conversationId);
    await this.bus.publish(TOPICS.typing, {
      conversationId: conversation.id,
      userId: user.id,
      origin,
    } satisfies Typing);
  }

  /** Starts delivering events to `listener` (one per instance); resolves to a function that stops it. */
  async listen(listener: RealtimeListener): Promise<() => Promise<void>> {
    if (this.listening) throw new Error('Realtime events already have a listener');
    this.listening = true;
    const handlers: Record<keyof typeof TOPICS, (event: never) => void> = {
      created: (e: { message: Message }) => listener.messageCreated(e.message),
      delta: (e: MessageDelta) => listener.messageDelta(e),
      completed: (e: { message: Message }) => listener.messageCompleted(e.message),
      deleted: (e: { conversationId: string }) => listener.conversationDeleted(e.conversationId),
      memberLeft: (e: { conversationId: string; userId: string }) => listener.memberLeft(e.conversationId, e.userId),
      typing: (e: Typing) => listener.typing(e),
      presence: (e: InstancePresence) => {
        this.lastHeard.set(e.instance, Date.now());
        this.merge(e, listener);
      },
      alive: (e: { instance: string }) => this.lastHeard.set(e.instance, Date.now()),
      hello: (e: { instance: string }) => {
        if (e.instance !== this.instance) this.announceAll();
      },
    };
    const stops = await Promise.all(
      Object.entries(handlers).map(([name, handler]) =>
        this.bus.subscribe(TOPICS[name as keyof typeof TOPICS], handler as (event: unknown) => void),
      ),
    );
    this.bus.publish(TOPICS.hello, { instance: this.instance }).catch(this.onBackgroundError);
    const beacon = setInterval(() => {
      this.bus.publish(TOPICS.alive, { instance: this.instance }).catch(this.onBackgroundError);
      this.forgetSilent(listener);
    }, this.beaconMs);
    beacon.unref();
    return async () => {
      clearInterval(beacon);
      await Promise.all(stops.map((stop) => stop()));
      this.listening = false;
    };
  }

  private announceAll(): void {
    for (const key of this.local.keys()) {
      const [conversationId, userId] = key.split(' ') as [string, string];
      this.announce({ conversationId, userId, status: 'online' });
    }
  }

  private announce(presence: Presence): void {
    const event: InstancePresence = { ...presence, instance: this.instance };
    this.bus.publish(TOPICS.presence, event).catch(this.onBackgroundError);
  }

  /** Passes on a change of a user's presence in a conversation across all instances, not of one instance. */
  private merge(event: InstancePresence, listener: RealtimeListener): void {
    const { conversationId, userId, status, instance } = event;
    let users = this.present.get(conversationId);
    if (!users) this.present.set(conversationId, (users = new Map()));
    let instances = users.get(userId);
    if (!instances) users.set(userId, (instances = new Set()));
    const wasPresent = instances.size > 0;
    if (status === 'online') instances.add(instance);
    else instances.delete(instance);
    if (instances.size === 0) {
      users.delete(userId);
      if (users.size === 0) this.present.delete(conversationId);
    }
    if (wasPresent !== instances.size > 0) listener.presence({ conversationId, userId, status });
  }

  /** Ends the presence of the users of instances not heard from for a while. */
  private forgetSilent(listener: RealtimeListener): void {
    const heardSince = Date.now() - MISSED_BEACONS * this.beaconMs;
    for (const [instance, heard] of this.lastHeard) {
      if (instance === this.instance || heard >= heardSince) continue;
      for (const [conversationId, users] of this.present) {
        for (const [userId, instances] of users) {
          if (!instances.has(instance)) continue;
          this.merge({ conversationId, userId, status: 'offline', instance }, listener);
        }
      }
      this.lastHeard.delete(instance);
    }
  }
}
