/**
 * Nitro exit-format outcomes: `SingleAssetExit[]`, ABI-encoded exactly as the
 * adjudicator expects, plus guarantee metadata `abi.encode(bytes32 left, bytes32 right)`.
 */
import { AbiCoder } from 'ethers';
import { keccak256 } from './keccak.ts';
import {
  type Address,
  type Bytes32,
  type Hex,
  assertHex,
  assertUint,
  bytesToHex,
  hexToBytes,
  parseBytes32,
  parseUint,
} from './hex.ts';
import { parseAddress } from './address.ts';
import { SluiceError } from './errors.ts';
import { abiEncodeOutcome } from './abi.ts';

/** 0 = simple, 1 = withdrawHelper, 2 = guarantee. */
export const AllocationType = { simple: 0, withdrawHelper: 1, guarantee: 2 } as const;
export type AllocationType = (typeof AllocationType)[keyof typeof AllocationType];

export interface Allocation {
  /** An address left-padded to 32 bytes, or a channel id (for guarantees). */
  readonly destination: Bytes32;
  readonly amount: bigint;
  readonly allocationType: AllocationType;
  readonly metadata: Hex;
}

export interface AssetMetadata {
  /** uint8; 0 = default (native or ERC20). */
  readonly assetType: number;
  readonly metadata: Hex;
}

export interface SingleAssetExit {
  /** Zero address for the native asset, else the ERC20 token. */
  readonly asset: Address;
  readonly assetMetadata: AssetMetadata;
  readonly allocations: readonly Allocation[];
}

export type Outcome = readonly SingleAssetExit[];

/** `(left, right)`: the channel's two sides that a guarantee pays back to. */
export interface GuaranteeMetadata {
  readonly left: Bytes32;
  readonly right: Bytes32;
}

export const ALLOCATION_TUPLE = 'tuple(bytes32 destination, uint256 amount, uint8 allocationType, bytes metadata)';
export const OUTCOME_TYPE = `tuple(address asset, tuple(uint8 assetType, bytes metadata) assetMetadata, ${ALLOCATION_TUPLE}[] allocations)[]`;

const coder = AbiCoder.defaultAbiCoder();

/** The array form the ABI coder takes (exported for the state encoder). */
export function outcomeToAbi(outcome: Outcome): unknown[] {
  return outcome.map((e) => [
    e.asset,
    [e.assetMetadata.assetType, e.assetMetadata.metadata],
    e.allocations.map((a) => [a.destination, a.amount, a.allocationType, a.metadata]),
  ]);
}

/**
 * Validate an outcome's shape and ranges.
 * @throws TypeError / RangeError naming the offending field
 */
export function assertOutcome(outcome: unknown, name = 'outcome'): asserts outcome is Outcome {
  if (!Array.isArray(outcome)) throw new TypeError(`${name} must be an array of SingleAssetExit`);
  outcome.forEach((e: SingleAssetExit, i) => {
    const n = `${name}[${i}]`;
    parseAddress(e?.asset, `${n}.asset`);
    if (!Number.isInteger(e.assetMetadata?.assetType) || e.assetMetadata.assetType < 0 || e.assetMetadata.assetType > 255) {
      throw new RangeError(`${n}.assetMetadata.assetType must be a uint8`);
    }
    assertHex(e.assetMetadata.metadata, `${n}.assetMetadata.metadata`);
    if (!Array.isArray(e.allocations)) throw new TypeError(`${n}.allocations must be an array`);
    e.allocations.forEach((a, j) => {
      const m = `${n}.allocations[${j}]`;
      parseBytes32(a?.destination, `${m}.destination`);
      assertUint(a.amount, `${m}.amount`);
      if (a.allocationType !== 0 && a.allocationType !== 1 && a.allocationType !== 2) {
        throw new RangeError(`${m}.allocationType must be 0, 1 or 2`);
      }
      assertHex(a.metadata, `${m}.metadata`);
    });
  });
}

