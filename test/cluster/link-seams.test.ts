/**
 * The seams the partition tests stand on: a node's replication server may listen elsewhere
 * than the endpoint it advertises (`replicationListen`), outbound peer connections come from
 * the node's own replication host (so whoever accepts them can tell which node it is), and the
 * test LinkProxy cuts links in its two modes (reset: RST; blackhole: silence, nothing closed).
 */
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseClusterConfig, replicationBindHostOf, replicationListenOf } from '../../src/cluster/cluster-config.js';
import { Reconnector, ReconnectorState, TransportServer, type Connection } from '../../src/transport/index.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { sleep, until } from '../helpers/wait.js';
import { freePortOn, LinkProxy } from './support/link-proxy.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const good = {
  k: 2,
  etcd: ['127.0.0.1:2379'],
  nodes: [
    { id: 'a', control: '127.0.0.1:8010', replication: '127.0.0.1:8110' },
    { id: 'b', control: '127.0.0.1:8011', replication: '192.0.2.7:8111', replicationListen: '0.0.0.0:8111' },
    { id: 'c', control: '127.0.0.1:8012', replication: '127.0.0.3:9112', replicationListen: 'localhost:8112' },
  ],
};

describe('replicationListen in the cluster file', () => {
  it('is optional: a node listens on its advertised endpoint unless it says otherwise', () => {
    const c = parseClusterConfig(good);
    const [a, b, n3] = c.nodes as [never, never, never];
    expect(replicationListenOf(a)).toBe('127.0.0.1:8110');
    expect(replicationListenOf(b)).toBe('0.0.0.0:8111');
    expect(replicationListenOf(n3)).toBe('127.0.0.1:8112');
    // outbound connections come from the listen host when it is a specific address; a wildcard
    // listen binds nothing (the advertised host may be a NAT address not on this machine)
    expect(replicationBindHostOf(a)).toBe('127.0.0.1');
    expect(replicationBindHostOf(b)).toBeUndefined();
    expect(replicationBindHostOf(n3)).toBe('127.0.0.1');
    const v6 = parseClusterConfig({ ...good, nodes: [{ id: 'a', control: '127.0.0.1:1', replication: '[::1]:2', replicationListen: '[::]:2' }], k: 1 });
    expect(replicationBindHostOf(v6.nodes[0]!)).toBeUndefined();
  });

  it('is refused with INVALID_CLUSTER_CONFIG naming the key when it is not HOST:PORT', () => {
    for (const bad of ['nowhere', 7, '127.0.0.1:0', 'udp://127.0.0.1:5']) {
      const doc = { ...good, nodes: [good.nodes[0], { ...good.nodes[1], replicationListen: bad }, good.nodes[2]] };
      let err: unknown;
      try {
        parseClusterConfig(doc);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VcrError);
      expect((err as VcrError).code).toBe(ErrorCode.INVALID_CLUSTER_CONFIG);
      expect((err as VcrError).message).toMatch(/'nodes\[1\]\.replicationListen'/);
    }
  });
});

