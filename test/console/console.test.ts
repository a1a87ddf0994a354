/**
 * The operator console in a real browser (headless Chromium driven by playwright-core) against
 * a real archiver process with recordings made over UDP: the timeline shows them, a gap is a
 * gap when zoomed into, the inspector shows the payloads sent, a replay started from the page
 * reaches a UDP socket of the test, a delete asks for confirmation (naming the holds) and is
 * refused where destructive actions are off, and a state-changing request without the
 * session's token is refused. Screenshots go to test-artifacts/.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveClient } from '../../src/client/archive-client.js';
import { removeTempDirs, sleep, until } from '../helpers/wait.js';
import { ARTIFACTS, ConsoleArchiver, Udp, launchBrowser, record } from './support.js';

// the page's globals, used inside page.evaluate callbacks (the project's lib has no DOM)
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const location: any;

const ROW_H = 24;
const ms = (ns: bigint): number => Number(ns / 1000n) / 1000;

let browser: Browser;
let a: ConsoleArchiver;
let client: ArchiveClient;
let tx: Udp;
const alphaPayloads = Array.from({ length: 25 }, (_, i) => `alpha-${i + 1} hello`);
const betaPayloads = ['beta-1', 'beta-2', 'beta-3'];
let rec1: Awaited<ReturnType<typeof record>>;
let rec2: Awaited<ReturnType<typeof record>>;
let beta: Awaited<ReturnType<typeof record>>;

async function open(url: string, hash = ''): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${url}${hash}`);
  await page.waitForFunction(() => document.body.dataset.loaded !== undefined);
  // the first live health snapshot is in (the layout does not move under a click after this)
  await page.waitForSelector('#health-summary .card');
  return page;
}

/** Page coordinates of (row, time) on the timeline canvas, from the view in the URL. */
async function pointAt(page: Page, row: number, tMs: number): Promise<{ x: number; y: number }> {
  return page.evaluate(
    ([row, t, rowH]) => {
      const p = new URLSearchParams(location.hash.slice(1));
      const from = Number(p.get('from'));
      const to = Number(p.get('to'));
      const r = document.getElementById('timeline')!.getBoundingClientRect();
      return { x: r.left + ((t! - from) / (to - from)) * r.width, y: r.top + row! * rowH! + rowH! / 2 };
    },
    [row, tMs, ROW_H],
  );
}

async function hoverText(page: Page, row: number, tMs: number): Promise<string> {
  const p = await pointAt(page, row, tMs);
  await page.mouse.move(p.x, p.y);
  await page.waitForSelector('#hover:not([hidden])');
  return (await page.textContent('#hover')) ?? '';
}

beforeAll(async () => {
  a = await ConsoleArchiver.start();
  client = await a.client();
  tx = await Udp.open();
  rec1 = await record(client, tx, 'alpha', alphaPayloads);
  // the gap: wall time passes with nothing recorded on alpha
  await sleep(1500);
  rec2 = await record(client, tx, 'alpha', ['alpha-after-gap']);
  beta = await record(client, tx, 'beta', betaPayloads);
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  tx?.close();
  await client?.close();
  await a?.stop();
  removeTempDirs();
});

