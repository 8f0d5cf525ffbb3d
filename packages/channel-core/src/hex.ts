/**
 * Branded hex types, byte helpers and boundary asserts.
 *
 * All asserts throw `TypeError` (wrong shape) or `RangeError` (out of range) naming the
 * argument; they never echo the value, so they are safe to use on secrets.
 */

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** `0x`-prefixed hex string of any even length. */
export type Hex = Brand<`0x${string}`, 'Hex'>;
/** 20-byte account address, EIP-55 checksummed by the constructors here. */
export type Address = Brand<`0x${string}`, 'Address'>;
/** 32-byte value as lowercase hex. */
export type Bytes32 = Brand<`0x${string}`, 'Bytes32'>;
/** A Nitro channel id (32 bytes, lowercase hex). */
export type ChannelId = Bytes32;

export const MAX_UINT256 = (1n << 256n) - 1n;
export const MAX_UINT64 = (1n << 64n) - 1n;
export const MAX_UINT48 = (1n << 48n) - 1n;

const HEX_RE = /^0x(?:[0-9a-fA-F]{2})*$/;

const HEX_CHARS = '0123456789abcdef';
const BYTE_TO_HEX: string[] = Array.from({ length: 256 }, (_, i) => HEX_CHARS[i >> 4]! + HEX_CHARS[i & 15]!);
const HEX_TO_NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_TO_NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_TO_NIBBLE[97 + i] = 10 + i;
  HEX_TO_NIBBLE[65 + i] = 10 + i;
}

/** Lowercase `0x` hex of bytes. */
export function bytesToHex(bytes: Uint8Array): Hex {
  let out = '0x';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_HEX[bytes[i]!];
  return out as Hex;
}

/**
 * Parse `0x` hex into bytes.
 * @throws TypeError naming `name` when not even-length `0x` hex
 */
export function hexToBytes(hex: string, name = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || hex[0] !== '0' || (hex[1] !== 'x' && hex[1] !== 'X')) {
    throw new TypeError(`${name} must be 0x-prefixed hex with an even number of digits`);
  }
  const out = new Uint8Array((hex.length - 2) / 2);
  for (let i = 0, j = 2; i < out.length; i++, j += 2) {
    const hi = HEX_TO_NIBBLE[hex.charCodeAt(j)] ?? -1;
    const lo = HEX_TO_NIBBLE[hex.charCodeAt(j + 1)] ?? -1;
    if (hi < 0 || lo < 0) throw new TypeError(`${name} must be 0x-prefixed hex with an even number of digits`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** True if `x` is `0x` hex with whole bytes (optionally of exactly `bytes` bytes). */
export function isHex(x: unknown, bytes?: number): x is Hex {
  return typeof x === 'string' && HEX_RE.test(x) && (bytes === undefined || x.length === 2 + 2 * bytes);
}

/** @throws TypeError naming `name` */
export function assertHex(x: unknown, name: string): asserts x is Hex {
  if (!isHex(x)) throw new TypeError(`${name} must be 0x-prefixed hex with whole bytes`);
}

/** Parse a 32-byte hex value (any case) into lowercase {@link Bytes32}. @throws TypeError */
export function parseBytes32(x: unknown, name: string): Bytes32 {
  if (!isHex(x, 32)) throw new TypeError(`${name} must be 32 bytes of 0x hex`);
  return x.toLowerCase() as Bytes32;
}

/** @throws TypeError naming `name` */
export function assertBytes32(x: unknown, name: string): asserts x is Bytes32 {
  if (!isHex(x, 32) || x !== x.toLowerCase()) throw new TypeError(`${name} must be 32 bytes of lowercase 0x hex`);
}

/** Parse a channel id. @throws TypeError naming `name` */
export const parseChannelId: (x: unknown, name: string) => ChannelId = parseBytes32;

/** @throws TypeError naming `name` */
export function assertBytes(x: unknown, name: string, length?: number): asserts x is Uint8Array {
  if (!(x instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (length !== undefined && x.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${x.length}`);
}

/**
 * Assert a uint of `bits` bits (default 256) held in a bigint.
 * @throws TypeError if not a bigint, RangeError if out of range
 */
export function assertUint(x: unknown, name: string, bits = 256): asserts x is bigint {
  if (typeof x !== 'bigint') throw new TypeError(`${name} must be a bigint`);
  if (x < 0n || x >> BigInt(bits) !== 0n) throw new RangeError(`${name} must be a uint${bits}`);
}

/**
 * Parse a decimal string (or bigint) into a uint256 bigint, as found in JSON and on the wire.
 * @throws TypeError / RangeError naming `name`
 */
export function parseUint(x: unknown, name: string, bits = 256): bigint {
  let v: bigint;
  if (typeof x === 'bigint') v = x;
  else if (typeof x === 'string' && /^(0|[1-9][0-9]{0,77})$/.test(x)) v = BigInt(x);
  else throw new TypeError(`${name} must be a decimal integer string`);
  assertUint(v, name, bits);
  return v;
}

/** Write `value` as a 32-byte big-endian word into `out` at `offset`. */
export function writeUint256(out: Uint8Array, offset: number, value: bigint): void {
  let v = value;
  for (let i = offset + 31; i >= offset; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Read a 32-byte big-endian word. */
export function readUint256(bytes: Uint8Array, offset = 0): bigint {
  // 4 x 64-bit limbs is much faster than byte-at-a-time bigint shifting.
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, 32);
  return (
    (dv.getBigUint64(0) << 192n) | (dv.getBigUint64(8) << 128n) | (dv.getBigUint64(16) << 64n) | dv.getBigUint64(24)
  );
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-time-ish equality of two byte arrays (length leaks). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
