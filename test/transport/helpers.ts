/**
 * Shared pieces of the transport tests: frames with a checkable body, a pair of connected
 * Connections over real loopback sockets, and a raw socket to send arbitrary bytes.
 */
import { connect, type Socket } from 'node:net';
import { Connection, TransportServer, type ConnectionOptions } from '../../src/transport/index.js';
import { until } from '../helpers/wait.js';

/** A payload of `size` (>= 8) bytes: u32 sequence, u32 size, then bytes derived from the sequence. */
export function payload(seq: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32LE(seq, 0);
  b.writeUInt32LE(size, 4);
  for (let i = 8; i < size; i++) b[i] = (seq + i) & 0xff;
  return b;
}

/** The frame on the wire: u32 LE length, then the payload. */
export function wire(p: Buffer): Buffer {
  const b = Buffer.allocUnsafe(4 + p.length);
  b.writeUInt32LE(p.length, 0);
  p.copy(b, 4);
  return b;
}

/** Checks a payload made by payload(); returns its sequence or throws. */
export function checkPayload(buffer: Buffer, offset: number, length: number): number {
  const seq = buffer.readUInt32LE(offset);
  const size = buffer.readUInt32LE(offset + 4);
  if (size !== length) throw new Error(`frame ${seq}: length ${length}, expected ${size}`);
  for (let i = 8; i < length; i++) {
    if (buffer[offset + i] !== ((seq + i) & 0xff)) throw new Error(`frame ${seq}: byte ${i} differs`);
  }
  return seq;
}

export interface Pair {
  server: TransportServer;
  /** the accepted side */
  accepted: Connection;
  /** the connecting side */
  client: Connection;
  close(): void;
}

/**
 * How the connecting side reads: 'slab' = Connection.connect (reads land in its own slab),
 * 'chunk' = a socket connected elsewhere and wrapped (Node's 'data' chunks, as on the accepting side).
 */
export type ClientMode = 'slab' | 'chunk';

export async function connectedPair(serverOptions: ConnectionOptions = {}, clientOptions: ConnectionOptions = {}, mode: ClientMode = 'slab'): Promise<Pair> {
  const server = new TransportServer('127.0.0.1:0', { connection: serverOptions });
  const port = await server.listen();
  let client: Connection;
  if (mode === 'slab') {
    client = Connection.connect('127.0.0.1', port, clientOptions);
    await until('connected', () => client.isOpen);
  } else {
    client = new Connection(await rawConnect(port), clientOptions);
  }
  let accepted: Connection | undefined;
  await until('the server accepts', () => server.poll((c) => (accepted = c)) > 0 || accepted !== undefined);
  return {
    server,
    accepted: accepted!,
    client,
    close() {
      client.abort('test over');
      accepted!.abort('test over');
      server.close();
    },
  };
}

export function rawConnect(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Polls `connection` until `done()` (collecting with `handler`). */
export function pollUntil(what: string, connection: Connection, handler: (b: Buffer, o: number, l: number) => void, done: () => boolean, timeoutMs = 10_000): Promise<true> {
  return until(
    what,
    () => {
      connection.poll(handler);
      return done();
    },
    timeoutMs,
    2,
  );
}
