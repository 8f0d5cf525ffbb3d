/**
 * Ethereum signatures as used by Nitro: secp256k1 over the EIP-191 digest
 * `keccak256("\x19Ethereum Signed Message:\n32" || hash)`.
 *
 * One documented form: a {@link Signature} is 65 bytes `r || s || v` with `s` in the low
 * half of the curve order and `v` in {27, 28} (what `ecrecover` and ethers' compact
 * serialisation use). Helpers convert to/from hex and `{ v, r, s }`.
 */
import { keccak256 } from './keccak.ts';
import { type Address, type Bytes32, bytesToHex, hexToBytes } from './hex.ts';
import { checksumAddress, parsePrivateKey, publicKeyToAddressBytes } from './address.ts';
import { SluiceError } from './errors.ts';
import { secp } from './secp256k1.ts';

declare const sigBrand: unique symbol;
/** 65 bytes `r || s || v`, low-s, v in {27, 28}. */
export type Signature = Uint8Array & { readonly [sigBrand]: 'Signature' };

/** The `{ v, r, s }` form taken by Solidity's `Signature` struct. */
export interface SignatureVRS {
  readonly v: number;
  readonly r: Bytes32;
  readonly s: Bytes32;
}

export const SIGNATURE_LENGTH = 65;

// secp256k1 group order n and n/2, big-endian
const N = hexToBytes('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
const HALF_N = hexToBytes('0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0');

function compare32(a: Uint8Array, aOff: number, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = a[aOff + i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

function isZero32(a: Uint8Array, off: number): boolean {
  for (let i = 0; i < 32; i++) if (a[off + i] !== 0) return false;
  return true;
}

/**
 * Check the shape of a 65-byte signature without any curve work.
 * @throws SluiceError SIGNATURE_MALFORMED (length, r or s zero/out of range), SIGNATURE_HIGH_S, SIGNATURE_BAD_V
 */
export function assertSignature(sig: unknown, name = 'signature'): asserts sig is Signature {
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_LENGTH) {
    throw new SluiceError('SIGNATURE_MALFORMED', `${name} must be 65 bytes r||s||v`);
  }
  const v = sig[64]!;
  if (v !== 27 && v !== 28) throw new SluiceError('SIGNATURE_BAD_V', `${name} has v=${v}, expected 27 or 28`);
  if (isZero32(sig, 0) || compare32(sig, 0, N) >= 0) throw new SluiceError('SIGNATURE_MALFORMED', `${name} has r out of range`);
  if (isZero32(sig, 32)) throw new SluiceError('SIGNATURE_MALFORMED', `${name} has s out of range`);
  if (compare32(sig, 32, HALF_N) > 0) throw new SluiceError('SIGNATURE_HIGH_S', `${name} has a high s value (malleable)`);
}

/** Parse a signature from bytes or 0x hex (copies). @throws SluiceError as {@link assertSignature} */
export function parseSignature(x: Uint8Array | string, name = 'signature'): Signature {
  let bytes: Uint8Array;
  if (typeof x === 'string') {
    try {
      bytes = hexToBytes(x, name);
    } catch (e) {
      throw new SluiceError('SIGNATURE_MALFORMED', `${name} must be 0x hex of 65 bytes`, { cause: e });
    }
  } else {
    bytes = Uint8Array.from(x);
  }
  assertSignature(bytes, name);
  return bytes;
}

/** Lowercase hex of a signature (130 hex digits). */
export function signatureToHex(sig: Signature): `0x${string}` {
  return bytesToHex(sig);
}

/** `{ v, r, s }` of a signature. */
export function signatureToVRS(sig: Signature): SignatureVRS {
  return {
    v: sig[64]!,
    r: bytesToHex(sig.subarray(0, 32)) as string as Bytes32,
    s: bytesToHex(sig.subarray(32, 64)) as string as Bytes32,
  };
}

/** Build a signature from `{ v, r, s }` (v may be 0/1 or 27/28). @throws SluiceError */
export function signatureFromVRS(vrs: { v: number | bigint; r: string; s: string }): Signature {
  const v = Number(vrs.v);
  const out = new Uint8Array(65);
  try {
    out.set(hexToBytes(vrs.r, 'r'), 0);
    out.set(hexToBytes(vrs.s, 's'), 32);
    if (vrs.r.length !== 66 || vrs.s.length !== 66) throw new RangeError('r and s must be 32 bytes');
  } catch (e) {
    throw new SluiceError('SIGNATURE_MALFORMED', 'signature r and s must be 32-byte hex', { cause: e });
  }
  out[64] = v === 0 || v === 1 ? v + 27 : v;
  assertSignature(out);
  return out;
}

const PREFIX = new TextEncoder().encode('\x19Ethereum Signed Message:\n32');
const scratch = new Uint8Array(PREFIX.length + 32);
scratch.set(PREFIX, 0);

/** EIP-191 digest of a 32-byte hash: `keccak256("\x19Ethereum Signed Message:\n32" || hash)`. */
export function ethSignedMessageDigest(hash32: Uint8Array): Uint8Array {
  scratch.set(hash32, PREFIX.length);
  return keccak256(scratch);
}

/**
 * Sign a 32-byte hash the way Nitro expects (EIP-191 prefix, low-s, v in {27,28}).
 * @param privateKey - 32 bytes or 0x hex; never echoed in errors
 */
export function signHash(hash32: Uint8Array, privateKey: Uint8Array | string): Signature {
  const { signature, recovery } = secp().sign(ethSignedMessageDigest(hash32), parsePrivateKey(privateKey));
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = 27 + recovery;
  return out as Signature;
}

/**
 * Recover the 20 address bytes that signed `hash32` (EIP-191).
 * @throws SluiceError SIGNATURE_* on a malformed signature, SIGNATURE_INVALID if no key recovers
 *   or it recovers to the zero address
 */
export function recoverHashSignerBytes(hash32: Uint8Array, sig: Uint8Array): Uint8Array {
  assertSignature(sig);
  const pub = secp().recover(ethSignedMessageDigest(hash32), sig.subarray(0, 64), sig[64]! - 27);
  if (pub === undefined) throw new SluiceError('SIGNATURE_INVALID', 'signature does not recover to any key');
  const addr = publicKeyToAddressBytes(pub);
  if (addr.every((b) => b === 0)) throw new SluiceError('SIGNATURE_INVALID', 'signature recovers to the zero address');
  return addr;
}

/** Recover the checksummed address that signed `hash32` (EIP-191). @throws SluiceError */
export function recoverHashSigner(hash32: Uint8Array, sig: Uint8Array): Address {
  return checksumAddress(recoverHashSignerBytes(hash32, sig));
}
