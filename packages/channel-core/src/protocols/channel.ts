/**
 * The channel model of the pure protocols: a fixed part, my index, the signed states I
 * hold (by turn, with a signature slot per participant) and the on-chain holdings per
 * asset as reported by chain events. Every helper returns a new value; nothing mutates.
 *
 * Support rule (cooperative path, both ConsensusApp and VirtualPaymentApp turns 0/1 and
 * the final state): a state is supported when every participant has signed it.
 */
import { type Address, type Bytes32, type ChannelId, bytesEqual, bytesToHex } from '../hex.ts';
import { addressToDestination, parseAddress, sameAddress } from '../address.ts';
import { type Signature, signHash } from '../signature.ts';
import {
  type FixedPart,
  type State,
  type VariablePart,
  assertFixedPart,
  fixedPartOf,
  getChannelId,
  hashStateBytes,
  recoverStateHashSigner,
  variablePartOf,
} from '../state.ts';
import { fail, guardPeerInput } from './fail.ts';
import type { ChainEvent, Destination, Effect } from './types.ts';

/** One state and the signatures collected on it (slot i is participant i's, or null). */
export interface SignedStateEntry {
  readonly state: VariablePart;
  readonly hash: Bytes32;
  readonly signatures: readonly (Signature | null)[];
}

/** Position of the last chain event applied (events at or before it are stale). */
export interface ChainCursor {
  readonly blockNumber: number;
  readonly logIndex: number;
}

export interface Channel {
  readonly id: ChannelId;
  readonly fixedPart: FixedPart;
  readonly myIndex: number;
  /** Ascending by turnNum, one entry per turn; entries older than the latest supported one are pruned. */
  readonly states: readonly SignedStateEntry[];
  /** Asset (checksummed address) -> holdings seen on chain. Absent = not yet seen. */
  readonly holdings: Readonly<Record<string, bigint>>;
  readonly concluded: boolean;
  readonly chainCursor: ChainCursor | null;
}

/**
 * A new channel with no states.
 * @throws SluiceError INVALID_ARGUMENT if `me` is not a participant; TypeError/RangeError on a bad fixed part
 */
export function newChannel(fixedPart: FixedPart, me: Address): Channel {
  assertFixedPart(fixedPart);
  const fp = { ...fixedPartOf(fixedPart), participants: fixedPart.participants.map((p, i) => parseAddress(p, `participants[${i}]`)) };
  const myIndex = fp.participants.findIndex((p) => sameAddress(p, me));
  if (myIndex < 0) fail('INVALID_ARGUMENT', 'I am not a participant of this channel');
  return { id: getChannelId(fp), fixedPart: fp, myIndex, states: [], holdings: {}, concluded: false, chainCursor: null };
}

/** The full state for a variable part of this channel. */
export function fullState(channel: Channel, v: VariablePart): State {
  return { ...channel.fixedPart, ...variablePartOf(v) };
}

/** Destination (padded address, lowercase) of participant `i`. */
export function destinationOf(channel: Channel, i: number): Destination {
  const p = channel.fixedPart.participants[i];
  if (p === undefined) fail('INVALID_ARGUMENT', `no participant ${i}`);
  return addressToDestination(p) as Destination;
}

export function me(channel: Channel): Address {
  return channel.fixedPart.participants[channel.myIndex]!;
}

export function others(channel: Channel): Address[] {
  return channel.fixedPart.participants.filter((_, i) => i !== channel.myIndex);
}

function hashOf(channel: Channel, v: VariablePart): Bytes32 {
  return bytesToHex(hashStateBytes(fullState(channel, v), channel.id)) as string as Bytes32;
}

/** The entry at `turnNum`, if any. */
export function entryAt(channel: Channel, turnNum: number): SignedStateEntry | undefined {
  return channel.states.find((e) => e.state.turnNum === turnNum);
}

/** True when every participant signed the entry. */
export function isSupported(entry: SignedStateEntry): boolean {
  return entry.signatures.every((s) => s !== null);
}

/** The highest-turn state signed by everyone. */
export function latestSupportedState(channel: Channel): SignedStateEntry | undefined {
  for (let i = channel.states.length - 1; i >= 0; i--) {
    const e = channel.states[i]!;
    if (isSupported(e)) return e;
  }
  return undefined;
}

/** True when a state at `turnNum` or later is supported. */
export function supportedAtLeast(channel: Channel, turnNum: number): boolean {
  const s = latestSupportedState(channel);
  return s !== undefined && s.state.turnNum >= turnNum;
}

/** Prefund complete: turn 0 (or later) supported. */
export function preFundComplete(channel: Channel): boolean {
  return supportedAtLeast(channel, 0);
}

/** Postfund complete: turn 1 (or later) supported. */
export function postFundComplete(channel: Channel): boolean {
  return supportedAtLeast(channel, 1);
}

/**
 * True when I signed the state at `turnNum`, or a state at or after it is already supported
 * (older states are pruned, and there is nothing left to sign at that turn).
 */
export function signedByMe(channel: Channel, turnNum: number): boolean {
  const e = entryAt(channel, turnNum);
  return (e !== undefined && e.signatures[channel.myIndex] != null) || supportedAtLeast(channel, turnNum);
}

/** Signatures of an entry, in participant order, skipping missing ones. */
export function signaturesOf(entry: SignedStateEntry): Signature[] {
  return entry.signatures.filter((s): s is Signature => s !== null);
}

function prune(states: SignedStateEntry[]): SignedStateEntry[] {
  let keepFrom = 0;
  for (let i = states.length - 1; i >= 0; i--) {
    if (isSupported(states[i]!)) {
      keepFrom = i;
      break;
    }
  }
  return states.slice(keepFrom);
}

