import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/util/errors.js';
import { RawClient, launchArchiver, removeDir } from './support.js';

describe('smoke', () => {
  it('connects and answers stats', async () => {
    const { archiver, dir } = await launchArchiver();
    try {
      const c = await RawClient.connect(archiver.controlPort);
      const { response, data } = await c.call((ids) => c.proxy.stats(ids));
      expect(response.ok).toBe(true);
      expect(response.dataCount).toBe(data.length);
      const bad = await c.call((ids) => c.proxy.stats({ ...ids, controlSessionId: 999n }));
      expect(bad.response.errorCode).toBe(ErrorCode.UNKNOWN_SESSION);
      c.close();
    } finally {
      await archiver.close();
      removeDir(dir);
    }
  });
});
