/**
 * Virtual challenge: put a virtual channel V on chain with the state best for us and see it
 * finalized. The reclaims into the ledgers and their payouts are the ledger exits' job
 * ({@link LedgerExitObjective}); this objective completes once V is finalized.
 *
 * 1. submit our best move ({@link bestExitMove}): `conclude` with a unanimous final state; for the
 *    payee the redemption state (turn 2, the payer's best voucher, signed by the payee alone,
 *    proof = unanimous postfund); for the others the latest supported state (postfund);
 * 2. a `ChallengeRegistered` for V records what is on chain; if another challenge registers an
 *    older state (e.g. the payer's postfund while the payee holds a voucher) and we can raise the
 *    turn, we counter-challenge before it finalizes;
 * 3. complete once chain time reaches `finalizesAt` (or V was concluded).
 *
 * Idempotent: the submitted move is recorded, so a crank after a crash does not submit again; the
 * engine calls {@link onTransactionFailed} when that transaction reverted or was dropped.
 */
import type { ChannelId } from '../hex.ts';
import type { Voucher } from '../voucher.ts';
import { type Channel, latestSupportedState } from './channel.ts';
import { fail, guardPeerInput } from './fail.ts';
import {
  type OnChainRecord,
  applyStatusToRecord,
  applyToRecord,
  assertRedeemable,
  bestExitMove,
  challengeRunning,
  heldFinalOutcome,
  isFinalizedAt,
  moveTransaction,
  needsStatus,
  signedFinalOutcomes,
} from './dispute.ts';
import { VIRTUAL_FINAL_TURN, VIRTUAL_POSTFUND_TURN } from './virtual-channel.ts';
import type { CrankResult, Effect, ObjectiveEvent, ObjectiveStatus, Secrets } from './types.ts';

export type VirtualChallengeWaitingFor =
  /** Our challenge (or conclude) is submitted; its event has not arrived. */
  | 'WaitingForChallengeRegistered'
  /** A challenge at least as good as ours runs; chain time has not reached `finalizesAt`. */
  | 'WaitingForFinalization'
  /** The chain records a newer turn than anything we can register and no challenge runs: only another participant can move. */
  | 'WaitingForOtherParticipant'
  /** V was concluded with a final state we hold without every signature: the engine must feed `channelStatus` for V. */
  | 'WaitingForChannelStatus'
  | 'WaitingForNothing';

/** A move we submitted and have not yet seen on chain. */
export interface SubmittedMove {
  readonly kind: 'challenge' | 'conclude';
  readonly turnNum: number;
}

export interface VirtualChallengeObjective {
  readonly type: 'virtualChallenge';
  readonly id: string;
  readonly status: ObjectiveStatus;
  readonly v: Channel;
  /** Payee only: the payer's best voucher (redeemed by the challenge). */
  readonly bestVoucher: Voucher | null;
  /** V on chain, from its dispute events; null until one arrives. */
  readonly onChain: OnChainRecord | null;
  /** Latest chain time seen (seconds). */
  readonly now: number;
  readonly submitted: SubmittedMove | null;
}

export function virtualChallengeId(channelId: ChannelId): string {
  return `VirtualChallenge-${channelId}`;
}

export interface NewVirtualChallengeInput {
  /** V with at least its prefund supported (normally its postfund). */
  readonly v: Channel;
  /** Payee: the payer's best voucher on V (validated here). */
  readonly bestVoucher?: Voucher | null;
  /** Current chain time, if known. */
  readonly now?: number;
}

/**
 * Start settling V on chain.
 * @throws SluiceError INVALID_ARGUMENT (no supported state, not a virtual channel, a voucher from a
 *   non-payee or not redeemable on V)
 */
export function newVirtualChallenge(input: NewVirtualChallengeInput): VirtualChallengeObjective {
  const { v } = input;
  const n = v.fixedPart.participants.length;
  if (n < 3) fail('INVALID_ARGUMENT', 'a virtual channel has at least three participants');
  const latest = latestSupportedState(v);
  if (latest === undefined) fail('INVALID_ARGUMENT', 'nothing to register: V has no supported state', { channelId: v.id });
  const bestVoucher = input.bestVoucher ?? null;
  if (bestVoucher !== null) {
    if (v.myIndex !== n - 1) fail('INVALID_ARGUMENT', 'only the payee redeems vouchers', { channelId: v.id });
    if (latest.state.turnNum === VIRTUAL_POSTFUND_TURN) assertRedeemable(v, latest.state, bestVoucher);
  }
  const now = input.now ?? 0;
  if (!Number.isSafeInteger(now) || now < 0) fail('INVALID_ARGUMENT', 'now must be a chain time in seconds');
  return { type: 'virtualChallenge', id: virtualChallengeId(v.id), status: 'approved', v, bestVoucher, onChain: null, now, submitted: null };
}

/** The channels whose `statusOf` the engine must read and feed (`channelStatus`): V, when concluded with an outcome our events do not give. */
export function virtualChallengeNeedsStatus(o: VirtualChallengeObjective): ChannelId[] {
  return o.status === 'approved' && needsStatus(o.onChain) ? [o.v.id] : [];
}

/** True once V is finalized on chain (at the objective's chain time). */
export function virtualFinalized(o: VirtualChallengeObjective): boolean {
  return isFinalizedAt(o.onChain, o.now);
}

