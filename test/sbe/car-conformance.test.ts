/**
 * Conformance on the reference vectors written by the Java implementation
 * (test/fixtures/sbe, see its README): generated decoders read every field, generated
 * encoders rebuild the identical bytes; v0 bytes decode with the v1 decoder; big endian.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as base from './generated/baseline/index.js';
import * as ext from './generated/extension/index.js';
import * as be from './generated/bigendian/index.js';
import { fixture } from './helpers.js';

type CarDecoderLike = base.CarDecoder | ext.CarDecoder | be.CarDecoder;

function readCar(dec: CarDecoderLike, numbers: number): Record<string, unknown> {
  const engine = dec.engine();
  const booster = engine.booster();
  const out: Record<string, unknown> = {
    serialNumber: dec.serialNumber(),
    modelYear: dec.modelYear(),
    available: dec.available(),
    code: dec.code(),
    someNumbers: Array.from({ length: numbers }, (_, i) => dec.someNumbers(i)),
    vehicleCode: dec.vehicleCode(),
    extras: [dec.extras().sunRoof(), dec.extras().sportsPack(), dec.extras().cruiseControl()],
    discountedModel: dec.discountedModel(),
    engine: [engine.capacity(), engine.numCylinders(), engine.maxRpm(), engine.manufacturerCode(), engine.fuel(),
      engine.efficiency(), engine.boosterEnabled(), booster.BoostType(), booster.horsePower()],
  };
  const fuel: unknown[] = [];
  for (const f of dec.fuelFigures()) fuel.push([f.speed(), f.mpg(), f.usageDescription()]);
  out.fuelFigures = fuel;
  const perf: unknown[] = [];
  for (const p of dec.performanceFigures()) {
    const acc: unknown[] = [];
    const octane = p.octaneRating();
    for (const a of p.acceleration()) acc.push([a.mph(), a.seconds()]);
    perf.push([octane, acc]);
  }
  out.performanceFigures = perf;
  const text = (v: string | Uint8Array): string => (typeof v === 'string' ? v : Buffer.from(v).toString('utf8'));
  out.manufacturer = text(dec.manufacturer());
  out.model = text(dec.model());
  out.activationCode = text(dec.activationCode());
  return out;
}

const f32 = Math.fround;
const expectedCar = (numbers: number[]): Record<string, unknown> => ({
  serialNumber: 1234n,
  modelYear: 2013,
  available: base.BooleanType.T,
  code: base.Model.A,
  someNumbers: numbers,
  vehicleCode: 'abcdef',
  extras: [false, true, true],
  discountedModel: base.Model.C,
  engine: [2000, 4, 9000, '123', 'Petrol', 35, base.BooleanType.T, base.BoostType.NITROUS, 200],
  fuelFigures: [[30, f32(35.9), 'Urban Cycle'], [55, 49, 'Combined Cycle'], [75, 40, 'Highway Cycle']],
  performanceFigures: [
    [95, [[30, 4], [60, 7.5], [100, f32(12.2)]]],
    [99, [[30, f32(3.8)], [60, f32(7.1)], [100, f32(11.8)]]],
  ],
  manufacturer: 'Honda',
  model: 'Civic VTi',
  activationCode: 'abcdef',
});

type Enc = typeof base | typeof be;
function writeCar(mod: Enc, buf: Buffer, numbers: number[]): number {
  const header = new mod.MessageHeaderEncoder();
  const car = new mod.CarEncoder().wrapAndApplyHeader(buf, 0, header);
  car.serialNumber(1234n).modelYear(2013).available(mod.BooleanType.T).code(mod.Model.A);
  numbers.forEach((n, i) => car.someNumbers(i, n));
  car.vehicleCode('abcdef');
  car.extras().clear().sportsPack(true).cruiseControl(true);
  const engine = car.engine().capacity(2000).numCylinders(4).manufacturerCode('123').efficiency(35).boosterEnabled(mod.BooleanType.T);
  engine.booster().BoostType(mod.BoostType.NITROUS).horsePower(200);
  const fuel = car.fuelFiguresCount(3);
  fuel.next().speed(30).mpg(35.9).usageDescription('Urban Cycle');
  fuel.next().speed(55).mpg(49).usageDescription('Combined Cycle');
  fuel.next().speed(75).mpg(40).usageDescription('Highway Cycle');
  const perf = car.performanceFiguresCount(2);
  const acc1 = perf.next().octaneRating(95).accelerationCount(3);
  acc1.next().mph(30).seconds(4);
  acc1.next().mph(60).seconds(7.5);
  acc1.next().mph(100).seconds(12.2);
  const acc2 = perf.next().octaneRating(99).accelerationCount(3);
  acc2.next().mph(30).seconds(3.8);
  acc2.next().mph(60).seconds(7.1);
  acc2.next().mph(100).seconds(11.8);
  car.manufacturer('Honda').model('Civic VTi').activationCode('abcdef');
  return mod.MessageHeaderEncoder.ENCODED_LENGTH + car.encodedLength();
}

describe('Car baseline vector (little endian)', () => {
  const bytes = readFileSync(fixture('car_example_baseline_data.sbe'));

  it('decodes every field with the generated decoder', () => {
    const header = new base.MessageHeaderDecoder().wrap(bytes, 0);
    expect([header.blockLength(), header.templateId(), header.schemaId(), header.version()]).toEqual([45, 1, 1, 0]);
    const dec = new base.CarDecoder().wrapAndApplyHeader(bytes, 0, new base.MessageHeaderDecoder());
    expect(readCar(dec, 4)).toEqual(expectedCar([1, 2, 3, 4]));
    expect(8 + dec.encodedLength()).toBe(bytes.length);
  });

  it('encodes the same values into the identical 207 bytes', () => {
    const buf = Buffer.alloc(512, 0xee);
    const n = writeCar(base, buf, [1, 2, 3, 4]);
    expect(n).toBe(207);
    expect(buf.subarray(0, n).equals(bytes)).toBe(true);
  });

  it('skips groups and var data to find the message end', () => {
    const dec = new base.CarDecoder().wrapAndApplyHeader(bytes, 0, new base.MessageHeaderDecoder());
    expect(dec.sbeSkip().encodedLength()).toBe(207 - 8);
  });

  it('exposes statics and field metadata', () => {
    expect([base.CarDecoder.BLOCK_LENGTH, base.CarDecoder.TEMPLATE_ID, base.CarDecoder.SCHEMA_ID, base.CarDecoder.SCHEMA_VERSION]).toEqual([45, 1, 1, 0]);
    expect(base.CarEncoder.serialNumberNullValue()).toBe(0xffffffffffffffffn);
    expect(base.CarEncoder.someNumbersId()).toBe(5);
    expect(base.MessageHeaderEncoder.ENCODED_LENGTH).toBe(8);
  });

  it('throws a RangeError on every truncation instead of reading past the end', () => {
    for (let cut = 0; cut < bytes.length; cut++) {
      const part = Buffer.from(bytes.subarray(0, cut));
      expect(() => {
        const dec = new base.CarDecoder().wrapAndApplyHeader(part, 0, new base.MessageHeaderDecoder());
        readCar(dec, 4);
      }).toThrow(RangeError);
    }
  });
});

describe('Car extension vector: v0 bytes through the v1 decoder', () => {
  const bytes = readFileSync(fixture('car_example_extension_data.sbe'));

  it('uses the header block length (45) and reports v1-only fields as absent', () => {
    const dec = new ext.CarDecoder().wrapAndApplyHeader(bytes, 0, new ext.MessageHeaderDecoder());
    expect(ext.CarDecoder.BLOCK_LENGTH).toBe(62);
    expect(dec.actingBlockLength()).toBe(45);
    expect(dec.actingVersion()).toBe(0);
    expect(dec.uuidInActingVersion()).toBe(false);
    expect(dec.cupHolderCountInActingVersion()).toBe(false);
    expect(dec.uuid(0)).toBe(ext.CarDecoder.uuidNullValue());
    expect(dec.cupHolderCount()).toBe(ext.CarDecoder.cupHolderCountNullValue());
    expect(readCar(dec, 4)).toEqual(expectedCar([0, 1, 2, 3]));
    expect(8 + dec.encodedLength()).toBe(bytes.length);
  });

  it('round-trips v1 fields when written by the v1 encoder', () => {
    const buf = Buffer.alloc(512);
    const enc = new ext.CarEncoder().wrapAndApplyHeader(buf, 0, new ext.MessageHeaderEncoder());
    enc.uuid(0, 7n).uuid(1, -8n).cupHolderCount(3);
    const dec = new ext.CarDecoder().wrapAndApplyHeader(buf, 0, new ext.MessageHeaderDecoder());
    expect(dec.actingBlockLength()).toBe(62);
    expect([dec.uuid(0), dec.uuid(1), dec.cupHolderCount()]).toEqual([7n, -8n, 3]);
  });
});

describe('Car big-endian vector', () => {
  const bytes = readFileSync(fixture('car_example-bigendian-test-schema.be.211.bin'));

  it('decodes every field', () => {
    const dec = new be.CarDecoder().wrapAndApplyHeader(bytes, 0, new be.MessageHeaderDecoder());
    expect(dec.actingBlockLength()).toBe(49);
    expect(readCar(dec, 5)).toEqual(expectedCar([0, 1, 2, 3, 4]));
  });

  it('encodes the identical 211 bytes', () => {
    const buf = Buffer.alloc(512);
    const n = writeCar(be, buf, [0, 1, 2, 3, 4]);
    expect(n).toBe(211);
    expect(buf.subarray(0, n).equals(bytes)).toBe(true);
  });
});
