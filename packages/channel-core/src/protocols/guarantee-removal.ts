/**
 * Guarantee removal by on-chain proof: once a virtual channel V is settled on chain (its challenge
 * finalized, or it was concluded), the two parties of a ledger that guarantees V drop the guarantee
 * cooperatively, applying V's outcome *as the chain fixed it* — the ledger step of a virtual
 * defund, with the split taken from the chain instead of a unanimous final state. The ledger stays
 * open.
 *
 * 1. each party builds the expected `remove(V, leftAmount)` from its OWN view of V on chain
 *    (`proof`: the record its virtual challenge keeps from the chain events, and its caught-up
 *    chain time): only when V is finalized at that time (or concluded) with a known outcome whose
 *    two allocations sum to the guarantee; `leftAmount` is the outcome's first allocation (the
 *    payer's), exactly what a `reclaim` of the guarantee would credit the guarantee's left;
 * 2. the leader proposes it; the follower countersigns only that proposal — a proposal that
 *    arrives before its own view shows V finalized is not ready (re-delivered later), a different
 *    split is refused;
 * 3. complete once the agreed ledger state no longer holds V's guarantee.
 *
 * Never signs a removal for a V whose challenge still runs: a running challenge can still be
 * raised (the payee's redemption at turn 2 beats the payer's postfund at turn 1). If the peer stays
 * silent or refuses, the engine exits the ledger on chain (its timeout); V being finalized, that
 * exit can reclaim the guarantee.
 */
import type { ChannelId } from '../hex.ts';
import { parseBytes32 } from '../hex.ts';
import type { FixedPart } from '../state.ts';
import { getChannelId } from '../state.ts';
import { fail, guardPeerInput } from './fail.ts';
import { type ConsensusChannel, type Proposal, consensusIncludes, counterparty, isLeader, pendingOutcome, queuedProposal } from './ledger.ts';
import { crankConnection, receiveExpectedProposal } from './ledger-connection.ts';
import { receiveCountersignature } from './ledger.ts';
import { type OnChainRecord, isFinalizedAt } from './dispute.ts';
import { expectedRemove, virtualAmounts } from './virtual-channel.ts';
import type { CrankResult, ObjectiveEvent, ObjectiveStatus, Secrets } from './types.ts';
import { sameAddress } from '../address.ts';

export type GuaranteeRemovalWaitingFor =
  /** Our own view does not show V finalized (with a known outcome) at our chain time. */
  | 'WaitingForVirtualFinalization'
  /** The leader's proposal or the follower's countersignature. */
  | 'WaitingForLedgerUpdate'
  | 'WaitingForNothing';

/** Our own view of V on chain: the record our chain events built, at our caught-up chain time. */
export interface VirtualProof {
  readonly record: OnChainRecord | null;
  /** Chain time (seconds) the record is judged at. */
  readonly now: number;
}

export interface GuaranteeRemovalObjective {
  readonly type: 'guaranteeRemoval';
  readonly id: string;
  readonly status: ObjectiveStatus;
  readonly ledger: ConsensusChannel;
  /** V, the guaranteed channel. */
  readonly target: ChannelId;
  /** V's fixed part (participants: payer first, payee last). */
  readonly vFixedPart: FixedPart;
  readonly proof: VirtualProof;
  /**
   * Leader: the turn of the queued removal this objective sent the follower under its own id
   * (absent: none sent yet). Set when it proposes, or when it adopts the same removal already
   * queued by the virtual defund that ended before the follower countersigned it.
   */
  readonly sentTurn?: number;
}

export function guaranteeRemovalId(ledgerId: ChannelId, target: ChannelId): string {
  return `GuaranteeRemoval-${ledgerId.toLowerCase()}-${target.toLowerCase()}`;
}

