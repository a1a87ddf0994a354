/**
 * Two small, dependency-free SVG charts for RESULTS.md: grouped horizontal bars (throughput
 * by system: VCR beside its peers, each group on its own scale because a group in events/s
 * and one in GB/s share no axis) and line charts (scaling curves, optionally log x). Plain
 * strings in, a self-contained SVG document out; nothing here knows about benchmarks.
 */

export interface BarItem {
  label: string;
  value: number | null;
  /** drawn in the accent colour */
  accent?: boolean;
}

export interface BarGroup {
  title: string;
  unit: string;
  items: BarItem[];
}

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  series: Series[];
}

const FONT = 'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"';
const ACCENT = '#d9480f';
const PEER = '#5c7cfa';
const PALETTE = ['#d9480f', '#1c7ed6', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#868e96'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Short number for axis ticks and bar labels: 1.2M, 340k, 5.0, 0.25. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${Math.round(v / 1e3)}k`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 10 || a === 0) return `${Math.round(v)}`;
  if (a >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

/** Grouped horizontal bars; each group scaled to its own largest bar. */
export function barChart(title: string, groups: BarGroup[]): string {
  const width = 820;
  const labelW = 300;
  const barW = 400;
  const rowH = 20;
  const out: string[] = [];
  let y = 40;
  for (const g of groups) {
    out.push(`<text x="10" y="${y}" font-size="13" font-weight="600" ${FONT}>${escapeXml(`${g.title} (${g.unit})`)}</text>`);
    y += 8;
    const max = Math.max(0, ...g.items.map((i) => i.value ?? 0));
    for (const item of g.items) {
      const yy = y + 4;
      out.push(`<text x="${labelW - 8}" y="${yy + 13}" font-size="12" text-anchor="end" ${FONT}>${escapeXml(item.label)}</text>`);
      if (item.value === null) {
        out.push(`<text x="${labelW + 4}" y="${yy + 13}" font-size="12" fill="#868e96" ${FONT}>not measured</text>`);
      } else {
        const w = max > 0 ? Math.max(1, (item.value / max) * barW) : 1;
        out.push(`<rect x="${labelW}" y="${yy}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${item.accent ? ACCENT : PEER}" rx="2"/>`);
        out.push(`<text x="${(labelW + w + 6).toFixed(1)}" y="${yy + 13}" font-size="12" ${FONT}>${escapeXml(shortNumber(item.value))}</text>`);
      }
      y += rowH;
    }
    y += 22;
  }
  const height = y;
  return svgDoc(width, height, [
    `<text x="10" y="22" font-size="16" font-weight="700" ${FONT}>${escapeXml(title)}</text>`,
    `<text x="${width - 10}" y="22" font-size="11" text-anchor="end" fill="#495057" ${FONT}>VCR in orange, baselines and peers in blue; each group on its own scale</text>`,
    ...out,
  ]);
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** A line chart with one line per series; y from 0, x linear or log10. */
export function lineChart(spec: LineChartSpec): string {
  const width = 640;
  const height = 380;
  const left = 70;
  const right = 36;
  const top = 40;
  const bottom = 70;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const xs = spec.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = spec.series.flatMap((s) => s.points.map((p) => p.y));
  if (xs.length === 0) return svgDoc(width, 80, [`<text x="10" y="40" ${FONT}>${escapeXml(spec.title)}: no points</text>`]);
  const log = spec.logX === true && xs.every((x) => x > 0);
  const fx = (x: number) => (log ? Math.log10(x) : x);
  let x0 = Math.min(...xs.map(fx));
  let x1 = Math.max(...xs.map(fx));
  if (x0 === x1) {
    x0 -= 1;
    x1 += 1;
  }
  const yMax = niceMax(Math.max(...ys));
  const px = (x: number) => left + ((fx(x) - x0) / (x1 - x0)) * pw;
  const py = (y: number) => top + ph - (y / yMax) * ph;
  const out: string[] = [];
  out.push(`<text x="10" y="22" font-size="15" font-weight="700" ${FONT}>${escapeXml(spec.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    const y = py(v);
    out.push(`<line x1="${left}" y1="${y.toFixed(1)}" x2="${left + pw}" y2="${y.toFixed(1)}" stroke="#e9ecef"/>`);
    out.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" font-size="11" text-anchor="end" ${FONT}>${shortNumber(v)}</text>`);
  }
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  for (const x of xTicks) {
    const X = px(x);
    out.push(`<line x1="${X.toFixed(1)}" y1="${top + ph}" x2="${X.toFixed(1)}" y2="${top + ph + 5}" stroke="#495057"/>`);
    out.push(`<text x="${X.toFixed(1)}" y="${top + ph + 18}" font-size="11" text-anchor="middle" ${FONT}>${shortNumber(x)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${top + ph}" x2="${left + pw}" y2="${top + ph}" stroke="#495057"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + ph}" stroke="#495057"/>`);
  out.push(`<text x="${left + pw / 2}" y="${height - 36}" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(spec.xLabel + (log ? ' (log scale)' : ''))}</text>`);
  out.push(`<text transform="translate(16 ${top + ph / 2}) rotate(-90)" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${colour}"><title>${escapeXml(`${s.name}: ${p.x} -> ${p.y}`)}</title></circle>`);
    const lx = left + 10 + (i % 3) * 190;
    const ly = height - 12 + Math.floor(i / 3) * 14 - (spec.series.length > 3 ? 8 : 0);
    out.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="4" fill="${colour}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly - 4}" font-size="11" ${FONT}>${escapeXml(s.name)}</text>`);
  });
  return svgDoc(width, height, out);
}

function svgDoc(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
