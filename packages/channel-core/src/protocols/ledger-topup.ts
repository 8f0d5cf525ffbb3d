/**
 * Ledger top-up (a Sluice extension; go-nitro never resized ledgers): one party deposits
 * more into an open ledger, then both agree a new state crediting it.
 *
 * Order is deposit first, then agree: the counterparty (the follower, or the leader when
 * it proposes) credits the depositor only once chain events show the holdings cover the
 * current total plus the top-up, so nobody ever signs a ledger state that is not fully
 * backed on chain (an under-funded ledger would pay guarantees last). The depositor's
 * exposure is the deposit itself until the counterparty agrees.
 */
import type { Address, ChannelId } from '../hex.ts';
import { sameAddress } from '../address.ts';
import { applyChainEvent, type ChainCursor } from './channel.ts';
import { fail, guardPeerInput } from './fail.ts';
import { type ConsensusChannel, type Proposal, ledgerTotal, pendingOutcome } from './ledger.ts';
import { crankConnection, receiveConnectionCountersignature, receiveExpectedProposal } from './ledger-connection.ts';
import { dest } from './virtual-channel.ts';
import type { CrankResult, Effect, ObjectiveEvent, ObjectiveStatus, Secrets } from './types.ts';

export type LedgerTopUpWaitingFor = 'WaitingForDeposit' | 'WaitingForLedgerUpdate' | 'WaitingForNothing';

export interface LedgerTopUpObjective {
  readonly type: 'ledgerTopUp';
  readonly id: string;
  readonly status: ObjectiveStatus;
  readonly ledger: ConsensusChannel;
  /** Participant index of the depositor. */
  readonly depositor: 0 | 1;
  readonly amount: bigint;
  /** Holdings once the deposit is in: the ledger total before the top-up plus `amount`. */
  readonly targetHoldings: bigint;
  readonly holdings: bigint | null;
  readonly chainCursor: ChainCursor | null;
  readonly depositSubmitted: boolean;
  /**
   * Our own deposit's receipt said mined ({@link topUpDepositMined}). Until then the depositor
   * neither proposes nor countersigns its top-up, however high the holdings: with both parties
   * depositing at once, holdings alone cannot tell whose deposit is in (the counterparty's would
   * otherwise cover ours). Absent in records written before it existed (treated as mined).
   */
  readonly depositMined?: boolean;
  /** Turn at which the top-up was proposed (leader) or countersigned (follower). */
  readonly appliedAtTurn: number | null;
}

export function ledgerTopUpId(ledgerId: ChannelId, targetHoldings: bigint): string {
  return `LedgerTopUp-${ledgerId}-${targetHoldings}`;
}

/**
 * Start a top-up of `amount` by `depositor` (both parties create the same objective).
 * @throws SluiceError INVALID_ARGUMENT (non-positive amount, depositor not a party, a top-up already pending)
 */
export function newLedgerTopUp(input: { readonly ledger: ConsensusChannel; readonly depositor: Address; readonly amount: bigint }): LedgerTopUpObjective {
  const { ledger, amount } = input;
  if (typeof amount !== 'bigint' || amount <= 0n) fail('INVALID_ARGUMENT', 'a top-up amount must be positive');
  const depositor = ledger.fixedPart.participants.findIndex((p) => sameAddress(p, input.depositor));
  if (depositor !== 0 && depositor !== 1) fail('INVALID_ARGUMENT', 'the depositor must be a ledger party');
  if (ledger.queue.some((sp) => sp.proposal.type === 'topUp')) fail('INVALID_ARGUMENT', 'a top-up is already pending on this ledger');
  const targetHoldings = ledgerTotal(pendingOutcome(ledger)) + amount;
  return {
    type: 'ledgerTopUp',
    id: ledgerTopUpId(ledger.id, targetHoldings),
    status: 'approved',
    ledger,
    depositor,
    amount,
    targetHoldings,
    holdings: null,
    chainCursor: null,
    depositSubmitted: false,
    depositMined: false,
    appliedAtTurn: null,
  };
}

/** The engine saw our deposit for this top-up mined (its receipt): the top-up may now be agreed. */
export function topUpDepositMined(o: LedgerTopUpObjective): LedgerTopUpObjective {
  return o.depositMined === true ? o : { ...o, depositMined: true };
}

/**
 * Whether the top-up must be given up because its deposit reverted with the holdings moved past
 * the `expectedHeld` it was sent with (`held`: the holdings read after the revert): someone else's
 * deposit — typically the counterparty's own top-up, sent at the same moment — landed first, so
 * nothing of ours is on chain. Only before we proposed or countersigned anything for it.
 */
export function topUpDepositConflicts(o: LedgerTopUpObjective, expectedHeld: bigint, held: bigint): boolean {
  return o.status === 'approved' && o.ledger.myIndex === o.depositor && o.depositMined !== true && o.appliedAtTurn === null && held > expectedHeld;
}

function expectedTopUp(o: LedgerTopUpObjective): Proposal {
  return { type: 'topUp', destination: dest(o.ledger.fixedPart.participants[o.depositor]!), amount: o.amount };
}

