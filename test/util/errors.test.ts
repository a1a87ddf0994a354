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
