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
  /** The chain was reorganised deeper than the confirmations waited for: events are delivered again from before the fork. */
  'CHAIN_REORG',
  'PEER_TIMEOUT',
  'ABORTED',
  /** A bounded queue is full; retry later or shed load. */
  'OVERLOADED',
  'INTERNAL',
  // protocols (pure objectives, ledger proposals, hub policy)
  /** A peer's message or state is structurally invalid. */
  'PROTOCOL_MALFORMED',
  /** A message or state is for another channel or ledger. */
  'PROTOCOL_WRONG_CHANNEL',
  /** A signature is not by the participant the protocol requires. */
  'PROTOCOL_WRONG_SIGNER',
  /** A state or proposal has a turn number the protocol does not allow here. */
  'PROTOCOL_WRONG_TURN',
  /** A different state was already signed at this turn. */
  'PROTOCOL_CONFLICTING_STATE',
  /** A state we will not sign: it moves money the wrong way or breaks an agreed bound. */
  'PROTOCOL_UNACCEPTABLE_STATE',
  /** Retryable: the message is ahead of what this objective can check yet (deliver again later). */
  'PROTOCOL_NOT_READY',
  /** The objective is completed or rejected, or this role cannot do that. */
  'PROTOCOL_BAD_ROLE_OR_STATUS',
  /** A ledger proposal does not apply to the ledger (unknown guarantee, insufficient balance, ...). */
  'LEDGER_PROPOSAL_INVALID',
  /** A ledger proposal differs from the one we agreed to (no blind countersigning). */
  'LEDGER_PROPOSAL_UNEXPECTED',
  /** A ledger still funds guarantees or has pending proposals. */
  'LEDGER_NOT_EMPTY',
  /** A ledger holds, or has agreed to take, the most guarantees its owner allows (policy `maxLedgerGuarantees`). */
  'LEDGER_FULL',
  /**
   * A ledger with this counterparty in this asset is already funding or open (one per
   * counterparty and asset; one being closed does not count).
   */
  'LEDGER_EXISTS',
  /** The hub's collateral policy refuses this. */
  'HUB_POLICY_REJECTED',
  /**
   * Another deposit into the ledger (the counterparty's concurrent top-up) landed first: ours
   * reverted on chain, nothing of it was deposited; try the top-up again.
   */
  'TOPUP_CONFLICT',
  /**
   * A top-up of this ledger is already in progress (ours, perhaps from an earlier run whose
   * deposit is on chain and waits for the counterparty's countersignature): try again later.
   */
  'TOPUP_IN_PROGRESS',
  // client<->provider wire and content
  /** A wire frame is larger than the protocol allows for its type. */
  'FRAME_TOO_LARGE',
  /** The peer speaks a wire protocol version we do not. */
  'WIRE_VERSION_UNSUPPORTED',
  /** A well-formed frame that is not allowed in the session's current state. */
  'WIRE_UNEXPECTED_FRAME',
  /** The requested root CID is not served here. */
  'CONTENT_NOT_FOUND',
  /** A requested chunk range is empty or outside the file. */
  'CHUNK_RANGE_INVALID',
  // client
  /** The provider's price per chunk is above what the client accepts. */
  'PRICE_TOO_HIGH',
  /** The download would need more than the client's budget allows. */
  'BUDGET_EXCEEDED',
  /** The connection to a peer was lost (retryable). */
  'PEER_DISCONNECTED',
  /** The download is complete and saved, but closing its virtual channel failed (retry the close). */
  'CHANNEL_CLOSE_FAILED',
] as const;

export type SluiceErrorCode = (typeof ErrorCodes)[number];

/** Whether `x` is one of the {@link ErrorCodes} (e.g. a code a peer sent, or one read back from a record). */
export function isSluiceErrorCode(x: unknown): x is SluiceErrorCode {
  return typeof x === 'string' && (ErrorCodes as readonly string[]).includes(x);
}

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
