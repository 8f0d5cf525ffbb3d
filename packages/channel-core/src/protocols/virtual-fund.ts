/**
 * Virtual fund (go-nitro `virtualfund`): open V = [payer, ...intermediaries, payee] with no
 * transaction.
 *
 * 1. everyone signs V's prefund (turn 0), the intermediary last: it signs only once the payer and
 *    the payee have. Until then nobody holds a complete prefund, so the hub may still give up
 *    (`virtualFundAbandonable`) and tell the others, who may then give up too: a channel whose
 *    payee never answers (or whose payer never sent it the prefund) cannot keep the hub's
 *    collateral reserved, nor its records alive;
 * 2. every ledger along the path gains a guarantee for V: its leader proposes
 *    `add(guarantee(V, a+b, left, right), leftDeposit = a)`, its follower countersigns exactly that;
 * 3. everyone signs V's postfund (turn 1).
 *
 * The objective carries its ledgers; the engine stores them back after each crank and must
 * serialise objectives that share a ledger (see the protocols ADR).
 */
import type { Address, ChannelId } from '../hex.ts';
import { hashOutcome } from '../outcome.ts';
import { type State, fixedPartOf } from '../state.ts';
import {
  type Channel,
  addSignedState,
  entryAt,
  fullState,
  latestSupportedState,
  newChannel,
  others,
  pinState,
  postFundComplete,
  preFundComplete,
  sendSignedState,
  signAndAdd,
  signaturesOf,
  signedByMe,
} from './channel.ts';
import { registeredState } from './dispute.ts';
import { fail, guardPeerInput } from './fail.ts';
import { type ConsensusChannel, type Countersignature, type SignedProposal, consensusIncludes, proposalTarget, receiveProposal, sameProposal, signNextProposal } from './ledger.ts';
import { crankConnection, receiveConnectionProposal, receiveConnectionsCountersignature } from './ledger-connection.ts';
import { type HubPolicyConfig, evaluateVirtualFundJoin } from './hub-policy.ts';
import { type VirtualAmounts, assertLedgerBetween, expectedAdd, virtualAmounts } from './virtual-channel.ts';
import type { ChallengeRegisteredEvent, CrankResult, Effect, ObjectiveEvent, ObjectiveStatus, Secrets } from './types.ts';

export type VirtualFundWaitingFor =
  | 'WaitingForCompletePrefund'
  | 'WaitingForCompleteFunding'
  | 'WaitingForCompletePostFund'
  | 'WaitingForNothing';

export interface VirtualFundObjective {
  readonly type: 'virtualFund';
  readonly id: string;
  readonly status: ObjectiveStatus;
  readonly v: Channel;
  readonly amounts: VirtualAmounts;
  /** Ledger with participant `myIndex - 1` (absent for the payer). */
  readonly toMyLeft: ConsensusChannel | null;
  /** Ledger with participant `myIndex + 1` (absent for the payee). */
  readonly toMyRight: ConsensusChannel | null;
}

export function virtualFundId(channelId: ChannelId): string {
  return `VirtualFund-${channelId}`;
}

export interface NewVirtualFundInput {
  readonly prefund: State;
  readonly myAddress: Address;
  readonly toMyLeft?: ConsensusChannel;
  readonly toMyRight?: ConsensusChannel;
  /** For an intermediary: apply this hub policy (collateral checks) before joining. */
  readonly hubPolicy?: HubPolicyConfig;
  /** With `hubPolicy`: hub funds promised to joined channels not yet proposed in these ledgers. */
  readonly hubReserved?: { readonly towardPayer: bigint; readonly towardPayee: bigint };
}

/**
 * Start (payer) or join (intermediary, payee) a virtual fund.
 * @throws SluiceError INVALID_ARGUMENT (bad prefund, missing or wrong ledgers), PROTOCOL_MALFORMED,
 *   HUB_POLICY_REJECTED (intermediary with a policy that refuses)
 */
