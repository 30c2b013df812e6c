import type { Config } from '../../config/schema.js';
import type { SecretBox } from '../channels/ports.js';
import type { Bus } from '../shared-state.js';
import { Deliverer } from './delivery.js';
import type { WebhookRepository, WebhookTransport } from './model.js';
import { WebhookService } from './service.js';
import { WebhookWorker } from './worker.js';

/** Beyond an attempt's own timeout, how long a claimed delivery stays with the instance sending it. */
const LEASE_MARGIN_MS = 30_000;

/** The webhook service (what the API calls) and the worker (what a serving process runs). */
export function createWebhooks(
  config: Config['webhooks'],
  ports: {
    repo: WebhookRepository;
    transport: WebhookTransport;
    secretBox: SecretBox;
    bus: Bus;
    onBackgroundError: (err: unknown) => void;
  },
): { service: WebhookService; worker: WebhookWorker } {
  const leaseMs = config.timeoutMs + LEASE_MARGIN_MS;
  const deliverer = new Deliverer(ports.repo, ports.transport, ports.secretBox, config);
  const worker = new WebhookWorker({
    repo: ports.repo,
    deliverer,
    transport: ports.transport,
    bus: ports.bus,
    pollIntervalMs: config.pollIntervalMs,
    leaseMs,
    onBackgroundError: ports.onBackgroundError,
  });
  const service = new WebhookService(ports.repo, ports.transport, ports.secretBox, deliverer, worker.wake, {
    maxPerUser: config.maxPerUser,
    leaseMs,
  });
  return { service, worker };
}
