/**
 * The on-chain (dispute) view shared by the fallback objectives: what the adjudicator records for
 * a channel, the state we would register for it, and the adjudicator's payout rules (reclaim and
 * transfer) reproduced as pure functions so objectives can build the exact arguments the
 * contract's fingerprint checks require.
 *
 * Adjudicator facts relied on (contracts/solidity/NitroAdjudicator.sol):
 * - a channel is finalized when `finalizesAt != 0 && finalizesAt <= block.timestamp`;
 * - `challenge` needs `turnNum >= turnNumRecord` when open, `>` while a challenge runs;
 *   `checkpoint` needs `>` and clears a running challenge; neither works once finalized;
 * - `conclude` (unanimous final state) finalizes at once with stateHash 0;
 * - `reclaim` and `transferAllAssets` check `fingerprint = uint160(keccak(stateHash, outcomeHash))`
 *   against the *current* outcome (each reclaim and transfer rewrites it);
 * - `transferAllAssets` reverts while any guarantee allocation remains: reclaim them first.
 */
import { type Address, type Bytes32, type ChannelId, bytesToHex, hexToBytes } from '../hex.ts';
import { sameAddress } from '../address.ts';
import { keccak256 } from '../keccak.ts';
import type { Signature } from '../signature.ts';
import { type Allocation, type Outcome, AllocationType, decodeGuaranteeMetadata, hashOutcome } from '../outcome.ts';
import type { ChainEvent as PortChainEvent } from '../chain.ts';
import { ZERO_BYTES32 } from '../chain.ts';
import { type FixedPart, type State, type VariablePart, assertVariablePart, hashState, signChallenge, signState } from '../state.ts';
import { type Voucher, encodeVoucherAmountAndSignature, recoverVoucherSigner } from '../voucher.ts';
import { type Channel, type ChainCursor, entryAt, fullState, isSupported, latestSupportedState } from './channel.ts';
import { fail, guardPeerInput } from './fail.ts';
import { VIRTUAL_FINAL_TURN, VIRTUAL_POSTFUND_TURN, virtualAmounts } from './virtual-channel.ts';
import type { ChallengeRegisteredEvent, DisputeEvent, Destination, SignedStateData, Transaction } from './types.ts';

export { ZERO_BYTES32 };

/** What the adjudicator records for a channel, as far as our events tell. */
export interface OnChainRecord {
  readonly turnNumRecord: number;
  /** 0 = open (no challenge running); else the chain time it finalizes at. */
  readonly finalizesAt: number;
  /** Finalized by `conclude` (at once). */
  readonly concluded: boolean;
  /** Hash of the registered state (zero when open or after `conclude`). */
  readonly stateHash: Bytes32;
  /** The registered outcome with every reclaim applied so far; null when open or unknown. */
  readonly outcome: Outcome | null;
  /** Targets whose guarantees were reclaimed (ledgers). */
  readonly reclaimed: readonly ChannelId[];
  /** `Reclaimed` events whose target is not known yet. */
  readonly unresolvedReclaims: number;
  /** Position of the last dispute event applied (later ones only). */
  readonly cursor: ChainCursor | null;
  /**
   * The `statusOf` fingerprint last applied ({@link applyStatusToRecord}); absent when the chain
   * status was never read for this record. Lets a concluded record whose outcome is unknown ask
   * for the status once, not on every crank.
   */
  readonly fingerprint?: bigint;
}

export const OPEN_RECORD: OnChainRecord = {
  turnNumRecord: 0,
  finalizesAt: 0,
  concluded: false,
  stateHash: ZERO_BYTES32,
  outcome: null,
  reclaimed: [],
  unresolvedReclaims: 0,
  cursor: null,
};

/** True when the record says finalized at chain time `now`. */
export function isFinalizedAt(r: OnChainRecord | null, now: number): boolean {
  return r !== null && (r.concluded || (r.finalizesAt !== 0 && r.finalizesAt <= now));
}

/** True while a challenge runs (registered, not yet finalized). */
export function challengeRunning(r: OnChainRecord | null, now: number): boolean {
  return r !== null && !r.concluded && r.finalizesAt !== 0 && r.finalizesAt > now;
}