export function newVirtualFund(input: NewVirtualFundInput): VirtualFundObjective {
  return guardPeerInput('virtual fund prefund', () => {
    const { prefund, myAddress } = input;
    if (prefund.turnNum !== 0 || prefund.isFinal) fail('INVALID_ARGUMENT', 'a prefund state has turnNum 0 and is not final');
    const amounts = virtualAmounts(prefund.outcome, prefund);
    const v = pinState(newChannel(fixedPartOf(prefund), myAddress), prefund);
    const n = v.fixedPart.participants.length;
    const i = v.myIndex;
    const toMyLeft = input.toMyLeft ?? null;
    const toMyRight = input.toMyRight ?? null;
    if ((i > 0) !== (toMyLeft !== null) || (i < n - 1) !== (toMyRight !== null)) {
      fail('INVALID_ARGUMENT', 'need a ledger toward each neighbour on the path, and only those');
    }
    if (toMyLeft !== null) assertLedgerBetween(toMyLeft, v.fixedPart, i - 1, amounts.asset);
    if (toMyRight !== null) assertLedgerBetween(toMyRight, v.fixedPart, i, amounts.asset);
    if (input.hubPolicy !== undefined && toMyLeft !== null && toMyRight !== null) {
      const d = evaluateVirtualFundJoin(
        { prefund, hub: myAddress, toPayer: toMyLeft, toPayee: toMyRight, ...(input.hubReserved === undefined ? {} : { reserved: input.hubReserved }) },
        input.hubPolicy,
      );
      if (!d.ok) fail(d.code, d.reason, { channelId: v.id });
    }
    return { type: 'virtualFund', id: virtualFundId(v.id), status: 'approved', v, amounts, toMyLeft, toMyRight };
  });
}

function isIntermediary(o: VirtualFundObjective): boolean {
  return o.toMyLeft !== null && o.toMyRight !== null;
}

/** Every participant but us has signed the prefund. */
function othersSignedPrefund(v: Channel): boolean {
  const e = entryAt(v, 0);
  return e !== undefined && e.signatures.every((sig, i) => i === v.myIndex || sig != null);
}

/**
 * The intermediary may give up this opening: it has not signed the prefund (it waits for the
 * payee's signature), so no participant can ever hold a complete prefund, and nothing was
 * proposed or locked in any ledger. The other participants honour its refusal for the same
 * reason (the engine's rejection rule: the refuser's prefund signature is missing).
 */
export function virtualFundAbandonable(o: VirtualFundObjective): boolean {
  return o.status === 'approved' && isIntermediary(o) && !signedByMe(o.v, 0);
}

/**
 * Whether a hub may give up this open although its prefund is complete: we are the intermediary
 * and neither of our ledgers (`ledgers`: our latest records of them, left and right) holds or
 * queues V's guarantee. The hub follows in both ledgers and only waits for the payer's and the
 * payee's proposals; if both gave V up (a refusal that crossed a late prefund signature: found by
 * bench:chaos), none ever comes. Nothing of anyone is locked for V, so giving up costs nobody
 * anything; a proposal that still comes is countersigned late (`countersignLateAdd`) and V then
 * settled on chain.
 */
export function virtualFundUnfundedAtHub(o: VirtualFundObjective, ledgers: readonly (ConsensusChannel | null | undefined)[]): boolean {
  if (o.status !== 'approved' || !isIntermediary(o) || !preFundComplete(o.v)) return false;
  return ledgers.every((l) => l == null || (!consensusIncludes(l, o.v.id) && !l.queue.some((sp) => proposalTarget(sp.proposal) === o.v.id)));
}

