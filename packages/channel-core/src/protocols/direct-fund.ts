/**
 * Direct fund (go-nitro `directfund`): open a channel on chain.
 *
 * 1. everyone signs the prefund state (turn 0);
 * 2. deposits in safe order, per asset: participant i deposits only once the holdings
 *    cover every allocation before its own, and only what is still missing up to its target;
 * 3. once fully funded, everyone signs the postfund state (turn 1).
 */
import { type Address, type ChannelId } from '../hex.ts';
import { sameAddress } from '../address.ts';
import { hashOutcome, type Outcome } from '../outcome.ts';
import { type State, fixedPartOf } from '../state.ts';
import {
  type Channel,
  addSignedState,
  applyChainEvent,
  destinationOf,
  entryAt,
  fullState,
  holdingsOf,
  newChannel,
  others,
  pinState,
  sendSignedState,
  postFundComplete,
  preFundComplete,
  signAndAdd,
  signaturesOf,
  signedByMe,
} from './channel.ts';
import { fail, guardPeerInput } from './fail.ts';
import type { CrankResult, Effect, ObjectiveEvent, ObjectiveStatus, Secrets } from './types.ts';

export type DirectFundWaitingFor =
  | 'WaitingForCompletePrefund'
  | 'WaitingForMyTurnToFund'
  | 'WaitingForCompleteFunding'
  | 'WaitingForCompletePostFund'
  | 'WaitingForNothing';

export interface DirectFundObjective {
  readonly type: 'directFund';
  readonly id: string;
  readonly status: ObjectiveStatus;
  readonly channel: Channel;
  /** Assets whose deposit transaction I already asked for. */
  readonly depositsSubmitted: readonly Address[];
}

export function directFundId(channelId: ChannelId): string {
  return `DirectFunding-${channelId}`;
}

/**
 * Start (or join) a direct fund from the agreed prefund state.
 * @throws SluiceError INVALID_ARGUMENT if the state is not a valid prefund or I am not a participant
 */
export function newDirectFund(prefund: State, myAddress: Address): DirectFundObjective {
  return guardPeerInput('prefund state', () => {
    if (prefund.turnNum !== 0 || prefund.isFinal) fail('INVALID_ARGUMENT', 'a prefund state has turnNum 0 and is not final');
    const channel = newChannel(fixedPartOf(prefund), myAddress);
    // Pin the agreed prefund so a peer's different turn-0 state is rejected as conflicting.
    return { type: 'directFund', id: directFundId(channel.id), status: 'approved', channel: pinState(channel, prefund), depositsSubmitted: [] };
  });
}

function prefundOf(o: DirectFundObjective): State {
  const e = entryAt(o.channel, 0) ?? o.channel.states[0]!;
  return fullState(o.channel, { ...e.state, turnNum: 0 });
}

function outcomeOf(o: DirectFundObjective): Outcome {
  return o.channel.states[0]!.state.outcome;
}

/** Per asset: what must be held before I deposit, and the holdings once I have. */
export function depositPlan(channel: Channel, outcome: Outcome): { asset: Address; safetyThreshold: bigint; target: bigint; total: bigint }[] {
  const mine = destinationOf(channel, channel.myIndex);
  return outcome.map((exit) => {
    let before = 0n;
    let myAmount = 0n;
    let total = 0n;
    let seenMine = false;
    for (const a of exit.allocations) {
      total += a.amount;
      if (a.destination === mine) {
        myAmount += a.amount;
        seenMine = true;
      } else if (!seenMine) before += a.amount;
    }
    return { asset: exit.asset, safetyThreshold: before, target: before + myAmount, total };
  });
}

/** True when on-chain holdings cover the whole outcome, for every asset. */
export function fundingComplete(channel: Channel, outcome: Outcome): boolean {
  return depositPlan(channel, outcome).every((p) => holdingsOf(channel, p.asset) >= p.total);
}

/**
 * Whether giving up on this ledger opening costs nobody anything: I never asked for a deposit and,
 * as far as the objective has seen, the chain holds nothing for the channel in any of its assets.
 * (The engine abandons such an opening after a long silence, and resumes it if a deposit shows up
 * later: anyone who deposits is never left without a counterparty.)
 */
export function directFundAbandonable(o: DirectFundObjective): boolean {
  return o.status === 'approved' && o.depositsSubmitted.length === 0 && outcomeOf(o).every((exit) => holdingsOf(o.channel, exit.asset) === 0n);
}

/**
 * Whether this ledger opening asks no deposit of us in any asset: the peer funds it alone (a
 * provider's ledger, the hub's collateral in it).
 */
export function directFundAsksNothingOfUs(o: DirectFundObjective): boolean {
  return depositPlan(o.channel, outcomeOf(o)).every((p) => p.target === p.safetyThreshold);
}

