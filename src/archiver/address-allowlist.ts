/**
 * The control endpoint's allowlist: client addresses (IPv4 or IPv6) and networks in CIDR
 * notation (`10.1.0.0/16`, `fd00::/8`), matched with node:net's BlockList. Entries are checked
 * when the config loads (parseAllowEntry names what is wrong), so a typo cannot silently make
 * the archiver drop every client. IPv4-mapped IPv6 sources (`::ffff:10.1.2.3`, what a dual-stack
 * socket reports) are matched as the IPv4 address they are.
 */
import { BlockList, isIP } from 'node:net';
import { quoteForMessage } from '../util/endpoint.js';
import { ErrorCode, VcrError } from '../util/errors.js';

export interface AllowEntry {
  address: string;
  /** network prefix length; the whole address (32 or 128) for a single address */
  prefix: number;
  family: 4 | 6;
}

/** Parses `ADDRESS` or `ADDRESS/PREFIX`; throws VcrError(INVALID_ARGUMENT) saying why not. */
export function parseAllowEntry(entry: string): AllowEntry {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address) as 0 | 4 | 6;
  if (family === 0) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${quoteForMessage(entry)} is not an IP address or a CIDR network (e.g. 10.0.0.0/8, fd00::/8)`);
  }
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family };
  const p = entry.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${quoteForMessage(entry)}: the prefix length must be 0 to ${max}`);
  }
  return { address, prefix: Number(p), family };
}

/** Plain IPv4 for an IPv4-mapped IPv6 address, else the address unchanged. */
export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export class AddressAllowlist {
  private readonly list: BlockList | undefined;

  constructor(entries: readonly string[]) {
    if (entries.length === 0) return;
    this.list = new BlockList();
    for (const e of entries) {
      const a = parseAllowEntry(e);
      const type = a.family === 4 ? 'ipv4' : 'ipv6';
      if (a.prefix === (a.family === 4 ? 32 : 128)) this.list.addAddress(a.address, type);
      else this.list.addSubnet(a.address, a.prefix, type);
    }
  }

  /** True when no allowlist is configured or the address is on it. */
  allows(address: string): boolean {
    if (!this.list) return true;
    const a = unmapIPv4(address);
    const family = isIP(a);
    if (family === 0) return false;
    return this.list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }
}