/** Advance the objective as far as it can go without new input. */
export function crankVirtualFund(o: VirtualFundObjective, secrets: Secrets): CrankResult<VirtualFundObjective, VirtualFundWaitingFor> {
  if (o.status !== 'approved') return { objective: o, effects: [], waitingFor: 'WaitingForNothing' };
  let v = o.v;
  const effects: Effect[] = [];
  const prefund = fullState(v, entryAt(v, 0)?.state ?? v.states[0]!.state);

  if (!signedByMe(v, 0)) {
    // the intermediary signs last (see the module comment)
    if (isIntermediary(o) && !othersSignedPrefund(v)) return { objective: o, effects, waitingFor: 'WaitingForCompletePrefund' };
    v = signAndAdd(v, prefund, secrets.privateKey).channel;
    effects.push(...sendSignedState(others(v), o.id, prefund, signaturesOf(entryAt(v, 0)!)));
  }
  if (!preFundComplete(v)) return { objective: { ...o, v }, effects, waitingFor: 'WaitingForCompletePrefund' };

  let { toMyLeft, toMyRight } = o;
  if (toMyLeft !== null && !consensusIncludes(toMyLeft, v.id)) {
    const r = crankConnection(toMyLeft, expectedAdd(v.id, v.fixedPart, o.amounts, v.myIndex - 1), o.id, secrets.privateKey);
    toMyLeft = r.ledger;
    effects.push(...r.effects);
  }
  if (toMyRight !== null && !consensusIncludes(toMyRight, v.id)) {
    const r = crankConnection(toMyRight, expectedAdd(v.id, v.fixedPart, o.amounts, v.myIndex), o.id, secrets.privateKey);
    toMyRight = r.ledger;
    effects.push(...r.effects);
  }
  const funded = (toMyLeft === null || consensusIncludes(toMyLeft, v.id)) && (toMyRight === null || consensusIncludes(toMyRight, v.id));
  if (!funded) return { objective: { ...o, v, toMyLeft, toMyRight }, effects, waitingFor: 'WaitingForCompleteFunding' };

  if (!signedByMe(v, 1)) {
    const postfund = { ...prefund, turnNum: 1 };
    v = signAndAdd(v, postfund, secrets.privateKey).channel;
    effects.push(...sendSignedState(others(v), o.id, postfund, signaturesOf(entryAt(v, 1)!)));
  }
  const next = { ...o, v, toMyLeft, toMyRight };
  if (!postFundComplete(v)) return { objective: next, effects, waitingFor: 'WaitingForCompletePostFund' };
  return { objective: { ...next, status: 'completed' }, effects, waitingFor: 'WaitingForNothing' };
}

/**
 * The leader's `add` of V's guarantee arriving after our virtual fund of V ended (V went on chain
 * — a challenge — before we countersigned it; the leader had proposed it in time). Unanswered, it
 * would stay first in the leader's ledger queue for good, and every later proposal on that ledger
 * behind it. We (the follower, `ledger` our latest record) countersign it when it is exactly the
 * guarantee we agreed to by signing V's prefund (so, at the hub, exactly what its policy accepted
 * then) and is next in turn: in a ledger a guarantee only hands its amount on as V's outcome on
 * chain says, and V can pay nobody more than its latest supported state — the same exposure the
 * prefund accepted. The guarantee then leaves the ledger by on-chain proof like any other.
 * @throws SluiceError PROTOCOL_NOT_READY (not next in turn: the leader re-sends),
 *   LEDGER_PROPOSAL_UNEXPECTED (not the agreed guarantee, or we never signed the prefund),
 *   PROTOCOL_WRONG_CHANNEL, and those of `receiveProposal` (a balance that no longer covers it)
 */
export function countersignLateAdd(
  o: VirtualFundObjective,
  ledger: ConsensusChannel,
  sp: SignedProposal,
  privateKey: Uint8Array | string,
): { ledger: ConsensusChannel; countersignature: Countersignature } | null {
  return guardPeerInput('late guarantee proposal', () => {
    if (o.status === 'approved') fail('PROTOCOL_BAD_ROLE_OR_STATUS', 'the virtual fund is still running');
    if (o.v.states.find((e) => e.state.turnNum === 0)?.signatures[o.v.myIndex] == null) fail('LEDGER_PROPOSAL_UNEXPECTED', 'we never agreed to fund this channel');
    const j = o.toMyLeft?.id === sp.ledgerId ? o.v.myIndex - 1 : o.toMyRight?.id === sp.ledgerId ? o.v.myIndex : null;
    if (j === null || ledger.id !== sp.ledgerId) fail('PROTOCOL_WRONG_CHANNEL', 'proposal is for a ledger this channel does not use');
    const expected = expectedAdd(o.v.id, o.v.fixedPart, o.amounts, j);
    if (!sameProposal(sp.proposal, expected)) fail('LEDGER_PROPOSAL_UNEXPECTED', 'proposal differs from the guarantee agreed', { ledgerId: ledger.id });
    if (sp.turnNum <= ledger.current.turnNum) return null; // agreed already (a re-send)
    const queued = receiveProposal(ledger, sp);
    if (queued.queue[0]?.turnNum !== sp.turnNum) fail('PROTOCOL_NOT_READY', 'an earlier proposal is not agreed yet', { ledgerId: ledger.id });
    return signNextProposal(queued, expected, privateKey);
  });
}

