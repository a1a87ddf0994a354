import { describe, expect, it } from 'vitest';
import { ErrorCode, VcrError, errorCodeName, isVcrError } from '../../src/util/errors.js';

describe('error codes', () => {
  it('are unique numbers', () => {
    const values = Object.values(ErrorCode);
    expect(new Set(values).size).toBe(values.length);
  });

  it('name themselves and are recognised by code', () => {
    const e = new VcrError(ErrorCode.UNKNOWN_RECORDING, 'no recording 7');
    expect(e.codeName).toBe('UNKNOWN_RECORDING');
    expect(isVcrError(e, ErrorCode.UNKNOWN_RECORDING)).toBe(true);
    expect(isVcrError(e, ErrorCode.GENERIC)).toBe(false);
    expect(errorCodeName(9999)).toBe('CODE_9999');
  });
});

describe('wire error codes', () => {
  it('codecs/control.xml ErrorCode lists exactly the codes of src/util/errors.ts', async () => {
    const { readFileSync } = await import('node:fs');
    const { resolve } = await import('node:path');
    const { XMLParser } = await import('fast-xml-parser');
    const xml = readFileSync(resolve(__dirname, '../../codecs/control.xml'), 'utf8');
    const doc = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true, isArray: (n) => ['types', 'enum', 'validValue'].includes(n) }).parse(xml);
    const enums = doc.messageSchema.types.flatMap((t: { enum?: unknown[] }) => t.enum ?? []) as Array<Record<string, unknown>>;
    const errorEnum = enums.find((e) => e['@_name'] === 'ErrorCode');
    expect(errorEnum).toBeDefined();
    const wire = Object.fromEntries(
      (errorEnum!.validValue as Array<Record<string, unknown>>).map((v) => [v['@_name'], Number(v['#text'])]),
    );
    expect(wire).toEqual({ ...ErrorCode });
  });
});
