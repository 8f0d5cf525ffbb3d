/**
 * Direct defund (go-nitro `directdefund`): close a channel cooperatively.
 *
 * 1. everyone signs the final state: the latest supported outcome, unchanged, at the next
 *    turn with `isFinal` (a ledger must hold no guarantees and no pending proposals);
 * 2. the designated participant (index 0 by default) submits `concludeAndTransferAllAssets`;
 * 3. everyone waits until chain events report the final outcome paid out: zero holdings for every
 *    asset, or — after the conclusion — payouts (`AllocationUpdated`, initial minus final holdings)
 *    covering every allocation of the final state. Holdings may stay above zero: anyone can
 *    deposit into any channel id, e.g. 1 wei mined just before our `concludeAndTransferAllAssets`;
 *    that surplus belongs to nobody and must not keep the close from completing.
 *
 * Concluded by someone else (`conclude`, without the transfer) before we hold the final state with
 * every signature — e.g. a peer that withholds its countersignature, concludes and vanishes: the
 * engine feeds the chain status (`channelStatus`); when it records our final state's outcome (the
 * only final state we signed, so the only one a conclude can have used), we `transferAllAssets`
 * with it ourselves (stateHash 0, no signature needed).
 */
import type { ChannelId } from '../hex.ts';
import { parseAddress } from '../address.ts';
import { ZERO_BYTES32 } from '../chain.ts';
import { hashOutcome } from '../outcome.ts';
import type { VariablePart } from '../state.ts';
import {
  type Channel,
  addSignedState,
  applyChainEvent,
  entryAt,
  fullState,
  latestSupportedState,
  others,
  pinState,
  sendSignedState,
  signAndAdd,
  signaturesOf,
  signedByMe,
} from './channel.ts';
import { statusFingerprint } from './dispute.ts';
import { fail, guardPeerInput } from './fail.ts';
import { type ConsensusChannel, ledgerToChannel } from './ledger.ts';
import type { CrankResult, Effect, ObjectiveEvent, ObjectiveStatus, Secrets } from './types.ts';

export type DirectDefundWaitingFor =
  | 'WaitingForFinalization'
  /** The channel was concluded by someone else: the engine must feed `channelStatus` (which final state?). */
  | 'WaitingForChannelStatus'
  | 'WaitingForWithdraw'
  | 'WaitingForNothing';

export interface DirectDefundObjective {
  readonly type: 'directDefund';
  readonly id: string;
  readonly status: ObjectiveStatus;
  readonly channel: Channel;
  readonly finalTurnNum: number;
  /** Participant index that submits the transaction. */
  readonly submitter: number;
  readonly transactionSubmitted: boolean;
  /**
   * Per asset (checksummed address): what `AllocationUpdated` events seen after the conclusion paid
   * out of the channel. Absent until one is seen (and in objectives persisted before it existed).
   */
  readonly paidOut?: Readonly<Record<string, bigint>>;
  /**
   * The channel was concluded by someone else, and `statusOf` says with: `final`, our final state
   * (we pay it out with `transferAllAssets`); `other`, something else (only its holder can).
   * Absent until the status is read.
   */
  readonly concludedWith?: 'final' | 'other';
}

export function directDefundId(channelId: ChannelId): string {
  return `DirectDefunding-${channelId}`;
}

/**
 * Start (or join) a cooperative close of `channel` from its latest supported state.
 * @param options.submitter - index of the participant who submits the transaction (default 0)
 * @throws SluiceError INVALID_ARGUMENT (no supported state), LEDGER_NOT_EMPTY (guarantees still funded)
 */
