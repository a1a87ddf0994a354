// The event inspector: a page of events from a channel at a time (or a recording position),
// each with UTC, monotonic time, recording, position, length, hex and text; Next/Previous page.
import { get } from './api.js';
import { msOf, nsOf, timeCell, utc } from './time.js';

const HEX_BYTES = 64;

function hex(bytes) {
  return [...bytes.slice(0, HEX_BYTES)].map((b) => b.toString(16).padStart(2, '0')).join(' ') + (bytes.length > HEX_BYTES ? ' …' : '');
}
function text(bytes) {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes.slice(0, 512)).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '·');
}

export class Inspector {
  constructor(report) {
    this.report = report;
    this.body = document.querySelector('#events tbody');
    this.where = document.getElementById('inspector-where');
    this.prev = document.getElementById('page-prev'); this.next = document.getElementById('page-next');
    this.history = []; this.current = null; this.nextQuery = null;
    this.next.addEventListener('click', () => this.nextQuery && this.load(this.nextQuery, true));
    this.prev.addEventListener('click', () => { const q = this.history.pop(); if (q) this.load(q, false); });
  }

  at(channel, ms) {
    this.history = [];
    return this.load(`channel=${encodeURIComponent(channel)}&at=${nsOf(ms)}`, false, `${channel} at ${utc(ms)}`);
  }

  async load(query, forward, label) {
    try {
      const page = await get(`/api/events?count=20&${query}`);
      if (forward && this.current) this.history.push(this.current);
      this.current = query;
      this.nextQuery = page.next ? `recording=${page.next.recordingId}&position=${page.next.position}` : null;
      this.prev.disabled = this.history.length === 0; this.next.disabled = this.nextQuery === null;
      if (label) this.where.textContent = label;
      this.render(page);
    } catch (err) { this.report(err); }
  }

  render(page) {
    const frag = document.createDocumentFragment();
    if (page.events.length === 0) {
      const tr = document.createElement('tr'); const td = document.createElement('td');
      td.colSpan = 7; td.textContent = `no events in ${page.channel} from there`; tr.append(td); frag.append(tr);
    }
    for (const e of page.events) {
      const bytes = Uint8Array.from(atob(e.payload), (c) => c.charCodeAt(0));
      const tr = document.createElement('tr');
      const cells = [timeCell(msOf(e.utcNs)), e.monoNs, `${e.channel} #${e.recordingId}`, e.position, e.eventLength, hex(bytes), text(bytes)];
      cells.forEach((v, i) => {
        const td = document.createElement('td');
        if (v instanceof Node) td.append(v); else td.textContent = String(v);
        if (i === 5) td.className = 'hex'; if (i === 6) td.className = 'text';
        tr.append(td);
      });
      frag.append(tr);
    }
    this.body.replaceChildren(frag);
  }
}
