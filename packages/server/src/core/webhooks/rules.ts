import { Invalid } from '../errors.js';

/** Event types a webhook may subscribe to. `ping` is sent on request, whatever the subscription. */
export const WEBHOOK_EVENTS = [
  'message.new',
  'message.completed',
  'profile.update',
  'trigger.shared',
  'conversation.deleted',
] as const;
export const ALL_EVENTS = '*';
export const PING_EVENT = 'ping';

export const WEBHOOK_URL = { maxLength: 2048 } as const;
export const WEBHOOK_SECRET = { minLength: 16, maxLength: 256 } as const;
export const DELIVERIES_PAGE = { defaultLimit: 20, maxLimit: 100 } as const;

const subscribable = new Set<string>([...WEBHOOK_EVENTS, ALL_EVENTS]);

export function checkUrl(url: string): string {
  if (url.length > WEBHOOK_URL.maxLength) {
    throw new Invalid(`url must be at most ${WEBHOOK_URL.maxLength} characters`, 'url');
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Invalid('url must be an absolute http(s) URL', 'url');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Invalid('url must be an http(s) URL', 'url');
  }
  return url;
}

export function checkEvents(events: readonly string[]): string[] {
  const unique = [...new Set(events)];
  if (unique.length === 0) throw new Invalid('events must name at least one event', 'events');
  const unknown = unique.find((e) => !subscribable.has(e));
  if (unknown !== undefined) {
    throw new Invalid(`Unknown event '${unknown}'; known: ${[...WEBHOOK_EVENTS, ALL_EVENTS].join(', ')}`, 'events');
  }
  return unique;
}

export function checkSecret(secret: string): string {
  if (secret.length < WEBHOOK_SECRET.minLength || secret.length > WEBHOOK_SECRET.maxLength) {
    throw new Invalid(`secret must be ${WEBHOOK_SECRET.minLength}-${WEBHOOK_SECRET.maxLength} characters`, 'secret');
  }
  return secret;
}

export function subscribes(events: readonly string[], type: string): boolean {
  return events.includes(ALL_EVENTS) || events.includes(type);
}

export interface RetryPolicy {
  retryBaseMs: number;
  retryMaxDelayMs: number;
  retryForMs: number;
}

/**
 * The wait after the `failures`-th failed attempt: exponential backoff with full jitter (uniform
 * between 0 and the doubled delay), so that receivers coming back up are not hit by every
 * sender at once.
 */
export function retryDelay(failures: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.retryMaxDelayMs, policy.retryBaseMs * 2 ** Math.min(failures - 1, 52));
  return Math.floor(random() * ceiling);
}
