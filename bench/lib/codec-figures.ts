/**
 * The codec benchmark's figures for RESULTS.md (bench/codec.bench.ts belongs to the SBE work
 * and only hands its table rows over here): encode+decode rate of each message against
 * JSON.stringify + JSON.parse of the same data, with the SPEC §4 targets.
 */
import { bar, record } from './results.js';

export interface CodecRow {
  /** message name */
  m: string;
  /** SBE encode+decode per second (median of rounds) */
  sbe: number;
  /** JSON.stringify + JSON.parse per second (median of rounds) */
  json: number;
}

export function reportCodecFigures(rows: CodecRow[]): void {
  for (const r of rows) {
    // SPEC §4 names "a typical control message"; issue 9 holds RecordingDescriptor (a storage
    // record, 16 fields and strings) to the 10x ratio only
    const rateTarget = r.m !== 'RecordingDescriptor';
    record({
      bench: 'codec',
      figure: `${r.m} encode+decode`,
      value: r.sbe,
      unit: 'msgs/s',
      baseline: { name: 'JSON.stringify + JSON.parse', value: r.json },
      targets: [
        ...(rateTarget ? [{ op: '>=' as const, value: 5_000_000, text: '>= 5,000,000/s (SPEC §4)' }] : []),
        { op: '>=', value: 10, of: 'ratio', text: '>= 10x JSON (SPEC §4)' },
      ],
    });
    bar({ group: `codec ${r.m}, encode+decode`, system: 'VCR SBE codec', value: r.sbe, unit: 'msgs/s', vcr: true });
    bar({ group: `codec ${r.m}, encode+decode`, system: 'JSON.stringify + parse', value: r.json, unit: 'msgs/s' });
  }
}
