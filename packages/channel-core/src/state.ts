/**
 * Nitro Gen-2 channel states: channel ids, state hashes, state signatures and
 * challenger signatures, byte-exact with go-nitro's nitro-protocol.
 */
import { keccak256 } from './keccak.ts';
import {
  type Address,
  type Bytes32,
  type ChannelId,
  type Hex,
  MAX_UINT48,
  assertHex,
  assertUint,
  bytesToHex,
  hexToBytes,
} from './hex.ts';
import { parseAddress } from './address.ts';
import { type Outcome, assertOutcome } from './outcome.ts';
import { abiEncodeFixedPart, abiEncodeState } from './abi.ts';
import { type Signature, recoverHashSigner, signHash } from './signature.ts';

/** The parts of a channel that never change; they determine its id. */
export interface FixedPart {
  readonly participants: readonly Address[];
  /** uint64 */
  readonly channelNonce: bigint;
  readonly appDefinition: Address;
  /** uint48, seconds */
  readonly challengeDuration: number;
}

/** The parts of a state that change from turn to turn. */
export interface VariablePart {
  readonly outcome: Outcome;
  readonly appData: Hex;
  /** uint48 */
  readonly turnNum: number;
  readonly isFinal: boolean;
}

export type State = FixedPart & VariablePart;

function assertUint48(x: unknown, name: string): asserts x is number {
  if (!Number.isSafeInteger(x) || (x as number) < 0 || BigInt(x as number) > MAX_UINT48) {
    throw new RangeError(`${name} must be an integer in [0, 2^48)`);
  }
}

/** @throws TypeError / RangeError naming the field */
export function assertFixedPart(f: FixedPart): void {
  if (!Array.isArray(f.participants) || f.participants.length < 2 || f.participants.length > 255) {
    throw new RangeError('participants must hold 2 to 255 addresses');
  }
  f.participants.forEach((p, i) => parseAddress(p, `participants[${i}]`));
  assertUint(f.channelNonce, 'channelNonce', 64);
  parseAddress(f.appDefinition, 'appDefinition');
  assertUint48(f.challengeDuration, 'challengeDuration');
}

/** @throws TypeError / RangeError naming the field */
export function assertVariablePart(v: VariablePart): void {
  assertOutcome(v.outcome);
  assertHex(v.appData, 'appData');
  assertUint48(v.turnNum, 'turnNum');
  if (typeof v.isFinal !== 'boolean') throw new TypeError('isFinal must be a boolean');
}

/**
 * `keccak256(abi.encode(address[] participants, uint64 channelNonce, address appDefinition, uint48 challengeDuration))`
 * @throws TypeError / RangeError on an invalid fixed part
 */
export function getChannelId(fixedPart: FixedPart): ChannelId {
  assertFixedPart(fixedPart);
  const encoded = abiEncodeFixedPart(fixedPart.participants, fixedPart.channelNonce, fixedPart.appDefinition, fixedPart.challengeDuration);
  return bytesToHex(keccak256(encoded)) as string as ChannelId;
}

/** `abi.encode(bytes32 channelId, bytes appData, Outcome outcome, uint48 turnNum, bool isFinal)` */
export function encodeState(state: State, channelId: ChannelId = getChannelId(state)): Uint8Array {
  assertVariablePart(state);
  return abiEncodeState(channelId, state.appData, state.outcome, state.turnNum, state.isFinal);
}

/** Raw 32-byte state hash. */
export function hashStateBytes(state: State, channelId?: ChannelId): Uint8Array {
  return keccak256(encodeState(state, channelId));
}

/** The Nitro state hash. @throws TypeError / RangeError on an invalid state */
export function hashState(state: State): Bytes32 {
  return bytesToHex(hashStateBytes(state)) as string as Bytes32;
}

/** Sign a state (EIP-191 over its hash). The key is never echoed in errors. */
export function signState(state: State, privateKey: Uint8Array | string): Signature {
  return signHash(hashStateBytes(state), privateKey);
}

/**
 * Bound of the recovered-signer memo. The same state signature is checked more than once per
 * message and across messages (a join checks the prefund's signatures before the objective adds
 * them; every party re-sends the signatures it holds with its own), and a recovery costs ~60 us.
 * When the memo reaches the bound it is cleared: a miss only recovers again.
 */
export const SIGNER_MEMO_MAX = 4096;
/** 32 bytes of state hash + 65 bytes of signature, one char per byte -> the signer */
const signers = new Map<string, Address>();

/** Number of memoised signers (for tests). */
export function signerMemoSize(): number {
  return signers.size;
}

/**
 * Recover who signed a state, given its 32-byte hash ({@link hashStateBytes}). A result is
 * remembered only after a successful recovery, keyed on the exact hash bytes and the exact
 * signature bytes, so a memo hit is the result the same recovery would give.
 * @throws SluiceError SIGNATURE_* for malformed or non-recovering signatures
 */
export function recoverStateHashSigner(hash32: Uint8Array, signature: Uint8Array): Address {
  if (!(hash32 instanceof Uint8Array) || hash32.length !== 32 || !(signature instanceof Uint8Array) || signature.length !== 65) {
    return recoverHashSigner(hash32, signature); // not memoised: throws for a malformed signature
  }
  const key = String.fromCharCode.apply(null, hash32 as unknown as number[]) + String.fromCharCode.apply(null, signature as unknown as number[]);
  const hit = signers.get(key);
  if (hit !== undefined) return hit;
  const signer = recoverHashSigner(hash32, signature);
  if (signers.size >= SIGNER_MEMO_MAX) signers.clear();
  signers.set(key, signer);
  return signer;
}

/**
 * Recover who signed a state.
 * @throws SluiceError SIGNATURE_* for malformed or non-recovering signatures
 */
export function recoverStateSigner(state: State, signature: Uint8Array): Address {
  return recoverStateHashSigner(hashStateBytes(state), signature);
}

const FORCE_MOVE_TAIL = hexToBytes(
  // abi.encode(bytes32, string): offset 0x40, length 9, "forceMove" padded
  '0x' +
    '0000000000000000000000000000000000000000000000000000000000000040' +
    '0000000000000000000000000000000000000000000000000000000000000009' +
    '666f7263654d6f76650000000000000000000000000000000000000000000000',
);

/** `keccak256(abi.encode(bytes32 stateHash, string "forceMove"))` — what a challenger signs. */
export function hashChallenge(stateHash: Bytes32 | Uint8Array): Bytes32 {
  const h = typeof stateHash === 'string' ? hexToBytes(stateHash, 'stateHash') : stateHash;
  if (h.length !== 32) throw new RangeError('stateHash must be 32 bytes');
  const buf = new Uint8Array(32 + FORCE_MOVE_TAIL.length);
  buf.set(h, 0);
  buf.set(FORCE_MOVE_TAIL, 32);
  return bytesToHex(keccak256(buf)) as string as Bytes32;
}

/** The challenger's signature for `challenge(...)` on the state. */
export function signChallenge(state: State, privateKey: Uint8Array | string): Signature {
  return signHash(hexToBytes(hashChallenge(hashStateBytes(state))), privateKey);
}

/** The fixed part of a state. */
export function fixedPartOf(s: FixedPart): FixedPart {
  return {
    participants: s.participants,
    channelNonce: s.channelNonce,
    appDefinition: s.appDefinition,
    challengeDuration: s.challengeDuration,
  };
}

/** The variable part of a state. */
export function variablePartOf(s: VariablePart): VariablePart {
  return { outcome: s.outcome, appData: s.appData, turnNum: s.turnNum, isFinal: s.isFinal };
}
