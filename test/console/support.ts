/**
 * Browser-test support: a real `vcr archiver` process (console on a free port, read from the
 * line it prints), recordings made over real UDP, and headless Chromium (Debian's package)
 * driven by playwright-core. When /usr/bin/chromium is missing the set-up installs the Debian
 * package if it can (root with apt-get), and otherwise fails saying what to install.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { repoRoot, vcrBin } from '../helpers/cli.js';
import { tempDir, until } from '../helpers/wait.js';

export const CHROMIUM = process.env.VCR_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(repoRoot, 'test-artifacts');

export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  if (!existsSync(CHROMIUM)) throw new Error(`the browser tests need Chromium at ${CHROMIUM}: install Debian's 'chromium' package (or set VCR_CHROMIUM)`);
}

export async function launchBrowser(): Promise<Browser> {
  ensureChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

export class ConsoleArchiver {
  stderr = '';
  stdout = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-50_000)));
    child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }

  /** Starts `vcr archiver` with the given config document; resolves once the console URL is printed. */
  static async start(config: Record<string, unknown> = {}): Promise<ConsoleArchiver> {
    const dir = tempDir('vcr-console-');
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ control: '127.0.0.1:0', http: '127.0.0.1:0', ...config }));
    const child = spawn(process.execPath, [vcrBin, 'archiver', '--dir', join(dir, 'archive'), '--config', configFile], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const a = new ConsoleArchiver(child);
    await until('the archiver to print its console URL', () => {
      if (child.exitCode !== null) throw new Error(`archiver exited: ${a.stderr}`);
      return a.url !== undefined && a.control !== undefined;
    }, 30_000);
    return a;
  }

  get url(): string | undefined {
    return /VCR console: (\S+)/.exec(this.stdout)?.[1];
  }

  get control(): string | undefined {
    return /"control":"([^"]+)"/.exec(this.stderr)?.[1];
  }

  client(): Promise<ArchiveClient> {
    return ArchiveClient.connect({ archiver: this.control!, timeoutMs: 2000 });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A UDP socket of the test: sends events to sources, receives replays. */
export class Udp {
  readonly received: Buffer[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('message', (m) => this.received.push(m));
  }

  static async open(): Promise<Udp> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new Udp(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(payload: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(payload, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.socket.close();
  }
}

/** A free UDP port for a source (bound and released). */
export async function freePort(): Promise<number> {
  const u = await Udp.open();
  const p = u.port;
  u.close();
  return p;
}

/**
 * Records `payloads` on `channel` over real UDP as one recording: start, send each (waiting
 * until the archiver counted them), stop. Returns the recording's descriptor times.
 */
export async function record(c: ArchiveClient, tx: Udp, channel: string, payloads: string[]): Promise<{ recordingId: number; startUtcNs: bigint; stopUtcNs: bigint }> {
  const port = await freePort();
  const recordingId = await c.startRecording({ channel, source: `udp://127.0.0.1:${port}` });
  for (const p of payloads) await tx.send(p, port);
  await until(`${payloads.length} events in ${channel}`, async () => (await c.describeRecording(recordingId)).eventCount >= payloads.length, 10_000);
  await c.stopRecording({ recordingId });
  const d = await c.describeRecording(recordingId);
  return { recordingId, startUtcNs: d.startUtcNs, stopUtcNs: d.stopUtcNs };
}
