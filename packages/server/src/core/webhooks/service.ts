import type { User } from '../accounts/model.js';
import type { SecretBox } from '../channels/ports.js';
import { Conflict, Invalid, NotFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Deliverer } from './delivery.js';
import type { Delivery, DeliveryWithAttempts, Webhook, WebhookRepository, WebhookTransport } from './model.js';
import { DELIVERIES_PAGE, PING_EVENT, checkEvents, checkSecret, checkUrl } from './rules.js';

/** What an external bot's webhook receives: each user message sent to the bot. */
export const BOT_MESSAGE_EVENT = 'bot.message';

const botEndpointId = (botId: string) => `bot:${botId}`;

/** A webhook as its owner sees it: the secret is write-only. */
export type WebhookView = Omit<Webhook, 'sealedSecret'>;

export interface WebhookInput {
  url: string;
  events: string[];
  secret: string;
}

export type WebhookPatch = Partial<WebhookInput> & { active?: boolean };

export interface WebhookServiceOptions {
  maxPerUser: number;
  /** How long a delivery sent from a request (a ping) is kept from the worker. */
  leaseMs: number;
}

/**
 * Users' webhooks and their deliveries. Only the owner sees a webhook: for everyone else it does
 * not exist. Target URLs are checked against internal addresses when they are set.
 */
export class WebhookService {
  constructor(
    private readonly repo: WebhookRepository,
    private readonly transport: WebhookTransport,
    private readonly secretBox: SecretBox,
    private readonly deliverer: Deliverer,
    /** Tells this instance's worker that a delivery is due. */
    private readonly wake: () => void,
    private readonly options: WebhookServiceOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async create(user: User, input: WebhookInput): Promise<WebhookView> {
    const events = checkEvents(input.events);
    const secret = checkSecret(input.secret);
    const url = await this.checkTarget(input.url);
    const now = this.now();
    const webhook: Webhook = {
      id: newId(),
      ownerId: user.id,
      url,
      events,
      sealedSecret: this.secretBox.seal(secret),
      active: true,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.repo.insert(webhook, this.options.maxPerUser))) {
      throw new Conflict(`A user can have at most ${this.options.maxPerUser} webhooks; delete one first`);
    }
    return view(webhook);
  }

  async list(user: User): Promise<WebhookView[]> {
    return (await this.repo.listByOwner(user.id)).map(view);
  }

  async get(user: User, id: string): Promise<WebhookView> {
    return view(await this.owned(user, id));
  }

  async update(user: User, id: string, patch: WebhookPatch): Promise<WebhookView> {
    await this.owned(user, id);
    const events = patch.events === undefined ? undefined : checkEvents(patch.events);
    const sealedSecret = patch.secret === undefined ? undefined : this.secretBox.seal(checkSecret(patch.secret));
    const url = patch.url === undefined ? undefined : await this.checkTarget(patch.url);
    const updated = await this.repo.update(id, {
      ...(url === undefined ? {} : { url }),
      ...(events === undefined ? {} : { events }),
      ...(sealedSecret === undefined ? {} : { sealedSecret }),
      ...(patch.active === undefined ? {} : { active: patch.active }),
      updatedAt: this.now(),
    });
    if (!updated) throw new NotFound('Webhook');
    return view(updated);
  }

  async delete(user: User, id: string): Promise<void> {
    await this.owned(user, id);
    await this.repo.delete(id);
  }

