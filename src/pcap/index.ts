/** Packet captures: pcap and pcapng reading (to UDP datagrams), classic pcap writing. */
export * from './capture-record.js';
export * from './capture-stream.js';
export * from './capture-filter.js';
export * from './capture-scan.js';
export * from './datagram-extractor.js';
export * from './packet-decoder.js';
export * from './pcap-reader.js';
export * from './pcapng-reader.js';
export * from './pcap-writer.js';