/** The ledger and V named by a removal objective id (lower case), or undefined if malformed. */
export function parseGuaranteeRemovalId(id: string): { ledgerId: ChannelId; target: ChannelId } | undefined {
  const m = /^GuaranteeRemoval-(0x[0-9a-fA-F]{64})-(0x[0-9a-fA-F]{64})$/.exec(id);
  return m === null ? undefined : { ledgerId: m[1]!.toLowerCase() as ChannelId, target: m[2]!.toLowerCase() as ChannelId };
}

export interface NewGuaranteeRemovalInput {
  readonly ledger: ConsensusChannel;
  /** V's fixed part. */
  readonly v: FixedPart;
  readonly proof: VirtualProof;
}

/**
 * Start (or join) removing V's guarantee from a ledger by on-chain proof.
 * @throws SluiceError INVALID_ARGUMENT (V is not a virtual channel guaranteed by this ledger, bad proof time)
 */
export function newGuaranteeRemoval(input: NewGuaranteeRemovalInput): GuaranteeRemovalObjective {
  const { ledger, v, proof } = input;
  if (v.participants.length < 3) fail('INVALID_ARGUMENT', 'a virtual channel has at least three participants');
  const target = getChannelId(v).toLowerCase() as ChannelId;
  if (!consensusIncludes(ledger, target)) fail('INVALID_ARGUMENT', 'the ledger does not guarantee this channel', { ledgerId: ledger.id, target });
  const parties = ledger.fixedPart.participants;
  if (!parties.every((p) => v.participants.some((q) => sameAddress(p, q)))) fail('INVALID_ARGUMENT', "the ledger's parties are not both in V", { ledgerId: ledger.id });
  if (!Number.isSafeInteger(proof.now) || proof.now < 0) fail('INVALID_ARGUMENT', 'now must be a chain time in seconds');
  return { type: 'guaranteeRemoval', id: guaranteeRemovalId(ledger.id, target), status: 'approved', ledger, target, vFixedPart: v, proof };
}

/**
 * The `remove` proposal V's on-chain outcome fixes for this ledger — or null while our own view does
 * not show V finalized (at our chain time) with a known outcome that the guarantee can pay.
 */
export function removalByProof(o: Pick<GuaranteeRemovalObjective, 'ledger' | 'target' | 'vFixedPart' | 'proof'>): Proposal | null {
  const { record, now } = o.proof;
  if (record === null || !isFinalizedAt(record, now) || record.outcome === null) return null;
  let a: ReturnType<typeof virtualAmounts>;
  try {
    a = virtualAmounts(record.outcome, o.vFixedPart);
  } catch {
    return null; // not V's shape: no reclaim could pay it either
  }
  const g = pendingOutcome(o.ledger).guarantees.find((x) => x.target === o.target) ?? o.ledger.current.outcome.guarantees.find((x) => x.target === o.target);
  if (g === undefined || g.amount !== a.payer + a.payee || !sameAddress(a.asset, o.ledger.current.outcome.asset)) return null;
  return expectedRemove(o.target, a.payer);
}

/** Replace our view of V on chain (the engine's virtual challenge record and caught-up chain time). */
export function withVirtualProof(o: GuaranteeRemovalObjective, proof: VirtualProof): GuaranteeRemovalObjective {
  if (!Number.isSafeInteger(proof.now) || proof.now < 0) fail('INVALID_ARGUMENT', 'now must be a chain time in seconds');
  return { ...o, proof };
}

