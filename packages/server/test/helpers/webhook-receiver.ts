import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  headers: IncomingHttpHeaders;
  raw: string;
  body: { id: string; event: string; createdAt: number; data: any };
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedDelivery[];
  close(): Promise<void>;
}

/** A webhook receiver on loopback that accepts and records every delivery. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedDelivery[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, raw, body: JSON.parse(raw) });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Whether a delivery carries the signature Parley makes with `secret` (`X-Parley-Signature`). */
export function signedWith(delivery: ReceivedDelivery, secret: string): boolean {
  const timestamp = delivery.headers['x-parley-timestamp'];
  const expected = createHmac('sha256', secret).update(`${timestamp}.${delivery.raw}`).digest('hex');
  return delivery.headers['x-parley-signature'] === `sha256=${expected}`;
}
