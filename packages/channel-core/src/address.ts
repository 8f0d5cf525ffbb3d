/** Ethereum addresses: parsing, EIP-55 checksums, derivation from keys. */
import { keccak256 } from './keccak.ts';
import { type Address, bytesToHex, hexToBytes, isHex } from './hex.ts';
import { secp } from './secp256k1.ts';

export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000' as Address;

const encoder = new TextEncoder();

/**
 * Bound of each memo below. Addresses repeat constantly (every state names its participants and
 * assets, and each is parsed and checksummed several times per message), while EIP-55 costs a
 * keccak per call. When a memo reaches the bound it is simply cleared: a miss only recomputes.
 */
export const ADDRESS_MEMO_MAX = 10_000;
/** lowercase `0x` hex (42 chars) -> EIP-55 form */
const checksums = new Map<string, Address>();
/** exact input string that {@link parseAddress} accepted -> its EIP-55 form */
const parsed = new Map<string, Address>();

function remember(memo: Map<string, Address>, key: string, value: Address): void {
  if (memo.size >= ADDRESS_MEMO_MAX) memo.clear();
  memo.set(key, value);
}

/** Sizes of the address memos (for tests). */
export function addressMemoSizes(): { checksums: number; parsed: number } {
  return { checksums: checksums.size, parsed: parsed.size };
}

/** EIP-55 checksum of `0x` + 40 lowercase hex digits (memoised). */
function checksumLowerHex(lowerHex: string): Address {
  const hit = checksums.get(lowerHex);
  if (hit !== undefined) return hit;
  const lower = lowerHex.slice(2);
  const hash = keccak256(encoder.encode(lower));
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const c = lower[i]!;
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0xf;
    out += nibble >= 8 ? c.toUpperCase() : c;
  }
  remember(checksums, lowerHex, out as Address);
  return out as Address;
}

/** EIP-55 checksum form of 20 address bytes. */
export function checksumAddress(addressBytes: Uint8Array): Address {
  if (addressBytes.length !== 20) throw new RangeError('an address is 20 bytes');
  return checksumLowerHex(bytesToHex(addressBytes));
}

/**
 * Parse an address (any case; mixed case must carry a valid EIP-55 checksum).
 * @returns the checksummed address
 * @throws TypeError naming `name`
 */
export function parseAddress(x: unknown, name: string): Address {
  if (typeof x === 'string') {
    // Only strings that passed every check below are remembered, so a hit is a valid address.
    const hit = parsed.get(x);
    if (hit !== undefined) return hit;
  }
  if (!isHex(x, 20)) throw new TypeError(`${name} must be a 20-byte 0x address`);
  const body = x.slice(2);
  const lower = body.toLowerCase();
  const out = checksumLowerHex(`0x${lower}`);
  if (body !== lower && body !== body.toUpperCase() && out !== (x as string)) {
    throw new TypeError(`${name} has an invalid EIP-55 checksum`);
  }
  remember(parsed, x, out);
  return out;
}

/** @throws TypeError unless `x` is a checksummed address */
export function assertAddress(x: unknown, name: string): asserts x is Address {
  if (!isHex(x, 20) || parseAddress(x, name) !== (x as string)) throw new TypeError(`${name} must be a checksummed 20-byte address`);
}

/** True when both are the same account (case-insensitive). */
export function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** 20 address bytes of a 65-byte uncompressed public key. */
export function publicKeyToAddressBytes(publicKey: Uint8Array): Uint8Array {
  return keccak256(publicKey.subarray(1)).subarray(12);
}

/** Address of a 65-byte uncompressed public key. */
export function publicKeyToAddress(publicKey: Uint8Array): Address {
  return checksumAddress(publicKeyToAddressBytes(publicKey));
}

/** Parse a private key given as 32 bytes or 0x hex. Errors never echo the key. */
export function parsePrivateKey(key: Uint8Array | string, name = 'privateKey'): Uint8Array {
  const bytes = typeof key === 'string' ? (isHex(key, 32) ? hexToBytes(key, name) : undefined) : key;
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw new TypeError(`${name} must be 32 bytes (or 0x hex of 32 bytes)`);
  return bytes;
}

/** Address of a private key. @throws RangeError if the key is not a valid scalar */
export function privateKeyToAddress(privateKey: Uint8Array | string): Address {
  return publicKeyToAddress(secp().publicKey(parsePrivateKey(privateKey)));
}

/** Left-pad an address to the 32-byte `destination` form used in outcomes. */
export function addressToDestination(address: Address): `0x${string}` {
  return `0x000000000000000000000000${address.slice(2).toLowerCase()}`;
}