  /** Deliveries newest first, each with its attempts; `cursor` is the `nextCursor` of the page before. */
  async deliveries(
    user: User,
    id: string,
    page: { limit?: number; cursor?: string },
  ): Promise<{ items: DeliveryWithAttempts[]; nextCursor: string | null }> {
    await this.owned(user, id);
    const limit = page.limit ?? DELIVERIES_PAGE.defaultLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > DELIVERIES_PAGE.maxLimit) {
      throw new Invalid(`limit must be 1-${DELIVERIES_PAGE.maxLimit}`, 'limit');
    }
    const items = await this.repo.listDeliveries({ webhookId: id, before: page.cursor, limit: limit + 1 });
    const more = items.length > limit;
    if (more) items.pop();
    return { items, nextCursor: more ? items[items.length - 1]!.id : null };
  }

  /** The same event once more, as a new delivery sent by the worker. */
  async redeliver(user: User, id: string, deliveryId: string): Promise<DeliveryWithAttempts> {
    const webhook = await this.activeOwned(user, id);
    const original = await this.repo.findDelivery(deliveryId);
    if (!original || original.webhookId !== webhook.id) throw new NotFound('Delivery');
    const delivery = this.newDelivery(webhook, original);
    await this.repo.insertDelivery(delivery);
    this.wake();
    return { ...delivery, attempts: [] };
  }

  /** Sends a `ping` event now, from this request, and answers how its first attempt went. */
  async ping(user: User, id: string): Promise<DeliveryWithAttempts> {
    const webhook = await this.activeOwned(user, id);
    const now = this.now();
    const delivery = this.newDelivery(webhook, {
      eventId: newId(),
      event: PING_EVENT,
      payload: { webhook: { id: webhook.id, url: webhook.url, events: webhook.events } },
      eventCreatedAt: now,
    });
    // Leased, so that no worker sends it too; if this instance dies before trying, a worker will.
    await this.repo.insertDelivery(delivery, now + this.options.leaseMs);
    const { attempt, progress } = await this.deliverer.attempt({
      ...delivery,
      url: webhook.url,
      sealedSecret: webhook.sealedSecret,
    });
    return { ...delivery, ...progress, attempts: [attempt] };
  }

  private newDelivery(
    webhook: Webhook,
    event: Pick<Delivery, 'eventId' | 'event' | 'payload' | 'eventCreatedAt'>,
  ): Delivery {
    const now = this.now();
    return {
      id: newId(),
      webhookId: webhook.id,
      eventId: event.eventId,
      event: event.event,
      payload: event.payload,
      eventCreatedAt: event.eventCreatedAt,
      status: 'pending',
      attemptCount: 0,
      nextAttemptAt: now,
      createdAt: now,
      completedAt: null,
    };
  }

  /**
   * Where an external bot receives the messages sent to it: a webhook of the bot's own (its
   * audience is the bot), subscribed to `bot.message` and signed with the bot's secret, so that
   * deliveries to bots are retried, recorded and guarded like every other. Null removes it.
   */
  async setBotEndpoint(botId: string, endpoint: { url: string; sealedSecret: string } | null): Promise<void> {
    const id = botEndpointId(botId);
    if (!endpoint) {
      await this.repo.delete(id);
      return;
    }
    const url = await this.checkTarget(endpoint.url);
    const now = this.now();
    const change = { url, sealedSecret: endpoint.sealedSecret, active: true, updatedAt: now };
    if (await this.repo.update(id, change)) return;
    const webhook: Webhook = { id, ownerId: botId, events: [BOT_MESSAGE_EVENT], ...change, createdAt: now };
    await this.repo.insert(webhook, 1);
  }

  /** Refuses a URL deliveries may not go to, as for a webhook's. */
  async checkBotUrl(url: string): Promise<void> {
    await this.checkTarget(url);
  }

  private async checkTarget(url: string): Promise<string> {
    checkUrl(url);
    const refusal = await this.transport.refusal(url);
    if (refusal) throw new Invalid(refusal, 'url');
    return url;
  }

  private async owned(user: User, id: string): Promise<Webhook> {
    const webhook = await this.repo.findById(id);
    if (!webhook || webhook.ownerId !== user.id) throw new NotFound('Webhook');
    return webhook;
  }

  private async activeOwned(user: User, id: string): Promise<Webhook> {
    const webhook = await this.owned(user, id);
    if (!webhook.active) throw new Conflict('The webhook is inactive; activate it first');
    return webhook;
  }
}

function view({ sealedSecret: _secret, ...webhook }: Webhook): WebhookView {
  return webhook;
}
