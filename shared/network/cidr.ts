import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * A set of CIDR ranges, IPv4 and IPv6. An IPv4 caller is matched against the IPv4 ranges
 * only and an IPv6 caller against the IPv6 ranges only; an IPv4-mapped IPv6 address
 * (::ffff:10.0.0.1, an IPv4 caller on a dual-stack socket) counts as the IPv4 address it
 * carries. Node's BlockList alone would also match every IPv4 caller against an IPv6 range
 * that covers ::ffff:0:0/96, such as ::/8; configuration refuses such ranges
 * (`cidrProblem`), and the two lists keep them apart even so.
 */
export class NetworkSet {
  private readonly v4 = new BlockList();
  private readonly v6 = new BlockList();

  constructor(readonly cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const parsed = parseCidr(cidr);
      if (!parsed) throw new TypeError(`not a CIDR range: ${cidr}`);
      (parsed.family === 'ipv4' ? this.v4 : this.v6).addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  contains(address: string): boolean {
    const family = isIP(address);
    if (family === 4) return this.v4.check(address, 'ipv4');
    if (family !== 6) return false;
    const mapped = mappedIpv4(address);
    return mapped === undefined ? this.v6.check(address, 'ipv6') : this.v4.check(mapped, 'ipv4');
  }
}

export function parseCidr(cidr: string): Cidr | undefined {
  const match = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!match) return undefined;
  const [, address = '', prefixText = ''] = match;
  const family = isIP(address);
  const prefix = Number(prefixText);
  if (family === 4 && prefix <= 32) return { address, prefix, family: 'ipv4' };
  if (family === 6 && prefix <= 128) return { address, prefix, family: 'ipv6' };
  return undefined;
}

const mappedSpace: Cidr = { address: '::ffff:0:0', prefix: 96, family: 'ipv6' };

/** Why `cidr` cannot be an INTERNAL_NETWORKS entry, or undefined if it can. */
export function cidrProblem(cidr: string): string | undefined {
  const parsed = parseCidr(cidr);
  if (!parsed) return `${cidr} is not a CIDR range (such as 10.20.0.0/16 or 2001:db8:1::/48)`;
  if (overlaps(parsed, mappedSpace)) {
    return (
      `${cidr} overlaps the IPv4-mapped space ::ffff:0:0/96, so it would match IPv4 callers; ` +
      'write IPv4 ranges as IPv4 (10.0.0.0/8) and IPv6 ranges that leave ::ffff:0:0/96 out'
    );
  }
  return undefined;
}

/**
 * Address space that only callers on a private network have: an app reached over the
 * internet sees these only as the address of something in front of it (a gateway or proxy
 * inside a virtual network) - unless callers reach it through a private endpoint.
 */
const privateSpaces: ReadonlyArray<{ name: string; range: Cidr }> = [
  { name: 'private (10.0.0.0/8)', range: { address: '10.0.0.0', prefix: 8, family: 'ipv4' } },
  { name: 'private (172.16.0.0/12)', range: { address: '172.16.0.0', prefix: 12, family: 'ipv4' } },
  { name: 'private (192.168.0.0/16)', range: { address: '192.168.0.0', prefix: 16, family: 'ipv4' } },
  { name: 'link-local (169.254.0.0/16)', range: { address: '169.254.0.0', prefix: 16, family: 'ipv4' } },
  { name: 'unique-local (fc00::/7)', range: { address: 'fc00::', prefix: 7, family: 'ipv6' } },
  { name: 'link-local (fe80::/10)', range: { address: 'fe80::', prefix: 10, family: 'ipv6' } },
];

/** The private, unique-local or link-local spaces `cidr` reaches into (none for a public or loopback range). */
export function privateSpacesOf(cidr: string): string[] {
  const parsed = parseCidr(cidr);
  if (!parsed) return [];
  return privateSpaces.filter((space) => overlaps(parsed, space.range)).map((space) => space.name);
}

/** Two CIDR blocks overlap exactly when one contains the other's first address. */
function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const bits = a.family === 'ipv4' ? 32 : 128;
  const start = (range: Cidr) => {
    const value = addressValue(range.address, range.family);
    const hostBits = BigInt(bits - range.prefix);
    return (value >> hostBits) << hostBits;
  };
  const contains = (range: Cidr, value: bigint) => value >= start(range) && value < start(range) + (1n << BigInt(bits - range.prefix));
  return contains(a, start(b)) || contains(b, start(a));
}

/** The address as a number: 32 bits for IPv4, 128 for IPv6 (with an IPv4 tail, if written so). */
function addressValue(address: string, family: 'ipv4' | 'ipv6'): bigint {
  if (family === 'ipv4') return address.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
  let text = address;
  const v4Tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text)?.[1];
  if (v4Tail !== undefined) {
    const tail = addressValue(v4Tail, 'ipv4');
    text = `${text.slice(0, -v4Tail.length)}${(tail >> 16n).toString(16)}:${(tail & 0xffffn).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((value, group) => (value << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

/** The IPv4 address an IPv4-mapped IPv6 address carries (::ffff:10.1.2.3 or ::ffff:a01:203), else undefined. */
function mappedIpv4(address: string): string | undefined {
  const value = addressValue(address, 'ipv6');
  if (value >> 32n !== 0xffffn) return undefined;
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}
