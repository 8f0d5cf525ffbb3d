/**
 * A virtual-channel objective's view of one of its ledgers: the ledger value and the
 * proposal this objective needs agreed on it. Shared cranking and message handling for
 * virtual fund and defund (go-nitro's `Connection`).
 */
import type { Address, ChannelId } from '../hex.ts';
import { fail } from './fail.ts';
import {
  type ConsensusChannel,
  type Proposal,
  counterparty,
  isLeader,
  nextProposal,
  propose,
  proposalTarget,
  queuedProposal,
  receiveCountersignature,
  receiveProposal,
  sameProposal,
  signNextProposal,
  type Countersignature,
  type SignedProposal,
  latestTurn,
} from './ledger.ts';
import { evaluateLedgerProposal } from './hub-policy.ts';
import type { Effect } from './types.ts';

export interface LedgerConnection {
  readonly ledger: ConsensusChannel;
}

/**
 * Drive one ledger toward agreeing `expected`: the leader proposes it once; the follower
 * countersigns it when it is next in the queue (and only then).
 */
export function crankConnection(
  ledger: ConsensusChannel,
  expected: Proposal,
  objectiveId: string,
  privateKey: Uint8Array | string,
): { ledger: ConsensusChannel; effects: Effect[] } {
  const to = counterparty(ledger);
  if (isLeader(ledger)) {
    if (queuedProposal(ledger, expected) !== undefined) return { ledger, effects: [] };
    const r = propose(ledger, expected, privateKey);
    return { ledger: r.ledger, effects: [{ type: 'sendMessage', to, payload: { kind: 'ledgerProposal', objectiveId, signedProposal: r.signedProposal } }] };
  }
  const head = nextProposal(ledger);
  if (head === undefined || !sameProposal(head.proposal, expected)) return { ledger, effects: [] };
  const r = signNextProposal(ledger, expected, privateKey);
  return { ledger: r.ledger, effects: [{ type: 'sendMessage', to, payload: { kind: 'ledgerCountersignature', objectiveId, countersignature: r.countersignature } }] };
}

/**
 * Follower side of a proposal for `target`: reject anything but `expected` (or, when we cannot
 * know what to expect yet, ask for a later re-delivery), then queue it.
 * @throws SluiceError PROTOCOL_WRONG_CHANNEL, LEDGER_PROPOSAL_UNEXPECTED, PROTOCOL_NOT_READY, and those of {@link receiveProposal}
 */
export function receiveExpectedProposal(
  ledger: ConsensusChannel,
  sp: SignedProposal,
  target: ChannelId | null,
  expected: Proposal | null,
): ConsensusChannel {
  if (isLeader(ledger)) fail('PROTOCOL_BAD_ROLE_OR_STATUS', 'the ledger leader does not receive proposals');
  if (proposalTarget(sp.proposal) !== target) {
    fail(target === null ? 'LEDGER_PROPOSAL_UNEXPECTED' : 'PROTOCOL_WRONG_CHANNEL', 'proposal concerns another channel', { target });
  }
  if (expected === null) fail('PROTOCOL_NOT_READY', 'not ready to check this proposal yet', { target });
  if (sp.turnNum > ledger.current.turnNum && !sameProposal(sp.proposal, expected)) {
    fail('LEDGER_PROPOSAL_UNEXPECTED', 'proposal differs from what was agreed', { target, type: sp.proposal.type });
  }
  return receiveProposal(ledger, sp);
}

/** Leader side. @throws SluiceError as {@link receiveCountersignature} */
export function receiveConnectionCountersignature(ledger: ConsensusChannel, cs: Countersignature): ConsensusChannel {
  return receiveCountersignature(ledger, cs);
}

/** A virtual objective's two ledger connections (null at the ends of the path). */
export interface Connections {
  readonly toMyLeft: ConsensusChannel | null;
  readonly toMyRight: ConsensusChannel | null;
}

export type ConnectionSide = 'left' | 'right';

/**
 * Route a ledger proposal to the connection it is for and accept it only if it is the one this
 * objective expects on that side (`expectedOn`). As the hub (`hub` set), also refuse a proposal
 * that would leave it worse off than agreed (no blind countersigning).
 * @throws SluiceError PROTOCOL_WRONG_CHANNEL, HUB_POLICY_REJECTED, and those of {@link receiveExpectedProposal}
 */
export function receiveConnectionProposal<O extends Connections>(
  o: O,
  sp: SignedProposal,
  target: ChannelId,
  expectedOn: (side: ConnectionSide) => Proposal | null,
  hub: Address | undefined,
): O {
  const side: ConnectionSide | null = o.toMyLeft?.id === sp.ledgerId ? 'left' : o.toMyRight?.id === sp.ledgerId ? 'right' : null;
  if (side === null) fail('PROTOCOL_WRONG_CHANNEL', 'proposal is for a ledger this objective does not use');
  const ledger = side === 'left' ? o.toMyLeft! : o.toMyRight!;
  const expected = expectedOn(side);
  if (hub !== undefined && expected !== null && sp.turnNum === latestTurn(ledger) + 1) {
    const d = evaluateLedgerProposal(ledger, sp.proposal, expected, hub);
    if (!d.ok) fail(d.code, d.reason, { ledgerId: ledger.id });
  }
  const updated = receiveExpectedProposal(ledger, sp, target, expected);
  return side === 'left' ? { ...o, toMyLeft: updated } : { ...o, toMyRight: updated };
}

/**
 * Route a countersignature to the connection it is for.
 * @throws SluiceError PROTOCOL_WRONG_CHANNEL, and those of {@link receiveCountersignature}
 */
export function receiveConnectionsCountersignature<O extends Connections>(o: O, cs: Countersignature): O {
  if (o.toMyLeft?.id === cs.ledgerId) return { ...o, toMyLeft: receiveConnectionCountersignature(o.toMyLeft, cs) };
  if (o.toMyRight?.id === cs.ledgerId) return { ...o, toMyRight: receiveConnectionCountersignature(o.toMyRight, cs) };
  return fail('PROTOCOL_WRONG_CHANNEL', 'countersignature is for a ledger this objective does not use');
}
