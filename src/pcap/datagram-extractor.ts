/**
 * From packet records to the UDP datagrams an import records: decodes each record, applies the
 * filter, counts what it skips and why, and dates the datagram. The capture's time is kept as
 * the event's UTC time, except that it never goes backwards (the archive's time index needs
 * UTC to be non-decreasing within a recording): a packet dated before the previous one (e.g. a
 * pcapng merging two interfaces) gets the previous time and is counted `reordered`.
 */
import type { CaptureRecord } from './capture-record.js';
import { compileFilter, type CaptureFilter, type DatagramMatcher } from './capture-filter.js';
import { Decoded, decodeUdp, newUdpView, type UdpView } from './packet-decoder.js';

export interface CaptureCounts {
  /** Packet records read. */
  packets: number;
  /** UDP datagrams that passed the filter (the events). */
  datagrams: number;
  /** Skipped: not IPv4/IPv6 (ARP, ...). */
  notIp: number;
  /** Skipped: IP but not UDP (TCP, ICMP, ESP, ...). */
  notUdp: number;
  /** Skipped: UDP not matching the filter. */
  filtered: number;
  /** Skipped: UDP in IP fragments (not reassembled). */
  fragments: number;
  /** Skipped: cut by the capture's snapshot length. */
  truncated: number;
  /** Skipped: IP or UDP lengths that contradict each other. */
  malformed: number;
  /** Skipped: on a pcapng interface whose link type is not supported. */
  unsupportedLink: number;
  /** Imported datagrams without a time of their own (pcapng Simple Packet Block). */
  untimed: number;
  /** Imported datagrams dated before the previous one, given the previous time. */
  reordered: number;
}

export function newCaptureCounts(): CaptureCounts {
  return { packets: 0, datagrams: 0, notIp: 0, notUdp: 0, filtered: 0, fragments: 0, truncated: 0, malformed: 0, unsupportedLink: 0, untimed: 0, reordered: 0 };
}

export class DatagramExtractor {
  readonly counts: CaptureCounts = newCaptureCounts();
  readonly view: UdpView = newUdpView();
  /** UTC of the datagram accept() last returned true for. */
  utcNs = 0n;
  private lastUtcNs: bigint | undefined;
  private readonly matches: DatagramMatcher;

  constructor(filter: CaptureFilter = {}) {
    this.matches = compileFilter(filter);
  }

  /** True when `rec` carries a datagram to import: then `view` locates it and `utcNs` dates it. */
  accept(rec: CaptureRecord): boolean {
    const c = this.counts;
    c.packets++;
    const r = decodeUdp(rec.linkType, rec.data, rec.dataOffset, rec.dataLength, this.view);
    switch (r) {
      case Decoded.UDP:
        break;
      case Decoded.NOT_IP:
        c.notIp++;
        return false;
      case Decoded.NOT_UDP:
        c.notUdp++;
        return false;
      case Decoded.FRAGMENT:
        c.fragments++;
        return false;
      case Decoded.TRUNCATED:
        c.truncated++;
        return false;
      case Decoded.MALFORMED:
        c.malformed++;
        return false;
      default:
        c.unsupportedLink++;
        return false;
    }
    if (!this.matches(rec.data, this.view)) {
      c.filtered++;
      return false;
    }
    c.datagrams++;
    if (rec.untimed) c.untimed++;
    let utc = rec.tsNs;
    if (this.lastUtcNs !== undefined && utc < this.lastUtcNs) {
      utc = this.lastUtcNs;
      c.reordered++;
    }
    this.lastUtcNs = utc;
    this.utcNs = utc;
    return true;
  }
}
