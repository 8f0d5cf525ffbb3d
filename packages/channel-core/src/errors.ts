/**
 * One error hierarchy for Sluice. Every error that crosses a package boundary is a
 * {@link SluiceError} with a stable {@link SluiceErrorCode}; messages are short and
 * never contain secrets.
 */

/** Stable error codes. New codes may be added; existing ones never change meaning. */
export const ErrorCodes = [
  // values and encodings
  'INVALID_ARGUMENT',
  'DECODE_FAILED',
  // signatures
  'SIGNATURE_MALFORMED',
  'SIGNATURE_HIGH_S',
  'SIGNATURE_BAD_V',
  'SIGNATURE_INVALID',
  'SIGNER_MISMATCH',
  // vouchers
  'VOUCHER_MALFORMED',
  'VOUCHER_BAD_SIGNATURE',
  'VOUCHER_WRONG_CHANNEL',
  'VOUCHER_WRONG_PAYEE',
  'VOUCHER_NOT_INCREASING',
  'VOUCHER_EXCEEDS_BALANCE',
  'VOUCHER_UNDERPAYMENT',
  'CHANNEL_UNKNOWN',
  'CHANNEL_NOT_FUNDED',
  'CHANNEL_CLOSING',
  'INSUFFICIENT_BALANCE',
  // content
  'CHUNK_HASH_MISMATCH',
  // chain, peers, lifecycle
  'CHAIN_REVERT',
  'CHAIN_RPC',
  'CHAIN_TIMEOUT',
  'PEER_TIMEOUT',
  'ABORTED',
  'INTERNAL',
] as const;

export type SluiceErrorCode = (typeof ErrorCodes)[number];

export interface SluiceErrorOptions {
  /** Structured, non-secret context (ids, amounts as strings, indexes). */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/** The base error of every Sluice package. */
export class SluiceError extends Error {
  override readonly name: string = 'SluiceError';
  readonly code: SluiceErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: SluiceErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/**
 * Narrow an unknown value to a {@link SluiceError}, optionally with a given code.
 * @param e - anything caught
 * @param code - when given, also require this code
 */
export function isSluiceError(e: unknown, code?: SluiceErrorCode): e is SluiceError {
  return e instanceof SluiceError && (code === undefined || e.code === code);
}
