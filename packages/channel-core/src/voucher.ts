/**
 * Nitro vouchers: a payer's signature over `keccak256(abi.encode(bytes32 channelId, uint256 amount))`
 * with `amount` cumulative. This module is the hot path of every paid download.
 *
 * Wire form (129 bytes): `channelId (32) || amount (32, big-endian) || r (32) || s (32) || v (1)`.
 * Redemption form (`VirtualPaymentApp` appData, 128 bytes):
 * `abi.encode((uint256 amount, (uint8 v, bytes32 r, bytes32 s)))`.
 */
import {
  type Address,
  type Bytes32,
  type ChannelId,
  type Hex,
  assertUint,
  bytesToHex,
  hexToBytes,
  parseBytes32,
  readUint256,
} from './hex.ts';
import { checksumAddress, parseAddress, publicKeyToAddressBytes } from './address.ts';
import { SluiceError } from './errors.ts';
import { keccak256 } from './keccak.ts';
import { secp } from './secp256k1.ts';
import { type Signature, assertSignature, ethSignedMessageDigest, signHash } from './signature.ts';

/** A signed cumulative payment on a virtual channel. */
export interface Voucher {
  readonly channelId: ChannelId;
  /** Cumulative amount paid so far on the channel, in the asset's base unit. */
  readonly amount: bigint;
  readonly signature: Signature;
}

export const VOUCHER_WIRE_LENGTH = 129;
export const REDEMPTION_APPDATA_LENGTH = 128;

const M64 = (1n << 64n) - 1n;

/** Write `value` (uint256) big-endian into `out[offset..offset+32)` in four 64-bit limbs. */
function writeWord(out: Uint8Array, offset: number, value: bigint): void {
  const dv = new DataView(out.buffer, out.byteOffset + offset, 32);
  dv.setBigUint64(0, (value >> 192n) & M64);
  dv.setBigUint64(8, (value >> 128n) & M64);
  dv.setBigUint64(16, (value >> 64n) & M64);
  dv.setBigUint64(24, value & M64);
}

const preimage = new Uint8Array(64);

function channelIdBytes(channelId: ChannelId | Uint8Array): Uint8Array {
  if (channelId instanceof Uint8Array) {
    if (channelId.length !== 32) throw new RangeError('channelId must be 32 bytes');
    return channelId;
  }
  return hexToBytes(parseBytes32(channelId, 'channelId'), 'channelId');
}

/** Raw 32-byte voucher hash; the 64-byte preimage is packed by hand (no ABI coder). */
export function hashVoucherBytes(channelId: ChannelId | Uint8Array, amount: bigint): Uint8Array {
  assertUint(amount, 'amount');
  preimage.set(channelIdBytes(channelId), 0);
  writeWord(preimage, 32, amount);
  return keccak256(preimage);
}

/** `keccak256(abi.encode(bytes32 channelId, uint256 amount))` as hex. */
export function hashVoucher(channelId: ChannelId, amount: bigint): Bytes32 {
  return bytesToHex(hashVoucherBytes(channelId, amount)) as string as Bytes32;
}

/**
 * Sign a cumulative voucher.
 * @param privateKey - the payer's key (32 bytes or hex); never echoed in errors
 */
export function signVoucher(channelId: ChannelId, amount: bigint, privateKey: Uint8Array | string): Voucher {
  const id = parseBytes32(channelId, 'channelId');
  return { channelId: id, amount, signature: signHash(hashVoucherBytes(id, amount), privateKey) };
}

/**
 * Cache of payers' public keys (address as given -> 65-byte key), filled on first
 * successful recovery, so later checks compare keys instead of hashing them into addresses.
 * Bounded; cleared wholesale when full.
 */
const payerKeys = new Map<string, Uint8Array>();
const PAYER_KEY_CACHE_MAX = 4096;

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 1; i < 65; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Recover the voucher's signer.
 * @throws SluiceError VOUCHER_BAD_SIGNATURE (with the SIGNATURE_* code in `details.reason`)
 */
export function recoverVoucherSigner(voucher: Voucher): Address {
  const sig = voucher.signature;
  try {
    assertSignature(sig);
  } catch (e) {
    throw new SluiceError('VOUCHER_BAD_SIGNATURE', 'voucher signature is malformed', { cause: e });
  }
  const pub = secp().recover(ethSignedMessageDigest(hashVoucherBytes(voucher.channelId, voucher.amount)), sig.subarray(0, 64), sig[64]! - 27);
  if (pub === undefined) throw new SluiceError('VOUCHER_BAD_SIGNATURE', 'voucher signature does not recover to any key');
  const addr = publicKeyToAddressBytes(pub);
  if (addr.every((b) => b === 0)) throw new SluiceError('VOUCHER_BAD_SIGNATURE', 'voucher signature recovers to the zero address');
  return checksumAddress(addr);
}