export function newDirectDefund(channel: Channel, options: { submitter?: number } = {}): DirectDefundObjective {
  const latest = latestSupportedState(channel);
  if (latest === undefined) fail('INVALID_ARGUMENT', 'nothing to close: no supported state');
  if (latest.state.outcome.some((e) => e.allocations.some((a) => a.allocationType === 2))) {
    fail('LEDGER_NOT_EMPTY', 'the channel still funds guarantees', { channelId: channel.id });
  }
  const submitter = options.submitter ?? 0;
  if (!Number.isInteger(submitter) || submitter < 0 || submitter >= channel.fixedPart.participants.length) {
    fail('INVALID_ARGUMENT', 'submitter must be a participant index');
  }
  const final: VariablePart = latest.state.isFinal ? latest.state : { ...latest.state, turnNum: latest.state.turnNum + 1, isFinal: true };
  return {
    type: 'directDefund',
    id: directDefundId(channel.id),
    status: 'approved',
    channel: pinState(channel, final),
    finalTurnNum: final.turnNum,
    submitter,
    transactionSubmitted: false,
  };
}

/**
 * Close a ledger channel: it must hold no guarantees and no pending proposals.
 * @throws SluiceError LEDGER_NOT_EMPTY, and as {@link newDirectDefund}
 */
export function newLedgerDefund(ledger: ConsensusChannel, options: { submitter?: number } = {}): DirectDefundObjective {
  if (ledger.queue.length > 0) fail('LEDGER_NOT_EMPTY', 'the ledger has pending proposals', { channelId: ledger.id });
  if (ledger.current.outcome.guarantees.length > 0) fail('LEDGER_NOT_EMPTY', 'the ledger still funds guarantees', { channelId: ledger.id });
  return newDirectDefund(ledgerToChannel(ledger), options);
}

/**
 * The designated submitter did not conclude in time: become the submitter myself (the next crank
 * submits once the final state is supported). The engine decides when; the protocol never reads a clock.
 */
export function takeOverSubmission(o: DirectDefundObjective): DirectDefundObjective {
  if (o.status !== 'approved' || o.submitter === o.channel.myIndex) return o;
  return { ...o, submitter: o.channel.myIndex, transactionSubmitted: false };
}

/**
 * True once chain events show the final outcome paid out, for every asset: zero holdings, or the
 * channel concluded and payouts since covering every allocation of the final state (a transfer
 * pays allocations in full when the holdings allow, leaving any surplus — a donation — behind).
 */
export function withdrawn(o: DirectDefundObjective): boolean {
  const final = entryAt(o.channel, o.finalTurnNum);
  if (final === undefined) return false;
  return final.state.outcome.every((e) => {
    const asset = parseAddress(e.asset, 'asset');
    if (o.channel.holdings[asset] === 0n) return true;
    if (!o.channel.concluded) return false;
    const owed = e.allocations.reduce((s, a) => s + a.amount, 0n);
    return (o.paidOut?.[asset] ?? 0n) >= owed;
  });
}

/** The final state is registered on chain (`Concluded` seen): nothing is left to challenge, only to pay out. */
export function finalStateConcluded(o: DirectDefundObjective): boolean {
  return o.channel.concluded && entryAt(o.channel, o.finalTurnNum) !== undefined;
}

/** Advance the objective as far as it can go without new input. */
export function crankDirectDefund(o: DirectDefundObjective, secrets: Secrets): CrankResult<DirectDefundObjective, DirectDefundWaitingFor> {
  if (o.status !== 'approved') return { objective: o, effects: [], waitingFor: 'WaitingForNothing' };
  let channel = o.channel;
  const effects: Effect[] = [];
  const finalEntry = entryAt(channel, o.finalTurnNum)!;
  const final = fullState(channel, finalEntry.state);
  if (channel.concluded) {
    // concluded by someone else: nothing left to sign; pay out our final state if that is what was concluded
    if (withdrawn(o)) return { objective: { ...o, status: 'completed' }, effects, waitingFor: 'WaitingForNothing' };
    if (o.concludedWith === undefined) return { objective: o, effects, waitingFor: 'WaitingForChannelStatus' };
    let transactionSubmitted = o.transactionSubmitted;
    if (o.concludedWith === 'final' && !transactionSubmitted) {
      effects.push({ type: 'submitTransaction', tx: { kind: 'transferAllAssets', channelId: channel.id, outcome: final.outcome, stateHash: ZERO_BYTES32 } });
      transactionSubmitted = true;
    }
    return { objective: { ...o, transactionSubmitted }, effects, waitingFor: 'WaitingForWithdraw' };
  }
  if (!signedByMe(channel, o.finalTurnNum)) {
    channel = signAndAdd(channel, finalEntry.state, secrets.privateKey).channel;
    effects.push(...sendSignedState(others(channel), o.id, final, signaturesOf(entryAt(channel, o.finalTurnNum)!)));
  }
  const supported = latestSupportedState(channel);
  if (supported === undefined || supported.state.turnNum < o.finalTurnNum) {
    return { objective: { ...o, channel }, effects, waitingFor: 'WaitingForFinalization' };
  }
  let transactionSubmitted = o.transactionSubmitted;
  if (channel.myIndex === o.submitter && !transactionSubmitted && !withdrawn({ ...o, channel })) {
    effects.push({
      type: 'submitTransaction',
      tx: { kind: 'concludeAndTransferAllAssets', channelId: channel.id, state: final, signatures: signaturesOf(supported) },
    });
    transactionSubmitted = true;
  }
  const next = { ...o, channel, transactionSubmitted };
  if (!withdrawn(next)) return { objective: next, effects, waitingFor: 'WaitingForWithdraw' };
  return { objective: { ...next, status: 'completed' }, effects, waitingFor: 'WaitingForNothing' };
}

