import type { SecretBox } from '../channels/ports.js';
import { newId } from '../ids.js';
import type {
  Attempt,
  DeliveryProgress,
  DueDelivery,
  SendOutcome,
  WebhookRepository,
  WebhookTransport,
} from './model.js';
import { retryDelay, type RetryPolicy } from './rules.js';
import { signature } from './signing.js';

/**
 * One attempt at a delivery: the signed POST, its outcome recorded, and the delivery's next step
 * (delivered, retried later, or given up once its time is spent).
 */
export class Deliverer {
  constructor(
    private readonly repo: WebhookRepository,
    private readonly transport: WebhookTransport,
    private readonly secretBox: SecretBox,
    private readonly policy: RetryPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  async attempt(delivery: DueDelivery): Promise<{ attempt: Attempt; progress: DeliveryProgress }> {
    const body = JSON.stringify({
      id: delivery.id,
      event: delivery.event,
      createdAt: delivery.eventCreatedAt,
      data: delivery.payload,
    });
    const attemptedAt = this.now();
    const timestamp = Math.floor(attemptedAt / 1000);
    const started = performance.now();
    const outcome = await this.send(delivery, body, timestamp);
    const attempt: Attempt = {
      id: newId(),
      deliveryId: delivery.id,
      attemptedAt,
      statusCode: 'statusCode' in outcome ? outcome.statusCode : null,
      error: 'error' in outcome ? outcome.error : null,
      durationMs: Math.round(performance.now() - started),
    };
    const progress = this.next(
      delivery,
      attempt.statusCode !== null && attempt.statusCode >= 200 && attempt.statusCode < 300,
    );
    await this.repo.recordAttempt(attempt, progress);
    return { attempt, progress };
  }

  private async send(delivery: DueDelivery, body: string, timestamp: number): Promise<SendOutcome> {
    let secret: string;
    try {
      secret = this.secretBox.open(delivery.sealedSecret);
    } catch {
      return { error: "The webhook's secret cannot be read (was the server secret changed?); set a new one" };
    }
    const headers = {
      'content-type': 'application/json',
      'x-parley-signature': signature(secret, timestamp, body),
      'x-parley-timestamp': String(timestamp),
      'x-parley-event': delivery.event,
      'x-parley-delivery': delivery.id,
    };
    return this.transport.send(delivery.url, headers, body);
  }

  private next(delivery: DueDelivery, accepted: boolean): DeliveryProgress {
    const now = this.now();
    const attemptCount = delivery.attemptCount + 1;
    if (accepted) return { status: 'delivered', attemptCount, nextAttemptAt: null, completedAt: now };
    const nextAttemptAt = now + retryDelay(attemptCount, this.policy);
    if (nextAttemptAt > delivery.createdAt + this.policy.retryForMs) {
      return { status: 'failed', attemptCount, nextAttemptAt: null, completedAt: now };
    }
    return { status: 'pending', attemptCount, nextAttemptAt, completedAt: null };
  }
}
