import { BlockList, isIP } from 'node:net';

/**
 * A set of CIDR ranges, IPv4 and IPv6, built on node's BlockList (which also matches
 * IPv4-mapped IPv6 addresses such as ::ffff:10.0.0.1 against IPv4 ranges).
 */
export class NetworkSet {
  private readonly list = new BlockList();

  constructor(readonly cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const parsed = parseCidr(cidr);
      if (!parsed) throw new TypeError(`not a CIDR range: ${cidr}`);
      this.list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  contains(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const match = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!match) return undefined;
  const [, address = '', prefixText = ''] = match;
  const family = isIP(address);
  const prefix = Number(prefixText);
  if (family === 4 && prefix <= 32) return { address, prefix, family: 'ipv4' };
  if (family === 6 && prefix <= 128) return { address, prefix, family: 'ipv6' };
  return undefined;
}
