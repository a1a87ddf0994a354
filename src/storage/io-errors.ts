/** Maps Node file-system errors to storage error codes with a message naming the file. */
import { writeSync } from 'node:fs';
import { ErrorCode, VcrError } from '../util/errors.js';

export function storageError(err: unknown, what: string): VcrError {
  if (err instanceof VcrError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EFBIG' || code === 'EDQUOT' || /No space left|File too large/i.test(text)) {
    return new VcrError(ErrorCode.STORAGE_FULL, `${what}: no space left (${code ?? text})`, { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || /Permission denied|Read-only/i.test(text)) {
    return new VcrError(ErrorCode.STORAGE_UNWRITABLE, `${what}: not writable (${code ?? text})`, { cause: err });
  }
  return new VcrError(ErrorCode.IO_ERROR, `${what}: ${text}`, { cause: err });
}

/** writeSync until every byte is written; a short write on a full disk becomes ENOSPC. */
export function writeFully(fd: number, buf: Uint8Array, offset: number, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = writeSync(fd, buf, offset + done, length - done, position + done);
    if (n <= 0) throw Object.assign(new Error('No space left on device (short write)'), { code: 'ENOSPC' });
    done += n;
  }
}
