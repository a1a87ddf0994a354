/**
 * Sources of raw events for the recorder. createSource() turns a URI (or a parsed spec) into
 * an unopened Source; call open(), then poll() from the duty cycle.
 */
import type { EpochNanoClock, NanoClock } from '../util/clock.js';
import { FileSource, type FileSourceOptions } from './file-source.js';
import type { Source } from './source.js';
import { StdinSource, type StdinSourceOptions } from './stdin-source.js';
import { UdpSource, type UdpSourceOptions } from './udp-source.js';
import { PcapSource, type PcapSourceOptions } from './pcap-source.js';
import { parseSourceUri, type SourceSpec } from './uri.js';

export * from './source.js';
export * from './uri.js';
export { UdpSource, type UdpSourceOptions } from './udp-source.js';
export { FileSource, type FileSourceOptions } from './file-source.js';
export { StdinSource, type StdinSourceOptions } from './stdin-source.js';
export { PcapSource, type PcapSourceOptions } from './pcap-source.js';
export { parseProcNetUdp, findSocketInode, ownSocketInodes, type ProcUdpRow } from './proc-net-udp.js';

export interface CreateSourceOptions {
  nanoClock?: NanoClock;
  /** Give every source of one archiver the same MonotonicUtcClock. */
  utcClock?: EpochNanoClock;
  udp?: Omit<UdpSourceOptions, 'nanoClock' | 'utcClock'>;
  file?: Omit<FileSourceOptions, 'nanoClock' | 'utcClock'>;
  stdin?: Omit<StdinSourceOptions, 'nanoClock' | 'utcClock'>;
  pcap?: Omit<PcapSourceOptions, 'nanoClock' | 'utcClock'>;
}

/** Throws VcrError INVALID_SOURCE for a malformed URI. */
export function createSource(uriOrSpec: string | SourceSpec, options: CreateSourceOptions = {}): Source {
  const spec = typeof uriOrSpec === 'string' ? parseSourceUri(uriOrSpec) : uriOrSpec;
  const clocks = {
    ...(options.nanoClock ? { nanoClock: options.nanoClock } : {}),
    ...(options.utcClock ? { utcClock: options.utcClock } : {}),
  };
  switch (spec.kind) {
    case 'udp':
      return new UdpSource(spec, { ...options.udp, ...clocks });
    case 'file':
      return new FileSource(spec, { ...options.file, ...clocks });
    case 'stdin':
      return new StdinSource(spec, { ...options.stdin, ...clocks });
    case 'pcap':
      return new PcapSource(spec, { ...options.pcap, ...clocks });
  }
}