/**
 * The deposit is in: the holdings reach the target and, until the top-up is in the ledger, also
 * what the ledger credits besides it (its agreed total and any other top-up queued) plus the
 * amount, so a deposit another top-up already credits is never credited again.
 */
function covered(o: LedgerTopUpObjective): boolean {
  if (o.holdings === null || o.holdings < o.targetHoldings) return false;
  // our own deposit counts once its receipt says so, not when the holdings happen to cover it
  if (o.ledger.myIndex === o.depositor && o.depositSubmitted && o.depositMined === false) return false;
  if (o.appliedAtTurn !== null) return true;
  const mine = expectedTopUp(o) as Extract<Proposal, { type: 'topUp' }>;
  let credited = ledgerTotal(o.ledger.current.outcome);
  let skippedMine = false;
  for (const { proposal: p } of o.ledger.queue) {
    if (p.type !== 'topUp') continue;
    if (!skippedMine && p.amount === mine.amount && p.destination.toLowerCase() === mine.destination.toLowerCase()) skippedMine = true;
    else credited += p.amount;
  }
  return o.holdings >= credited + o.amount;
}

/** Advance the objective as far as it can go without new input. */
export function crankLedgerTopUp(o: LedgerTopUpObjective, secrets: Secrets): CrankResult<LedgerTopUpObjective, LedgerTopUpWaitingFor> {
  if (o.status !== 'approved') return { objective: o, effects: [], waitingFor: 'WaitingForNothing' };
  const effects: Effect[] = [];
  let next = o;
  if (o.ledger.myIndex === o.depositor && !o.depositSubmitted && !covered(o)) {
    effects.push({
      type: 'submitTransaction',
      tx: { kind: 'deposit', channelId: o.ledger.id, asset: o.ledger.current.outcome.asset, expectedHeld: o.targetHoldings - o.amount, amount: o.amount },
    });
    next = { ...next, depositSubmitted: true };
  }
  if (next.appliedAtTurn === null) {
    if (!covered(next)) return { objective: next, effects, waitingFor: 'WaitingForDeposit' };
    const r = crankConnection(next.ledger, expectedTopUp(next), next.id, secrets.privateKey);
    effects.push(...r.effects);
    const sent = r.effects[0];
    const turn =
      sent?.type === 'sendMessage'
        ? sent.payload.kind === 'ledgerProposal'
          ? sent.payload.signedProposal.turnNum
          : sent.payload.kind === 'ledgerCountersignature'
            ? sent.payload.countersignature.turnNum
            : null
        : null;
    next = { ...next, ledger: r.ledger, appliedAtTurn: turn };
  }
  if (next.appliedAtTurn === null || next.ledger.current.turnNum < next.appliedAtTurn) {
    return { objective: next, effects, waitingFor: 'WaitingForLedgerUpdate' };
  }
  return { objective: { ...next, status: 'completed' }, effects, waitingFor: 'WaitingForNothing' };
}

/**
 * Feed chain events for the ledger and the peer's proposal / countersignature.
 * @throws SluiceError PROTOCOL_NOT_READY (proposal before the deposit is seen: retry later),
 *   LEDGER_PROPOSAL_UNEXPECTED, PROTOCOL_WRONG_CHANNEL, PROTOCOL_WRONG_SIGNER, PROTOCOL_MALFORMED
 */
export function updateLedgerTopUp(o: LedgerTopUpObjective, event: ObjectiveEvent): LedgerTopUpObjective {
  return guardPeerInput('ledger top-up event', () => {
    switch (event.kind) {
      case 'deposited':
      case 'allocationUpdated': {
        if (event.channelId !== o.ledger.id) return o;
        if (!sameAddress(event.asset, o.ledger.current.outcome.asset)) return o;
        // reuse the channel cursor logic on a minimal channel-like value
        const c = applyChainEvent(
          { id: o.ledger.id, fixedPart: o.ledger.fixedPart, myIndex: o.ledger.myIndex, states: [], holdings: {}, concluded: false, chainCursor: o.chainCursor },
          event,
        );
        if (c.chainCursor === o.chainCursor) return o;
        return { ...o, holdings: event.holdings, chainCursor: c.chainCursor };
      }
      case 'concluded':
        return o;
      case 'ledgerProposal': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        if (event.signedProposal.ledgerId !== o.ledger.id) fail('PROTOCOL_WRONG_CHANNEL', 'proposal is for another ledger');
        const expected = covered(o) ? expectedTopUp(o) : null;
        return { ...o, ledger: receiveExpectedProposal(o.ledger, event.signedProposal, null, expected) };
      }
      case 'ledgerCountersignature': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        return { ...o, ledger: receiveConnectionCountersignature(o.ledger, event.countersignature) };
      }
      case 'signedState':
        return fail('PROTOCOL_WRONG_TURN', 'a ledger top-up exchanges proposals, not states');
      default:
        return fail('PROTOCOL_MALFORMED', 'unexpected event for a ledger top-up');
    }
  });
}
