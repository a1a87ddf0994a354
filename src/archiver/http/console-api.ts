/**
 * The console's JSON API (docs/ARCHIVER.md "HTTP: console and metrics"). Every route is a thin
 * translation: query/body -> control request(s) -> JSON. The requests run through the control
 * handlers (ConsoleControl), so the API can do nothing a control client cannot, and
 * allowDestructive, holds and the cluster's read barrier apply the same way. `/api/live` is a
 * Server-Sent Events stream of the health snapshot, one per second, shared by all listeners.
 */
import type { ServerResponse } from 'node:http';
import { ErrorCode, VcrError } from '../../util/errors.js';
import type { ConsoleControl } from './console-control.js';
import type { CsrfSessions } from './csrf.js';
import { readJson, sendError, sendJson } from './http-server.js';
import type { JsonMessage } from './json-responses.js';
import type { RouteContext, Router } from './router.js';

export interface ConsoleInfo {
  allowDestructive: boolean;
  control: string;
  nodeId: string | undefined;
}

const LIVE_INTERVAL_MS = 1000;
const MAX_PAGE = 200;
const READ_BYTES = 64 * 1024;
/** Bytes of a payload the inspector shows (the event's full length is reported). */
const SHOWN_PAYLOAD = 4096;

function bad(message: string): VcrError {
  return new VcrError(ErrorCode.INVALID_ARGUMENT, message);
}