/**
 * A challenge registered on V while our prefund still lacks signatures: the challenger registered
 * a supported state (its prefund or postfund, every participant's signatures on it), which is
 * ours to take — V can be followed on chain with it. Returns the objective with that state added
 * when it makes V supported here (checked like a peer's message: same channel, our prefund's
 * outcome, every signature valid), else the objective unchanged. Nothing else is advanced: the
 * caller settles V on chain, which ends this funding (so no guarantee is proposed for a channel
 * already on chain — an `add` the hub no longer expects would block the ledger's queue).
 */
export function withChallengedState(o: VirtualFundObjective, ev: ChallengeRegisteredEvent): VirtualFundObjective {
  if (ev.channelId !== o.v.id || latestSupportedState(o.v) !== undefined) return o;
  try {
    const state = registeredState(o.v.fixedPart, ev);
    if (state.turnNum !== 0 && state.turnNum !== 1) return o;
    const pre = o.v.states[0]?.state;
    if (pre === undefined || state.isFinal || state.appData !== pre.appData || hashOutcome(state.outcome) !== hashOutcome(pre.outcome)) return o;
    const v = addSignedState(o.v, state, ev.candidate.signatures);
    return latestSupportedState(v) === undefined ? o : { ...o, v };
  } catch {
    return o;
  }
}

/**
 * Feed a peer message into the objective (chain events are irrelevant here and ignored).
 * @throws SluiceError PROTOCOL_WRONG_CHANNEL, PROTOCOL_WRONG_TURN, PROTOCOL_UNACCEPTABLE_STATE,
 *   PROTOCOL_WRONG_SIGNER, PROTOCOL_CONFLICTING_STATE, LEDGER_PROPOSAL_UNEXPECTED, LEDGER_PROPOSAL_INVALID,
 *   PROTOCOL_NOT_READY (retryable), PROTOCOL_MALFORMED
 */
export function updateVirtualFund(o: VirtualFundObjective, event: ObjectiveEvent): VirtualFundObjective {
  return guardPeerInput('virtual fund event', () => {
    switch (event.kind) {
      case 'signedState': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        const s = event.state;
        if (s.turnNum !== 0 && s.turnNum !== 1) fail('PROTOCOL_WRONG_TURN', 'virtual fund only exchanges turns 0 and 1', { turnNum: s.turnNum });
        if (s.turnNum === 1) {
          const pre = o.v.states[0]!.state;
          if (s.isFinal || s.appData !== pre.appData || hashOutcome(s.outcome) !== hashOutcome(pre.outcome)) {
            fail('PROTOCOL_UNACCEPTABLE_STATE', 'postfund must repeat the prefund outcome');
          }
        }
        return { ...o, v: addSignedState(o.v, s, event.signatures) };
      }
      case 'ledgerProposal': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        const hub = isIntermediary(o) ? o.v.fixedPart.participants[o.v.myIndex]! : undefined;
        return receiveConnectionProposal(
          o,
          event.signedProposal,
          o.v.id,
          (side) => expectedAdd(o.v.id, o.v.fixedPart, o.amounts, side === 'left' ? o.v.myIndex - 1 : o.v.myIndex),
          hub,
        );
      }
      case 'ledgerCountersignature': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        return receiveConnectionsCountersignature(o, event.countersignature);
      }
      case 'deposited':
      case 'allocationUpdated':
      case 'concluded':
        return o;
      default:
        return fail('PROTOCOL_MALFORMED', 'unexpected event for a virtual fund');
    }
  });
}
