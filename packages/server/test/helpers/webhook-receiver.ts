import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  /** The path asked for: a redirect followed would show up as another one. */
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: { id: string; event: string; createdAt: number; data: any };
  /** The status this receiver answered with. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedDelivery[];
  /** The status to answer each delivery with (2xx accepts it); a test may change it at any time. */
  respond: (body: ReceivedDelivery['body']) => number;
  /** How long to wait before answering. */
  delayMs: number;
  close(): Promise<void>;
}

/**
 * A webhook receiver on loopback that records every delivery and answers as `respond` tells
 * (a 3xx redirects to the receiver itself).
 */
export async function startWebhookReceiver(respond: WebhookReceiver['respond'] = () => 200): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = { url: '', received: [], respond, delayMs: 0, close: async () => {} };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const body = JSON.parse(raw);
      const status = receiver.respond(body);
      receiver.received.push({ path: req.url!, headers: req.headers, raw, body, status });
      res.statusCode = status;
      if (status >= 300 && status < 400) res.setHeader('location', `${receiver.url}/redirected`);
      setTimeout(() => res.end('ok'), receiver.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** The `X-Parley-Signature` that Parley makes with `secret` for this delivery. */
export function signatureFor(delivery: ReceivedDelivery, secret: string): string {
  const timestamp = delivery.headers['x-parley-timestamp'];
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${delivery.raw}`).digest('hex')}`;
}
