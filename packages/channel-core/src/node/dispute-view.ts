/** JSON-safe view of a channel being settled on chain, shared by the apps' status APIs. */
import type { Address, ChannelId } from '../hex.ts';
import type { DisputeInfo } from '../engine/fallback.ts';

/** A {@link DisputeInfo} with amounts as decimal strings. */
export interface DisputeView {
  readonly channelId: ChannelId;
  readonly kind: 'ledger' | 'virtual';
  readonly objectiveId: string;
  readonly phase: 'registering' | 'challenge' | 'finalized';
  readonly waitingFor: string;
  readonly turnNumRecord: number | null;
  readonly finalizesAt: number | null;
  readonly secondsLeft: number | null;
  readonly chainTime: number;
  readonly amounts: readonly { readonly participant: Address; readonly amount: string }[];
  readonly mine: string;
  readonly locked: string;
  /** False while another participant can still change the payout (see {@link DisputeInfo.amountsKnown}): `amounts`/`mine` are then the state registered or being registered, not what will be paid. */
  readonly amountsKnown: boolean;
}

/** JSON-safe view of a dispute. */
export function disputeView(d: DisputeInfo): DisputeView {
  return {
    channelId: d.channelId,
    kind: d.kind,
    objectiveId: d.objectiveId,
    phase: d.phase,
    waitingFor: d.waitingFor,
    turnNumRecord: d.turnNumRecord,
    finalizesAt: d.finalizesAt,
    secondsLeft: d.secondsLeft,
    chainTime: d.chainTime,
    amounts: d.amounts.map((a) => ({ participant: a.participant, amount: a.amount.toString() })),
    mine: d.mine.toString(),
    locked: d.locked.toString(),
    amountsKnown: d.amountsKnown,
  };
}

/**
 * Where an on-chain settlement stands, for a command's last words:
 * - `paidOut`: no dispute left and every ledger we settled on chain is closed;
 * - `registering`: one of our challenge (or conclude) transactions is not mined yet;
 * - `counterpartyOnly`: every dispute left waits on another participant (`WaitingForOtherParticipant`:
 *   the chain records a state we do not hold, e.g. a ledger concluded with a final state we never
 *   signed, or a newer turn) — our node cannot finish it, waiting longer changes nothing;
 * - `settling`: our node finishes it (a challenge to sit out, reclaims, the transfer).
 */
export type OnChainState = 'paidOut' | 'registering' | 'counterpartyOnly' | 'settling';

/**
 * @param disputes - the node's disputes (`getDisputes()`)
 * @param openLedgers - ledgers settled on chain that are not closed yet
 */
export function onChainState(disputes: readonly { readonly waitingFor: string }[], openLedgers: number): OnChainState {
  if (disputes.length === 0) return openLedgers === 0 ? 'paidOut' : 'settling';
  if (disputes.some((d) => d.waitingFor === 'WaitingForChallengeRegistered')) return 'registering';
  if (disputes.every((d) => d.waitingFor === 'WaitingForOtherParticipant')) return 'counterpartyOnly';
  return 'settling';
}

/** The line a command prints when only the counterparty can finish what is left ({@link onChainState} `counterpartyOnly`). */
export const COUNTERPARTY_ONLY =
  'the chain records a state our node cannot pay out (it holds no state matching it): only the counterparty can finish this payout; our node keeps watching whenever it runs';
