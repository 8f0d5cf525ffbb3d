/** CLI exit codes: one table at the edge. */
import { type SluiceErrorCode, isSluiceError } from '@sluice/channel-core';

export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  /** Price above --max-price, or the budget does not allow the download. */
  REFUSED: 3,
  /** The provider sent bytes or blocks that do not match the CID (it was dropped). */
  VERIFICATION_FAILED: 4,
  /** The provider stalled or could not be reached. */
  PROVIDER_UNAVAILABLE: 5,
  /** The provider refused the session (channel, content, range, …). */
  PROVIDER_REFUSED: 6,
  /** Interrupted (Ctrl-C); the download can be resumed by running the same command. */
  INTERRUPTED: 130,
} as const;

const TABLE: Partial<Record<SluiceErrorCode, number>> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  PRICE_TOO_HIGH: EXIT.REFUSED,
  BUDGET_EXCEEDED: EXIT.REFUSED,
  INSUFFICIENT_BALANCE: EXIT.REFUSED,
  CHUNK_HASH_MISMATCH: EXIT.VERIFICATION_FAILED,
  DECODE_FAILED: EXIT.VERIFICATION_FAILED,
  WIRE_UNEXPECTED_FRAME: EXIT.VERIFICATION_FAILED,
  PEER_TIMEOUT: EXIT.PROVIDER_UNAVAILABLE,
  PEER_DISCONNECTED: EXIT.PROVIDER_UNAVAILABLE,
  OVERLOADED: EXIT.PROVIDER_UNAVAILABLE,
  // the hub's ledger with the provider (or the provider's own cap) has no room for another channel now
  LEDGER_FULL: EXIT.PROVIDER_UNAVAILABLE,
  CONTENT_NOT_FOUND: EXIT.PROVIDER_REFUSED,
  CHUNK_RANGE_INVALID: EXIT.PROVIDER_REFUSED,
  CHANNEL_UNKNOWN: EXIT.PROVIDER_REFUSED,
  CHANNEL_NOT_FUNDED: EXIT.PROVIDER_REFUSED,
  CHANNEL_CLOSING: EXIT.PROVIDER_REFUSED,
  VOUCHER_BAD_SIGNATURE: EXIT.PROVIDER_REFUSED,
  VOUCHER_WRONG_PAYEE: EXIT.PROVIDER_REFUSED,
  VOUCHER_EXCEEDS_BALANCE: EXIT.PROVIDER_REFUSED,
  ABORTED: EXIT.INTERRUPTED,
};

export function exitCodeFor(e: unknown): number {
  return isSluiceError(e) ? (TABLE[e.code] ?? EXIT.FAILED) : EXIT.FAILED;
}