/** Advance the objective as far as it can go without new input. */
export function crankGuaranteeRemoval(o: GuaranteeRemovalObjective, secrets: Secrets): CrankResult<GuaranteeRemovalObjective, GuaranteeRemovalWaitingFor> {
  if (o.status !== 'approved') return { objective: o, effects: [], waitingFor: 'WaitingForNothing' };
  if (!consensusIncludes(o.ledger, o.target)) return { objective: { ...o, status: 'completed' }, effects: [], waitingFor: 'WaitingForNothing' };
  const expected = removalByProof(o);
  if (expected === null) return { objective: o, effects: [], waitingFor: 'WaitingForVirtualFinalization' };
  if (isLeader(o.ledger)) {
    // The removal may be queued already, proposed by V's virtual defund, which ended (V went on
    // chain) before the follower countersigned it: its message may never have arrived, and the
    // follower ignores one for an ended defund. The queue cannot take the removal twice, so this
    // objective sends the queued one under its own id; the follower's removal by proof
    // countersigns it when the split is V's outcome on chain.
    const queued = queuedProposal(o.ledger, expected);
    if (queued !== undefined) {
      if (o.sentTurn === queued.turnNum) return { objective: o, effects: [], waitingFor: 'WaitingForLedgerUpdate' };
      const to = counterparty(o.ledger);
      return {
        objective: { ...o, sentTurn: queued.turnNum },
        effects: [{ type: 'sendMessage', to, payload: { kind: 'ledgerProposal', objectiveId: o.id, signedProposal: queued } }],
        waitingFor: 'WaitingForLedgerUpdate',
      };
    }
    // a removal of V with another split is queued (V settled otherwise than its defund agreed):
    // the follower will not countersign it, nor can V's guarantee be removed twice; the ledger
    // waits, and the peer timeout exits it on chain, where the guarantee is reclaimed by V's outcome
    if (!pendingOutcome(o.ledger).guarantees.some((g) => g.target === o.target)) return { objective: o, effects: [], waitingFor: 'WaitingForLedgerUpdate' };
  }
  const r = crankConnection(o.ledger, expected, o.id, secrets.privateKey);
  // (a leader gets here only to propose it: the turn it sent is the one now queued)
  const sentTurn = isLeader(o.ledger) ? queuedProposal(r.ledger, expected)?.turnNum : undefined;
  const next = { ...o, ledger: r.ledger, ...(sentTurn === undefined ? {} : { sentTurn }) };
  if (!consensusIncludes(next.ledger, o.target)) return { objective: { ...next, status: 'completed' }, effects: r.effects, waitingFor: 'WaitingForNothing' };
  return { objective: next, effects: r.effects, waitingFor: 'WaitingForLedgerUpdate' };
}

/**
 * Feed a peer message (chain events are ignored: the proof comes from {@link withVirtualProof}).
 * @throws SluiceError PROTOCOL_WRONG_CHANNEL, PROTOCOL_NOT_READY (V not finalized in our view yet:
 *   deliver again later), LEDGER_PROPOSAL_UNEXPECTED (another split, or not a removal of V), and those of
 *   {@link receiveExpectedProposal} / {@link receiveCountersignature}
 */
export function updateGuaranteeRemoval(o: GuaranteeRemovalObjective, event: ObjectiveEvent): GuaranteeRemovalObjective {
  return guardPeerInput('guarantee removal event', () => {
    switch (event.kind) {
      case 'ledgerProposal': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        if (parseBytes32(event.signedProposal.ledgerId, 'ledgerId') !== o.ledger.id) fail('PROTOCOL_WRONG_CHANNEL', 'proposal is for another ledger');
        if (isLeader(o.ledger)) fail('PROTOCOL_BAD_ROLE_OR_STATUS', 'the ledger leader does not receive proposals');
        if (event.signedProposal.proposal.type !== 'remove') fail('LEDGER_PROPOSAL_UNEXPECTED', 'a guarantee removal only removes');
        return { ...o, ledger: receiveExpectedProposal(o.ledger, event.signedProposal, o.target, removalByProof(o)) };
      }
      case 'ledgerCountersignature': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        if (event.countersignature.ledgerId !== o.ledger.id) fail('PROTOCOL_WRONG_CHANNEL', 'countersignature is for another ledger');
        return { ...o, ledger: receiveCountersignature(o.ledger, event.countersignature) };
      }
      case 'deposited':
      case 'allocationUpdated':
      case 'concluded':
        return o;
      default:
        return fail('PROTOCOL_MALFORMED', 'unexpected event for a guarantee removal');
    }
  });
}