/**
 * True iff `voucher` carries a well-formed signature (low-s, v in {27,28}) that
 * `ecrecover` maps to `payer` — i.e. it is redeemable on-chain as is. Never throws for a
 * bad signature; throws TypeError/RangeError only for a malformed channel id, amount or address.
 *
 * Fast path: after the first successful check for a payer, its public key is cached and
 * later checks compare the recovered key directly (no keccak of the key).
 */
export function verifyVoucher(voucher: Voucher, payer: Address): boolean {
  const sig = voucher.signature;
  if (!(sig instanceof Uint8Array) || sig.length !== 65) return false;
  try {
    assertSignature(sig);
  } catch {
    return false;
  }
  const digest = ethSignedMessageDigest(hashVoucherBytes(voucher.channelId, voucher.amount));
  const pub = secp().recover(digest, sig.subarray(0, 64), sig[64]! - 27);
  if (pub === undefined) return false;
  // Keyed by the exact string given: a string enters the cache only after parseAddress
  // accepted it, so a bad checksum is always refused, cached key or not.
  const key = payer;
  const known = payerKeys.get(key);
  if (known !== undefined) return sameKey(known, pub);
  const payerBytes = hexToBytes(parseAddress(payer, 'payer'), 'payer');
  const addr = publicKeyToAddressBytes(pub);
  for (let i = 0; i < 20; i++) if (addr[i] !== payerBytes[i]) return false;
  if (payerKeys.size >= PAYER_KEY_CACHE_MAX) payerKeys.clear();
  payerKeys.set(key, Uint8Array.from(pub));
  return true;
}

/** 129-byte wire form: `channelId || amount || r || s || v`. */
export function serializeVoucher(voucher: Voucher, out = new Uint8Array(VOUCHER_WIRE_LENGTH), offset = 0): Uint8Array {
  assertUint(voucher.amount, 'amount');
  out.set(channelIdBytes(voucher.channelId), offset);
  writeWord(out, offset + 32, voucher.amount);
  out.set(voucher.signature, offset + 64);
  return out;
}

/**
 * Parse the 129-byte wire form (copies; validates the signature's shape, not its signer).
 * @throws SluiceError VOUCHER_MALFORMED
 */
export function deserializeVoucher(bytes: Uint8Array, offset = 0): Voucher {
  if (!(bytes instanceof Uint8Array) || bytes.length - offset < VOUCHER_WIRE_LENGTH) {
    throw new SluiceError('VOUCHER_MALFORMED', `voucher must be ${VOUCHER_WIRE_LENGTH} bytes`);
  }
  const signature = bytes.slice(offset + 64, offset + 129);
  try {
    assertSignature(signature, 'voucher signature');
  } catch (e) {
    throw new SluiceError('VOUCHER_MALFORMED', 'voucher signature is malformed', { cause: e });
  }
  return {
    channelId: bytesToHex(bytes.subarray(offset, offset + 32)) as string as ChannelId,
    amount: readUint256(bytes, offset + 32),
    signature,
  };
}

/**
 * The `VirtualPaymentApp` redemption appData:
 * `abi.encode((uint256 amount, (uint8 v, bytes32 r, bytes32 s)))` — a static tuple, 128 bytes.
 */
export function encodeVoucherAmountAndSignature(amount: bigint, signature: Signature): Hex {
  assertUint(amount, 'amount');
  assertSignature(signature);
  const out = new Uint8Array(REDEMPTION_APPDATA_LENGTH);
  writeWord(out, 0, amount);
  out[63] = signature[64]!;
  out.set(signature.subarray(0, 64), 64);
  return bytesToHex(out);
}

/**
 * Decode redemption appData strictly (exact length, zero padding around v).
 * @throws SluiceError DECODE_FAILED, or SIGNATURE_* for a malformed signature
 */
export function decodeVoucherAmountAndSignature(data: Uint8Array | string): { amount: bigint; signature: Signature } {
  let bytes: Uint8Array;
  try {
    bytes = typeof data === 'string' ? hexToBytes(data, 'appData') : data;
  } catch (e) {
    throw new SluiceError('DECODE_FAILED', 'voucher appData is not hex', { cause: e });
  }
  if (bytes.length !== REDEMPTION_APPDATA_LENGTH) {
    throw new SluiceError('DECODE_FAILED', `voucher appData must be ${REDEMPTION_APPDATA_LENGTH} bytes`);
  }
  for (let i = 32; i < 63; i++) {
    if (bytes[i] !== 0) throw new SluiceError('DECODE_FAILED', 'voucher appData has a non-canonical v word');
  }
  const signature = new Uint8Array(65);
  signature.set(bytes.subarray(64, 128), 0);
  signature[64] = bytes[63]!;
  assertSignature(signature);
  return { amount: readUint256(bytes, 0), signature };
}