/** `uint160(keccak256(abi.encode(stateHash, outcomeHash)))`, the adjudicator's status fingerprint. */
export function statusFingerprint(stateHash: Bytes32, outcome: Outcome): bigint {
  const buf = new Uint8Array(64);
  buf.set(hexToBytes(stateHash, 'stateHash'), 0);
  buf.set(hexToBytes(hashOutcome(outcome), 'outcomeHash'), 32);
  return BigInt(bytesToHex(keccak256(buf))) & ((1n << 160n) - 1n);
}

function isLater(cursor: ChainCursor | null, ev: { blockNumber: number; logIndex: number }): boolean {
  return cursor === null || ev.blockNumber > cursor.blockNumber || (ev.blockNumber === cursor.blockNumber && ev.logIndex > cursor.logIndex);
}

/**
 * The full state a `ChallengeRegistered` event registers, checked for shape.
 * @throws SluiceError PROTOCOL_MALFORMED
 */
export function registeredState(fixedPart: FixedPart, ev: ChallengeRegisteredEvent): State {
  return guardPeerInput('challenge event', () => {
    if (!Number.isSafeInteger(ev.finalizesAt) || ev.finalizesAt <= 0) fail('PROTOCOL_MALFORMED', 'finalizesAt must be a positive integer');
    return stateFromVariablePart(fixedPart, ev.candidate?.variablePart);
  });
}

/**
 * The full state of a channel for a variable part read off the chain (a challenge's or a
 * checkpoint's candidate), checked for shape.
 * @throws TypeError / RangeError naming the field (`assertVariablePart`; callers guard peer input)
 */
export function stateFromVariablePart(fixedPart: FixedPart, vp: VariablePart): State {
  assertVariablePart(vp);
  return { ...fixedPart, outcome: vp.outcome, appData: vp.appData, turnNum: vp.turnNum, isFinal: vp.isFinal };
}

/**
 * Apply a dispute (or `concluded`) event about `channelId` to its record.
 * @param finalOutcome - for `concluded`: the outcome of the unanimous final state we hold, if any
 * @throws SluiceError PROTOCOL_MALFORMED on a malformed event
 */
export function applyToRecord(
  record: OnChainRecord | null,
  fixedPart: FixedPart,
  ev: DisputeEvent | { kind: 'concluded'; channelId: ChannelId; blockNumber: number; logIndex: number },
  finalOutcome: Outcome | null = null,
): OnChainRecord | null {
  const r = record ?? OPEN_RECORD;
  if (ev.kind === 'chainTime' || ev.kind === 'channelStatus') return record;
  if (!isLater(r.cursor, ev)) return record;
  const cursor = { blockNumber: ev.blockNumber, logIndex: ev.logIndex };
  switch (ev.kind) {
    case 'challengeRegistered': {
      const s = registeredState(fixedPart, ev);
      return { ...OPEN_RECORD, turnNumRecord: s.turnNum, finalizesAt: ev.finalizesAt, stateHash: hashState(s), outcome: s.outcome, cursor };
    }
    case 'challengeCleared':
    case 'checkpointed':
      if (!Number.isSafeInteger(ev.newTurnNumRecord) || ev.newTurnNumRecord < 0) fail('PROTOCOL_MALFORMED', 'newTurnNumRecord must be a turn number');
      return { ...OPEN_RECORD, turnNumRecord: ev.newTurnNumRecord, cursor };
    case 'concluded':
      // a record already concluded (its outcome learnt from the chain status) keeps that outcome
      return { ...OPEN_RECORD, turnNumRecord: 0, concluded: true, finalizesAt: 0, stateHash: ZERO_BYTES32, outcome: finalOutcome ?? (r.concluded ? r.outcome : null), cursor };
    case 'reclaimed': {
      if (ev.target !== undefined) {
        const target = guardPeerInput('reclaimed target', () => (ev.target as string).toLowerCase() as ChannelId);
        if (r.reclaimed.includes(target)) return { ...r, cursor };
        return { ...r, reclaimed: [...r.reclaimed, target], cursor };
      }
      return { ...r, unresolvedReclaims: r.unresolvedReclaims + 1, cursor };
    }
  }
}

// ---------------------------------------------------------------- payout rules (adjudicator)

/** Guarantee allocations of one asset exit, with their index. */
export function guaranteesOf(outcome: Outcome, assetIndex = 0): { index: number; allocation: Allocation }[] {
  const exit = outcome[assetIndex];
  if (exit === undefined) return [];
  return exit.allocations.flatMap((allocation, index) => (allocation.allocationType === AllocationType.guarantee ? [{ index, allocation }] : []));
}

