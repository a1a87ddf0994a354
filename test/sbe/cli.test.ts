/** The `sbe` command line, run as a real process (dist/tools/sbe/cli.js). */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fixture, repoRoot } from './helpers.js';

const cli = resolve(repoRoot, 'dist/tools/sbe/cli.js');
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: repoRoot, encoding: 'utf8' });

describe('sbe decode', () => {
  it('prints the baseline Car as JSON the way the SBE JSON printer does', () => {
    const r = run(['decode', '--schema', fixture('example-schema.xml'), '--input', fixture('car_example_baseline_data.sbe')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const car = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(car)).toEqual([
      '$header', '$message', 'serialNumber', 'modelYear', 'available', 'code', 'someNumbers', 'vehicleCode', 'extras',
      'discountedModel', 'engine', 'fuelFigures', 'performanceFigures', 'manufacturer', 'model', 'activationCode',
    ]);
    expect(car).toMatchObject({
      $header: { blockLength: 45, templateId: 1, schemaId: 1, version: 0 },
      $message: 'Car',
      serialNumber: '1234',
      modelYear: 2013,
      available: 'T',
      code: 'A',
      someNumbers: [1, 2, 3, 4],
      vehicleCode: 'abcdef',
      extras: ['sportsPack', 'cruiseControl'],
      discountedModel: 'C',
      engine: { capacity: 2000, numCylinders: 4, maxRpm: 9000, manufacturerCode: '123', fuel: 'Petrol', efficiency: 35, boosterEnabled: 'T', booster: { BoostType: 'NITROUS', horsePower: 200 } },
      fuelFigures: [
        { speed: 30, mpg: 35.9, usageDescription: 'Urban Cycle' },
        { speed: 55, mpg: 49, usageDescription: 'Combined Cycle' },
        { speed: 75, mpg: 40, usageDescription: 'Highway Cycle' },
      ],
      performanceFigures: [
        { octaneRating: 95, acceleration: [{ mph: 30, seconds: 4 }, { mph: 60, seconds: 7.5 }, { mph: 100, seconds: 12.2 }] },
        { octaneRating: 99, acceleration: [{ mph: 30, seconds: 3.8 }, { mph: 60, seconds: 7.1 }, { mph: 100, seconds: 11.8 }] },
      ],
      manufacturer: 'Honda',
      model: 'Civic VTi',
      activationCode: 'abcdef',
    });
  });

  it('prints v1-only fields of the v0 extension vector as null', () => {
    const r = run(['decode', '--schema', fixture('example-extension-schema.xml'), '--input', fixture('car_example_extension_data.sbe')]);
    expect(r.status).toBe(0);
    const car = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(car.uuid).toBeNull();
    expect(car.cupHolderCount).toBeNull();
    expect(car.someNumbers).toEqual([0, 1, 2, 3]);
    expect(car.activationCode).toBe('abcdef');
  });

  it('prints the big-endian vector', () => {
    const r = run(['decode', '--schema', fixture('example-bigendian-test-schema.xml'), '--input', fixture('car_example-bigendian-test-schema.be.211.bin')]);
    expect(r.status).toBe(0);
    const car = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(car).toMatchObject({ $header: { blockLength: 49 }, someNumbers: [0, 1, 2, 3, 4], manufacturer: 'Honda', model: 'Civic VTi' });
  });

  it('prints binary var data as hex', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbe-cli-'));
    try {
      const schema = resolve(__dirname, 'schemas/features.xml');
      // Grouped (template 3): header10, block 4, two empty groups, then text, ascii, blob.
      const b = Buffer.alloc(10 + 4 + 6 + 4 + 2 + 4 + 2 + 3);
      let p = 0;
      for (const v of [4, 3, 77, 2, 0]) { b.writeUInt16LE(v, p); p += 2; }
      b.writeUInt32LE(9, p); p += 4;
      b.writeUInt8(12, p); b.writeUInt32LE(0, p + 2); p += 6;
      b.writeUInt16LE(4, p); b.writeUInt16LE(0, p + 2); p += 4;
      b.writeUInt16LE(0, p); p += 2;
      b.writeUInt32LE(0, p); p += 4;
      b.writeUInt16LE(3, p); p += 2;
      b.set([0xde, 0xad, 0x01], p);
      writeFileSync(join(dir, 'g.bin'), b);
      const r = run(['decode', '--schema', schema, '--input', join(dir, 'g.bin')]);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toMatchObject({ $message: 'Grouped', id: 9, legs: [], empty: [], text: '', ascii: '', blob: 'dead01' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 with a clear message on truncated input, a bad schema or a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbe-cli-'));
    try {
      writeFileSync(join(dir, 'cut.bin'), readFileSync(fixture('car_example_baseline_data.sbe')).subarray(0, 100));
      const cut = run(['decode', '--schema', fixture('example-schema.xml'), '--input', join(dir, 'cut.bin')]);
      expect(cut.status).toBe(1);
      expect(cut.stderr).toMatch(/past the end/);
      writeFileSync(join(dir, 'bad.xml'), '<messageSchema package="p" id="1"><types/></messageSchema>');
      const bad = run(['decode', '--schema', join(dir, 'bad.xml'), '--input', join(dir, 'cut.bin')]);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/messageHeader/);
      expect(run(['decode', '--schema', fixture('example-schema.xml'), '--input', join(dir, 'none.bin')]).status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 on bad usage', () => {
    expect(run(['decode', '--schema', fixture('example-schema.xml')]).status).toBe(2);
    expect(run(['frobnicate']).status).toBe(2);
    expect(run(['decode', '--schema', 'a', '--input', 'b', '--offset', 'x']).status).toBe(2);
  });
});

describe('sbe generate', () => {
  it('writes one file per type and message plus index.ts, each marked generated', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbe-gen-'));
    try {
      const r = run(['generate', '--schema', fixture('example-schema.xml'), '--out', dir]);
      expect(r.status).toBe(0);
      const files = readdirSync(dir).sort();
      for (const f of ['CarDecoder.ts', 'CarEncoder.ts', 'MessageHeaderDecoder.ts', 'MessageHeaderEncoder.ts', 'BooleanType.ts',
        'OptionalExtrasEncoder.ts', 'OptionalExtrasDecoder.ts', 'EngineEncoder.ts', 'EngineDecoder.ts', 'index.ts']) {
        expect(files).toContain(f);
      }
      for (const f of files) {
        expect(readFileSync(join(dir, f), 'utf8').split('\n')[0]).toBe(
          '// @generated by tools/sbe from test/fixtures/sbe/example-schema.xml (package baseline, id 1, version 0). Do not edit.');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
