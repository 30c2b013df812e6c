import { deliver, type Bus, type BusHandler } from '../../core/shared-state.js';

export class MemoryBus implements Bus {
  private readonly topics = new Map<string, Set<BusHandler>>();

  constructor(private readonly onError: (err: unknown) => void) {}

  async publish(topic: string, message: unknown): Promise<void> {
    const handlers = this.topics.get(topic);
    if (!handlers) return;
    // Same contract as Redis: subscribers get a copy, delivered after the publisher continues.
    const copy = JSON.parse(JSON.stringify(message)) as unknown;
    queueMicrotask(() => {
      for (const handler of handlers) deliver(handler, copy, this.onError);
    });
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    let handlers = this.topics.get(topic);
    if (!handlers) this.topics.set(topic, (handlers = new Set()));
    const own = (m: unknown) => handler(m);
    handlers.add(own);
    return async () => {
      handlers.delete(own);
      if (handlers.size === 0) this.topics.delete(topic);
    };
  }
}
