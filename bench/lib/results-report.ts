/**
 * Turns the merged result lines of one `npm run bench` into its three outputs beside each
 * other in bench/: RESULTS.md (for people), results.json (for scripts and for comparing
 * runs) and charts/*.svg (linked from RESULTS.md). Pure functions of the data, no I/O, so
 * the runner stays a loop over processes.
 */
import type { Machine } from './machine.js';
import { formatRatio, formatValue, verdictText, type Bar, type Figure, type NoteInput, type Point, type ResultLine } from './results.js';
import { barChart, lineChart, type BarGroup } from './svg-chart.js';

export interface BenchRun {
  bench: string;
  exitCode: number | null;
  seconds: number;
  /** result lines (figures, bars, points, notes) it reported through bench/lib/results.ts */
  reported: number;
  /** last lines of its stderr when it failed */
  failure?: string;
}

export interface RunResults {
  machine: Machine;
  runs: BenchRun[];
  figures: Figure[];
  bars: Bar[];
  points: Point[];
  notes: NoteInput[];
  /** SPEC §4 lines no benchmark of this harness measures, and where they are covered */
  uncovered: { target: string; why: string }[];
}

export interface Rendered {
  markdown: string;
  json: string;
  charts: { file: string; svg: string; title: string }[];
}

export function collect(machine: Machine, runs: BenchRun[], lines: ResultLine[], uncovered: RunResults['uncovered']): RunResults {
  const pick = <K extends ResultLine['kind']>(k: K) =>
    lines.filter((l): l is Extract<ResultLine, { kind: K }> => l.kind === k).map((l) => l.data as Extract<ResultLine, { kind: K }>['data']);
  return { machine, runs, figures: pick('figure'), bars: pick('bar'), points: pick('point'), notes: pick('note'), uncovered };
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

function curvesOf(points: Point[]): Map<string, Point[]> {
  const m = new Map<string, Point[]>();
  for (const p of points) m.set(p.curve, [...(m.get(p.curve) ?? []), p]);
  return m;
}

export function render(r: RunResults): Rendered {
  const charts: Rendered['charts'] = [];
  const groups = new Map<string, BarGroup>();
  for (const b of r.bars) {
    const g = groups.get(b.group) ?? { title: b.group, unit: b.unit, items: [] };
    g.items.push({ label: b.system, value: b.value, accent: b.vcr });
    groups.set(b.group, g);
  }
  if (groups.size > 0) {
    charts.push({ file: 'charts/throughput.svg', title: 'Throughput by system', svg: barChart('Throughput by system (same run)', [...groups.values()]) });
  }
  const curves = curvesOf(r.points);
  for (const [curve, pts] of curves) {
    const series = new Map<string, { x: number; y: number }[]>();
    for (const p of pts) series.set(p.series, [...(series.get(p.series) ?? []), { x: p.x, y: p.y }]);
    charts.push({
      file: `charts/${slug(curve)}.svg`,
      title: curve,
      svg: lineChart({
        title: curve,
        xLabel: pts[0]!.xLabel,
        yLabel: pts[0]!.yLabel,
        logX: pts[0]!.logX,
        series: [...series].map(([name, points]) => ({ name, points })),
      }),
    });
  }
  return { markdown: markdown(r, charts, curves), json: JSON.stringify(r, null, 2) + '\n', charts };
}

function markdown(r: RunResults, charts: Rendered['charts'], curves: Map<string, Point[]>): string {
  const m = r.machine;
  const out: string[] = [];
  out.push('# VCR benchmark results', '');
  out.push('Written by `npm run bench` (bench/run.ts); do not edit by hand. Method and history: docs/BENCHMARKS.md.', '');
  if (m.quick) {
    out.push('> **Quick smoke run** (`npm run bench -- --quick`): smaller counts and fewer repetitions through the same code paths.');
    out.push('> The figures show that every benchmark works; they are not the figures to quote.', '');
  }
  out.push('## Machine', '');
  out.push('| | |', '| --- | --- |');
  out.push(`| date | ${m.date} |`);
  out.push(`| cores | ${m.cores} (${cell(m.cpuModel)}) |`);
  out.push(`| memory | ${m.memoryGiB} GiB |`);
  out.push(`| system | ${m.platform}, kernel ${m.kernel} |`);
  out.push(`| Node.js | ${m.node} |`);
  out.push(`| load average (1/5/15 min) | start ${m.loadAverageStart.join(' / ')}; end ${(m.loadAverageEnd ?? []).join(' / ')} |`);
  out.push(`| run time | ${m.durationSeconds ?? '?'} s${m.quick ? ' (quick)' : ''} |`);
  for (const [k, v] of Object.entries(m.peers)) out.push(`| peer \`${k}\` | ${cell(v)} |`);
  out.push('');

  out.push('## Figures', '');
  out.push('Each figure beside its baseline or peer measured in the same run on the same machine; ratio = figure / baseline.', '');
  out.push('| benchmark | figure | value | baseline or peer (same run) | ratio | SPEC target | met? |');
  out.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const f of r.figures) {
    const base = f.baseline ? `${formatValue(f.baseline.value, f.baseline.unit ?? f.unit)} (${f.baseline.name})` : '-';
    const targets = f.verdicts.map((v) => v.text).join('; ') || 'reference';
    out.push(`| ${f.bench} | ${cell(f.figure)} | ${formatValue(f.value, f.unit)} | ${cell(base)} | ${formatRatio(f.ratio)} | ${cell(targets)} | ${cell(verdictText(f))} |`);
  }
  out.push('');

  const targeted = r.figures.filter((f) => f.verdicts.length > 0);
  out.push('## SPEC §4 targets', '');
  out.push('| target | figure | measured | met? | gap |', '| --- | --- | --- | --- | --- |');
  for (const f of targeted) {
    for (const v of f.verdicts) {
      const measured = v.of === 'ratio' ? `${formatRatio(f.ratio)} ${f.baseline?.name ?? 'baseline'}` : formatValue(f.value, f.unit);
      const gap = v.met === null ? (f.value === null ? `not measured: ${f.why ?? ''}` : 'n/a') : v.met ? '-' : v.gap !== null ? `needs ${v.gap.toFixed(2)}x` : '-';
      out.push(`| ${cell(v.text)} | ${f.bench}: ${cell(f.figure)} | ${cell(measured)} | ${v.met === null ? 'n/a' : v.met ? 'yes' : 'NO'} | ${cell(gap)} |`);
    }
  }
  for (const u of r.uncovered) out.push(`| ${cell(u.target)} | - | - | not measured here | ${cell(u.why)} |`);
  out.push('');

  if (charts.length > 0) {
    out.push('## Charts', '');
    for (const c of charts) out.push(`- [${c.title}](${c.file})`);
    out.push('');
    const through = charts.find((c) => c.file === 'charts/throughput.svg');
    if (through) out.push(`![${through.title}](${through.file})`, '');
  }

  if (curves.size > 0) {
    out.push('## Scaling curves', '');
    for (const [curve, pts] of curves) {
      out.push(`### ${curve}`, '');
      const series = [...new Set(pts.map((p) => p.series))];
      const xs = [...new Set(pts.map((p) => p.x))].sort((a, b) => a - b);
      out.push(`| ${pts[0]!.xLabel} | ${series.map(cell).join(' | ')} |`);
      out.push(`| --- | ${series.map(() => '---').join(' | ')} |`);
      for (const x of xs) {
        const ys = series.map((s) => pts.find((p) => p.series === s && p.x === x)?.y);
        out.push(`| ${x.toLocaleString('en-US')} | ${ys.map((y) => (y === undefined ? '-' : y.toLocaleString('en-US', { maximumFractionDigits: y < 10 ? 3 : y < 1000 ? 1 : 0 }))).join(' | ')} |`);
      }
      out.push('', `y: ${pts[0]!.yLabel}`, '');
      const c = charts.find((ch) => ch.title === curve);
      if (c) out.push(`![${curve}](${c.file})`, '');
    }
  }

  const benches = [...new Set(r.notes.map((n) => n.bench))];
  if (benches.length > 0) {
    out.push('## Notes', '');
    for (const b of benches) {
      out.push(`### ${b}`, '');
      for (const n of r.notes.filter((x) => x.bench === b)) out.push(`- ${n.text}`);
      out.push('');
    }
  }

  out.push('## Benchmark processes', '');
  out.push('| benchmark | exit | seconds | result lines reported |', '| --- | --- | --- | --- |');
  for (const run of r.runs) {
    const exit = run.exitCode === 0 ? 'ok' : `FAILED (${run.exitCode ?? 'killed'})`;
    out.push(`| ${run.bench} | ${exit} | ${run.seconds.toFixed(1)} | ${run.reported === 0 ? '0: reported nothing through bench/lib/results.ts' : run.reported} |`);
  }
  const failed = r.runs.filter((x) => x.exitCode !== 0 && x.failure);
  for (const f of failed) out.push('', `**${f.bench} failed:**`, '', '```', f.failure!, '```');
  out.push('');
  return out.join('\n');
}
