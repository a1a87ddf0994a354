/**
 * Fuzzes the control endpoint of a real archiver over real UDP: 100,000 datagrams that are
 * random bytes or mutations of valid requests (bit flips, truncations, header fields, lying
 * var-data lengths and group headers, huge counts, trailing garbage), with a valid client's
 * requests interleaved throughout. Every valid request must succeed, the archiver must keep
 * running, and the malformed ones must be counted.
 *
 * The fuzzer uses its own control session, opened from the socket that sends the fuzz (a
 * session only accepts requests from the address and port that opened it) on an address of
 * its own (127.0.0.2, so the sessions its mutated connects open count against that address,
 * not the valid client's), reconnected regularly since a mutated CloseSessionRequest may close
 * it; bit flips spare the controlSessionId field so a mutation cannot turn into a request on
 * the valid client's session. Destructive requests are disabled.
 * AddQuarantineRequest is left out of the seeds: each accepted one is a durable (fsynced) write
 * of the holds file, ~15 ms, which would make this test slow without testing anything more.
 */
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Ids } from '../../src/client/control-request-proxy.js';
import { RawClient, decodeResponse, decodeStats, launchArchiver, removeDir, templateOf, until, type Response } from './support.js';

const FUZZ_DATAGRAMS = 100_000;
const BURST = Number(process.env.FUZZ_BURST ?? 500);

