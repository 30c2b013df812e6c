import { newId } from '../ids.js';
import type { Bus } from '../shared-state.js';
import type { Deliverer } from './delivery.js';
import type {
  DueDelivery,
  OutboxEntry,
  PlannedDelivery,
  Webhook,
  WebhookRepository,
  WebhookTransport,
} from './model.js';
import { subscribes } from './rules.js';

const DISPATCH_BATCH = 100;
/** Deliveries this instance sends at once; a slow receiver holds one slot, not the queue. */
const MAX_IN_FLIGHT = 32;
/**
 * Domain events published right after the commits that write the outbox: each wakes the worker
 * at once instead of at its next poll. (Other outbox writes wait for the poll.)
 */
const WAKE_TOPICS = ['message.created', 'message.completed', 'conversation.deleted'];
/**
 * Events come in bursts under load (several per chat message): a round a moment after the first
 * of them serves the whole burst, instead of one round (a transaction or two) per event.
 */
const BURST_MS = 20;

export interface WorkerDependencies {
  repo: WebhookRepository;
  deliverer: Deliverer;
  transport: WebhookTransport;
  bus: Bus;
  pollIntervalMs: number;
  /** How long a claimed delivery stays this instance's: longer than any attempt may take. */
  leaseMs: number;
  onBackgroundError: (err: unknown) => void;
  now?: () => number;
}

/**
 * Turns outbox events into deliveries and sends those that are due, on every instance: the
 * database decides which instance takes which event and which delivery, so each is handled once.
 * All state is in the database, so a restart resumes where the last run stopped.
 */
export class WebhookWorker {
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private again = false;
  private soon = false;
  private readonly inFlight = new Set<Promise<void>>();
  private unsubscribers: (() => Promise<void>)[] = [];
  private readonly now: () => number;

  constructor(private readonly deps: WorkerDependencies) {
    this.now = deps.now ?? Date.now;
  }

  async start(): Promise<void> {
    for (const topic of WAKE_TOPICS) this.unsubscribers.push(await this.deps.bus.subscribe(topic, this.wakeSoon));
    this.stopped = false;
    this.wake();
  }

  /** Stops looking for work, lets the deliveries being sent finish (each within its timeout), then closes connections. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all(this.unsubscribers.splice(0).map((unsubscribe) => unsubscribe()));
    await this.round;
    await Promise.all(this.inFlight);
    await this.deps.transport.close();
  }

  /** Runs a round now, or right after the one running. */
  readonly wake = (): void => {
    if (this.stopped) return;
    if (this.round) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.soon = false;
    this.round = this.work()
      .then((more) => {
        if (more) this.again = true;
      }, this.deps.onBackgroundError)
      .finally(() => {
        this.round = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.wakeSoon();
        } else {
          this.timer = setTimeout(this.wake, this.deps.pollIntervalMs);
        }
      });
  };

  /** Runs a round shortly, with whatever else arrives meanwhile. */
  private readonly wakeSoon = (): void => {
    if (this.stopped || this.soon) return;
    if (this.round) {
      this.again = true;
      return;
    }
    this.soon = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.soon = false;
      this.wake();
    }, BURST_MS);
  };

  /** Dispatches what the outbox holds and starts sending what is due; true when more may be due already. */
  private async work(): Promise<boolean> {
    const { repo } = this.deps;
    const dispatchBatch = () => {
      const at = this.now();
      return repo.dispatch(DISPATCH_BATCH, at, (events, webhooks) => planDeliveries(events, webhooks, at));
    };
    // A full batch means more events may be waiting.
    while ((await dispatchBatch()) === DISPATCH_BATCH);
    const room = MAX_IN_FLIGHT - this.inFlight.size;
    if (room === 0) return false;
    const now = this.now();
    const due = await repo.claimDue(now, now + this.deps.leaseMs, room);
    for (const delivery of due) this.send(delivery);
    return due.length === room;
  }

  private send(delivery: DueDelivery): void {
    const sending: Promise<void> = this.deps.deliverer
      .attempt(delivery)
      .then(() => undefined, this.deps.onBackgroundError)
      .finally(() => {
        this.inFlight.delete(sending);
        this.wake();
      });
    this.inFlight.add(sending);
  }
}

/** Each event goes to every active webhook of its audience that subscribes to its type. */
export function planDeliveries(events: OutboxEntry[], webhooks: Webhook[], at: number): PlannedDelivery[] {
  return events.flatMap((event) =>
    webhooks
      .filter((w) => w.active && event.audience.includes(w.ownerId) && subscribes(w.events, event.type))
      .map((webhook): PlannedDelivery => ({
        id: newId(),
        webhookId: webhook.id,
        eventId: event.id,
        event: event.type,
        eventCreatedAt: event.createdAt,
        status: 'pending',
        attemptCount: 0,
        nextAttemptAt: at,
        createdAt: at,
        completedAt: null,
      })),
  );
}
