/** The `archive` config object: defaults, and errors that name the key. */
import { describe, expect, it } from 'vitest';
import { parseArchiveConfig } from '../../src/archiver/archive-config.js';
import { applyConfigDocument, defaultConfig } from '../../src/archiver/archiver-config.js';
import { ErrorCode } from '../../src/util/errors.js';

function refused(doc: unknown, key: string): void {
  let err: { code?: number; message?: string } | undefined;
  try {
    applyConfigDocument(defaultConfig('/tmp/a'), { archive: doc });
  } catch (e) {
    err = e as typeof err;
  }
  expect(err?.code).toBe(ErrorCode.INVALID_ARGUMENT);
  expect(err?.message).toContain(`'${key}'`);
}

describe('archive config', () => {
  it('parses ages with units and fills defaults', () => {
    const c = parseArchiveConfig({ location: '/mnt/cold', afterAge: '30d' });
    expect(c).toEqual({ location: '/mnt/cold', locationId: 'local', shared: false, afterAgeMs: 30 * 86_400_000, compression: 'brotli', level: undefined, blockSize: 262144, intervalMs: 3_600_000 });
    expect(parseArchiveConfig({ location: '/x', afterAge: 1500, compression: 'brotli', level: 9, intervalMs: 0 }).afterAgeMs).toBe(1500);
    expect(applyConfigDocument(defaultConfig('/tmp/a'), { archive: { location: '/x', afterAge: '12h' } }).archive?.afterAgeMs).toBe(12 * 3_600_000);
  });

  it('refuses bad values naming the key', () => {
    refused('x', 'archive');
    refused({ afterAge: '1d' }, 'archive.location');
    refused({ location: '/x' }, 'archive.afterAge');
    refused({ location: '/x', afterAge: 'soon' }, 'archive.afterAge');
    refused({ location: '/x', afterAge: '1d', compression: 'zstd' }, 'archive.compression');
    refused({ location: '/x', afterAge: '1d', level: 12 }, 'archive.level');
    refused({ location: '/x', afterAge: '1d', compression: 'none', level: 1 }, 'archive.level');
    refused({ location: '/x', afterAge: '1d', blockSize: 5000 }, 'archive.blockSize');
    refused({ location: '/x', afterAge: '1d', intervalMs: -1 }, 'archive.intervalMs');
    refused({ location: '/x', afterAge: '1d', locationId: 'a b' }, 'archive.locationId');
    refused({ location: '/x', afterAge: '1d', shared: 'yes' }, 'archive.shared');
    refused({ location: '/x', afterAge: '1d', colour: 1 }, 'archive.colour');
  });
});