/**
 * Feed a peer's signed final state or a chain event into the objective.
 * @throws SluiceError PROTOCOL_WRONG_TURN, PROTOCOL_UNACCEPTABLE_STATE (not final, or a different
 *   outcome), PROTOCOL_WRONG_CHANNEL, PROTOCOL_WRONG_SIGNER, PROTOCOL_CONFLICTING_STATE, PROTOCOL_MALFORMED
 */
export function updateDirectDefund(o: DirectDefundObjective, event: ObjectiveEvent): DirectDefundObjective {
  return guardPeerInput('direct defund event', () => {
    switch (event.kind) {
      case 'signedState': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        const s = event.state;
        if (s.turnNum !== o.finalTurnNum) fail('PROTOCOL_WRONG_TURN', 'direct defund only exchanges the final state', { turnNum: s.turnNum });
        const expected = entryAt(o.channel, o.finalTurnNum)!.state;
        if (!s.isFinal || hashOutcome(s.outcome) !== hashOutcome(expected.outcome)) {
          fail('PROTOCOL_UNACCEPTABLE_STATE', 'a cooperative close must keep the agreed outcome and be final');
        }
        return { ...o, channel: addSignedState(o.channel, s, event.signatures) };
      }
      case 'allocationUpdated': {
        const channel = applyChainEvent(o.channel, event);
        if (channel === o.channel) return o; // another channel, or seen already
        // a payout counts toward the final outcome only once that outcome is registered
        if (!o.channel.concluded) return { ...o, channel };
        if (event.initialHoldings !== undefined && typeof event.initialHoldings !== 'bigint') fail('PROTOCOL_MALFORMED', 'initialHoldings must be a bigint');
        const asset = parseAddress(event.asset, 'asset');
        const before = event.initialHoldings ?? o.channel.holdings[asset] ?? event.holdings;
        const paid = before > event.holdings ? before - event.holdings : 0n;
        return { ...o, channel, paidOut: { ...o.paidOut, [asset]: (o.paidOut?.[asset] ?? 0n) + paid } };
      }
      case 'deposited':
      case 'concluded':
        return { ...o, channel: applyChainEvent(o.channel, event) };
      case 'channelStatus': {
        // only what explains a conclusion we saw: a status with our final state's outcome and stateHash 0
        if (event.channelId !== o.channel.id || !o.channel.concluded || o.concludedWith !== undefined) return o;
        if (typeof event.fingerprint !== 'bigint') fail('PROTOCOL_MALFORMED', 'fingerprint must be a bigint');
        const final = entryAt(o.channel, o.finalTurnNum)!.state;
        const ours = event.finalizesAt !== 0 && statusFingerprint(ZERO_BYTES32, final.outcome) === event.fingerprint;
        return { ...o, concludedWith: ours ? 'final' : 'other', transactionSubmitted: false };
      }
      default:
        return fail('PROTOCOL_MALFORMED', 'unexpected event for a direct defund');
    }
  });
}

