/**
 * 64-bit integers declared jsType="number" (test/sbe/schemas/features*.xml, message Numbers):
 * accessors take and return numbers, and no value is ever rounded. Decoding a value a double
 * cannot hold exactly throws SbeUnsafeIntegerError (a RangeError); so does encoding a number
 * that is not a safe integer, before any byte is written. int64 also carries -2^63 (its null
 * value, exact as a double). Both byte orders, around every boundary.
 */
import { describe, expect, it } from 'vitest';
import * as le from './generated/features/index.js';
import * as be from './generated/features-be/index.js';

const MAX = Number.MAX_SAFE_INTEGER;
const INT64_NULL = -(2 ** 63);

// The two generated modules have the same API (their private members make the types distinct).
const variants: [string, typeof le, boolean][] = [['little endian', le, true], ['big endian', be as unknown as typeof le, false]];

for (const [name, mod, littleEndian] of variants) {
  describe(`jsType number, ${name}`, () => {
    const H = mod.MessageHeaderEncoder.ENCODED_LENGTH;
    const fresh = (): { buf: Buffer; enc: le.NumbersEncoder; dec: () => le.NumbersDecoder } => {
      const buf = Buffer.alloc(256);
      const enc = new mod.NumbersEncoder().wrapAndApplyHeader(buf, 0, new mod.MessageHeaderEncoder());
      enc.entriesCount(0);
      const dec = (): le.NumbersDecoder => new mod.NumbersDecoder().wrapAndApplyHeader(buf, 0, new mod.MessageHeaderDecoder());
      return { buf, enc, dec };
    };
    const at = (field: 'position' | 'total'): number => H + mod.NumbersEncoder[`${field}EncodingOffset`]();
    const putRaw = (buf: Buffer, offset: number, v: bigint, signed: boolean): void => {
      if (signed) {
        if (littleEndian) buf.writeBigInt64LE(v, offset);
        else buf.writeBigInt64BE(v, offset);
      } else if (littleEndian) buf.writeBigUInt64LE(v, offset);
      else buf.writeBigUInt64BE(v, offset);
    };
    const getRaw = (buf: Buffer, offset: number): bigint => (littleEndian ? buf.readBigInt64LE(offset) : buf.readBigInt64BE(offset));

    it('round-trips int64 values at and inside the safe range, and -2^63', () => {
      const { buf, enc, dec } = fresh();
      for (const v of [0, 1, -1, 2 ** 31, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, -(2 ** 32) - 1, 123_456_789_012_345, MAX, -MAX, INT64_NULL]) {
        enc.position(v);
        expect(getRaw(buf, at('position'))).toBe(BigInt(v));
        const got = dec().position();
        expect(typeof got).toBe('number');
        expect(got).toBe(v);
      }
    });

    it('round-trips uint64 values up to 2^53-1', () => {
      const { enc, dec } = fresh();
      for (const v of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 52 + 3, MAX]) {
        enc.total(v);
        expect(dec().total()).toBe(v);
      }
    });

    it('refuses to decode an int64 a double cannot hold exactly', () => {
      const { buf, dec } = fresh();
      for (const raw of [2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n), -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n) + 1n]) {
        putRaw(buf, at('position'), raw, true);
        expect(() => dec().position(), String(raw)).toThrow(mod.SbeUnsafeIntegerError);
        expect(() => dec().position()).toThrow(RangeError);
      }
    });

    it('refuses to decode a uint64 above 2^53-1', () => {
      const { buf, dec } = fresh();
      for (const raw of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
        putRaw(buf, at('total'), raw, false);
        expect(() => dec().total(), String(raw)).toThrow(mod.SbeUnsafeIntegerError);
      }
    });

    it('refuses to encode a number that is not a safe integer, writing nothing', () => {
      const { buf, enc } = fresh();
      enc.position(42).total(43);
      const before = Buffer.from(buf);
      for (const v of [2 ** 53, -(2 ** 53), 2 ** 63, 0.5, -1.5, NaN, Infinity, -Infinity]) {
        expect(() => enc.position(v), String(v)).toThrow(mod.SbeUnsafeIntegerError);
      }
      for (const v of [-1, 2 ** 53, INT64_NULL, 0.5, NaN]) {
        expect(() => enc.total(v), String(v)).toThrow(mod.SbeUnsafeIntegerError);
      }
      expect(buf.equals(before)).toBe(true);
    });

    it('gives optional fields their null value as a number, and ranges clamped to the safe integers', () => {
      const { enc, dec } = fresh();
      expect(mod.NumbersDecoder.optIdNullValue()).toBe(INT64_NULL);
      expect(mod.NumbersDecoder.positionMinValue()).toBe(-MAX);
      expect(mod.NumbersDecoder.positionMaxValue()).toBe(MAX);
      expect(mod.NumbersDecoder.totalMaxValue()).toBe(MAX);
      enc.optId(mod.NumbersEncoder.optIdNullValue()).optTotal(mod.NumbersEncoder.optTotalNullValue());
      expect(dec().optId()).toBe(INT64_NULL);
      expect(dec().optTotal()).toBe(MAX); // nullValue="9007199254740991" in the schema
    });

    it('leaves a field overridden with jsType="bigint" a bigint, and other 64-bit fields untouched', () => {
      const { enc, dec } = fresh();
      enc.stillBig(2n ** 63n - 1n);
      enc.span().from(-5).nanos(2n ** 62n);
      enc.ids(1, MAX);
      expect(dec().stillBig()).toBe(2n ** 63n - 1n);
      expect(dec().span().from()).toBe(-5);
      expect(dec().span().nanos()).toBe(2n ** 62n);
      expect(dec().ids(1)).toBe(MAX);
      expect(dec().fixed()).toBe(-1234567);
    });

    it('reads a newer number field as its null value at an older acting version', () => {
      const { buf, enc } = fresh();
      enc.later(7);
      const d = new mod.NumbersDecoder().wrap(buf, H, mod.NumbersDecoder.BLOCK_LENGTH, 1);
      expect(d.laterInActingVersion()).toBe(false);
      expect(d.later()).toBe(INT64_NULL);
    });
  });
}
