import type { Redis } from 'ioredis';
import { deliver, type Bus, type BusHandler } from '../../core/shared-state.js';

/** Redis pub/sub. Subscriptions need a connection of their own, opened on first use. */
export class RedisBus implements Bus {
  private subscriber: Promise<Redis> | undefined;
  private readonly topics = new Map<string, Set<BusHandler>>();

  constructor(
    private readonly publisher: Redis,
    private readonly connect: () => Redis,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  async publish(topic: string, message: unknown): Promise<void> {
    await this.publisher.publish(this.prefix + topic, JSON.stringify(message));
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    const subscriber = await this.ensureSubscriber();
    let handlers = this.topics.get(topic);
    if (!handlers) {
      this.topics.set(topic, (handlers = new Set()));
      await subscriber.subscribe(this.prefix + topic);
    }
    const own = (m: unknown) => handler(m);
    handlers.add(own);
    return async () => {
      handlers.delete(own);
      if (handlers.size === 0 && this.topics.get(topic) === handlers) {
        this.topics.delete(topic);
        await subscriber.unsubscribe(this.prefix + topic);
      }
    };
  }

  async close(): Promise<void> {
    this.topics.clear();
    const subscriber = await this.subscriber?.catch(() => undefined);
    await subscriber?.quit().catch(() => subscriber.disconnect());
  }

  private ensureSubscriber(): Promise<Redis> {
    this.subscriber ??= this.openSubscriber();
    return this.subscriber;
  }

  private async openSubscriber(): Promise<Redis> {
    const subscriber = this.connect();
    subscriber.on('message', (channel: string, text: string) => {
      const handlers = this.topics.get(channel.slice(this.prefix.length));
      if (!handlers) return;
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch (err) {
        this.onError(err);
        return;
      }
      for (const handler of handlers) deliver(handler, message, this.onError);
    });
    await subscriber.connect();
    return subscriber;
  }
}
