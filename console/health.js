// Live health from /api/live (Server-Sent Events, one snapshot a second): rates are the
// difference of two snapshots' counters over their time apart.
import { bytes } from './time.js';

export class Health {
  constructor({ onStop }) {
    this.prev = null; this.onStop = onStop;
    this.summary = document.getElementById('health-summary');
    this.table = document.querySelector('#channels-health tbody');
    this.cluster = document.getElementById('cluster');
  }

  start() {
    const es = new EventSource('/api/live');
    es.addEventListener('health', (m) => this.update(JSON.parse(m.data)));
    es.addEventListener('error', () => { this.summary.textContent = 'live health: reconnecting…'; });
    this.source = es;
  }

  update(h) {
    const c = h.counters; const t = Number(BigInt(h.utcNs) / 1000000n) / 1000;
    const p = this.prev; this.prev = { c, t };
    const rate = (k) => (p && t > p.t ? Math.max(0, ((c[k] ?? 0) - (p.c[k] ?? 0)) / (t - p.t)) : 0);
    const node = h.cluster?.nodes?.find((n) => n.id === (h.nodeId ?? 'local')) ?? h.cluster?.nodes?.[0];
    const cards = [
      ['events/s', rate('events').toFixed(0)], ['bytes/s', bytes(Math.round(rate('bytes')))],
      ['kernel drops', c.kernelDrops ?? 0], ['malformed', c.malformed ?? 0], ['errors', c.errors ?? 0],
      ['disk', node ? `${bytes(node.bytes)} in ${node.segments} segments` : '?'],
      ['recordings', c.activeRecordings ?? 0], ['replays', c.activeReplays ?? 0],
    ];
    this.summary.replaceChildren(...cards.map(([k, v]) => { const s = document.createElement('span'); s.className = 'card'; s.dataset.counter = k; s.append(`${k} `); const b = document.createElement('b'); b.textContent = String(v); s.append(b); return s; }));
    const channels = new Set(Object.keys(c).filter((k) => k.startsWith('channel.')).map((k) => k.slice(8, k.lastIndexOf('.'))));
    const rows = [...channels].sort().map((ch) => {
      const tr = document.createElement('tr'); tr.dataset.channel = ch;
      const k = (n) => `channel.${ch}.${n}`;
      for (const v of [ch, rate(k('events')).toFixed(0), bytes(Math.round(rate(k('bytes')))), c[k('kernelDrops')] ?? 0, c[k('malformed')] ?? 0]) {
        const td = document.createElement('td'); td.textContent = String(v); tr.append(td);
      }
      const td = document.createElement('td'); const b = document.createElement('button');
      b.textContent = 'Stop recording'; b.addEventListener('click', () => this.onStop(ch)); td.append(b); tr.append(td);
      return tr;
    });
    this.table.replaceChildren(...rows);
    this.renderCluster(h.cluster);
  }

  renderCluster(s) {
    if (!s || (s.nodes.length === 1 && s.nodes[0].id === 'local')) { this.cluster.textContent = ''; return; }
    const lines = [`K=${s.k} · under-replicated segments ${s.underReplicatedSegments} · ${s.repairing ? `repairing, ${bytes(s.bytesToRepair)} to go` : 'no repair running'}`];
    const table = document.createElement('table');
    table.innerHTML = '<thead><tr><th>node</th><th>state</th><th>segments</th><th>bytes</th><th>replication lag</th></tr></thead>';
    const tb = document.createElement('tbody');
    for (const n of s.nodes) {
      const tr = document.createElement('tr');
      for (const [v, cls] of [[n.id], [n.up ? (n.ready ? 'up' : 'up, rejoining') : 'down', n.up ? 'up' : 'down'], [n.segments], [bytes(n.bytes)], [`${bytes(n.lagBytes)} / ${n.lagMs} ms`]]) {
        const td = document.createElement('td'); td.textContent = String(v); if (cls) td.className = cls; tr.append(td);
      }
      tb.append(tr);
    }
    table.append(tb);
    const p = document.createElement('p'); p.textContent = lines[0];
    this.cluster.replaceChildren(p, table);
  }
}