/** ABI-encode an outcome (`abi.encode(SingleAssetExit[])`). @throws on invalid input */
export function encodeOutcome(outcome: Outcome): Uint8Array {
  assertOutcome(outcome);
  return abiEncodeOutcome(outcome);
}

/** `keccak256(encodeOutcome(outcome))` as hex. */
export function hashOutcome(outcome: Outcome): Bytes32 {
  return bytesToHex(keccak256(encodeOutcome(outcome))) as string as Bytes32;
}

/** Upper bound on an encoded outcome accepted from a peer. */
export const MAX_OUTCOME_BYTES = 64 * 1024;

/**
 * Decode an ABI-encoded outcome, strictly: the bytes must be the canonical encoding
 * (re-encoding gives them back) and at most {@link MAX_OUTCOME_BYTES}.
 * @throws SluiceError DECODE_FAILED
 */
export function decodeOutcome(bytes: Uint8Array | string): Outcome {
  let raw: Uint8Array;
  try {
    raw = typeof bytes === 'string' ? hexToBytes(bytes, 'outcome') : bytes;
  } catch (e) {
    throw new SluiceError('DECODE_FAILED', 'outcome is not hex', { cause: e });
  }
  if (raw.length > MAX_OUTCOME_BYTES) throw new SluiceError('DECODE_FAILED', `outcome exceeds ${MAX_OUTCOME_BYTES} bytes`);
  let outcome: Outcome;
  try {
    const [decoded] = coder.decode([OUTCOME_TYPE], raw) as unknown as [unknown[][]];
    outcome = decoded.map((e) => {
      const [asset, meta, allocations] = e as [string, [bigint, string], [string, bigint, bigint, string][]];
      return {
        asset: parseAddress(asset, 'asset'),
        assetMetadata: { assetType: Number(meta[0]), metadata: meta[1].toLowerCase() as Hex },
        allocations: allocations.map(([destination, amount, allocationType, metadata]) => ({
          destination: parseBytes32(destination, 'destination'),
          amount: parseUint(amount, 'amount'),
          allocationType: Number(allocationType) as AllocationType,
          metadata: metadata.toLowerCase() as Hex,
        })),
      };
    });
    assertOutcome(outcome);
  } catch (e) {
    throw new SluiceError('DECODE_FAILED', 'outcome is not a valid ABI-encoded SingleAssetExit[]', { cause: e });
  }
  const again = encodeOutcome(outcome);
  if (again.length !== raw.length || !again.every((b, i) => b === raw[i])) {
    throw new SluiceError('DECODE_FAILED', 'outcome encoding is not canonical');
  }
  return outcome;
}

/** `abi.encode(bytes32 left, bytes32 right)`. */
export function encodeGuaranteeMetadata(g: GuaranteeMetadata): Hex {
  return `0x${parseBytes32(g.left, 'left').slice(2)}${parseBytes32(g.right, 'right').slice(2)}` as Hex;
}

/** Decode guarantee metadata (exactly 64 bytes). @throws SluiceError DECODE_FAILED */
export function decodeGuaranteeMetadata(metadata: Hex): GuaranteeMetadata {
  if (typeof metadata !== 'string' || metadata.length !== 2 + 128) {
    throw new SluiceError('DECODE_FAILED', 'guarantee metadata must be 64 bytes');
  }
  try {
    return {
      left: parseBytes32(`0x${metadata.slice(2, 66)}`, 'left'),
      right: parseBytes32(`0x${metadata.slice(66)}`, 'right'),
    };
  } catch (e) {
    throw new SluiceError('DECODE_FAILED', 'guarantee metadata must be two bytes32 words', { cause: e });
  }
}

/** Sum of allocations of an exit (useful for conservation checks). */
export function totalAllocated(exit: SingleAssetExit): bigint {
  let t = 0n;
  for (const a of exit.allocations) t += a.amount;
  return t;
}
