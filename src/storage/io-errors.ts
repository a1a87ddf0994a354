/** Maps Node file-system errors to storage error codes with a message naming the file. */
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
