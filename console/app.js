// The operator console: wires the timeline, inspector, health and actions to the API.
import { ApiError, del, get, openSession, post, session } from './api.js';
import { Health } from './health.js';
import { Inspector } from './inspector.js';
import { readUrl, state, writeUrl } from './state.js';
import { Timeline } from './timeline.js';
import { bytes, msOf, nsOf, utc, timeCell } from './time.js';

const $ = (id) => document.getElementById(id);
const message = $('message');

function report(err) {
  message.className = 'error';
  message.textContent = err instanceof ApiError ? err.message : String(err && err.message ? err.message : err);
}
function ok(text) { message.className = 'ok'; message.textContent = text; }

let overview = null;
let loadSeq = 0;
const timeline = new Timeline({
  onView: (what) => (what === 'fit' ? fit() : scheduleLoad()),
  onInspect: (channel, ms) => inspector.at(channel, ms),
  onSelect: () => showSelection(),
});
const inspector = new Inspector(report);
const health = new Health({ onStop: (channel) => act(() => post('/api/recordings/stop', { channel }), `stopped ${channel}`) });

/** Everything recorded (for Fit), then the view's recordings and rates. */
async function load() {
  const seq = ++loadSeq;
  const from = nsOf(state.from); const to = nsOf(state.to);
  const buckets = Math.max(1, Math.min(2048, Math.floor(timeline.width / 3)));
  const [ov, rates] = await Promise.all([
    get(`/api/overview?from=${from}&to=${to}`),
    state.to > state.from ? get(`/api/rates?from=${from}&to=${to}&buckets=${buckets}`) : { channels: [] },
  ]);
  if (seq !== loadSeq) return;
  overview = ov;
  timeline.setData({
    channels: ov.channels.map((c) => c.channel),
    recordings: ov.recordings.map((r) => ({ ...r, startMs: msOf(r.startUtcNs), stopMs: msOf(r.stopUtcNs) })),
    holds: ov.holds.map((h) => ({ ...h, fromMs: msOf(h.fromUtcNs), toMs: msOf(h.toUtcNs) })),
    nowMs: msOf(ov.nowUtcNs),
  });
  timeline.setRates(new Map(rates.channels.map((c) => [c.channel, { ...c, fromMs: msOf(rates.fromUtcNs), toMs: msOf(rates.toUtcNs) }])));
  timeline.draw();
  renderHolds(ov.holds);
  document.body.dataset.loaded = String(seq);
}

let timer = null;
function scheduleLoad() {
  clearTimeout(timer);
  timer = setTimeout(() => load().catch(report), 120);
}

/** The view that shows every recording. */
async function fit() {
  const ov = await get('/api/overview');
  let lo = Infinity; let hi = -Infinity;
  for (const r of ov.recordings) { lo = Math.min(lo, msOf(r.startUtcNs)); hi = Math.max(hi, r.state === 'recording' ? msOf(ov.nowUtcNs) : msOf(r.stopUtcNs)); }
  if (!Number.isFinite(lo)) { hi = msOf(ov.nowUtcNs); lo = hi - 3600e3; }
  const pad = Math.max(1, (hi - lo) * 0.02);
  state.from = lo - pad; state.to = hi + pad;
  writeUrl(); await load();
}

function selectedChannels() {
  return state.channels.size ? [...state.channels] : timeline.channels;
}

function showSelection() {
  const el = $('selection');
  if (!state.sel) { el.textContent = 'Drag with Shift (or press S twice) to select an interval'; return; }
  const chs = state.channels.size ? [...state.channels].join(', ') : 'all channels';
  el.textContent = `selected ${utc(state.sel[0])} — ${utc(state.sel[1])} on ${chs}`;
}

function needSelection() {
  if (!state.sel) throw new Error('select an interval first (Shift+drag on the timeline, or S … S)');
  return { from: nsOf(state.sel[0]), to: nsOf(state.sel[1]) };
}

async function act(run, done) {
  try { const r = await run(); ok(typeof done === 'function' ? done(r) : done); scheduleLoad(); return r; } catch (err) { report(err); return undefined; }
}

// ---- replay -----------------------------------------------------------------------------------
const replays = new Map();
function renderReplays() {
  const box = $('replays');
  box.replaceChildren(...[...replays.entries()].map(([id, what]) => {
    const p = document.createElement('p'); p.dataset.replay = id;
    p.append(`replay ${id}: ${what} `);
    const b = document.createElement('button'); b.textContent = 'Stop replay';
    b.addEventListener('click', () => act(() => del(`/api/replays/${id}`), `replay ${id} stopped`).then(() => { replays.delete(id); renderReplays(); }));
    p.append(b); return p;
  }));
}
$('replay-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(async () => {
    const { from, to } = needSelection();
    const channels = selectedChannels();
    const destination = $('replay-dest').value.trim();
    const speed = Number($('replay-speed').value || '1');
    const r = await post('/api/replays', { channels, destination, from, to, speed });
    replays.set(r.replaySessionId, `${channels.join(', ')} → ${destination} at ${speed}x`);
    renderReplays();
    return r;
  }, (r) => `replay ${r.replaySessionId} started`);
});

