import { BlockList, isIP } from 'node:net';

/**
 * Ranges a server-side request must not reach on its own: they belong to the server's machine or
 * network, not to the internet. The cloud metadata addresses (169.254.169.254, fd00:ec2::254)
 * are inside the link-local and unique-local ranges.
 */
const INTERNAL_RANGES: [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'reserved'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'reserved'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  // Unspecified, loopback and the deprecated IPv4-compatible form (IPv4-mapped addresses are
  // checked against the IPv4 ranges above).
  ['::', 96, 'ipv6', 'unspecified or loopback'],
  ['64:ff9b::', 96, 'ipv6', 'NAT64'],
  ['fc00::', 7, 'ipv6', 'private'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const internal = INTERNAL_RANGES.map(([network, prefix, family, kind]) => {
  const range = new BlockList();
  range.addSubnet(network, prefix, family);
  return { range, kind };
});

const familyOf = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** `[::1]` (as URLs write IPv6 hosts) → `::1`. */
export function bareHost(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/**
 * Which addresses outgoing webhook requests may reach: any but internal ones, except those the
 * allow-list names (host names, IP addresses or CIDRs).
 */
export class AddressPolicy {
  private readonly allowedHosts = new Set<string>();
  private readonly allowedAddresses = new BlockList();

  constructor(allowlist: readonly string[]) {
    for (const entry of allowlist) {
      const [address, prefix, extra] = bareHost(entry.trim()).split('/');
      const family = isIP(address!);
      if (prefix !== undefined) {
        const bits = Number(prefix);
        if (!family || extra !== undefined || !/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128)) {
          throw new Error(`webhooks.allowlist: "${entry}" is not a valid CIDR`);
        }
        this.allowedAddresses.addSubnet(address!, bits, familyOf(address!));
      } else if (family) {
        this.allowedAddresses.addAddress(address!, familyOf(address!));
      } else {
        this.allowedHosts.add(address!.replace(/\.$/, ''));
      }
    }
  }

  /** Whether the allow-list names this host, so that every address it resolves to may be reached. */
  allowsHost(hostname: string): boolean {
    return this.allowedHosts.has(bareHost(hostname).replace(/\.$/, ''));
  }

  /** The kind of internal address this is, when it may not be reached; undefined when it may. */
  forbiddenKind(address: string): string | undefined {
    const family = familyOf(address);
    if (this.allowedAddresses.check(address, family)) return undefined;
    return internal.find(({ range }) => range.check(address, family))?.kind;
  }
}
