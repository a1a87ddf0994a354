/**
 * A TCP proxy in front of one destination (a node's replication server, or etcd for one node),
 * so the partition tests can cut network links between live processes without iptables.
 *
 * Each accepted connection is a pair of sockets forwarded chunk by chunk (with backpressure).
 * A connection is attributed to the node it comes from by its source address: on loopback the
 * nodes bind their outbound peer connections to 127.0.0.1, 127.0.0.2, ... (the whole of 127/8
 * is the loopback interface), so `sources` maps an address to a node id.
 *
 * `cut(mode, from?)` cuts the link from the given nodes (all when omitted), in two modes:
 * - `reset`: every such connection is destroyed with an RST, and new ones are reset as soon
 *   as they are accepted (what a crashed NAT or a firewall REJECT rule looks like);
 * - `blackhole`: nothing is forwarded any more, both ways, and no socket is closed: no RST, no
 *   FIN, like a real partition (DROP). A side that closes during the cut is not told to the
 *   other; new connections are accepted and held without reaching the destination (their SYN
 *   "never arrived").
 * `heal(from?)` lifts the cut: held bytes flow again (TCP's retransmission after a partition),
 * held new connections reach the destination, and a connection whose other side went away
 * during the cut is reset (what the first packet after a partition would get).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type CutMode = 'reset' | 'blackhole';

const ALL = '*';

class Pipe {
  upstream: Socket | undefined;
  /** a side closed while the link was blackholed: the other is reset on heal */
  orphaned = false;
  private closed = false;

  constructor(
    readonly proxy: LinkProxy,
    readonly client: Socket,
    readonly from: string,
  ) {
    client.pause();
    client.on('error', () => undefined);
    client.on('close', () => this.sideClosed(client));
  }

  /** Connects to the destination and starts forwarding (unless the link is cut by then). */
  open(): void {
    if (this.upstream || this.closed) return;
    if (this.orphaned) return this.reset();
    const up = connect({ host: this.proxy.targetHost, port: this.proxy.targetPort });
    up.setNoDelay(true);
    up.pause();
    up.on('error', () => undefined);
    up.on('close', () => this.sideClosed(up));
    this.upstream = up;
    this.forward(this.client, up);
    this.forward(up, this.client);
    up.once('connect', () => this.resume());
  }

  get blackholed(): boolean {
    return this.proxy.modeFor(this.from) === 'blackhole';
  }

  resume(): void {
    if (this.closed || this.blackholed || !this.upstream || this.upstream.connecting) return;
    if (this.orphaned) return this.reset();
    this.client.resume();
    this.upstream.resume();
  }

  hold(): void {
    this.client.pause();
    this.upstream?.pause();
  }

  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.resetAndDestroy();
    this.upstream?.resetAndDestroy();
    this.proxy.forget(this);
  }

  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (to.write(chunk)) return;
      from.pause();
      to.once('drain', () => {
        if (!this.blackholed) from.resume();
      });
    });
    from.on('end', () => {
      if (!this.blackholed) to.end();
    });
  }

  private sideClosed(side: Socket): void {
    if (this.closed) return;
    if (this.blackholed) {
      this.orphaned = true;
      return;
    }
    this.closed = true;
    const other = side === this.client ? this.upstream : this.client;
    if (other && !other.destroyed) {
      if (side.errored) other.resetAndDestroy();
      else other.end(() => other.destroy());
    }
    this.proxy.forget(this);
  }
}

export class LinkProxy {
  private readonly server: Server;
  private readonly pipes = new Set<Pipe>();
  private readonly cuts = new Map<string, CutMode>();
  private listenPort = 0;
  accepted = 0;

  private constructor(
    readonly name: string,
    readonly listenHost: string,
    readonly targetHost: string,
    readonly targetPort: number,
    /** source address -> node id (connections from elsewhere are attributed to their address) */
    private readonly sources: Map<string, string>,
  ) {
    this.server = createServer({ noDelay: true, pauseOnConnect: true }, (s) => this.onSocket(s));
  }

  /** Listens on `listenHost:listenPort` (0: any free port) and forwards to `target` (HOST:PORT). */
  static async start(name: string, listenHost: string, listenPort: number, target: string, sources = new Map<string, string>()): Promise<LinkProxy> {
    const i = target.lastIndexOf(':');
    const p = new LinkProxy(name, listenHost, target.slice(0, i), Number(target.slice(i + 1)), sources);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(listenPort, listenHost, () => resolve());
    });
    const a = p.server.address();
    p.listenPort = typeof a === 'object' && a ? a.port : 0;
    return p;
  }

  get port(): number {
    return this.listenPort;
  }

  /** HOST:PORT clients connect to. */
  get endpoint(): string {
    return `${this.listenHost}:${this.listenPort}`;
  }

  /** Open connections (forwarding or held). */
  get connections(): number {
    return this.pipes.size;
  }

  /** The cut that applies to connections from node `from`, if any. */
  modeFor(from: string): CutMode | undefined {
    return this.cuts.get(from) ?? this.cuts.get(ALL);
  }

  /** Cuts the link from the nodes `from` (every source when omitted). */
  cut(mode: CutMode, from?: string[]): void {
    for (const f of from ?? [ALL]) this.cuts.set(f, mode);
    for (const p of [...this.pipes]) {
      const m = this.modeFor(p.from);
      if (m === 'reset') p.reset();
      else if (m === 'blackhole') p.hold();
    }
  }

  /** Lifts the cut from the nodes `from` (every cut when omitted). */
  heal(from?: string[]): void {
    if (from === undefined) this.cuts.clear();
    else for (const f of from) this.cuts.delete(f);
    for (const p of [...this.pipes]) {
      if (this.modeFor(p.from) !== undefined) continue;
      if (p.upstream) p.resume();
      else p.open();
    }
  }

  forget(p: Pipe): void {
    this.pipes.delete(p);
  }

  async close(): Promise<void> {
    this.cuts.clear();
    for (const p of [...this.pipes]) p.reset();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private onSocket(s: Socket): void {
    this.accepted++;
    s.setNoDelay(true);
    const addr = (s.remoteAddress ?? '').replace(/^::ffff:/, '');
    const from = this.sources.get(addr) ?? addr;
    const p = new Pipe(this, s, from);
    this.pipes.add(p);
    const mode = this.modeFor(from);
    if (mode === 'reset') return p.reset();
    if (mode === 'blackhole') return; // held: connected upstream on heal
    p.open();
  }
}

/** A TCP port free on `host` now (loopback addresses other than 127.0.0.1 included). */
export async function freePortOn(host: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, host, () => resolve());
  });
  const a = s.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
