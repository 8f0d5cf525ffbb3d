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
