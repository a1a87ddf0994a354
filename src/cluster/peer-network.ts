/**
 * Connections between archivers (docs/REPLICATION.md §5.1), on the framed TCP transport.
 *
 * Every pair of nodes has two connections, one initiated by each side. The side that connects
 * is the *client* of that connection: it sends requests and streams (mirror frames, fetch
 * requests, fence queries) and the accepting side answers on the same connection. So a
 * message's meaning never depends on who connected first, and a reconnect simply makes the
 * client resume its streams from the positions the server asks for.
 *
 * The first message each way is a Hello naming cluster, node, disk and incarnation; an
 * accepted connection whose Hello names another cluster or an unknown node is closed. All
 * traffic is polled from the duty cycle; socket callbacks only queue (the transport's rule).
 *
 * Every connection carries heartbeats (the transport's Liveness): each side writes something
 * at least every `heartbeatIntervalMs`, and a connection that received nothing for
 * `heartbeatTimeoutMs` is closed as dead, so a blackholed link (no RST, no FIN) goes down
 * like a reset one: its requests are lost (fetch windows go to another holder), its mirror
 * streams stop and resume from the receiver's position once a connection is back (§5.1, §11).
 */
import {
  HelloDecoder,
  HelloEncoder,
  MessageHeaderDecoder,
  MessageHeaderEncoder,
  SCHEMA_ID,
  TEMPLATE_IDS,
} from '../../codecs/generated/replication/index.js';
import { Reconnector, ReconnectorState, TransportServer, type Connection } from '../transport/index.js';
import { systemNanoClock, type NanoClock } from '../util/clock.js';

/** Largest message: a Frames batch of up to 1 MiB of storage frames plus headers. */
export const MAX_PEER_FRAME = 2 * 1024 * 1024;
export const FRAMES_BATCH_BYTES = 1024 * 1024;
/** A peer connection writes something at least this often (REPLICATION.md §11). */
export const PEER_HEARTBEAT_INTERVAL_MS = 500;
/** A peer connection that received nothing this long is closed as dead (REPLICATION.md §11). */
export const PEER_HEARTBEAT_TIMEOUT_MS = 3000;

export interface PeerNetworkOptions {
  /** default PEER_HEARTBEAT_INTERVAL_MS */
  heartbeatIntervalMs?: number;
  /** default PEER_HEARTBEAT_TIMEOUT_MS */
  heartbeatTimeoutMs?: number;
  /** the monotonic clock of reconnects and heartbeats, default the system clock */
  clock?: NanoClock;
}

export interface PeerIdentity {
  cluster: string;
  node: string;
  disk(): string;
  incarnation(): string;
  viewRevision(): number;
}

/** A peer as the other side's Hello named it. */
export interface PeerHello {
  node: string;
  disk: string;
  incarnation: string;
  viewRevision: number;
}

/** An accepted connection: the peer is its client. */
export interface InboundPeer {
  readonly connection: Connection;
  hello: PeerHello | undefined;
}

export interface PeerHandlers {
  /** A message from a peer on a connection it initiated (a request or a stream to serve). */
  onRequest(peer: InboundPeer, templateId: number, buffer: Buffer, offset: number, length: number): void;
  /** A message on a connection this node initiated (an answer). */
  onAnswer(node: string, templateId: number, buffer: Buffer, offset: number, length: number): void;
  /** This node's connection to `node` (re)opened and both Hellos are through: resume streams. */
  onConnected(node: string): void;
  /** This node's connection to `node` went down. */
  onDisconnected(node: string): void;
  /** An inbound connection went down (its streams end). */
  onInboundClosed(peer: InboundPeer): void;
}

interface Outbound {
  node: string;
  reconnector: Reconnector;
  hello: PeerHello | undefined;
}

const headerDecoder = new MessageHeaderDecoder();
const headerEncoder = new MessageHeaderEncoder();
const helloDecoder = new HelloDecoder();
const helloEncoder = new HelloEncoder();

export class PeerNetwork {
  private readonly server: TransportServer;
  private readonly outbound = new Map<string, Outbound>();
  private readonly inbound = new Set<InboundPeer>();
  handlers: PeerHandlers | undefined;
  /** told about a handler that threw (the message is dropped, the connection stays) */
  onError: ((err: unknown) => void) | undefined;
  /** told when a connection to or from a peer, past its Hellos, went down (outbound: this node dialled it), and why */
  onLinkLost: ((peer: string, outbound: boolean, reason: string) => void) | undefined;
  malformed = 0;

  constructor(
    private readonly self: PeerIdentity,
    listenOn: string,
    peers: { id: string; replication: string }[],
    private readonly wake: () => void = () => undefined,
    /** the local address outbound connections bind to (this node's replication host), default any */
    localAddress?: string,
    options: PeerNetworkOptions = {},
  ) {
    const clock = options.clock ?? systemNanoClock;
    const connection = {
      maxFrameLength: MAX_PEER_FRAME,
      onReceive: wake,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? PEER_HEARTBEAT_INTERVAL_MS,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? PEER_HEARTBEAT_TIMEOUT_MS,
      clock,
    };
    this.server = new TransportServer(listenOn, { connection, what: 'replication endpoint' });
    for (const p of peers) {
      if (p.id === self.node) continue;
      const o: Outbound = {
        node: p.id,
        hello: undefined,
        reconnector: new Reconnector(p.replication, {
          connection,
          clock,
          ...(localAddress !== undefined ? { localAddress } : {}),
          maxBackoffMs: 1000,
          connectTimeoutMs: 2000,
          what: `replication endpoint of ${p.id}`,
          onConnected: (c) => {
            o.hello = undefined;
            this.sendHello(c);
          },
          onDisconnected: (c) => {
            const had = o.hello !== undefined;
            o.hello = undefined;
            if (!had) return;
            this.linkLost(p.id, true, c);
            this.handlers?.onDisconnected(p.id);
          },
        }),
      };
      this.outbound.set(p.id, o);
    }
  }

