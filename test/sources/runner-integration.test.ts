import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { AgentRunner, BackoffIdleStrategy, type Agent } from '../../src/agent/index.js';
import { UdpSource, parseSourceUri, type Source, type UdpSourceSpec } from '../../src/sources/index.js';
import { nextTick } from './helpers.js';

/** What the recorder does, minus storage: poll the source from a duty cycle. */
class PollingAgent implements Agent {
  readonly roleName = 'poller';
  received: string[] = [];
  constructor(private readonly source: Source) {}
  doWork(): number {
    return this.source.poll((b, o, l) => this.received.push(b.toString('utf8', o, o + l)), 64);
  }
  onClose(): void {
    this.source.close();
  }
}

describe('AgentRunner polling a UdpSource on the real event loop', () => {
  it('gets every datagram; a parked runner is woken by the source', async () => {
    const src = new UdpSource(parseSourceUri('udp://127.0.0.1:0') as UdpSourceSpec);
    await src.open();
    const agent = new PollingAgent(src);
    // Parks of 30 s: only wake() can get the datagrams polled within the test's bounds.
    const runner = new AgentRunner(agent, {
      idleStrategy: new BackoffIdleStrategy({ maxSpins: 1, maxYields: 1, minParkPeriodNs: 30e9, maxParkPeriodNs: 30e9 }),
    });
    src.onAvailable = () => runner.wake();
    runner.start();
    const sender = dgram.createSocket('udp4');
    const expected: string[] = [];
    for (let burst = 0; burst < 5; burst++) {
      while (!runner.isParked) await nextTick();
      for (let i = 0; i < 200; i++) {
        const m = `b${burst}-${i}`;
        expected.push(m);
        await new Promise<void>((r, j) => sender.send(m, src.localPort, '127.0.0.1', (e) => (e ? j(e) : r())));
      }
      for (let r = 0; r < 200_000 && agent.received.length < expected.length; r++) await nextTick();
      expect(agent.received.length).toBe(expected.length);
    }
    sender.close();
    await runner.close();
    expect(agent.received).toEqual(expected);
    expect(src.isEnded()).toBe(true);
  });
});
