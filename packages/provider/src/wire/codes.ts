/**
 * The one table mapping {@link SluiceErrorCode}s to wire numbers. The same number is
 * the uint16 code of an ERROR frame and the WebSocket close code (4000–4999).
 * Numbers are stable: never change or reuse one. Codes without an entry travel as
 * INTERNAL (4500).
 *
 * Ranges: 40xx malformed/protocol (HTTP 400-like), 41xx payment and channel (402-like),
 * 42xx content, 43xx peer and lifecycle, 44xx chain, 45xx internal.
 */
import { type SluiceErrorCode, SluiceError, isSluiceError, isSluiceErrorCode } from '@sluice/channel-core';
import { MAX_ERROR_MESSAGE_BYTES } from './constants.ts';

export const WIRE_ERROR_CODES = {
  DECODE_FAILED: 4000,
  FRAME_TOO_LARGE: 4001,
  WIRE_VERSION_UNSUPPORTED: 4002,
  WIRE_UNEXPECTED_FRAME: 4003,
  INVALID_ARGUMENT: 4004,
  VOUCHER_MALFORMED: 4100,
  VOUCHER_BAD_SIGNATURE: 4101,
  VOUCHER_WRONG_CHANNEL: 4102,
  VOUCHER_WRONG_PAYEE: 4103,
  VOUCHER_NOT_INCREASING: 4104,
  VOUCHER_EXCEEDS_BALANCE: 4105,
  VOUCHER_UNDERPAYMENT: 4106,
  CHANNEL_UNKNOWN: 4110,
  CHANNEL_NOT_FUNDED: 4111,
  CHANNEL_CLOSING: 4112,
  INSUFFICIENT_BALANCE: 4113,
  SIGNATURE_MALFORMED: 4120,
  SIGNATURE_HIGH_S: 4121,
  SIGNATURE_BAD_V: 4122,
  SIGNATURE_INVALID: 4123,
  SIGNER_MISMATCH: 4124,
  CONTENT_NOT_FOUND: 4200,
  CHUNK_RANGE_INVALID: 4201,
  CHUNK_HASH_MISMATCH: 4202,
  PEER_TIMEOUT: 4300,
  ABORTED: 4301,
  OVERLOADED: 4302,
  CHAIN_REVERT: 4400,
  CHAIN_RPC: 4401,
  CHAIN_TIMEOUT: 4402,
  INTERNAL: 4500,
} as const satisfies Partial<Record<SluiceErrorCode, number>>;

const BY_CODE: ReadonlyMap<string, number> = new Map(Object.entries(WIRE_ERROR_CODES));
const BY_NUMBER: ReadonlyMap<number, SluiceErrorCode> = new Map(
  Object.entries(WIRE_ERROR_CODES).map(([k, v]) => [v, k as SluiceErrorCode]),
);

/** Wire number (ERROR code and WebSocket close code) of a Sluice error code; INTERNAL's for unmapped codes. */
export function wireCodeOf(code: SluiceErrorCode): number {
  return BY_CODE.get(code) ?? WIRE_ERROR_CODES.INTERNAL;
}

/** The Sluice error code of a wire number, or `undefined` when this version does not know it. */
export function sluiceCodeOfWire(n: number): SluiceErrorCode | undefined {
  const c = BY_NUMBER.get(n);
  return isSluiceErrorCode(c) ? c : undefined;
}

/** WebSocket close code for any thrown value (non-Sluice errors → INTERNAL). */
export function closeCodeFor(e: unknown): number {
  return isSluiceError(e) ? wireCodeOf(e.code) : WIRE_ERROR_CODES.INTERNAL;
}

const encoder = new TextEncoder();

/** Truncate `s` to at most `max` UTF-8 bytes without splitting a code point. */
export function truncateUtf8(s: string, max: number): string {
  if (encoder.encode(s).length <= max) return s;
  let out = '';
  let n = 0;
  for (const ch of s) {
    const len = encoder.encode(ch).length;
    if (n + len > max) break;
    out += ch;
    n += len;
  }
  return out;
}

/**
 * The ERROR frame to send for a thrown value: a SluiceError's code and (truncated)
 * message; anything else becomes INTERNAL "internal error" with no internals.
 */
export function errorFrameFor(e: unknown): { type: 'error'; code: SluiceErrorCode; wireCode: number; message: string } {
  if (isSluiceError(e) && BY_CODE.has(e.code)) {
    return { type: 'error', code: e.code, wireCode: wireCodeOf(e.code), message: truncateUtf8(e.message, MAX_ERROR_MESSAGE_BYTES) };
  }
  return { type: 'error', code: 'INTERNAL', wireCode: WIRE_ERROR_CODES.INTERNAL, message: 'internal error' };
}

/**
 * A WebSocket close reason (≤ 123 UTF-8 bytes, the protocol's limit) for a thrown value.
 */
export function closeReasonFor(e: unknown): string {
  return truncateUtf8(errorFrameFor(e).message, 123);
}

/** The SluiceError a received ERROR frame stands for (details carry the peer's wire code). */
export function errorFromFrame(frame: { code: SluiceErrorCode; wireCode: number; message: string }): SluiceError {
  return new SluiceError(frame.code, frame.message === '' ? 'peer reported an error' : `peer: ${frame.message}`, {
    details: { wireCode: frame.wireCode, remote: true },
  });
}
