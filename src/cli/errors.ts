/**
 * CLI-level error classification. A UsageError is bad usage (exit 2); anything carrying a
 * VCR error code is a problem the user can fix (exit 1) and is printed with its code so
 * scripts and people can tell failures apart.
 */
import { VcrError } from '../util/errors.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  return 1;
}

export function describeError(err: unknown): string {
  if (err instanceof VcrError) return `${err.message} [${err.codeName}]`;
  if (err instanceof Error) return err.message;
  return String(err);
}
