/**
 * The one way a benchmark reports what it measured. Each benchmark runs in its own process;
 * `record`, `bar`, `point` and `note` append one JSON line each to the file named by
 * VCR_BENCH_RESULTS (set by bench/run.ts), so the figures of a benchmark that fails half-way
 * are kept, and the runner merges every benchmark's lines into RESULTS.md and results.json.
 * Run standalone (no VCR_BENCH_RESULTS), a benchmark still prints its own table
 * (`printFigures`). Ratios and "met?" are computed here, once, from the numbers, so no
 * benchmark formats its own verdict.
 */
import { appendFileSync } from 'node:fs';

/** A SPEC target: on the figure's own value (`of: 'value'`), or on value / baseline (`of: 'ratio'`). */
export interface Target {
  op: '>=' | '<=';
  value: number;
  of?: 'value' | 'ratio';
  /** how the target reads in the table, e.g. ">= 1,000,000 events/s (SPEC §4)"; derived when absent */
  text?: string;
}

export interface Baseline {
  /** what was measured as the baseline or peer, e.g. "NATS JetStream ordered consumer" */
  name: string;
  /** null: the peer could not be measured in this run */
  value: number | null;
  /** when it differs from the figure's unit (then no ratio is computed) */
  unit?: string;
}

export interface FigureInput {
  bench: string;
  figure: string;
  /** null: not measured (then `why` says why) */
  value: number | null;
  unit: string;
  baseline?: Baseline;
  targets?: Target[];
  /** shown in RESULTS.md beside the figure */
  note?: string;
  /** why the figure was not measured */
  why?: string;
}

export interface Figure extends FigureInput {
  /** value / baseline.value when both are numbers in the same unit */
  ratio: number | null;
  /** true/false when there are targets and a value; null otherwise (reference figures) */
  met: boolean | null;
  /** per target: met, and the factor still missing when not met (e.g. 2.5 = needs 2.5x) */
  verdicts: { text: string; of: 'value' | 'ratio'; met: boolean | null; gap: number | null }[];
}

/** One bar of the "throughput by system" chart: systems side by side within a group. */
export interface Bar {
  group: string;
  system: string;
  value: number | null;
  unit: string;
  /** VCR's own bar is drawn in the accent colour */
  vcr?: boolean;
}

/** One point of a scaling curve (a chart and a table per curve). */
export interface Point {
  curve: string;
  series: string;
  x: number;
  xLabel: string;
  y: number;
  yLabel: string;
  logX?: boolean;
}

export interface NoteInput {
  bench: string;
  text: string;
}

export type ResultLine =
  | { kind: 'figure'; data: Figure }
  | { kind: 'bar'; data: Bar }
  | { kind: 'point'; data: Point }
  | { kind: 'note'; data: NoteInput };

const mine: ResultLine[] = [];

function emit(line: ResultLine): void {
  mine.push(line);
  const file = process.env.VCR_BENCH_RESULTS;
  if (file) appendFileSync(file, JSON.stringify(line) + '\n');
}

/** Is this a `--quick` smoke run (smaller counts, fewer repetitions, same code paths)? */
export function isQuick(): boolean {
  return process.argv.includes('--quick') || process.env.VCR_BENCH_QUICK === '1';
}

/** `--name N` from the command line, else the quick or full default. */
export function argNumber(name: string, full: number, quick = full): number {
  const i = process.argv.indexOf(name);
  if (i >= 0 && process.argv[i + 1] !== undefined) {
    const v = Number(process.argv[i + 1]);
    if (!Number.isFinite(v)) throw new Error(`${name} needs a number, got ${process.argv[i + 1]}`);
    return v;
  }
  return isQuick() ? quick : full;
}

export function targetText(t: Target, unit: string): string {
  if (t.text) return t.text;
  return t.of === 'ratio' ? `${t.op} ${t.value}x baseline` : `${t.op} ${formatValue(t.value, unit)}`;
}

