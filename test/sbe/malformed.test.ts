/**
 * Nothing crashes on bad bytes: random and mutated inputs either decode or fail with the
 * documented error (RangeError from generated decoders, SbeDecodeError from the
 * interpreter), never another exception, a hang, or a read past the end of the input.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SbeDecodeError } from '../../tools/sbe/errors.js';
import { decode, encode } from '../../tools/sbe/interpreter.js';
import { loadSchema } from '../../tools/sbe/parser.js';
import * as le from './generated/features/index.js';
import * as base from './generated/baseline/index.js';
import { blockArb, decodeGenerated } from './drivers.js';
import { fixture, schemasDir } from './helpers.js';

const schema = loadSchema(resolve(schemasDir, 'features.xml'));
const carSchema = loadSchema(fixture('example-schema.xml'));
const car = readFileSync(fixture('car_example_baseline_data.sbe'));

function outcome(f: () => unknown): 'ok' | 'range' | 'decode' {
  try {
    f();
    return 'ok';
  } catch (err) {
    if (err instanceof SbeDecodeError) return 'decode';
    if (err instanceof RangeError) return 'range';
    throw err;
  }
}

/** A copy in a larger pooled ArrayBuffer: bytes beyond the view must stay unread. */
function inPool(bytes: Uint8Array): Buffer {
  const pool = Buffer.alloc(bytes.length + 64, 0x41);
  pool.set(bytes, 0);
  return pool.subarray(0, bytes.length);
}

describe('malformed input', () => {
  it('mutated Car vectors never crash the interpreter or the generated decoder', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(car.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(car.length), (edits, cut) => {
        const bytes = Buffer.from(car);
        for (const [at, v] of edits) bytes[at] = v;
        const input = inPool(bytes.subarray(0, cut));
        expect(['ok', 'decode']).toContain(outcome(() => decode(carSchema, input)));
        expect(['ok', 'range']).toContain(outcome(() => decodeGenerated(base, carSchema.messages[0]!, input)));
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes behind a valid header never crash either decoder', () => {
    fc.assert(
      fc.property(fc.constantFrom(...schema.messages), fc.uint8Array({ maxLength: 200 }), fc.nat(3), (m, body, version) => {
        const header = Buffer.alloc(10);
        header.writeUInt16LE(m.blockLength, 0);
        header.writeUInt16LE(m.id, 2);
        header.writeUInt16LE(77, 4);
        header.writeUInt16LE(version, 6);
        const input = inPool(Buffer.concat([header, body]));
        expect(['ok', 'decode']).toContain(outcome(() => decode(schema, input)));
        expect(['ok', 'range']).toContain(outcome(() => decodeGenerated(le, m, input)));
      }),
      { numRuns: 300 },
    );
  });

  it('a huge group count is rejected by the interpreter without allocating for it', () => {
    const m = schema.messages.find((x) => x.name === 'Grouped')!;
    const bytes = encode(schema, 'Grouped', fc.sample(blockArb(m), { numRuns: 1, seed: 7 })[0]!);
    bytes.writeUInt8(0, 10 + 4); // legs blockLength 0 ...
    bytes.writeUInt32LE(0xfffffff0, 10 + 4 + 2); // ... and billions of elements
    expect(outcome(() => decode(schema, bytes))).toBe('decode');
  });

  it('an unknown template or another schema is a clear decode error', () => {
    const bytes = Buffer.from(car);
    bytes.writeUInt16LE(99, 2);
    expect(() => decode(carSchema, bytes)).toThrow(/unknown template id 99/);
    const other = Buffer.from(car);
    other.writeUInt16LE(5, 4);
    expect(() => decode(carSchema, other)).toThrow(SbeDecodeError);
    expect(() => new base.CarDecoder().wrapAndApplyHeader(bytes, 0, new base.MessageHeaderDecoder())).toThrow(RangeError);
  });
});
