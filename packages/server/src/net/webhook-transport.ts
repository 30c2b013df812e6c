import { lookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { SendOutcome, WebhookTransport } from '../core/webhooks/model.js';
import { AddressPolicy, bareHost } from './address-policy.js';

/** A connection refused because the host resolves to internal addresses only. */
class RefusedAddress extends Error {}

const refusalMessage = (host: string, kind: string) =>
  `Refused: ${host} is (or resolves to) a ${kind} address, which webhooks may not reach unless webhooks.allowlist names it`;

/**
 * Webhook requests over undici. Host names are resolved by a lookup that drops internal
 * addresses, and the connection is made to an address it returned: what was checked is what is
 * reached, whatever the DNS says a moment later. No redirect is followed.
 */
export function createWebhookTransport(options: {
  allowlist: readonly string[];
  timeoutMs: number;
  userAgent: string;
}): WebhookTransport {
  const policy = new AddressPolicy(options.allowlist);

  const guardedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
    lookup(hostname, { ...lookupOptions, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const reachable = policy.allowsHost(hostname)
        ? addresses
        : addresses.filter((a) => policy.forbiddenKind(a.address) === undefined);
      if (reachable.length === 0) {
        const kind = policy.forbiddenKind(addresses[0]?.address ?? '') ?? 'internal';
        return callback(new RefusedAddress(refusalMessage(hostname, kind)), '', 0);
      }
      if (lookupOptions.all) return callback(null, reachable);
      callback(null, reachable[0]!.address, reachable[0]!.family);
    });
  };
  const agent = new Agent({ connect: { lookup: guardedLookup, timeout: options.timeoutMs } });

  return {
    async refusal(url) {
      const host = bareHost(new URL(url).hostname);
      if (policy.allowsHost(host)) return undefined;
      let addresses: string[];
      if (isIP(host)) addresses = [host];
      else {
        try {
          addresses = await resolve(host, options.timeoutMs);
        } catch {
          return `The host ${host} cannot be resolved`;
        }
      }
      // A host with any internal address is refused: it could be served from that one.
      for (const address of addresses) {
        const kind = policy.forbiddenKind(address);
        if (kind) return refusalMessage(host, kind);
      }
      return undefined;
    },

    async send(url, headers, body): Promise<SendOutcome> {
      const target = new URL(url);
      const host = bareHost(target.hostname);
      // Literal addresses are connected to without a lookup: they are checked here instead.
      const kind = isIP(host) && !policy.allowsHost(host) ? policy.forbiddenKind(host) : undefined;
      if (kind) return { error: refusalMessage(host, kind) };
      try {
        const response = await request(target, {
          method: 'POST',
          headers: { ...headers, 'user-agent': options.userAgent },
          body,
          dispatcher: agent,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        // The answer's body is not needed; reading it (up to a bound) lets the connection be reused.
        await response.body.dump();
        return { statusCode: response.statusCode };
      } catch (err) {
        return { error: describe(err, options.timeoutMs) };
      }
    },

    async close() {
      await agent.close();
    },
  };
}

function resolve(host: string, timeoutMs: number): Promise<string[]> {
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error('DNS timeout')), timeoutMs);
    lookup(host, { all: true }, (err, addresses) => {
      clearTimeout(timer);
      if (err) fail(err);
      else done(addresses.map((a) => a.address));
    });
  });
}

function describe(err: unknown, timeoutMs: number): string {
  const error = err as Error & { code?: string; cause?: unknown };
  if (error.name === 'TimeoutError') return `No answer within ${timeoutMs} ms`;
  if (error instanceof RefusedAddress) return error.message;
  if (error.cause instanceof RefusedAddress) return error.cause.message;
  return error.code ? `${error.code}: ${error.message}` : error.message;
}
