/**
 * Specific layouts and values of test/sbe/schemas/features.xml through the generated code:
 * a 10-byte header, explicit offsets in messages and composites, constants (trimmed text,
 * valueRef, uint64), enums with a named encoding type and unknown values, uint64 sets, a
 * custom group dimension, optional null values, acting version gating.
 */
import { describe, expect, it } from 'vitest';
import * as f from './generated/features/index.js';
import * as fb from './generated/features-be/index.js';

describe('features schema through generated code', () => {
  it('uses the real header length and honours explicit field offsets', () => {
    expect(f.MessageHeaderEncoder.ENCODED_LENGTH).toBe(10);
    expect(f.AllPrimitivesEncoder.BLOCK_LENGTH).toBe(130);
    const buf = Buffer.alloc(256);
    const enc = new f.AllPrimitivesEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
    enc.code('ABCDEFGHIJ'); // truncated to 8
    expect(buf.toString('latin1', 10 + 70, 10 + 78)).toBe('ABCDEFGH');
    expect(enc.encodedLength()).toBe(130);
    enc.code('AB');
    expect([...buf.subarray(10 + 70, 10 + 78)]).toEqual([65, 66, 0, 0, 0, 0, 0, 0]);
    const dec = new f.AllPrimitivesDecoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderDecoder());
    expect(dec.code()).toBe('AB');
  });

  it('reads constants: trimmed char text, numbers, uint64 and valueRef enums', () => {
    const dec = new f.AllPrimitivesDecoder();
    expect(dec.venue()).toBe('XNYS');
    expect(dec.answer()).toBe(42);
    expect(dec.bigConst()).toBe(18446744073709551614n);
    expect(dec.fixedStatus()).toBe(f.Status.DONE);
    expect(new f.OuterDecoder().limit2()).toBe(512);
  });

  it('writes optional fields as their null values', () => {
    const buf = Buffer.alloc(256);
    const enc = new f.AllPrimitivesEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
    enc.optInt(f.AllPrimitivesEncoder.optIntNullValue()).price(f.AllPrimitivesEncoder.priceNullValue()).optDouble(NaN);
    const dec = new f.AllPrimitivesDecoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderDecoder());
    expect(f.AllPrimitivesDecoder.optIntNullValue()).toBe(0); // nullValue="0" in the schema
    expect(dec.optInt()).toBe(0);
    expect(dec.price()).toBe(-(2n ** 63n));
    expect(dec.optDouble()).toBeNaN();
  });

  it('places composite members at their explicit offsets, nested types included', () => {
    expect(f.OuterEncoder.ENCODED_LENGTH).toBe(38);
    const buf = Buffer.alloc(64);
    const o = new f.OuterEncoder().wrap(buf, 0);
    o.a(1).inner().p(-2).q(0.5);
    o.Shape(f.Shape.SQUARE).Corners().bottomRight(true);
    o.Point().x(7).y(-7);
    o.side(f.Side.SELL).flags().high(true);
    o.label('abcd').big(2n ** 64n - 2n);
    expect(buf.readInt16LE(2)).toBe(-2);
    expect(buf.readDoubleLE(4)).toBe(0.5);
    expect(buf[12]).toBe(1);
    expect(buf[13]).toBe(0x80);
    expect([buf.readInt32LE(14), buf.readInt32LE(18)]).toEqual([7, -7]);
    expect(String.fromCharCode(buf[22]!)).toBe('S');
    expect(buf.readUInt16LE(23)).toBe(0x8000);
    expect(buf.toString('latin1', 25, 29)).toBe('abcd');
    expect(buf.readBigUInt64LE(30)).toBe(2n ** 64n - 2n);
  });

  it('decodes unknown enum values as their raw number and uint64 set bits as booleans', () => {
    const buf = Buffer.alloc(256);
    const enc = new f.StructuredEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
    enc.status(77 as f.Status).wide(f.Wide.HIGH).signed(f.Signed.MINUS);
    enc.f64().clear().mid(true).end(true);
    enc.f32().clear().last(true);
    const dec = new f.StructuredDecoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderDecoder());
    expect(dec.status()).toBe(77);
    expect(f.Status[dec.status()]).toBeUndefined();
    expect(dec.wide()).toBe(60000);
    expect(dec.signed()).toBe(-1);
    expect([dec.f64().zero(), dec.f64().mid(), dec.f64().end()]).toEqual([false, true, true]);
    expect(dec.f64().raw()).toBe((1n << 40n) | (1n << 63n));
    expect(dec.f64().choices()).toEqual(['mid', 'end']);
    expect(dec.f32().last()).toBe(true);
    expect(dec.f32().raw()).toBe(2 ** 31);
  });

  it('writes a custom group dimension (uint8 block length, uint32 count at offset 2) and bounds the count', () => {
    const buf = Buffer.alloc(256);
    const enc = new f.GroupedEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
    enc.id(5);
    const legs = enc.legsCount(2);
    expect(buf[10 + 4]).toBe(12);
    expect(buf.readUInt32LE(10 + 4 + 2)).toBe(2);
    legs.next().qty(1).side(f.Side.BUY).fillsCount(0);
    legs.note('x');
    legs.next().qty(2).side(f.Side.SELL).fillsCount(1).next().px(9n).venue('XLON');
    legs.note('');
    expect(() => legs.next()).toThrow(RangeError);
    expect(() => new f.GroupedEncoder().wrap(buf, 0).legsCount(1001)).toThrow(RangeError);
  });

  it('writes the same values big-endian in the big-endian schema', () => {
    const buf = Buffer.alloc(256);
    new fb.AllPrimitivesEncoder().wrapAndApplyHeader(buf, 0, new fb.MessageHeaderEncoder()).i64(-2n).u16(0x0102).f64(1.5);
    expect(buf.readUInt16BE(0)).toBe(130);
    const dec = new fb.AllPrimitivesDecoder().wrapAndApplyHeader(buf, 0, new fb.MessageHeaderDecoder());
    expect([dec.i64(), dec.u16(), dec.f64()]).toEqual([-2n, 0x0102, 1.5]);
    expect(buf.readUInt16BE(10 + 5)).toBe(0x0102);
  });

  it('gates newer fields, groups and var data by the acting version', () => {
    const buf = Buffer.alloc(256);
    const enc = new f.VersionedEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
    enc.base(3).v1(4n).v2('abc').v2status(f.Status.DONE);
    enc.itemsCount(1).next().a(1).b(2);
    enc.laterCount(1).next().z(9);
    enc.note('n').extra('e');
    const dec = new f.VersionedDecoder();
    // The same bytes read as version 2 (everything) ...
    dec.wrapAndApplyHeader(buf, 0, new f.MessageHeaderDecoder());
    expect([dec.base(), dec.v1(), dec.v2(), dec.v2status()]).toEqual([3, 4n, 'abc', f.Status.DONE]);
    // ... and, with the acting version forced to 1, newer parts are absent.
    dec.wrap(buf, 10, f.VersionedDecoder.BLOCK_LENGTH, 1);
    expect([dec.v1InActingVersion(), dec.v2InActingVersion()]).toEqual([true, false]);
    expect([dec.v1(), dec.v2(), dec.v2status(), dec.v2flags(), dec.v2inner()]).toEqual([4n, null, f.Status.NULL_VAL, null, null]);
    const items = dec.items();
    expect(items.count()).toBe(1);
    expect(items.next().b()).toBe(2);
    expect(dec.later().count()).toBe(0);
    expect(dec.laterInActingVersion()).toBe(false);
  });
});
