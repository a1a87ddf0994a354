/**
 * Property tests on test/sbe/schemas/features*.xml (every feature, both byte orders):
 * random values encode to the same bytes through the generated encoders and the IR
 * interpreter, and decode back to the same values through both; older-version messages
 * decode with the newer decoders, newer parts absent.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadSchema } from '../../tools/sbe/parser.js';
import { decode, encode } from '../../tools/sbe/interpreter.js';
import * as le from './generated/features/index.js';
import * as be from './generated/features-be/index.js';
import { blockArb, decodeGenerated, encodeGenerated, schemaAtVersion } from './drivers.js';
import { repoRoot, schemasDir } from './helpers.js';
import { rootTag } from '../../tools/sbe/xml.js';

const RUNS = 150;

const variants = [
  { name: 'little endian', schema: loadSchema(resolve(schemasDir, 'features.xml')), mod: le },
  { name: 'big endian', schema: loadSchema(resolve(schemasDir, 'features-be.xml')), mod: be },
];

for (const { name, schema, mod } of variants) {
  describe(`features schema, ${name}`, () => {
    for (const m of schema.messages) {
      it(`${m.name}: generated and interpreted codecs agree byte for byte and round-trip`, () => {
        fc.assert(
          fc.property(blockArb(m), fc.boolean(), (value, useIterator) => {
            const viaInterpreter = encode(schema, m.name, value);
            const viaGenerated = encodeGenerated(mod, m, value, Buffer.alloc(4096));
            expect(viaGenerated.equals(viaInterpreter)).toBe(true);
            const decoded = decode(schema, viaInterpreter);
            expect(decoded.value).toEqual(value);
            expect(decoded.length).toBe(viaInterpreter.length);
            const gen = decodeGenerated(mod, m, viaGenerated, useIterator);
            expect(gen.value).toEqual(value);
            expect(gen.length).toBe(viaGenerated.length);
          }),
          { numRuns: RUNS },
        );
      });
    }

    for (const version of [0, 1]) {
      it(`Versioned written at version ${version} decodes with the version-2 codecs, newer parts absent`, () => {
        const old = schemaAtVersion(schema, version);
        const m = old.messages.find((x) => x.name === 'Versioned')!;
        const full = schema.messages.find((x) => x.name === 'Versioned')!;
        fc.assert(
          fc.property(blockArb(m), (value) => {
            const bytes = encode(old, 'Versioned', value);
            const expected: Record<string, unknown> = {};
            for (const f of full.fields) expected[f.name] = f.name in value ? value[f.name] : null;
            for (const g of full.groups) {
              expected[g.name] = g.name in value
                ? (value[g.name] as Record<string, unknown>[]).map((item) => Object.fromEntries(g.fields.map((f) => [f.name, f.name in item ? item[f.name] : null])))
                : null;
            }
            for (const d of full.data) expected[d.name] = d.name in value ? value[d.name] : null;
            expect(decode(schema, bytes).value).toEqual(expected);
            const gen = decodeGenerated(mod, full, bytes);
            expect(gen.value).toEqual(expected);
            expect(gen.length).toBe(bytes.length);
          }),
          { numRuns: 60 },
        );
      });
    }
  });
}

describe('byte order', () => {
  it('the same value differs only in byte order between the two schemas', () => {
    const [l, b] = variants;
    const m = l!.schema.messages.find((x) => x.name === 'AllPrimitives')!;
    const value = fc.sample(blockArb(m), { numRuns: 1, seed: 42 })[0]!;
    value.u32 = 0x01020304;
    const lb = encodeGenerated(le, m, value, Buffer.alloc(1024));
    const bb = encodeGenerated(be, m, value, Buffer.alloc(1024));
    const at = 10 + 11; // header10, then c i8 u8 i16 u16 i32: 11 bytes before u32
    expect([...lb.subarray(at, at + 4)]).toEqual([4, 3, 2, 1]);
    expect([...bb.subarray(at, at + 4)]).toEqual([1, 2, 3, 4]);
    expect(lb.readUInt16LE(0)).toBe(130);
    expect(bb.readUInt16BE(0)).toBe(130);
  });
});

// The project's own schemas: their committed codecs agree with the interpreter too.
const codecsDir = resolve(repoRoot, 'codecs');
const projectSchemas = existsSync(codecsDir)
  ? readdirSync(codecsDir).filter((f) => f.endsWith('.xml') && rootTag(join(codecsDir, f)) === 'messageSchema')
  : [];
for (const file of projectSchemas) {
  describe(`codecs/${file}`, () => {
    it('every message round-trips through codecs/generated and the interpreter, byte for byte', async () => {
      const schema = loadSchema(join(codecsDir, file));
      const mod: unknown = await import(join(codecsDir, 'generated', file.replace(/\.xml$/, ''), 'index.ts'));
      for (const m of schema.messages) {
        fc.assert(
          fc.property(blockArb(m), (value) => {
            const viaInterpreter = encode(schema, m.name, value);
            const viaGenerated = encodeGenerated(mod, m, value, Buffer.alloc(8192));
            expect(viaGenerated.equals(viaInterpreter)).toBe(true);
            expect(decodeGenerated(mod, m, viaGenerated).value).toEqual(value);
            expect(decode(schema, viaGenerated).value).toEqual(value);
          }),
          { numRuns: 20 },
        );
      }
    });
  });
}