/**
 * The source outcome after reclaiming the guarantee at `indexOfTarget` with the target's
 * finalized outcome (`compute_reclaim_effects`).
 * @throws SluiceError INVALID_ARGUMENT when the adjudicator would revert
 */
export function reclaimOutcome(source: Outcome, assetIndex: number, indexOfTarget: number, target: Outcome, targetAssetIndex = 0): Outcome {
  const exit = source[assetIndex];
  const g = exit?.allocations[indexOfTarget];
  const t = target[targetAssetIndex];
  if (exit === undefined || g === undefined || t === undefined) fail('INVALID_ARGUMENT', 'reclaim indices out of range');
  if (g.allocationType !== AllocationType.guarantee) fail('INVALID_ARGUMENT', 'not a guarantee allocation');
  if (!sameAddress(t.asset, exit.asset)) fail('INVALID_ARGUMENT', 'targetAsset != guaranteeAsset');
  const [tl, tr] = t.allocations;
  if (tl === undefined || tr === undefined) fail('INVALID_ARGUMENT', 'target needs 2 allocations');
  if (tl.amount + tr.amount !== g.amount) fail('INVALID_ARGUMENT', 'totalReclaimed != guarantee.amount');
  const { left, right } = decodeGuaranteeMetadata(g.metadata);
  let foundLeft = false;
  let foundRight = false;
  const allocations: Allocation[] = [];
  exit.allocations.forEach((a, i) => {
    if (i === indexOfTarget) return;
    let amount = a.amount;
    if (!foundLeft && a.destination === left) {
      amount += tl.amount;
      foundLeft = true;
    }
    if (!foundRight && a.destination === right) {
      amount += tr.amount;
      foundRight = true;
    }
    allocations.push({ ...a, amount });
  });
  if (!foundLeft || !foundRight) fail('INVALID_ARGUMENT', 'could not find left or right');
  return source.map((e, i) => (i === assetIndex ? { ...e, allocations } : e));
}

/**
 * What `transferAllAssets` pays from `holdings` of one asset exit: each allocation in order takes
 * min(amount, what is left). Returns the payouts and the allocations left.
 * @throws SluiceError INVALID_ARGUMENT on a guarantee allocation (the adjudicator reverts)
 */
export function transferPayouts(holdings: bigint, allocations: readonly Allocation[]): { payouts: { destination: Bytes32; amount: bigint }[]; remaining: Allocation[]; total: bigint } {
  let surplus = holdings;
  let total = 0n;
  const payouts: { destination: Bytes32; amount: bigint }[] = [];
  const remaining: Allocation[] = [];
  for (const a of allocations) {
    if (a.allocationType === AllocationType.guarantee) fail('INVALID_ARGUMENT', 'cannot transfer a guarantee');
    const affords = a.amount < surplus ? a.amount : surplus;
    payouts.push({ destination: a.destination, amount: affords });
    remaining.push({ ...a, amount: a.amount - affords });
    surplus -= affords;
    total += affords;
  }
  return { payouts, remaining, total };
}

/** Sum of simple allocations to `destination` in an outcome (what it pays that party). */
export function allocatedTo(outcome: Outcome, destination: Destination | Bytes32, asset?: Address): bigint {
  let t = 0n;
  for (const e of outcome) {
    if (asset !== undefined && !sameAddress(e.asset, asset)) continue;
    for (const a of e.allocations) if (a.allocationType !== AllocationType.guarantee && a.destination === destination) t += a.amount;
  }
  return t;
}

// ---------------------------------------------------------------- the state we register

/** The best way we have to put a channel on chain. */
export type ExitMove =
  | {
      readonly kind: 'conclude';
      readonly turnNum: number;
      readonly candidate: SignedStateData;
    }
  | {
      readonly kind: 'register';
      readonly turnNum: number;
      readonly proof: readonly SignedStateData[];
      readonly candidate: SignedStateData;
    };

/** What a party holds of a virtual channel besides its states: the payee's best voucher. */
export interface VirtualHoldings {
  /** Payee only: the payer's best (highest cumulative) voucher on V. */
  readonly bestVoucher?: Voucher | null;
}