function withSignature(channel: Channel, v: VariablePart, hash: Bytes32, index: number, sig: Signature): Channel {
  const states = [...channel.states];
  const at = states.findIndex((e) => e.state.turnNum === v.turnNum);
  if (at >= 0) {
    const e = states[at]!;
    if (e.hash !== hash) {
      fail('PROTOCOL_CONFLICTING_STATE', 'a different state is already held at this turn', { channelId: channel.id, turnNum: v.turnNum });
    }
    if (e.signatures[index] != null) return channel;
    const signatures = [...e.signatures];
    signatures[index] = sig;
    states[at] = { ...e, signatures };
  } else {
    const signatures: (Signature | null)[] = channel.fixedPart.participants.map(() => null);
    signatures[index] = sig;
    const entry: SignedStateEntry = { state: variablePartOf(v), hash, signatures };
    const after = states.findIndex((e) => e.state.turnNum > v.turnNum);
    if (after < 0) states.push(entry);
    else states.splice(after, 0, entry);
  }
  return { ...channel, states: prune(states) };
}

/**
 * Add a peer's signed state: checks it is for this channel, that every signature is by a
 * participant, and that it does not conflict with a state held at the same turn.
 * States older than the latest supported one are ignored (returned unchanged).
 * @throws SluiceError PROTOCOL_WRONG_CHANNEL, PROTOCOL_WRONG_SIGNER, PROTOCOL_CONFLICTING_STATE,
 *   PROTOCOL_MALFORMED, SIGNATURE_*
 */
export function addSignedState(channel: Channel, state: State, signatures: readonly Signature[]): Channel {
  return guardPeerInput('signed state', () => {
    if (getChannelId(state) !== channel.id) fail('PROTOCOL_WRONG_CHANNEL', 'state is for another channel', { channelId: channel.id });
    if (!Array.isArray(signatures) || signatures.length === 0 || signatures.length > channel.fixedPart.participants.length) {
      fail('PROTOCOL_MALFORMED', 'a signed state needs 1 to n signatures');
    }
    const latest = latestSupportedState(channel);
    if (latest !== undefined && state.turnNum < latest.state.turnNum) return channel;
    // The state's fixed part is this channel's (same id), so its hash is hashOf(channel, state):
    // computed once for the entry and every signature.
    const hashBytes = hashStateBytes(state, channel.id);
    const hash = bytesToHex(hashBytes) as string as Bytes32;
    // Signatures we already hold on this very state (checked when added, or our own) need no
    // recovery: senders pass on every signature they have, ours included.
    const held = channel.states.find((e) => e.state.turnNum === state.turnNum && e.hash === hash)?.signatures;
    let out = channel;
    for (const sig of signatures) {
      if (held !== undefined && sig instanceof Uint8Array && held.some((h) => h !== null && bytesEqual(h, sig))) continue;
      const signer = recoverStateHashSigner(hashBytes, sig);
      const index = channel.fixedPart.participants.findIndex((p) => sameAddress(p, signer));
      if (index < 0) fail('PROTOCOL_WRONG_SIGNER', 'state signed by a non-participant', { channelId: channel.id, signer });
      out = withSignature(out, state, hash, index, sig);
    }
    return out;
  });
}

/**
 * Sign a state as myself and add it.
 * @throws SluiceError PROTOCOL_CONFLICTING_STATE if I would sign two different states at one turn
 */
export function signAndAdd(channel: Channel, v: VariablePart, privateKey: Uint8Array | string): { channel: Channel; signature: Signature } {
  const state = fullState(channel, v);
  const hashBytes = hashStateBytes(state); // what signState signs; hashed once for the entry too
  const signature = signHash(hashBytes, privateKey);
  return { channel: withSignature(channel, v, bytesToHex(hashBytes) as string as Bytes32, channel.myIndex, signature), signature };
}

/**
 * Apply a chain event for this channel. Events for other channels and stale events (at or
 * before the last applied position) leave the channel unchanged.
 */
export function applyChainEvent(channel: Channel, ev: ChainEvent): Channel {
  if (ev.channelId !== channel.id) return channel;
  const c = channel.chainCursor;
  if (c !== null && (ev.blockNumber < c.blockNumber || (ev.blockNumber === c.blockNumber && ev.logIndex <= c.logIndex))) return channel;
  const chainCursor = { blockNumber: ev.blockNumber, logIndex: ev.logIndex };
  if (ev.kind === 'concluded') return { ...channel, concluded: true, chainCursor };
  const asset = parseAddress(ev.asset, 'asset');
  return { ...channel, holdings: { ...channel.holdings, [asset]: ev.holdings }, chainCursor };
}

/** Holdings of `asset` seen on chain (0 if none seen). */
export function holdingsOf(channel: Channel, asset: Address): bigint {
  return channel.holdings[parseAddress(asset, 'asset')] ?? 0n;
}

/**
 * Pin the state expected at its turn without signing it: a peer's different state at
 * that turn then conflicts. Used to seed objectives with the agreed initial state.
 */
export function pinState(channel: Channel, v: VariablePart): Channel {
  if (entryAt(channel, v.turnNum) !== undefined) return channel;
  const entry: SignedStateEntry = { state: variablePartOf(v), hash: hashOf(channel, v), signatures: channel.fixedPart.participants.map(() => null) };
  return { ...channel, states: [...channel.states, entry].sort((a, b) => a.state.turnNum - b.state.turnNum) };
}

/** `sendMessage` effects carrying a signed state to each of `to`. */
export function sendSignedState(to: readonly Address[], objectiveId: string, state: State, signatures: readonly Signature[]): Effect[] {
  return to.map((addr) => ({ type: 'sendMessage', to: addr, payload: { kind: 'signedState', objectiveId, state, signatures } }));
}
