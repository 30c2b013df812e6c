import { describe, expect, it } from 'vitest';
import type { Channel } from '../src/core/channels/ports.js';
import { orderCandidates } from '../src/llm/strategies.js';

const channel = (id: string, priority: number, strategy: Channel['strategy'], weight = 1): Channel => ({
  id,
  name: id,
  provider: 'openai-compatible',
  baseUrl: 'http://127.0.0.1',
  sealedApiKeys: [],
  models: ['*'],
  priority,
  weight,
  strategy,
  enabled: true,
  dailyQuota: 0,
  source: 'database',
  createdAt: 0,
  updatedAt: 0,
});

const ids = (channels: Channel[]) => channels.map((c) => c.id);
const noLoad = () => 0;

describe('candidate order', () => {
  it('puts higher priorities first, and keeps creation order under the priority strategy', () => {
    const order = orderCandidates(
      [channel('b', 0, 'priority'), channel('c', 5, 'priority'), channel('a', 0, 'priority')],
      new Map(),
      noLoad,
    );
    expect(ids(order)).toEqual(['c', 'a', 'b']);
  });

  it('rotates a round-robin group request by request', () => {
    const group = [channel('a', 0, 'round-robin'), channel('b', 0, 'round-robin'), channel('c', 0, 'round-robin')];
    const turns = new Map<string, number>();
    const firsts = Array.from({ length: 6 }, () => orderCandidates(group, turns, noLoad)[0]!.id);
    expect(firsts).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('prefers the channel with the fewest requests in flight under least-connections', () => {
    const group = [channel('a', 0, 'least-connections'), channel('b', 0, 'least-connections')];
    const load = (id: string) => (id === 'a' ? 5 : 1);
    expect(ids(orderCandidates(group, new Map(), load))).toEqual(['b', 'a']);
  });

  it('leads with each channel in proportion to its weight', () => {
    const group = [channel('light', 0, 'weighted', 1), channel('heavy', 0, 'weighted', 3)];
    let heavy = 0;
    for (let i = 0; i < 4000; i++) if (orderCandidates(group, new Map(), noLoad)[0]!.id === 'heavy') heavy++;
    expect(heavy / 4000).toBeGreaterThan(0.7);
    expect(heavy / 4000).toBeLessThan(0.8);
  });
});