/**
 * Check a voucher is redeemable on V as its payee: for V, signed by the payer, within the payer's
 * funded balance.
 * @throws SluiceError INVALID_ARGUMENT
 */
export function assertRedeemable(v: Channel, postfund: VariablePart, voucher: Voucher): void {
  if (voucher.channelId.toLowerCase() !== v.id) fail('INVALID_ARGUMENT', 'voucher is for another channel', { channelId: v.id });
  const payer = v.fixedPart.participants[0]!;
  let signer: Address;
  try {
    signer = recoverVoucherSigner(voucher);
  } catch (e) {
    return fail('INVALID_ARGUMENT', 'voucher signature is invalid', { channelId: v.id, cause: String(e) });
  }
  if (!sameAddress(signer, payer)) fail('INVALID_ARGUMENT', 'voucher is not signed by the payer', { channelId: v.id });
  const a = virtualAmounts(postfund.outcome, v.fixedPart);
  if (typeof voucher.amount !== 'bigint' || voucher.amount < 0n || voucher.amount > a.payer) fail('INVALID_ARGUMENT', 'voucher exceeds the payer balance', { channelId: v.id });
}

/**
 * The VirtualPaymentApp redemption state (turn 2, not final): the postfund outcome with the
 * voucher's amount moved from payer to payee, appData = the encoded voucher, signed by the payee.
 */
export function redemptionState(v: Channel, postfund: VariablePart, voucher: Voucher): VariablePart {
  const exit = postfund.outcome[0]!;
  const [x, y] = exit.allocations;
  return {
    outcome: [{ ...exit, allocations: [{ ...x!, amount: x!.amount - voucher.amount }, { ...y!, amount: y!.amount + voucher.amount }] }],
    appData: encodeVoucherAmountAndSignature(voucher.amount, voucher.signature),
    turnNum: VIRTUAL_FINAL_TURN,
    isFinal: false,
  };
}

function isVirtual(channel: Channel, holdings: VirtualHoldings | undefined): boolean {
  return holdings !== undefined || channel.fixedPart.participants.length > 2;
}

/**
 * The move that registers the state best for us on chain, or undefined when we hold nothing
 * supported. Order of preference: a unanimous final state (`conclude`, no wait); for V's payee with
 * a positive voucher, the redemption state (turn 2, proof = unanimous postfund); else the latest
 * state signed by everyone. Never a state that pays us less than a newer one we hold: the latest
 * supported state is the newest honest one, and the payee's redemption pays him his best voucher
 * on top of the postfund.
 * @throws SluiceError INVALID_ARGUMENT (a voucher that is not redeemable on this channel)
 */
export function bestExitMove(channel: Channel, privateKey: Uint8Array | string, holdings?: VirtualHoldings): ExitMove | undefined {
  const latest = latestSupportedState(channel);
  if (latest === undefined) return undefined;
  const signed = (v: VariablePart, sigs: readonly (Signature | null)[]): SignedStateData => ({
    state: fullState(channel, v),
    signatures: sigs.filter((s): s is Signature => s !== null),
  });
  if (latest.state.isFinal) return { kind: 'conclude', turnNum: latest.state.turnNum, candidate: signed(latest.state, latest.signatures) };
  const n = channel.fixedPart.participants.length;
  const voucher = holdings?.bestVoucher ?? null;
  if (isVirtual(channel, holdings) && channel.myIndex === n - 1 && voucher !== null && voucher.amount > 0n && latest.state.turnNum === VIRTUAL_POSTFUND_TURN) {
    assertRedeemable(channel, latest.state, voucher);
    const redeem = fullState(channel, redemptionState(channel, latest.state, voucher));
    return {
      kind: 'register',
      turnNum: VIRTUAL_FINAL_TURN,
      proof: [signed(latest.state, latest.signatures)],
      candidate: { state: redeem, signatures: [signState(redeem, privateKey)] },
    };
  }
  return { kind: 'register', turnNum: latest.state.turnNum, proof: [], candidate: signed(latest.state, latest.signatures) };
}

/** The transaction for a move: `conclude`, or `challenge` (with our challenger signature) / `checkpoint`. */
export function moveTransaction(channelId: ChannelId, move: ExitMove, as: 'challenge' | 'checkpoint', privateKey: Uint8Array | string): Transaction {
  if (move.kind === 'conclude') return { kind: 'conclude', channelId, candidate: move.candidate };
  if (as === 'checkpoint') return { kind: 'checkpoint', channelId, proof: move.proof, candidate: move.candidate };
  return { kind: 'challenge', channelId, proof: move.proof, candidate: move.candidate, challengerSignature: signChallenge(move.candidate.state, privateKey) };
}

