import type { OutboxEvent } from '../events.js';

/** A user's subscription: events of theirs are POSTed, signed with the secret, to the URL. */
export interface Webhook {
  id: string;
  ownerId: string;
  url: string;
  /** Event types, or `*` for every type. */
  events: string[];
  /** Sealed with the core's `SecretBox`: it must be used again to sign, so it is not hashed. */
  sealedSecret: string;
  active: boolean;
  createdAt: number;
  updatedAt: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event on its way to one webhook. */
export interface Delivery {
  id: string;
  webhookId: string;
  /** The outbox event delivered (a ping has an id of its own). */
  eventId: string;
  event: string;
  payload: Record<string, unknown>;
  /** When the change happened. */
  eventCreatedAt: number;
  status: DeliveryStatus;
  attemptCount: number;
  /** When a pending delivery is next due; null once it is settled. */
  nextAttemptAt: number | null;
  createdAt: number;
  /** When it was delivered or given up. */
  completedAt: number | null;
}

export interface Attempt {
  id: string;
  deliveryId: string;
  attemptedAt: number;
  /** The receiver's HTTP status, or null when no answer came (see `error`). */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export type DeliveryWithAttempts = Delivery & { attempts: Attempt[] };

/** An outbox event as dispatch sees it: whom it concerns, not yet what it says. */
export type OutboxEntry = Omit<OutboxEvent, 'payload'>;

/** A delivery planned for an event: the store gives it the event's payload. */
export type PlannedDelivery = Omit<Delivery, 'payload'>;

/** A delivery claimed for sending, with what sending needs. */
export type DueDelivery = Delivery & { url: string; sealedSecret: string };

/** How a delivery stands after an attempt. */
export type DeliveryProgress = Pick<Delivery, 'status' | 'attemptCount' | 'nextAttemptAt' | 'completedAt'>;

export interface WebhookRepository {
  /** Inserts the webhook unless its owner already has `maxPerOwner`; atomic against concurrent inserts. */
  insert(webhook: Webhook, maxPerOwner: number): Promise<boolean>;
  findById(id: string): Promise<Webhook | undefined>;
  listByOwner(ownerId: string): Promise<Webhook[]>;
  update(
    id: string,
    patch: Partial<Pick<Webhook, 'url' | 'events' | 'sealedSecret' | 'active'>> & { updatedAt: number },
  ): Promise<Webhook | undefined>;
  /** Deletes the webhook with its deliveries and their attempts. */
  delete(id: string): Promise<boolean>;

  /** Inserts a delivery; one leased until `leaseUntil` is left to its creator until then. */
  insertDelivery(delivery: Delivery, leaseUntil?: number): Promise<void>;
  findDelivery(id: string): Promise<Delivery | undefined>;
  /** A webhook's deliveries, newest first, starting after (older than) the cursor id. */
  listDeliveries(query: { webhookId: string; before?: string; limit: number }): Promise<DeliveryWithAttempts[]>;

  /**
   * Turns up to `limit` undispatched outbox events into deliveries, in one transaction: `plan`
   * picks the deliveries for the events among the active webhooks of their audiences, then the
   * deliveries are inserted (with their events' payloads; those of events nobody receives are
   * never read) and the events marked dispatched. With several instances, each event is
   * dispatched by one of them. Resolves to the number of events dispatched.
   */
  dispatch(
    limit: number,
    at: number,
    plan: (events: OutboxEntry[], webhooks: Webhook[]) => PlannedDelivery[],
  ): Promise<number>;
  /**
   * Claims up to `limit` pending deliveries of active webhooks that are due at `now`, leasing them
   * until `leaseUntil`: until then no other claim (on any instance) returns them.
   */
  claimDue(now: number, leaseUntil: number, limit: number): Promise<DueDelivery[]>;
  /** Records an attempt and the delivery's new state, and ends its lease. */
  recordAttempt(attempt: Attempt, progress: DeliveryProgress): Promise<void>;
}

/** The answer to one attempt, or why there was none. */
export type SendOutcome = { statusCode: number } | { error: string };

/**
 * How webhooks reach the outside world. Addresses internal to the server's network are refused
 * (unless an allow-list names them), both when a URL is accepted and when it is sent to, so that
 * DNS changed in between cannot redirect a delivery inward.
 */
export interface WebhookTransport {
  /** Why the URL may not be used as a webhook target, or undefined when it may. */
  refusal(url: string): Promise<string | undefined>;
  /** POSTs the body; never throws for a failure of the receiver or the network. */
  send(url: string, headers: Record<string, string>, body: string): Promise<SendOutcome>;
  /** Ends open connections. */
  close(): Promise<void>;
}