/**
 * Whether this opening waits only for the peer's postfund, with no money of ours in it: we
 * deposited nothing (our share is zero), funding is complete (the peer's deposit is held) and we
 * signed the postfund. Giving up costs us nothing; the peer keeps its way out (an on-chain exit
 * with the prefund, or with the postfund once it signs it). The engine abandons such an opening
 * after a long silence and resumes it when the peer's postfund arrives, so a slow peer still gets
 * its ledger.
 */
export function directFundWaitsOnPeerPostfund(o: DirectFundObjective): boolean {
  return o.status === 'approved' && o.depositsSubmitted.length === 0 && signedByMe(o.channel, 1) && !postFundComplete(o.channel);
}

/**
 * Whether money of ours is in this unfinished ledger opening: we asked for a deposit and the
 * chain holds at least what precedes it plus something of ours, in some asset. (With the prefund
 * supported, an on-chain exit then pays it back: see the engine's stalled-opening fallback.)
 */
export function directFundHasOurDeposit(o: DirectFundObjective): boolean {
  if (o.status !== 'approved' || o.depositsSubmitted.length === 0 || !preFundComplete(o.channel)) return false;
  return depositPlan(o.channel, outcomeOf(o)).some((p) => p.target > p.safetyThreshold && holdingsOf(o.channel, p.asset) > p.safetyThreshold);
}

/** Advance the objective as far as it can go without new input. */
export function crankDirectFund(o: DirectFundObjective, secrets: Secrets): CrankResult<DirectFundObjective, DirectFundWaitingFor> {
  if (o.status !== 'approved') return { objective: o, effects: [], waitingFor: 'WaitingForNothing' };
  let channel = o.channel;
  const effects: Effect[] = [];
  const prefund = prefundOf(o);

  if (!signedByMe(channel, 0)) {
    channel = signAndAdd(channel, prefund, secrets.privateKey).channel;
    effects.push(...sendSignedState(others(channel), o.id, prefund, signaturesOf(entryAt(channel, 0)!)));
  }
  if (!preFundComplete(channel)) return { objective: { ...o, channel }, effects, waitingFor: 'WaitingForCompletePrefund' };

  const outcome = outcomeOf(o);
  if (!fundingComplete(channel, outcome)) {
    let depositsSubmitted = o.depositsSubmitted;
    let myTurn = true;
    for (const p of depositPlan(channel, outcome)) {
      const held = holdingsOf(channel, p.asset);
      if (held >= p.target || depositsSubmitted.some((a) => sameAddress(a, p.asset))) continue;
      if (held < p.safetyThreshold) {
        myTurn = false;
        continue;
      }
      effects.push({ type: 'submitTransaction', tx: { kind: 'deposit', channelId: channel.id, asset: p.asset, expectedHeld: held, amount: p.target - held } });
      depositsSubmitted = [...depositsSubmitted, p.asset];
    }
    return {
      objective: { ...o, channel, depositsSubmitted },
      effects,
      waitingFor: myTurn ? 'WaitingForCompleteFunding' : 'WaitingForMyTurnToFund',
    };
  }

  if (!signedByMe(channel, 1)) {
    const postfund = { ...prefund, turnNum: 1 };
    channel = signAndAdd(channel, postfund, secrets.privateKey).channel;
    effects.push(...sendSignedState(others(channel), o.id, postfund, signaturesOf(entryAt(channel, 1)!)));
  }
  if (!postFundComplete(channel)) return { objective: { ...o, channel }, effects, waitingFor: 'WaitingForCompletePostFund' };
  return { objective: { ...o, channel, status: 'completed' }, effects, waitingFor: 'WaitingForNothing' };
}

/**
 * Feed a peer's signed state or a chain event into the objective.
 * @throws SluiceError PROTOCOL_WRONG_TURN (not turn 0/1), PROTOCOL_UNACCEPTABLE_STATE (a postfund
 *   that differs from the prefund), PROTOCOL_WRONG_CHANNEL, PROTOCOL_WRONG_SIGNER,
 *   PROTOCOL_CONFLICTING_STATE, PROTOCOL_MALFORMED
 */
export function updateDirectFund(o: DirectFundObjective, event: ObjectiveEvent): DirectFundObjective {
  return guardPeerInput('direct fund event', () => {
    switch (event.kind) {
      case 'signedState': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        const s = event.state;
        if (s.turnNum !== 0 && s.turnNum !== 1) fail('PROTOCOL_WRONG_TURN', 'direct fund only exchanges turns 0 and 1', { turnNum: s.turnNum });
        if (s.turnNum === 1) {
          const pre = o.channel.states[0]!.state;
          if (s.isFinal || s.appData !== pre.appData || hashOutcome(s.outcome) !== hashOutcome(pre.outcome)) {
            fail('PROTOCOL_UNACCEPTABLE_STATE', 'postfund must repeat the prefund outcome');
          }
        }
        return { ...o, channel: addSignedState(o.channel, s, event.signatures) };
      }
      case 'deposited':
      case 'allocationUpdated':
      case 'concluded':
        return { ...o, channel: applyChainEvent(o.channel, event) };
      default:
        return fail('PROTOCOL_MALFORMED', 'unexpected event for a direct fund');
    }
  });
}