/** The unanimous final state we hold for a channel (its outcome is what `conclude` registers), if any. */
export function heldFinalOutcome(channel: Channel): Outcome | null {
  const latest = latestSupportedState(channel);
  return latest !== undefined && latest.state.isFinal ? latest.state.outcome : null;
}

/**
 * Outcomes of the final states of `channel` we signed ourselves (supported by everyone or not):
 * the only final states a `conclude` of this channel can have used, since `conclude` needs every
 * participant's signature, ours included. Usually one (each cooperative close signs one final
 * state); distinct outcomes only, in turn order.
 */
export function signedFinalOutcomes(channel: Channel): Outcome[] {
  const out: Outcome[] = [];
  const seen = new Set<string>();
  for (const e of channel.states) {
    if (!e.state.isFinal || e.signatures[channel.myIndex] == null) continue;
    const h = hashOutcome(e.state.outcome);
    if (seen.has(h)) continue;
    seen.add(h);
    out.push(e.state.outcome);
  }
  return out;
}

/** The adjudicator's status word as the engine read it (`statusOf`), with what it knows to match it against. */
export interface StatusSnapshot {
  readonly turnNumRecord: number;
  readonly finalizesAt: number;
  readonly fingerprint: bigint;
  /** The head block the status was read at (events at or before it are already reflected in it). */
  readonly blockNumber?: number;
}

/** True when a concluded record's outcome is unknown and the chain status was not read for it yet. */
export function needsStatus(record: OnChainRecord | null): boolean {
  return record !== null && record.concluded && record.outcome === null && record.fingerprint === undefined;
}

/**
 * Learn what the chain records for a channel from its `statusOf` word, for records our events do
 * not explain: a channel `conclude`d before the objective existed (its `Concluded` event went to
 * nobody) or concluded with a final state we hold without every signature, and a challenge whose
 * event we never applied (our own transaction reverted because the channel was already finalized).
 *
 * `conclude` records `(turnNumRecord 0, finalizesAt now, fingerprint(stateHash 0, outcomeHash))`
 * and needs a final state signed by every participant — so by us: its outcome is one of
 * `finalOutcomes` (the final states we signed), identified by the fingerprint. A challenge records
 * the registered state's hash: matched against `states` (the signed states we hold). A finalized
 * or running status matching nothing we know is recorded with `outcome: null` (finalized: nothing
 * left to register; only someone holding that state can pay out). An open status, or a record our
 * events already explain, is left as is.
 *
 * Matched records take the read's block as their cursor (events up to it are already in the
 * status); unmatched ones keep theirs, so the events explaining them still apply.
 * @param finalOutcomes - outcomes of the final states of this channel we signed ({@link signedFinalOutcomes})
 * @param states - signed states of this channel we hold (to match a registered challenge)
 */
