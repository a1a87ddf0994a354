/**
 * The short result table every UDP benchmark prints: one row per figure with its baseline
 * from the same run, the ratio, the target and whether it is met.
 */
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
  const cell = (r: Row, c: keyof Omit<Row, 'met'>) => r[c];
  const metCell = (r: Row) => (r === head ? 'met?' : r.met === undefined ? '-' : r.met ? 'yes' : 'NO');
  const widths = cols.map((c) => Math.max(...[head, ...rows].map((r) => cell(r, c).length)));
  const line = (r: Row) => cols.map((c, i) => cell(r, c).padEnd(widths[i]!)).join(' | ') + ' | ' + metCell(r);
  process.stdout.write(`\n${title}\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('-+-')}-+-----\n`);
  for (const r of rows) process.stdout.write(line(r) + '\n');
}

export const perSec = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
