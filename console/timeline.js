// The timeline: one row per channel, recordings as bars, gaps as the hatched row between them,
// the event-rate strip (from the time index) under the bars, holds and the selection on top.
// Drawn on a canvas; bars narrower than a pixel merge, so the cost follows the pixels, not the
// recordings. Pointer: drag pans, wheel zooms, Shift+drag selects, click inspects.
import { state, writeUrl } from './state.js';
import { local, utc, span } from './time.js';

export const ROW_H = 24;
const css = getComputedStyle(document.documentElement);
const color = (v) => css.getPropertyValue(v).trim();
const C = { rec: color('--rec'), live: color('--live'), gap: color('--gap'), rate: color('--rate'), hold: color('--hold'), sel: '#a371f766', fg: color('--fg'), muted: color('--muted') };

export class Timeline {
  constructor({ onView, onInspect, onSelect }) {
    this.canvas = document.getElementById('timeline');
    this.axis = document.getElementById('axis');
    this.labels = document.getElementById('labels');
    this.hover = document.getElementById('hover');
    this.onView = onView; this.onInspect = onInspect; this.onSelect = onSelect;
    this.channels = []; this.byChannel = new Map(); this.rates = new Map(); this.holds = []; this.now = Date.now();
    this.drawn = 0;
    this.bindPointer(); this.bindKeys();
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  get width() { return this.canvas.clientWidth; }
  x(ms) { return ((ms - state.from) / (state.to - state.from)) * this.width; }
  t(x) { return state.from + (x / this.width) * (state.to - state.from); }

  setData({ channels, recordings, holds, nowMs }) {
    this.channels = channels;
    this.now = nowMs;
    this.byChannel = new Map(channels.map((c) => [c, []]));
    for (const r of recordings) this.byChannel.get(r.channel)?.push(r);
    for (const list of this.byChannel.values()) list.sort((a, b) => a.startMs - b.startMs);
    this.holds = holds;
    if (state.focus >= channels.length) state.focus = Math.max(0, channels.length - 1);
    this.renderLabels();
  }

  setRates(rates) { this.rates = rates; }

  renderLabels() {
    const frag = document.createDocumentFragment();
    this.channels.forEach((c, i) => {
      const li = document.createElement('li');
      li.textContent = c; li.title = c; li.dataset.channel = c;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(state.channels.has(c)));
      if (i === state.focus) li.classList.add('focused');
      li.addEventListener('click', () => this.toggleChannel(c));
      frag.append(li);
    });
    this.labels.replaceChildren(frag);
    this.labels.setAttribute('role', 'listbox');
    this.labels.setAttribute('aria-multiselectable', 'true');
  }

  toggleChannel(c) {
    if (state.channels.has(c)) state.channels.delete(c); else state.channels.add(c);
    writeUrl(); this.renderLabels(); this.draw(); this.onSelect();
  }

  /** What is at (channel, time): the recording covering it, or a gap. */
  at(channel, ms) {
    const rec = (this.byChannel.get(channel) || []).find((r) => r.startMs <= ms && ms <= this.endOf(r));
    return rec ? { kind: 'recording', recording: rec } : { kind: 'gap' };
  }

  endOf(r) { return r.state === 'recording' ? Math.max(r.stopMs, this.now) : r.stopMs; }

  draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.width; const h = Math.max(ROW_H, this.channels.length * ROW_H);
    for (const [cv, ch] of [[this.canvas, h], [this.axis, 28]]) {
      cv.style.height = `${ch}px`;
      if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(ch * dpr)) { cv.width = Math.round(w * dpr); cv.height = Math.round(ch * dpr); }
    }
    if (!Number.isFinite(state.from) || w === 0) return;
    const g = this.canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const hatch = this.hatch(g);
    this.channels.forEach((c, i) => {
      const y = i * ROW_H;
      g.fillStyle = hatch; g.fillRect(0, y + 1, w, ROW_H - 2);
      this.drawBars(g, c, y);
      this.drawRates(g, c, y);
      if (i === state.focus) { g.strokeStyle = '#58a6ff'; g.lineWidth = 1; g.strokeRect(0.5, y + 0.5, w - 1, ROW_H - 1); }
    });
    this.drawHolds(g, h);
    if (state.sel) {
      const [a, b] = state.sel;
      const x0 = Math.max(0, this.x(a)); const x1 = Math.min(w, this.x(b));
      g.fillStyle = C.sel;
      this.channels.forEach((c, i) => { if (state.channels.size === 0 || state.channels.has(c)) g.fillRect(x0, i * ROW_H, Math.max(1, x1 - x0), ROW_H); });
    }
    this.drawAxis(dpr);
    document.getElementById('range').textContent = `${utc(state.from)} — ${utc(state.to)} (${span(state.to - state.from)})`;
    this.drawn++;
    this.canvas.dataset.drawn = String(this.drawn);
  }

  hatch(g) {
    const p = document.createElement('canvas'); p.width = 8; p.height = 8;
    const q = p.getContext('2d');
    q.fillStyle = '#161d24'; q.fillRect(0, 0, 8, 8);
    q.strokeStyle = C.gap; q.lineWidth = 2; q.beginPath(); q.moveTo(0, 8); q.lineTo(8, 0); q.stroke();
    return g.createPattern(p, 'repeat');
  }

  drawBars(g, c, y) {
    let lastX = -1; let lastColor = '';
    for (const r of this.byChannel.get(c) || []) {
      const end = this.endOf(r);
      if (end < state.from || r.startMs > state.to) continue;
      const x0 = Math.max(0, this.x(r.startMs)); const x1 = Math.min(this.width, this.x(end));
      const col = r.state === 'recording' ? C.live : r.state === 'failed' ? '#f85149' : C.rec;
      // merged when it adds nothing at this zoom
      if (Math.floor(x1) <= lastX && col === lastColor) continue;
      g.fillStyle = col; g.fillRect(x0, y + 3, Math.max(1, x1 - x0), ROW_H - 12);
      lastX = Math.floor(x1); lastColor = col;
    }
  }

  drawRates(g, c, y) {
    const r = this.rates.get(c);
    if (!r || !r.events.length) return;
    const n = r.events.length; const max = Math.max(1, ...r.events);
    const bw = this.width / n;
    const x0 = this.x(r.fromMs); const scale = (r.toMs - r.fromMs) / (state.to - state.from);
    g.fillStyle = C.rate;
    for (let i = 0; i < n; i++) {
      const v = r.events[i]; if (!v) continue;
      const hh = Math.max(1, (v / max) * 7);
      g.fillRect(x0 + i * bw * scale, y + ROW_H - 1 - hh, Math.max(1, bw * scale - 0.5), hh);
    }
  }

  drawHolds(g, h) {
    g.strokeStyle = C.hold; g.lineWidth = 2;
    for (const q of this.holds) {
      const x0 = this.x(q.fromMs); const x1 = this.x(q.toMs);
      if (x1 < 0 || x0 > this.width) continue;
      this.channels.forEach((c, i) => {
        if (q.channel !== '' && q.channel !== c) return;
        g.strokeRect(Math.max(0, x0) + 1, i * ROW_H + 2, Math.max(2, Math.min(this.width, x1) - Math.max(0, x0) - 2), ROW_H - 4);
      });
    }
  }

  drawAxis(dpr) {
    const g = this.axis.getContext('2d'); const w = this.width;
    g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, 28);
    const steps = [1, 10, 100, 1e3, 5e3, 15e3, 6e4, 3e5, 9e5, 36e5, 6 * 36e5, 864e5, 7 * 864e5, 30 * 864e5, 365 * 864e5];
    const want = (state.to - state.from) / Math.max(1, w / 140);
    const step = steps.find((s) => s >= want) || steps[steps.length - 1];
    g.fillStyle = C.muted; g.strokeStyle = '#3d4f60'; g.font = '11px system-ui, sans-serif';
    for (let t = Math.ceil(state.from / step) * step; t <= state.to; t += step) {
      const x = this.x(t);
      g.beginPath(); g.moveTo(x + 0.5, 18); g.lineTo(x + 0.5, 28); g.stroke();
      const iso = new Date(t).toISOString();
      const label = step >= 864e5 ? iso.slice(0, 10) : step >= 6e4 ? iso.slice(5, 16).replace('T', ' ') : step >= 1e3 ? iso.slice(11, 19) : iso.slice(11, 23);
      g.fillText(label, x + 3, 12);
    }
  }

  // ---- interaction -------------------------------------------------------------------------

  zoom(factor, centerMs = (state.from + state.to) / 2) {
    const w = Math.max(1, (state.to - state.from) * factor);
    state.from = centerMs - (centerMs - state.from) * factor; state.to = state.from + w;
    this.changed();
  }

  pan(fraction) {
    const d = (state.to - state.from) * fraction;
    state.from += d; state.to += d; this.changed();
  }

  changed() { writeUrl(); this.draw(); this.onView(); }

  rowAt(clientY) {
    const i = Math.floor((clientY - this.canvas.getBoundingClientRect().top) / ROW_H);
    return i >= 0 && i < this.channels.length ? i : -1;
  }

  bindPointer() {
    const cv = this.canvas;
    let drag = null;
    cv.addEventListener('pointerdown', (e) => {
      cv.setPointerCapture(e.pointerId);
      drag = { x: e.clientX, from: state.from, to: state.to, select: e.shiftKey, start: this.t(e.offsetX), moved: false };
    });
    cv.addEventListener('pointermove', (e) => {
      this.showHover(e);
      if (!drag) return;
      if (Math.abs(e.clientX - drag.x) > 3) drag.moved = true;
      if (!drag.moved) return;
      if (drag.select) {
        const t = this.t(e.offsetX);
        state.sel = [Math.min(drag.start, t), Math.max(drag.start, t)];
        this.draw();
      } else {
        const d = ((drag.x - e.clientX) / this.width) * (drag.to - drag.from);
        state.from = drag.from + d; state.to = drag.to + d; this.draw();
      }
    });
    cv.addEventListener('pointerup', (e) => {
      if (!drag) return;
      const d = drag; drag = null;
      if (!d.moved) {
        const row = this.rowAt(e.clientY);
        if (row >= 0) { state.focus = row; this.renderLabels(); this.draw(); this.onInspect(this.channels[row], this.t(e.offsetX)); }
        return;
      }
      if (d.select) { writeUrl(); this.onSelect(); } else this.changed();
    });
    cv.addEventListener('pointerleave', () => { this.hover.hidden = true; });
    cv.addEventListener('wheel', (e) => { e.preventDefault(); this.zoom(e.deltaY > 0 ? 1.25 : 0.8, this.t(e.offsetX)); }, { passive: false });
  }

  showHover(e) {
    const row = this.rowAt(e.clientY);
    if (row < 0) { this.hover.hidden = true; return; }
    const c = this.channels[row]; const t = this.t(e.offsetX);
    const what = this.at(c, t);
    const rate = this.rates.get(c);
    let rateText = '';
    if (rate && rate.events.length) {
      const i = Math.floor(((t - rate.fromMs) / (rate.toMs - rate.fromMs)) * rate.events.length);
      if (i >= 0 && i < rate.events.length) rateText = ` · ~${(rate.events[i] / ((rate.toMs - rate.fromMs) / rate.events.length / 1000)).toFixed(1)} events/s`;
    }
    this.hover.textContent = `${c} · ${what.kind === 'gap' ? 'gap' : `recording ${what.recording.recordingId} (${what.recording.state})`} · ${utc(t)} (${local(t)})${rateText}`;
    this.hover.dataset.kind = what.kind;
    this.hover.style.left = `${e.clientX + 12}px`; this.hover.style.top = `${e.clientY + 12}px`;
    this.hover.hidden = false;
  }

  bindKeys() {
    let mark = null;
    this.canvas.addEventListener('keydown', (e) => {
      const center = (state.from + state.to) / 2;
      switch (e.key) {
        case 'ArrowLeft': this.pan(e.shiftKey ? -0.5 : -0.1); break;
        case 'ArrowRight': this.pan(e.shiftKey ? 0.5 : 0.1); break;
        case '+': case '=': this.zoom(0.5); break;
        case '-': case '_': this.zoom(2); break;
        case 'ArrowUp': state.focus = Math.max(0, state.focus - 1); this.renderLabels(); this.draw(); writeUrl(); break;
        case 'ArrowDown': state.focus = Math.min(this.channels.length - 1, state.focus + 1); this.renderLabels(); this.draw(); writeUrl(); break;
        case ' ': if (this.channels[state.focus]) this.toggleChannel(this.channels[state.focus]); break;
        case 'Enter': if (this.channels[state.focus]) this.onInspect(this.channels[state.focus], center); break;
        case 's': case 'S':
          if (mark === null) { mark = center; document.getElementById('selection').textContent = `selection starts at ${utc(center)}: pan, then press S again`; }
          else { state.sel = [Math.min(mark, center), Math.max(mark, center)]; mark = null; writeUrl(); this.draw(); this.onSelect(); }
          break;
        case 'Escape': state.sel = null; mark = null; writeUrl(); this.draw(); this.onSelect(); break;
        case 'Home': this.onView('fit'); break;
        default: return;
      }
      e.preventDefault();
    });
  }
}