describe('operator console', () => {
  it('serves the page and shows every recorded channel with its recordings on the timeline', async () => {
    const page = await open(a.url!);
    expect(await page.$$eval('#labels li', (els) => els.map((e) => e.textContent))).toEqual(['alpha', 'beta']);
    expect(await hoverText(page, 0, (ms(rec1.startUtcNs) + ms(rec1.stopUtcNs)) / 2)).toContain(`recording ${rec1.recordingId}`);
    expect(await hoverText(page, 1, (ms(beta.startUtcNs) + ms(beta.stopUtcNs)) / 2)).toContain(`recording ${beta.recordingId}`);
    // the view is in the URL: a pasted URL shows the same interval
    const hash = new URL(page.url()).hash;
    expect(hash).toMatch(/from=\d+&to=\d+/);
    await page.screenshot({ path: join(ARTIFACTS, 'console-timeline.png'), fullPage: true });
    if (process.env.VCR_UPDATE_SCREENSHOT) await page.screenshot({ path: join(__dirname, '../../docs/images/console.png') });
    await page.close();
  });

  it('zooming into the gap between two recordings shows a gap', async () => {
    const gapMid = (ms(rec1.stopUtcNs) + ms(rec2.startUtcNs)) / 2;
    const page = await open(a.url!, `#from=${Math.round(gapMid - 5000)}&to=${Math.round(gapMid + 5000)}`);
    await page.focus('#timeline');
    for (let i = 0; i < 6; i++) await page.keyboard.press('+'); // 10 s -> 156 ms around the gap's middle
    await page.waitForFunction(() => Number(new URLSearchParams(location.hash.slice(1)).get('to')) - Number(new URLSearchParams(location.hash.slice(1)).get('from')) < 200);
    const text = await hoverText(page, 0, gapMid);
    expect(text).toContain('gap');
    expect(await page.getAttribute('#hover', 'data-kind')).toBe('gap');
    await page.screenshot({ path: join(ARTIFACTS, 'console-gap.png') });
    await page.close();
  });

  it('the inspector shows the payloads sent, with paging', async () => {
    const page = await open(a.url!);
    const p = await pointAt(page, 0, ms(rec1.startUtcNs));
    await page.mouse.click(p.x - 2, p.y);
    await page.waitForSelector('#events tbody tr td.text');
    const texts = await page.$$eval('#events tbody td.text', (els) => els.map((e) => e.textContent));
    expect(texts.slice(0, 20)).toEqual(alphaPayloads.slice(0, 20));
    expect(await page.textContent('#events tbody tr:first-child td.hex')).toContain('61 6c 70 68 61 2d 31'); // "alpha-1"
    expect(await page.textContent('#events tbody tr:first-child')).toContain(`alpha #${rec1.recordingId}`);
    await page.click('#page-next');
    await page.waitForFunction(() => document.querySelector('#events tbody td.text')?.textContent === 'alpha-21 hello');
    expect(await page.$$eval('#events tbody td.text', (els) => els.map((e) => e.textContent))).toEqual(alphaPayloads.slice(20));
    await page.click('#page-prev');
    await page.waitForFunction(() => document.querySelector('#events tbody td.text')?.textContent === 'alpha-1 hello');
    await page.screenshot({ path: join(ARTIFACTS, 'console-inspector.png'), fullPage: true });
    await page.close();
  });

  it('a replay started from the page arrives at a UDP socket of the test', async () => {
    const rx = await Udp.open();
    try {
      const from = ms(beta.startUtcNs) - 1;
      const to = ms(beta.stopUtcNs) + 1;
      const page = await open(a.url!, `#from=${Math.round(from - 1000)}&to=${Math.round(to + 1000)}&channels=beta&sel=${Math.floor(from)}_${Math.ceil(to)}`);
      await page.fill('#replay-dest', `udp://127.0.0.1:${rx.port}`);
      await page.fill('#replay-speed', '0');
      await page.click('#replay-start');
      await until('the replayed events', () => rx.received.length >= betaPayloads.length, 10_000);
      expect(rx.received.map((b) => b.toString())).toEqual(betaPayloads);
      // the events can arrive before the page has the answer to its request
      await until('the page says the replay started', async () => /replay \d+ started/.test((await page.textContent('#message')) ?? ''), 10_000);
      await page.close();
    } finally {
      rx.close();
    }
  });

  it('refuses a state-changing request without the session token', async () => {
    const body = JSON.stringify({ channel: 'alpha', from: '0', to: '1' });
    const plain = await fetch(`${a.url}api/holds`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(plain.status).toBe(403);
    const s = await fetch(`${a.url}api/session`);
    const cookie = s.headers.get('set-cookie')!.split(';')[0]!;
    const { csrfToken } = (await s.json()) as { csrfToken: string };
    const wrong = await fetch(`${a.url}api/holds`, { method: 'POST', body, headers: { cookie, 'x-vcr-csrf': `${csrfToken}x` } });
    expect(wrong.status).toBe(403);
    const noCookie = await fetch(`${a.url}api/holds`, { method: 'POST', body, headers: { 'x-vcr-csrf': csrfToken } });
    expect(noCookie.status).toBe(403);
    expect(await client.listQuarantines()).toEqual([]);
    // the page's own fetch without the header is refused too
    const page = await open(a.url!);
    expect(await page.evaluate(async () => (await fetch('/api/holds', { method: 'POST', body: '{}' })).status)).toBe(403);
    await page.close();
  });

  it('a delete states what goes and which hold protects what, and needs a confirmation', async () => {
    const from = ms(rec1.startUtcNs) - 1;
    const to = ms(rec2.stopUtcNs) + 1;
    const view = `#from=${Math.round(from - 1000)}&to=${Math.round(to + 1000)}&channels=alpha`;
    // a hold on the second recording first
    const page = await open(a.url!, `${view}&sel=${Math.floor(ms(rec2.startUtcNs) - 1)}_${Math.ceil(ms(rec2.stopUtcNs) + 1)}`);
    await page.click('#hold-add');
    await page.waitForFunction(() => /hold \d+ added/.test(document.getElementById('message')!.textContent!));
    const holdId = (await client.listQuarantines())[0]!.quarantineId;
    await page.goto(`${a.url}${view}&sel=${Math.floor(from)}_${Math.ceil(to)}`);
    await page.waitForFunction(() => document.body.dataset.loaded !== undefined);
    await page.click('#delete-start');
    await page.waitForSelector('#confirm-delete[open]');
    expect(await page.textContent('#confirm-summary')).toContain(`${alphaPayloads.length} events`);
    expect(await page.textContent('#confirm-body')).toContain(`Hold ${holdId}`);
    await page.screenshot({ path: join(ARTIFACTS, 'console-delete-confirm.png') });
    await page.click('#confirm-cancel');
    await page.waitForFunction(() => document.getElementById('message')!.textContent === 'delete cancelled');
    expect((await client.describeRecording(rec1.recordingId)).eventCount).toBe(alphaPayloads.length);
    await page.click('#delete-start');
    await page.waitForSelector('#confirm-delete[open]');
    await page.click('#confirm-ok');
    await page.waitForFunction(() => /events deleted/.test(document.getElementById('message')!.textContent!));
    expect(await page.textContent('#message')).toBe(`${alphaPayloads.length} events deleted`);
    // the held recording kept its event
    const events = await page.evaluate(async (at) => (await (await fetch(`/api/events?channel=alpha&at=${at}`)).json()) as { events: unknown[] }, String(rec2.startUtcNs));
    expect(events.events).toHaveLength(1);
    await page.close();
  });

  it('a delete is refused where destructive actions are disabled, after the confirmation says so', async () => {
    const b = await ConsoleArchiver.start({ allowDestructive: false });
    const c = await b.client();
    try {
      const g = await record(c, tx, 'gamma', ['g1', 'g2', 'g3']);
      const from = Math.floor(ms(g.startUtcNs) - 1);
      const to = Math.ceil(ms(g.stopUtcNs) + 1);
      const page = await open(b.url!, `#from=${from - 1000}&to=${to + 1000}&channels=gamma&sel=${from}_${to}`);
      await page.click('#delete-start');
      await page.waitForSelector('#confirm-delete[open]');
      expect(await page.textContent('#confirm-summary')).toContain('3 events');
      expect(await page.textContent('#confirm-body')).toContain('allowDestructive is false');
      await page.click('#confirm-ok');
      await page.waitForFunction(() => /NOT_ALLOWED/.test(document.getElementById('message')!.textContent!));
      expect((await c.describeRecording(g.recordingId)).eventCount).toBe(3);
      await page.close();
    } finally {
      await c.close();
      await b.stop();
    }
  });
});