/** xorshift32: deterministic, seedable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

describe('control endpoint fuzz', () => {
  it('keeps serving a valid client through 100,000 random and mutated datagrams', async () => {
    const seed = Number(process.env.VCR_FUZZ_SEED ?? 0x5eed1234);
    const rand = rng(seed);
    const int = (n: number) => Math.floor(rand() * n);
    const { archiver, dir } = await launchArchiver({
      allowDestructive: false,
      limits: { maxRecordings: 8, maxReplays: 8, maxSessionsPerAddress: 1024 },
    });
    const valid = await RawClient.connect(archiver.controlPort);
    const fuzzer = await RawClient.bare(archiver.controlPort);
    const blaster = createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
    await new Promise<void>((r) => blaster.bind(0, '127.0.0.2', () => r()));
    const connectAnswers = new Map<bigint, Response>();
    blaster.on('message', (m) => {
      if (templateOf(m) === 100 && m.length >= 24 && m.readBigInt64LE(16) >= 1n << 40n) {
        const r = decodeResponse(m);
        connectAnswers.set(r.correlationId, r);
      }
    });
    let nextFuzzConnect = 1n << 40n;
    /** A control session of the blaster's own socket (correlationIds above 2^40: the fuzz uses < 2^30). */
    const fuzzSession = async (): Promise<number> => {
      for (;;) {
        const corr = nextFuzzConnect++;
        blaster.send(fuzzer.proxy.connect(corr, 0, '', 'fuzz'), archiver.controlPort, '127.0.0.1');
        const r = await until('fuzz session', () => connectAnswers.get(corr), 1000).catch(() => undefined);
        if (r?.ok) return r.relevantId;
        if (r) throw new Error(`fuzz session refused: ${r.errorCode} ${r.errorMessage}`);
      }
    };
    try {
      // something to query: a small finished file recording
      const file = join(dir, 'seed.txt');
      writeFileSync(file, 'alpha\nbeta\ngamma\n');
      const rec = await valid.call((ids) => valid.proxy.startRecording(ids, 'seed', `file://${file}`, ['seed.alias']));
      expect(rec.response.ok).toBe(true);
      const recordingId = Number(rec.response.relevantId);

      const p = fuzzer.proxy;
      const dest = 'udp://127.0.0.1:9';
      const templates: ((ids: Ids) => Buffer)[] = [
        (ids) => p.closeSession(ids),
        (ids) => p.keepAlive(ids),
        (ids) => p.startRecording(ids, `fz${int(1000)}`, `udp://127.0.0.1:${20000 + int(20000)}`, ['a', 'b']),
        (ids) => p.stopRecording(ids, int(2) ? null : int(5), 'seed'),
        (ids) => p.replay(ids, { recordingId: int(3), position: int(2) ? null : int(64), length: int(2) ? null : int(100), speed: rand() * 4, follow: int(2) === 1, destination: dest }),
        (ids) => p.timeReplay(ids, { fromUtcNs: null, toUtcNs: null, speed: 0, follow: false, channels: [{ channel: 'seed', destination: dest }, { channel: 'seed.alias', destination: dest }] }),
        (ids) => p.stopReplay(ids, int(10)),
        (ids) => p.read(ids, { recordingId: int(3), position: int(4) * 8, fragmentOffset: int(3), maxBytes: int(70000), toUtcNs: int(2) ? null : BigInt(int(1e9)) }),
        (ids) => p.listRecordings(ids, { fromRecordingId: 0, maxCount: int(5), states: ['stopped'], fromUtcNs: null, toUtcNs: null, channel: int(2) ? '' : 'seed' }),
        (ids) => p.describeRecording(ids, int(3)),
        (ids) => p.recordingPosition(ids, int(3)),
        (ids) => p.findPosition(ids, int(3), BigInt(int(1e9))),
        (ids) => p.listChannels(ids),
        (ids) => p.stats(ids),
        (ids) => p.removeQuarantine(ids, int(3)),
        (ids) => p.listQuarantines(ids),
        (ids) => p.deleteEvents(ids, 0n, 100n, ''),
        (ids) => p.clusterStatus(ids),
        (ids) => p.subscribeNotifications(ids, int(64)),
        (ids) => p.connect(ids.correlationId, int(3) * 1000, int(4) ? '' : 'udp://127.0.0.1:9', 'fuzz'),
      ];

      const mutate = (orig: Buffer): Buffer => {
        const b = Buffer.from(orig);
        const protectSession = templateOf(b) >= 2 && templateOf(b) <= 99;
        switch (int(9)) {
          case 0: {
            // random bytes
            const r = Buffer.alloc(int(120));
            for (let i = 0; i < r.length; i++) r[i] = int(256);
            return r;
          }
          case 1:
            return b.subarray(0, int(b.length)); // truncation
          case 2: {
            // header field: blockLength, templateId, schemaId or version
            const field = int(4) * 2;
            b.writeUInt16LE(int(4) === 0 ? int(65536) : Math.max(0, b.readUInt16LE(field) + int(5) - 2), field);
            return b;
          }
          case 3: {
            // lie about a var-data or group length somewhere after the block
            const block = b.length >= 8 ? b.readUInt16LE(0) : 0;
            if (b.length < 8 + block + 2) return b;
            const at = 8 + block + int(b.length - 8 - block - 1);
            b.writeUInt16LE([0xffff, 0, int(65536), b.length][int(4)]!, at);
            return b;
          }
          case 4: {
            // huge group count / block length right after the block (aliases, channels groups)
            const block = b.length >= 8 ? b.readUInt16LE(0) : 0;
            if (b.length < 8 + block + 4) return b;
            b.writeUInt16LE(int(2) ? 0xffff : int(65536), 8 + block + 2);
            if (int(2)) b.writeUInt16LE(int(65536), 8 + block);
            return b;
          }
          case 5:
            return Buffer.concat([b, Buffer.alloc(int(64), int(256))]); // trailing garbage
          default: {
            // 1-8 bit flips, sparing the session id field
            const flips = 1 + int(8);
            for (let k = 0; k < flips; k++) {
              const at = int(b.length);
              if (protectSession && at >= 8 && at < 16) continue;
              b[at]! ^= 1 << int(8);
            }
            return b;
          }
        }
      };

      const validRequests: ((ids: Ids) => Buffer)[] = [
        (ids) => valid.proxy.stats(ids),
        (ids) => valid.proxy.describeRecording(ids, recordingId),
        (ids) => valid.proxy.read(ids, { recordingId, position: 0, fragmentOffset: 0, maxBytes: 0, toUtcNs: null }),
        (ids) => valid.proxy.listRecordings(ids, { fromRecordingId: 0, maxCount: 0, states: [], fromUtcNs: null, toUtcNs: null, channel: 'seed' }),
        (ids) => valid.proxy.keepAlive(ids),
        (ids) => valid.proxy.findPosition(ids, recordingId, 0n),
        (ids) => valid.proxy.listChannels(ids),
      ];
      // A valid request may be lost in the flood (UDP): retry with the same correlationId, as the client library does.
      const validCall = async (k: number): Promise<Response> => {
        const ids = valid.ids();
        const buf = validRequests[k % validRequests.length]!(ids);
        for (let attempt = 0; ; attempt++) {
          try {
            return (await valid.exchange(buf, ids.correlationId, 1000)).response;
          } catch (err) {
            if (attempt >= 4) throw err;
          }
        }
      };

      let sent = 0;
      let validOk = 0;
      let validTotal = 0;
      while (sent < FUZZ_DATAGRAMS) {
        if (sent % 5000 === 0) {
          // a fresh fuzz session now and then: a mutated close may have ended the last one
          fuzzer.sessionId = await fuzzSession();
        }
        for (let i = 0; i < BURST; i++) {
          const t = templates[int(templates.length)]!;
          const ids = { controlSessionId: fuzzer.sessionId, correlationId: BigInt(int(1 << 30)) };
          const d = int(10) === 0 ? t(ids) : mutate(t(ids));
          blaster.send(d, archiver.controlPort, '127.0.0.1');
        }
        sent += BURST;
        const r = await validCall(validTotal++);
        if (r.ok) validOk++;
        else throw new Error(`valid request ${validTotal} failed: ${r.errorCode} ${r.errorMessage} (seed ${seed})`);
      }
      expect(validOk).toBe(validTotal);
      expect(validTotal).toBe(FUZZ_DATAGRAMS / BURST);

      const stats = decodeStats((await until('stats', () => validCallStats())).data);
      async function validCallStats() {
        return valid.call((ids) => valid.proxy.stats(ids), 2000);
      }
      expect(stats.get('controlMalformed')!).toBeGreaterThan(FUZZ_DATAGRAMS / 4);
      expect(stats.get('malformed')!).toBeGreaterThanOrEqual(stats.get('controlMalformed')!);
      expect(archiver.runner.isRunning).toBe(true);
    } finally {
      blaster.close();
      valid.close();
      fuzzer.close();
      await archiver.close();
      removeDir(dir);
    }
  }, 120_000);
});