/** Computes ratio and verdicts; pure, so the runner can recompute from raw lines. */
export function judge(f: FigureInput): Figure {
  const b = f.baseline;
  const sameUnit = b !== undefined && (b.unit === undefined || b.unit === f.unit);
  const ratio = f.value !== null && b && b.value !== null && b.value !== 0 && sameUnit ? f.value / b.value : null;
  const verdicts = (f.targets ?? []).map((t) => {
    const subject = t.of === 'ratio' ? ratio : f.value;
    const of = t.of ?? 'value';
    if (subject === null || subject === undefined) return { text: targetText(t, f.unit), of, met: null, gap: null };
    const met = t.op === '>=' ? subject >= t.value : subject <= t.value;
    const gap = met || subject <= 0 || t.value <= 0 ? null : t.op === '>=' ? t.value / subject : subject / t.value;
    return { text: targetText(t, f.unit), of, met, gap };
  });
  const met = verdicts.length === 0 || verdicts.some((v) => v.met === null) ? null : verdicts.every((v) => v.met);
  return { ...f, ratio, met, verdicts };
}

/** Reports one figure beside its same-run baseline or peer. */
export function record(f: FigureInput): Figure {
  const judged = judge(f);
  emit({ kind: 'figure', data: judged });
  return judged;
}

/** Reports a figure that could not be measured in this run, and why ("not measured: <why>"). */
export function notMeasured(f: Omit<FigureInput, 'value' | 'why'>, why: string): Figure {
  return record({ ...f, value: null, why });
}

export function bar(b: Bar): void {
  emit({ kind: 'bar', data: b });
}

export function point(p: Point): void {
  emit({ kind: 'point', data: p });
}

/** A sentence for RESULTS.md under the benchmark's section (a finding, a method detail). */
export function note(bench: string, text: string): void {
  emit({ kind: 'note', data: { bench, text } });
}

/** Everything this process reported so far. */
export function reported(): readonly ResultLine[] {
  return mine;
}

const SI = (x: number, digits: number) => x.toLocaleString('en-US', { maximumFractionDigits: digits });

/** A value with its unit, rounded for people: 1,234,567 events/s; 13.4 GB/s; 5.0 µs. */
export function formatValue(v: number | null, unit: string): string {
  if (v === null) return 'not measured';
  const abs = Math.abs(v);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return `${SI(v, digits)} ${unit}`.trim();
}

export function formatRatio(r: number | null): string {
  if (r === null) return '-';
  return r >= 10 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`;
}

export function verdictText(f: Figure): string {
  if (f.value === null) return `not measured: ${f.why ?? 'unknown'}`;
  if (f.verdicts.length === 0) return '-';
  return f.verdicts
    .map((v) => (v.met === null ? 'n/a' : v.met ? 'yes' : v.gap !== null ? `NO (needs ${v.gap.toFixed(2)}x)` : 'NO'))
    .join('; ');
}

/** The table of this process's figures, on stdout (what a standalone run shows). */
export function printFigures(title: string): void {
  const figs = mine.filter((l): l is { kind: 'figure'; data: Figure } => l.kind === 'figure').map((l) => l.data);
  const rows = figs.map((f) => [
    f.figure,
    formatValue(f.value, f.unit),
    f.baseline ? `${formatValue(f.baseline.value, f.baseline.unit ?? f.unit)} ${f.baseline.name}` : '-',
    formatRatio(f.ratio),
    f.verdicts.map((v) => v.text).join('; ') || 'reference',
    verdictText(f),
  ]);
  const head = ['figure', 'value', 'baseline (same run)', 'ratio', 'target', 'met?'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  process.stdout.write(`\n${title}\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('-+-')}\n`);
  for (const r of rows) process.stdout.write(line(r) + '\n');
  for (const l of mine) if (l.kind === 'note') process.stdout.write(`note: ${l.data.text}\n`);
}