  listen(): Promise<number> {
    return this.server.listen();
  }

  /** This node's open connection to `node`, once both Hellos are through. */
  connection(node: string): Connection | undefined {
    const o = this.outbound.get(node);
    if (!o || !o.hello || o.reconnector.state !== ReconnectorState.CONNECTED) return undefined;
    const c = o.reconnector.connection;
    return c && c.isOpen ? c : undefined;
  }

  /** What `node` said in its Hello on this node's connection to it. */
  helloOf(node: string): PeerHello | undefined {
    return this.outbound.get(node)?.hello;
  }

  doWork(): number {
    let work = this.server.poll((c) => {
      this.inbound.add({ connection: c, hello: undefined });
    });
    for (const o of this.outbound.values()) {
      work += o.reconnector.doWork();
      const c = o.reconnector.connection;
      if (c && o.reconnector.state === ReconnectorState.CONNECTED) {
        work += c.poll((buf, off, len) => this.onOutboundMessage(o, buf, off, len), 64);
      }
    }
    for (const p of this.inbound) {
      work += p.connection.poll((buf, off, len) => this.onInboundMessage(p, buf, off, len), 64);
      work += p.connection.doWork();
      if (!p.connection.isOpen && p.connection.inboundFrames === 0) {
        this.inbound.delete(p);
        if (p.hello) {
          this.linkLost(p.hello.node, false, p.connection);
          this.handlers?.onInboundClosed(p);
        }
        work++;
      }
    }
    return work;
  }

  inboundPeers(): IterableIterator<InboundPeer> {
    return this.inbound.values();
  }

  close(): void {
    for (const o of this.outbound.values()) o.reconnector.close();
    for (const p of this.inbound) p.connection.close('node closing');
    this.inbound.clear();
    this.server.close();
  }

  get port(): number {
    return this.server.port;
  }

  private linkLost(peer: string, outbound: boolean, c: Connection): void {
    if (!this.onLinkLost) return;
    const reason = c.error ? `${c.closeReason ?? 'closed'}: ${c.error.message}` : (c.closeReason ?? 'closed');
    this.safeCall(() => this.onLinkLost?.(peer, outbound, reason));
  }

  private sendHello(c: Connection): void {
    const at = c.claim(512);
    helloEncoder
      .wrapAndApplyHeader(c.claimBuffer, at, headerEncoder)
      .viewRevision(this.self.viewRevision())
      .cluster(this.self.cluster)
      .node(this.self.node)
      .disk(this.self.disk())
      .incarnation(this.self.incarnation());
    c.commit(headerEncoder.encodedLength() + helloEncoder.encodedLength());
  }

  private readHello(buf: Buffer, off: number): PeerHello | undefined {
    const d = helloDecoder.wrapAndApplyHeader(buf, off, headerDecoder);
    const viewRevision = d.viewRevision();
    const cluster = d.cluster();
    const node = d.node();
    const disk = d.disk();
    const incarnation = d.incarnation();
    if (cluster !== this.self.cluster) return undefined;
    return { node, disk, incarnation, viewRevision };
  }

  private templateOf(buf: Buffer, off: number, len: number): number {
    if (len < 8) return -1;
    headerDecoder.wrap(buf, off);
    if (headerDecoder.schemaId() !== SCHEMA_ID) return -1;
    return headerDecoder.templateId();
  }

  private onOutboundMessage(o: Outbound, buf: Buffer, off: number, len: number): void {
    const t = this.templateOf(buf, off, len);
    if (t < 0) {
      this.malformed++;
      return;
    }
    if (o.hello === undefined) {
      const h = t === HELLO ? this.safe(() => this.readHello(buf, off)) : undefined;
      if (!h || h.node !== o.node) {
        o.reconnector.connection?.close('peer did not answer with its hello');
        return;
      }
      o.hello = h;
      this.handlers?.onConnected(o.node);
      return;
    }
    this.safeCall(() => this.handlers?.onAnswer(o.node, t, buf, off, len));
  }

  private onInboundMessage(p: InboundPeer, buf: Buffer, off: number, len: number): void {
    const t = this.templateOf(buf, off, len);
    if (t < 0) {
      this.malformed++;
      p.connection.close('malformed message');
      return;
    }
    if (p.hello === undefined) {
      const h = t === HELLO ? this.safe(() => this.readHello(buf, off)) : undefined;
      if (!h || h.node === this.self.node || !this.outbound.has(h.node)) {
        p.connection.close('a hello from outside the cluster');
        return;
      }
      p.hello = h;
      this.sendHello(p.connection);
      return;
    }
    this.safeCall(() => this.handlers?.onRequest(p, t, buf, off, len));
  }

  private safe<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch {
      this.malformed++;
      return undefined;
    }
  }

  private safeCall(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.onError?.(err);
    }
  }
}

const HELLO = TEMPLATE_IDS.Hello;
