/**
 * Number formats for the progress lines the UDP benchmarks print while they run (the result
 * table itself comes from bench/lib/results.ts).
 */
export const perSec = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
