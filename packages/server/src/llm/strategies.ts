import type { Channel } from '../core/channels/ports.js';

/**
 * Orders candidate channels: higher priority first; within one priority, by the strategy of that
 * group (the strategy of its oldest channel, should they differ).
 */
export function orderCandidates(
  channels: Channel[],
  turns: Map<string, number>,
  inFlight: (channelId: string) => number,
): Channel[] {
  const groups = new Map<number, Channel[]>();
  for (const channel of channels) {
    const group = groups.get(channel.priority);
    if (group) group.push(channel);
    else groups.set(channel.priority, [channel]);
  }
  const ordered: Channel[] = [];
  for (const priority of [...groups.keys()].sort((a, b) => b - a)) {
    const group = groups.get(priority)!.sort((a, b) => (a.id < b.id ? -1 : 1));
    ordered.push(...orderGroup(group, `${priority}:${group.map((c) => c.id).join(',')}`, turns, inFlight));
  }
  return ordered;
}

function orderGroup(
  group: Channel[],
  groupKey: string,
  turns: Map<string, number>,
  inFlight: (channelId: string) => number,
): Channel[] {
  if (group.length < 2) return group;
  switch (group[0]!.strategy) {
    case 'priority':
      return group;
    case 'round-robin': {
      const turn = turns.get(groupKey) ?? 0;
      turns.set(groupKey, turn + 1);
      const start = turn % group.length;
      return [...group.slice(start), ...group.slice(0, start)];
    }
    case 'least-connections':
      return [...group].sort((a, b) => inFlight(a.id) - inFlight(b.id));
    case 'weighted':
      // Weighted random order (Efraimidis–Spirakis): each channel leads with probability weight/total.
      return group
        .map((channel) => ({ channel, key: Math.random() ** (1 / channel.weight) }))
        .sort((a, b) => b.key - a.key)
        .map((entry) => entry.channel);
  }
}
