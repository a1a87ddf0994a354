/**
 * What the generator publishes besides the flyweights: field encoding offsets and lengths
 * (checked against the reference layout of the Car message and against where the encoders
 * really write), the schema constants (SbeSchema.ts) and the message registry (SbeRegistry.ts).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as base from './generated/baseline/index.js';
import * as f from './generated/features/index.js';
import { fixture } from './helpers.js';

describe('field offsets', () => {
  it('match the reference layout of Car (offsets inside the block, lengths in bytes)', () => {
    const C = base.CarEncoder;
    const got = [
      [C.serialNumberEncodingOffset(), C.serialNumberEncodingLength()],
      [C.modelYearEncodingOffset(), C.modelYearEncodingLength()],
      [C.availableEncodingOffset(), C.availableEncodingLength()],
      [C.codeEncodingOffset(), C.codeEncodingLength()],
      [C.someNumbersEncodingOffset(), C.someNumbersEncodingLength()],
      [C.vehicleCodeEncodingOffset(), C.vehicleCodeEncodingLength()],
      [C.extrasEncodingOffset(), C.extrasEncodingLength()],
      [C.engineEncodingOffset(), C.engineEncodingLength()],
    ];
    expect(got).toEqual([[0, 8], [8, 2], [10, 1], [11, 1], [12, 16], [28, 6], [34, 1], [35, 10]]);
    expect(base.CarDecoder.modelYearEncodingOffset()).toBe(8);
    expect([base.EngineEncoder.capacityEncodingOffset(), base.EngineEncoder.numCylindersEncodingOffset(), base.EngineEncoder.manufacturerCodeEncodingOffset()]).toEqual([0, 2, 3]);
    expect([base.CarFuelFiguresEncoder.speedEncodingOffset(), base.CarFuelFiguresEncoder.mpgEncodingOffset()]).toEqual([0, 2]);
  });

  it('are where the encoders write, explicit offsets and composites included', () => {
    const probe = (write: (e: f.AllPrimitivesEncoder) => void): number => {
      const buf = Buffer.alloc(256);
      write(new f.AllPrimitivesEncoder().wrap(buf, 0));
      return buf.findIndex((b) => b !== 0);
    };
    const A = f.AllPrimitivesEncoder;
    expect(probe((e) => e.u32(1))).toBe(A.u32EncodingOffset());
    expect(probe((e) => e.i64(1n))).toBe(A.i64EncodingOffset());
    expect(probe((e) => e.code('A'))).toBe(A.codeEncodingOffset());
    expect(A.codeEncodingOffset()).toBe(70); // offset="70" in the schema
    expect(probe((e) => e.longs(0, 1n))).toBe(A.longsEncodingOffset());
    expect(A.longsEncodingLength()).toBe(16);
    const outer = Buffer.alloc(64);
    new f.OuterEncoder().wrap(outer, 0).big(1n);
    expect(outer.findIndex((b) => b !== 0)).toBe(f.OuterEncoder.bigEncodingOffset());
    expect(f.OuterEncoder.bigEncodingOffset()).toBe(30);
  });

  it('are not given for constants (they are not on the wire)', () => {
    expect('answerEncodingOffset' in f.AllPrimitivesEncoder).toBe(false);
    expect('limit2EncodingOffset' in f.OuterEncoder).toBe(false);
  });
});

describe('schema constants and message registry', () => {
  it('give the schema id, version, header length, template ids and block lengths', () => {
    expect([base.SCHEMA_ID, base.SCHEMA_VERSION, base.HEADER_LENGTH, base.SEMANTIC_VERSION]).toEqual([1, 0, 8, '5.2']);
    expect(base.TEMPLATE_IDS.Car).toBe(base.CarDecoder.TEMPLATE_ID);
    expect(base.BLOCK_LENGTHS.Car).toBe(base.CarDecoder.BLOCK_LENGTH);
    expect([f.HEADER_LENGTH, f.SCHEMA_ID, f.SCHEMA_VERSION]).toEqual([10, 77, 2]);
    expect(Object.keys(f.TEMPLATE_IDS)).toEqual(['AllPrimitives', 'Structured', 'Grouped', 'Versioned', 'Numbers']);
  });

  it('dispatch a message by the template id in its header', () => {
    const bytes = readFileSync(fixture('car_example_baseline_data.sbe'));
    const header = new base.MessageHeaderDecoder().wrap(bytes, 0);
    const info = base.messageByTemplateId(header.templateId());
    expect(info?.name).toBe('Car');
    expect(info?.blockLength).toBe(45);
    const dec = new info!.decoder().wrap(bytes, base.HEADER_LENGTH, header.blockLength(), header.version());
    expect(dec.serialNumber()).toBe(1234n);
    expect(base.messageByTemplateId(2)).toBeUndefined();
    for (const [templateId, m] of f.MESSAGES_BY_TEMPLATE_ID) {
      expect(m.templateId).toBe(templateId);
      expect(m.decoder.TEMPLATE_ID).toBe(templateId);
      expect(m.encoder.BLOCK_LENGTH).toBe(m.blockLength);
      expect(f.TEMPLATE_IDS[m.name]).toBe(templateId);
    }
  });
});