// ---- holds ------------------------------------------------------------------------------------
function renderHolds(holds) {
  const box = $('holds');
  if (!holds.length) { box.textContent = 'No holds.'; return; }
  const ul = document.createElement('ul');
  for (const h of holds) {
    const li = document.createElement('li'); li.dataset.hold = h.quarantineId;
    li.append(`hold ${h.quarantineId} on ${h.channel || 'all channels'}: `, timeCell(msOf(h.fromUtcNs)), ' — ', timeCell(msOf(h.toUtcNs)), ' ');
    const b = document.createElement('button'); b.textContent = 'Remove hold';
    b.addEventListener('click', () => act(() => del(`/api/holds/${h.quarantineId}`), `hold ${h.quarantineId} removed`));
    li.append(b); ul.append(li);
  }
  box.replaceChildren(ul);
}
$('hold-add').addEventListener('click', () => act(async () => {
  const { from, to } = needSelection();
  const ids = [];
  for (const channel of state.channels.size ? [...state.channels] : ['']) ids.push((await post('/api/holds', { channel, from, to })).quarantineId);
  return ids;
}, (ids) => `hold ${ids.join(', ')} added`));

// ---- delete (with a confirmation that says what goes and what is protected) -------------------
$('delete-start').addEventListener('click', () => act(async () => {
  const { from, to } = needSelection();
  const channels = state.channels.size ? [...state.channels] : [''];
  const previews = [];
  for (const channel of channels) previews.push({ channel, ...(await post('/api/delete/preview', { channel, from, to })) });
  const events = previews.reduce((s, p) => s + p.events, 0); const size = previews.reduce((s, p) => s + p.bytes, 0);
  const exact = previews.every((p) => p.exact);
  const body = $('confirm-body'); body.replaceChildren();
  const line = (t) => { const p = document.createElement('p'); p.textContent = t; body.append(p); return p; };
  line(`${exact ? '' : 'About '}${events} events (${bytes(size)}) of ${channels[0] === '' ? 'all channels' : channels.join(', ')} between ${utc(state.sel[0])} and ${utc(state.sel[1])} will be deleted.`).id = 'confirm-summary';
  const holds = previews.flatMap((p) => p.holds);
  if (holds.length) for (const h of holds) line(`Hold ${h.quarantineId} (${h.channel || 'all channels'}, ${utc(msOf(h.fromUtcNs))} — ${utc(msOf(h.toUtcNs))}) protects ${bytes(h.protectedBytes)}: those events stay.`);
  else line('No hold protects anything in this interval.');
  if (!session.allowDestructive) line('Destructive actions are disabled on this archiver (allowDestructive is false): the delete will be refused.').className = 'error';
  const dialog = $('confirm-delete');
  dialog.returnValue = '';
  dialog.showModal();
  const choice = await new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true }));
  if (choice !== 'delete') return { cancelled: true };
  let deleted = 0;
  for (const channel of channels) deleted += (await post('/api/delete', { channel, from, to })).deleted;
  return { deleted };
}, (r) => (r.cancelled ? 'delete cancelled' : `${r.deleted} events deleted`)));

// ---- start a recording -------------------------------------------------------------------------
$('record-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const aliases = $('record-aliases').value.split(',').map((s) => s.trim()).filter(Boolean);
  act(() => post('/api/recordings', { channel: $('record-channel').value.trim(), source: $('record-source').value.trim(), aliases }), (r) => `recording ${r.recordingId} started`);
});

$('zoom-in').addEventListener('click', () => timeline.zoom(0.5));
$('zoom-out').addEventListener('click', () => timeline.zoom(2));
$('fit').addEventListener('click', () => fit().catch(report));
window.addEventListener('hashchange', () => { readUrl(); timeline.renderLabels(); showSelection(); scheduleLoad(); });

async function main() {
  readUrl();
  const s = await openSession();
  $('node').textContent = `control ${s.control}${s.nodeId ? ` · node ${s.nodeId}` : ''}${s.allowDestructive ? '' : ' · destructive actions disabled'}`;
  if (!s.allowDestructive) $('delete-start').title = 'disabled on this archiver (allowDestructive is false)';
  if (Number.isFinite(state.from) && state.to > state.from) await load(); else await fit();
  showSelection();
  health.start();
}
main().catch(report);