/** Advance the objective as far as it can go without new input. */
export function crankVirtualChallenge(o: VirtualChallengeObjective, secrets: Secrets): CrankResult<VirtualChallengeObjective, VirtualChallengeWaitingFor> {
  if (o.status !== 'approved') return { objective: o, effects: [], waitingFor: 'WaitingForNothing' };
  // concluded with an outcome we cannot name yet: learn it first (the ledger exits reclaim with it;
  // the record they read is their own, but a completed objective no longer takes events)
  if (needsStatus(o.onChain)) return { objective: { ...o, submitted: null }, effects: [], waitingFor: 'WaitingForChannelStatus' };
  if (isFinalizedAt(o.onChain, o.now)) return { objective: { ...o, status: 'completed' }, effects: [], waitingFor: 'WaitingForNothing' };
  const effects: Effect[] = [];
  let submitted = o.submitted;
  const rec = o.onChain;
  const running = challengeRunning(rec, o.now);
  const move = bestExitMove(o.v, secrets.privateKey, { bestVoucher: o.bestVoucher });
  if (move === undefined) return fail('INTERNAL', 'V lost its supported state');
  // Open (never challenged, or cleared): register ours if the adjudicator allows its turn.
  // Running: only a move that raises the turn (or a conclude) improves on it.
  const allowed = move.kind === 'conclude' || rec === null || (running ? move.turnNum > rec.turnNumRecord : move.turnNum >= rec.turnNumRecord);
  if (allowed && submitted === null) {
    effects.push({ type: 'submitTransaction', tx: moveTransaction(o.v.id, move, 'challenge', secrets.privateKey) });
    submitted = { kind: move.kind === 'conclude' ? 'conclude' : 'challenge', turnNum: move.turnNum };
  }
  const next = { ...o, submitted };
  const waitingFor: VirtualChallengeWaitingFor =
    submitted !== null ? 'WaitingForChallengeRegistered' : running ? 'WaitingForFinalization' : 'WaitingForOtherParticipant';
  return { objective: next, effects, waitingFor };
}

/**
 * Feed a chain event (dispute events and `concluded` for V, chain time). Events about other
 * channels and holdings are ignored.
 * @throws SluiceError PROTOCOL_MALFORMED (a malformed event or a peer message)
 */
export function updateVirtualChallenge(o: VirtualChallengeObjective, event: ObjectiveEvent): VirtualChallengeObjective {
  return guardPeerInput('virtual challenge event', () => {
    switch (event.kind) {
      case 'chainTime':
        if (!Number.isSafeInteger(event.timestamp) || event.timestamp < 0) fail('PROTOCOL_MALFORMED', 'chain time must be seconds');
        return event.timestamp > o.now ? { ...o, now: event.timestamp } : o;
      case 'challengeRegistered':
      case 'challengeCleared':
      case 'checkpointed':
      case 'concluded': {
        if (event.channelId !== o.v.id) return o;
        const onChain = applyToRecord(o.onChain, o.v.fixedPart, event, heldFinalOutcome(o.v));
        if (onChain === o.onChain) return o;
        let submitted = o.submitted;
        if (submitted !== null && (event.kind === 'concluded' || (event.kind === 'challengeRegistered' && onChain!.turnNumRecord >= submitted.turnNum))) submitted = null;
        return { ...o, onChain, submitted };
      }
      case 'channelStatus': {
        if (event.channelId !== o.v.id) return o;
        const known = [...signedFinalOutcomes(o.v), ...(event.finalOutcomes ?? [])];
        const onChain = applyStatusToRecord(o.onChain, o.v.fixedPart, event, known, o.v.states.map((e) => e.state));
        if (onChain === o.onChain) return o;
        // finalized already: a move of ours in flight is moot ('Channel finalized.')
        const moot = isFinalizedAt(onChain, o.now);
        return { ...o, onChain, submitted: moot ? null : o.submitted };
      }
      case 'reclaimed':
      case 'deposited':
      case 'allocationUpdated':
        return o;
      default:
        return fail('PROTOCOL_MALFORMED', 'unexpected event for a virtual challenge');
    }
  });
}

/**
 * The payee received a better voucher after the objective started: redeem that one instead. Only
 * useful before the redemption is registered (VirtualPaymentApp accepts turn 2 once; a registered
 * redemption cannot be raised), so it is refused once ours is submitted or on chain.
 * @throws SluiceError INVALID_ARGUMENT (not the payee, not redeemable, not higher),
 *   PROTOCOL_BAD_ROLE_OR_STATUS (redemption already submitted or registered)
 */
export function withBestVoucher(o: VirtualChallengeObjective, voucher: Voucher): VirtualChallengeObjective {
  const n = o.v.fixedPart.participants.length;
  if (o.v.myIndex !== n - 1) fail('INVALID_ARGUMENT', 'only the payee redeems vouchers', { channelId: o.v.id });
  if (o.submitted !== null || (o.onChain !== null && o.onChain.turnNumRecord >= VIRTUAL_FINAL_TURN)) {
    fail('PROTOCOL_BAD_ROLE_OR_STATUS', 'the redemption is already submitted or registered', { channelId: o.v.id });
  }
  const latest = latestSupportedState(o.v)!;
  assertRedeemable(o.v, latest.state, voucher);
  if (o.bestVoucher !== null && voucher.amount <= o.bestVoucher.amount) fail('INVALID_ARGUMENT', 'the voucher is not higher than the one held', { channelId: o.v.id });
  return { ...o, bestVoucher: voucher };
}