export function applyStatusToRecord(
  record: OnChainRecord | null,
  fixedPart: FixedPart,
  status: StatusSnapshot,
  finalOutcomes: readonly Outcome[],
  states: readonly VariablePart[] = [],
): OnChainRecord | null {
  if (!Number.isSafeInteger(status.finalizesAt) || status.finalizesAt < 0) fail('PROTOCOL_MALFORMED', 'finalizesAt must be seconds');
  if (!Number.isSafeInteger(status.turnNumRecord) || status.turnNumRecord < 0) fail('PROTOCOL_MALFORMED', 'turnNumRecord must be a turn number');
  if (typeof status.fingerprint !== 'bigint') fail('PROTOCOL_MALFORMED', 'fingerprint must be a bigint');
  const fingerprint = status.fingerprint;
  // events applied after the read are newer than the status
  if (record?.cursor != null && status.blockNumber !== undefined && record.cursor.blockNumber > status.blockNumber) return record;
  const unknownConclusion = record !== null && record.concluded && record.outcome === null;
  // explained by our events already: open in our view and on chain, or a record with its outcome
  if (status.finalizesAt === 0) return unknownConclusion ? { ...record, fingerprint } : record;
  if (record !== null && !unknownConclusion && (record.concluded || record.finalizesAt === status.finalizesAt)) return record;
  const cursor =
    status.blockNumber === undefined
      ? (record?.cursor ?? null)
      : { blockNumber: status.blockNumber, logIndex: Number.MAX_SAFE_INTEGER };
  const concluded = finalOutcomes.find((o) => statusFingerprint(ZERO_BYTES32, o) === fingerprint);
  if (concluded !== undefined) {
    const keep = record?.concluded === true ? { reclaimed: record.reclaimed, unresolvedReclaims: record.unresolvedReclaims } : {};
    return { ...OPEN_RECORD, ...keep, concluded: true, outcome: concluded, fingerprint, cursor };
  }
  if (unknownConclusion) return { ...record, fingerprint };
  for (const v of states) {
    if (v.turnNum !== status.turnNumRecord) continue;
    const stateHash = hashState({ ...fixedPart, ...v });
    if (statusFingerprint(stateHash, v.outcome) === fingerprint) {
      return { ...OPEN_RECORD, turnNumRecord: v.turnNum, finalizesAt: status.finalizesAt, stateHash, outcome: v.outcome, fingerprint, cursor };
    }
  }
  return { ...(record ?? OPEN_RECORD), turnNumRecord: status.turnNumRecord, finalizesAt: status.finalizesAt, stateHash: ZERO_BYTES32, outcome: null, fingerprint };
}

/** True when the entry at `turnNum` is signed by everyone. */
export function supportedAt(channel: Channel, turnNum: number): boolean {
  const e = entryAt(channel, turnNum);
  return e !== undefined && isSupported(e);
}

// ---------------------------------------------------------------- port events

/**
 * The protocol event for a chain-port dispute event (`ChallengeRegistered`, `ChallengeCleared`,
 * `Checkpointed`, `Reclaimed`), or undefined for the others (see the engine's mapping for those).
 * @param reclaimTarget - for `Reclaimed`: the target, when the engine submitted that transaction
 */
export function disputeEventFromPort(ev: PortChainEvent, reclaimTarget?: ChannelId): DisputeEvent | undefined {
  const at = { blockNumber: ev.blockNumber, logIndex: ev.logIndex };
  switch (ev.type) {
    case 'ChallengeRegistered':
      return {
        kind: 'challengeRegistered',
        channelId: ev.channelId.toLowerCase() as ChannelId,
        finalizesAt: ev.finalizesAt,
        proof: ev.proof.map((p) => ({ variablePart: p.variablePart, signatures: p.signatures })),
        candidate: { variablePart: ev.candidate.variablePart, signatures: ev.candidate.signatures },
        ...at,
      };
    case 'ChallengeCleared':
    case 'Checkpointed':
      return {
        kind: ev.type === 'Checkpointed' ? 'checkpointed' : 'challengeCleared',
        channelId: ev.channelId.toLowerCase() as ChannelId,
        newTurnNumRecord: ev.newTurnNumRecord,
        ...(ev.candidate === undefined ? {} : { candidate: { variablePart: ev.candidate.variablePart, signatures: ev.candidate.signatures } }),
        ...at,
      };
    case 'Reclaimed':
      return {
        kind: 'reclaimed',
        channelId: ev.channelId.toLowerCase() as ChannelId,
        assetIndex: Number(ev.assetIndex),
        ...(reclaimTarget === undefined ? {} : { target: reclaimTarget.toLowerCase() as ChannelId }),
        ...at,
      };
    default:
      return undefined;
  }
}

/**
 * A stable key for one fallback step, for the engine's transaction journal: the same key means
 * the same step (re-sending it is a duplicate); a counter-challenge at a higher turn and the
 * reclaim of another guarantee of the same ledger are different steps. Undefined for the
 * cooperative kinds (keep the engine's own keys for those).
 */
export function fallbackTransactionKey(tx: Transaction): string | undefined {
  switch (tx.kind) {
    case 'challenge':
    case 'checkpoint':
    case 'conclude':
      return `${tx.kind}:${tx.channelId}:${tx.candidate.state.turnNum}`;
    case 'reclaim':
      return `reclaim:${tx.channelId}:${tx.targetChannelId}`;
    case 'transferAllAssets':
      return `transferAllAssets:${tx.channelId}:${tx.stateHash}`;
    default:
      return undefined;
  }
}
