// Times: the API speaks UTC nanoseconds as decimal strings; the page keeps milliseconds (floats).
export const msOf = (ns) => Number(BigInt(ns) / 1000n) / 1000;
export function nsOf(ms) {
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1000000n + BigInt(Math.round((ms - whole) * 1e6))).toString();
}
const pad = (n, w = 2) => String(n).padStart(w, '0');
/** ISO-8601 UTC, to the millisecond. */
export function utc(ms) {
  if (!Number.isFinite(ms)) return '';
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');
}
/** The same instant in the browser's local time (shown on hover). */
export function local(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)} local`;
}
/** A span of time for people. */
export function span(ms) {
  const s = ms / 1000;
  if (s < 1) return `${ms.toFixed(1)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024; let i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${u[i]}`;
}
/** A <time> element: UTC text, local time on hover. */
export function timeCell(ms) {
  const t = document.createElement('time');
  t.dateTime = new Date(ms).toISOString();
  t.textContent = utc(ms);
  t.title = local(ms);
  return t;
}
