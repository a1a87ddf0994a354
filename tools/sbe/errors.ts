/**
 * Schema problems. Every rejection names the offending element (`message 'Car' field 'x'`)
 * in `element`, so tests and tools can assert on it without parsing message text; the code
 * is the project's stable INVALID_ARGUMENT (a schema is an argument the user can fix).
 */
import { ErrorCode, VcrError } from '../../src/util/errors.js';

export class SbeSchemaError extends VcrError {
  override name = 'SbeSchemaError';
  constructor(
    readonly element: string,
    problem: string,
  ) {
    super(ErrorCode.INVALID_ARGUMENT, `${element}: ${problem}`);
  }
}

/** Bad binary input to the interpreter (truncated, inconsistent lengths, unknown template). */
export class SbeDecodeError extends VcrError {
  override name = 'SbeDecodeError';
  constructor(message: string) {
    super(ErrorCode.MALFORMED_MESSAGE, message);
  }
}
