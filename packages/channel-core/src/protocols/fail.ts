/** Small helpers so every protocol rejection is a {@link SluiceError} with a stable code. */
import { SluiceError, type SluiceErrorCode } from '../errors.ts';

/** Throw a SluiceError. */
export function fail(code: SluiceErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new SluiceError(code, message, { details });
}

/**
 * Run `fn` on peer-supplied input; any non-Sluice error (a TypeError/RangeError from a
 * boundary assert on a malformed value, or anything unexpected) becomes
 * `PROTOCOL_MALFORMED`, so callers only ever see SluiceErrors.
 */
export function guardPeerInput<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SluiceError) throw e;
    throw new SluiceError('PROTOCOL_MALFORMED', `${what} is malformed`, { cause: e });
  }
}