/** A UTC time in nanoseconds given as a decimal string. */
function nsOf(v: unknown, name: string): bigint {
  if (typeof v === 'string' && /^-?[0-9]{1,20}$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  throw bad(`${name} must be a UTC time in nanoseconds (a decimal string)`);
}

function optionalNs(v: unknown, name: string): bigint | null {
  return v === undefined || v === null || v === '' ? null : nsOf(v, name);
}

function intOf(v: unknown, name: string, min: number, max: number, fallback?: number): number {
  if ((v === undefined || v === null || v === '') && fallback !== undefined) return fallback;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw bad(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

function strOf(v: unknown, name: string, allowEmpty = false): string {
  if (typeof v !== 'string' || (!allowEmpty && v === '')) throw bad(`${name} must be a${allowEmpty ? '' : ' non-empty'} string`);
  return v;
}

function ofKind(data: JsonMessage[], kind: string): Record<string, unknown>[] {
  return data.filter((d) => d.kind === kind).map(({ kind: _k, ...rest }) => rest);
}

export class ConsoleApi {
  private readonly live = new Set<ServerResponse>();
  private liveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly control: ConsoleControl,
    private readonly info: ConsoleInfo,
    private readonly nowUtcNs: () => bigint,
  ) {}

  routes(router: Router, csrf: CsrfSessions): void {
    router.get('/api/session', ({ req, res }) => {
      const s = csrf.session(req);
      if (s.setCookie) res.setHeader('set-cookie', s.setCookie);
      sendJson(res, 200, { csrfToken: s.token, ...this.info, nowUtcNs: this.nowUtcNs().toString() });
    });
    router.get('/api/overview', (c) => this.overview(c));
    router.get('/api/rates', (c) => this.rates(c));
    router.get('/api/events', (c) => this.events(c));
    router.get('/api/health', async ({ res }) => sendJson(res, 200, await this.health()));
    router.get('/api/live', (c) => this.subscribe(c));
    router.get('/api/holds', async ({ res }) => sendJson(res, 200, { holds: await this.holds() }));
    router.post('/api/recordings', (c) => this.act(c, async (b) => {
      const aliases = Array.isArray(b.aliases) ? b.aliases.map((a, i) => strOf(a, `aliases[${i}]`)) : [];
      const a = await this.control.request({ type: 'startRecording', channel: strOf(b.channel, 'channel'), source: strOf(b.source, 'source'), aliases });
      return { recordingId: a.relevantId };
    }));
    router.post('/api/recordings/stop', (c) => this.act(c, async (b) => {
      const recordingId = b.recordingId === undefined ? null : intOf(b.recordingId, 'recordingId', 0, Number.MAX_SAFE_INTEGER);
      const channel = recordingId === null ? strOf(b.channel, 'channel') : '';
      const a = await this.control.request({ type: 'stopRecording', recordingId, channel });
      return { recordingId: a.relevantId };
    }));
    router.post('/api/replays', (c) => this.act(c, async (b) => {
      if (!Array.isArray(b.channels) || b.channels.length === 0) throw bad('channels must be a non-empty array of channel names');
      const destination = strOf(b.destination, 'destination');
      const channels = b.channels.map((ch, i) => ({ channel: strOf(ch, `channels[${i}]`), destination }));
      const speed = typeof b.speed === 'number' ? b.speed : Number(b.speed ?? 1);
      if (!Number.isFinite(speed) || speed < 0 || speed > 1e6) throw bad('speed must be from 0 to 1e6');
      const a = await this.control.request({
        type: 'timeReplay',
        fromUtcNs: optionalNs(b.from, 'from'),
        toUtcNs: optionalNs(b.to, 'to'),
        speed,
        follow: false,
        channels,
      });
      return { replaySessionId: a.relevantId };
    }));
    router.delete('/api/replays/:id', (c) => this.act(c, async () => {
      const id = intOf(c.params.id, 'replay id', 1, Number.MAX_SAFE_INTEGER);
      await this.control.request({ type: 'stopReplay', replaySessionId: id });
      return { stopped: id };
    }));
    router.post('/api/holds', (c) => this.act(c, async (b) => {
      const a = await this.control.request({ type: 'addQuarantine', channel: strOf(b.channel ?? '', 'channel', true), fromUtcNs: nsOf(b.from, 'from'), toUtcNs: nsOf(b.to, 'to') });
      return { quarantineId: a.relevantId };
    }));
    router.delete('/api/holds/:id', (c) => this.act(c, async () => {
      const id = intOf(c.params.id, 'hold id', 0, Number.MAX_SAFE_INTEGER);
      await this.control.request({ type: 'removeQuarantine', quarantineId: id });
      return { removed: id };
    }));
    router.post('/api/delete/preview', (c) => this.act(c, async (b) => {
      const a = await this.control.request({ type: 'deletePreview', channel: strOf(b.channel ?? '', 'channel', true), fromUtcNs: nsOf(b.from, 'from'), toUtcNs: nsOf(b.to, 'to') });
      return { ...ofKind(a.data, 'deletePreview')[0], allowDestructive: this.info.allowDestructive };
    }));
    router.post('/api/delete', (c) => this.act(c, async (b) => {
      const a = await this.control.request({ type: 'delete', channel: strOf(b.channel ?? '', 'channel', true), fromUtcNs: nsOf(b.from, 'from'), toUtcNs: nsOf(b.to, 'to') });
      return { deleted: a.relevantId };
    }));
  }

  /** A state-changing route: body in, control request(s), JSON out. */
  private async act(c: RouteContext, run: (body: Record<string, unknown>) => Promise<object>): Promise<void> {
    sendJson(c.res, 200, await run(await readJson(c.req)));
  }

  private async overview({ res, query }: RouteContext): Promise<void> {
    const fromUtcNs = optionalNs(query.get('from'), 'from');
    const toUtcNs = optionalNs(query.get('to'), 'to');
    const [channels, recordings, holds] = await Promise.all([
      this.control.request({ type: 'listChannels' }),
      this.control.request({ type: 'listRecordings', fromRecordingId: 0, maxCount: 0, states: new Set(), fromUtcNs, toUtcNs, channel: '' }),
      this.holds(),
    ]);
    sendJson(res, 200, {
      nowUtcNs: this.nowUtcNs().toString(),
      channels: ofKind(channels.data, 'channel'),
      recordings: ofKind(recordings.data, 'recording').filter((r) => r.state !== 'deleted' && r.state !== 'invalid'),
      holds,
    });
  }

  private async rates({ res, query }: RouteContext): Promise<void> {
    const fromUtcNs = nsOf(query.get('from'), 'from');
    const toUtcNs = nsOf(query.get('to'), 'to');
    const buckets = intOf(query.get('buckets'), 'buckets', 1, 2048, 200);
    const a = await this.control.request({ type: 'eventRates', channel: query.get('channel') ?? '', fromUtcNs, toUtcNs, buckets });
    sendJson(res, 200, { fromUtcNs: fromUtcNs.toString(), toUtcNs: toUtcNs.toString(), buckets, channels: ofKind(a.data, 'rates') });
  }

  private async holds(): Promise<Record<string, unknown>[]> {
    return ofKind((await this.control.request({ type: 'listQuarantines' })).data, 'hold');
  }

  /**
   * A page of events: from a recording's position, or from the first event at or after `at`
   * in a channel. Large events come in fragments: the first is shown, the rest skipped.
   */
  private async events({ res, query }: RouteContext): Promise<void> {
    const count = intOf(query.get('count'), 'count', 1, MAX_PAGE, 20);
    let recordingId: number;
    let position: number;
    let channel: string;
    if (query.has('recording')) {
      recordingId = intOf(query.get('recording'), 'recording', 0, Number.MAX_SAFE_INTEGER);
      position = intOf(query.get('position'), 'position', 0, Number.MAX_SAFE_INTEGER);
      const d = await this.control.request({ type: 'describe', recordingId });
      channel = String(ofKind(d.data, 'recording')[0]?.channel ?? '');
    } else {
      channel = strOf(query.get('channel'), 'channel');
      const at = nsOf(query.get('at'), 'at');
      const list = await this.control.request({ type: 'listRecordings', fromRecordingId: 0, maxCount: 0, states: new Set(), fromUtcNs: at, toUtcNs: null, channel });
      const recs = ofKind(list.data, 'recording')
        .filter((r) => r.state !== 'deleted' && r.state !== 'invalid')
        .sort((a, b) => (BigInt(a.startUtcNs as string) < BigInt(b.startUtcNs as string) ? -1 : 1));
      const rec = recs[0];
      if (!rec) {
        sendJson(res, 200, { channel, events: [], next: null });
        return;
      }
      recordingId = rec.recordingId as number;
      position = (await this.control.request({ type: 'findPosition', recordingId, utcNs: at })).relevantId;
    }
    const events: Record<string, unknown>[] = [];
    let fragmentOffset = 0;
    let end = false;
    while (events.length < count && !end) {
      const a = await this.control.request({ type: 'read', recordingId, position, fragmentOffset, maxBytes: READ_BYTES, toUtcNs: null });
      const chunk = ofKind(a.data, 'chunk')[0] as { nextPosition: number; nextFragmentOffset: number; endOfRecording: boolean; events: Record<string, unknown>[] };
      for (const e of chunk.events) {
        if (e.fragmentOffset !== 0 || events.length >= count) continue;
        const payload = Buffer.from(e.payload as string, 'base64');
        events.push({ ...e, payload: payload.subarray(0, SHOWN_PAYLOAD).toString('base64'), recordingId, channel });
      }
      if (events.length >= count) {
        // the next page starts at the first event not shown
        const last = chunk.events.find((e) => e.fragmentOffset === 0 && !events.some((x) => x.position === e.position));
        position = last ? (last.position as number) : chunk.nextPosition;
        fragmentOffset = last ? 0 : chunk.nextFragmentOffset;
        break;
      }
      end = chunk.endOfRecording || (chunk.events.length === 0 && chunk.nextPosition === position && chunk.nextFragmentOffset === fragmentOffset);
      position = chunk.nextPosition;
      fragmentOffset = chunk.nextFragmentOffset;
    }
    sendJson(res, 200, { channel, recordingId, events, next: end ? null : { recordingId, position } });
  }

  private async health(): Promise<Record<string, unknown>> {
    const [stats, cluster] = await Promise.all([this.control.request({ type: 'stats' }), this.control.request({ type: 'clusterStatus' })]);
    const s = ofKind(stats.data, 'stats')[0] ?? {};
    return { utcNs: s.utcNs, counters: s.counters ?? {}, cluster: ofKind(cluster.data, 'cluster')[0] ?? null, nodeId: this.info.nodeId ?? null };
  }

  private subscribe({ req, res }: RouteContext): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    this.live.add(res);
    req.on('close', () => {
      this.live.delete(res);
      if (this.live.size === 0 && this.liveTimer) {
        clearInterval(this.liveTimer);
        this.liveTimer = undefined;
      }
    });
    void this.broadcast([res]);
    this.liveTimer ??= setInterval(() => void this.broadcast([...this.live]), LIVE_INTERVAL_MS);
  }

  private async broadcast(to: ServerResponse[]): Promise<void> {
    let line: string;
    try {
      line = `event: health\ndata: ${JSON.stringify(await this.health())}\n\n`;
    } catch (err) {
      line = `event: failure\ndata: ${JSON.stringify({ message: err instanceof Error ? err.message : String(err) })}\n\n`;
    }
    for (const r of to) if (!r.writableEnded) r.write(line);
  }

  /** Ends the live streams (the server is closing). */
  close(): void {
    if (this.liveTimer) clearInterval(this.liveTimer);
    this.liveTimer = undefined;
    for (const r of this.live) r.end();
    this.live.clear();
  }
}

export { sendError };
