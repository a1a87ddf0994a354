/**
 * Number formats for the progress lines the UDP benchmarks print while they run (the result
 * table itself comes from bench/lib/results.ts), and `printTable` for benchmarks that format
 * their own rows as text (bench/transport.bench.ts): it prints the table and hands each row
 * to the results module as a note, so the runner's RESULTS.md still shows those figures.
 */
import { basename } from 'node:path';
import { note } from '../lib/results.js';

export interface Row {
  figure: string;
  value: string;
  baseline: string;
  ratio: string;
  target: string;
  met: boolean | undefined;
}

export function printTable(title: string, rows: Row[]): void {
  const head: Row = { figure: 'figure', value: 'value', baseline: 'baseline', ratio: 'ratio', target: 'target', met: undefined };
  const cols: (keyof Omit<Row, 'met'>)[] = ['figure', 'value', 'baseline', 'ratio', 'target'];
  const metCell = (r: Row) => (r === head ? 'met?' : r.met === undefined ? '-' : r.met ? 'yes' : 'NO');
  const widths = cols.map((c) => Math.max(...[head, ...rows].map((r) => r[c].length)));
  const line = (r: Row) => cols.map((c, i) => r[c].padEnd(widths[i]!)).join(' | ') + ' | ' + metCell(r);
  process.stdout.write(`\n${title}\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('-+-')}-+-----\n`);
  for (const r of rows) process.stdout.write(line(r) + '\n');
  // the bench name the runner uses: the script's file name without .bench.js
  const bench = basename(process.argv[1] ?? 'unknown').replace(/\.bench\.[jt]s$/, '');
  note(bench, title);
  for (const r of rows) {
    const target = r.target === '-' ? '' : `; target ${r.target}: ${metCell(r)}`;
    note(bench, `${r.figure}: ${r.value} vs ${r.baseline} (ratio ${r.ratio})${target}`);
  }
}

export const perSec = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