describe('outbound connections bound to a local address', () => {
  it('reach the server from that address (127.0.0.2 is loopback too)', async () => {
    const server = new TransportServer('127.0.0.1:0');
    const port = await server.listen();
    cleanups.push(() => server.close());
    const r = new Reconnector(`127.0.0.1:${port}`, { localAddress: '127.0.0.2' });
    cleanups.push(() => r.close());
    const accepted: Connection[] = [];
    await until('connected and accepted', () => {
      r.doWork();
      server.poll((c) => accepted.push(c));
      return r.state === ReconnectorState.CONNECTED && accepted.length === 1;
    });
    expect(accepted[0]!.remoteAddress).toBe('127.0.0.2');
  });

  it('refuses a local address that is not an address literal', () => {
    expect(() => new Reconnector('127.0.0.1:9', { localAddress: 'localhost' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});

/** A TCP echo server on `host`; returns its port. */
async function echoServer(host: string): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const s = createServer((c) => {
    sockets.push(c);
    c.on('error', () => undefined);
    c.pipe(c);
  });
  const port = await freePortOn(host);
  await new Promise<void>((r) => s.listen(port, host, () => r()));
  cleanups.push(() => new Promise<void>((r) => {
    for (const c of sockets) c.destroy();
    s.close(() => r());
  }));
  return { port, sockets };
}

interface Client {
  socket: Socket;
  got: string;
  closed: boolean;
  error: string | undefined;
}

function client(port: number, localAddress: string): Client {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  const c: Client = { socket, got: '', closed: false, error: undefined };
  socket.on('data', (d) => (c.got += d.toString()));
  socket.on('error', (e: NodeJS.ErrnoException) => (c.error = e.code));
  socket.on('close', () => (c.closed = true));
  cleanups.push(() => void socket.destroy());
  return c;
}

describe('the test LinkProxy', () => {
  it('forwards, resets (RST) connections from the cut source only, and lets them reconnect after heal', async () => {
    const echo = await echoServer('127.0.0.1');
    const proxy = await LinkProxy.start('echo', '127.0.0.1', 0, `127.0.0.1:${echo.port}`, new Map([['127.0.0.2', 'b'], ['127.0.0.3', 'c']]));
    cleanups.push(() => proxy.close());
    const b = client(proxy.port, '127.0.0.2');
    const c = client(proxy.port, '127.0.0.3');
    b.socket.write('hello');
    c.socket.write('hi');
    await until('echoed', () => b.got === 'hello' && c.got === 'hi');
    proxy.cut('reset', ['b']);
    await until('b reset', () => b.closed);
    expect(b.error).toBe('ECONNRESET');
    c.socket.write('!');
    await until('c still forwarded', () => c.got === 'hi!');
    const again = client(proxy.port, '127.0.0.2');
    await until('a new connection from b is reset too', () => again.closed);
    proxy.heal(['b']);
    const healed = client(proxy.port, '127.0.0.2');
    healed.socket.write('back');
    await until('b forwarded after heal', () => healed.got === 'back');
  });

  it('blackholes: nothing forwarded either way, nothing closed, new connections held; heal delivers what was held', async () => {
    const echo = await echoServer('127.0.0.1');
    const proxy = await LinkProxy.start('echo', '127.0.0.1', 0, `127.0.0.1:${echo.port}`, new Map([['127.0.0.2', 'b']]));
    cleanups.push(() => proxy.close());
    const b = client(proxy.port, '127.0.0.2');
    b.socket.write('one');
    await until('echoed', () => b.got === 'one');
    proxy.cut('blackhole');
    b.socket.write('two');
    const fresh = client(proxy.port, '127.0.0.2');
    fresh.socket.write('three');
    await until('the new connection is accepted by the proxy', () => proxy.accepted === 2);
    // the destination never sees the held connection, and nothing comes back on either
    const sockets = echo.sockets.length;
    await sleep(300); // proving an absence: nothing may arrive in this window
    expect({ got: b.got, fresh: fresh.got, closed: b.closed || fresh.closed, sockets }).toEqual({ got: 'one', fresh: '', closed: false, sockets: 1 });
    proxy.heal();
    await until('held bytes delivered after heal', () => b.got === 'onetwo' && fresh.got === 'three');
    expect(echo.sockets.length).toBe(2);
  });

  it('a side that closes during a blackhole is not told to the other; the other is reset on heal', async () => {
    const echo = await echoServer('127.0.0.1');
    const proxy = await LinkProxy.start('echo', '127.0.0.1', 0, `127.0.0.1:${echo.port}`);
    cleanups.push(() => proxy.close());
    const b = client(proxy.port, '127.0.0.2');
    b.socket.write('x');
    await until('echoed', () => b.got === 'x');
    proxy.cut('blackhole');
    const server = echo.sockets[0]!;
    let serverClosed = false;
    server.on('close', () => (serverClosed = true));
    b.socket.destroy();
    await until('the proxy saw the client go', () => b.closed);
    await sleep(200); // proving an absence: the destination is not told
    expect(serverClosed).toBe(false);
    proxy.heal();
    await until('the destination side is reset on heal', () => serverClosed);
  });
});
