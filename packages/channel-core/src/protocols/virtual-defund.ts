/**
 * Virtual defund (go-nitro `virtualdefund`): close V with no transaction.
 *
 * 1. the initiator builds V's final state (turn 2, isFinal) moving the paid amount `p`
 *    from payer to payee; everyone signs it, each within its own bound — the payer never
 *    signs more than she paid in vouchers, the payee never less than his best voucher, an
 *    intermediary only a plain payer→payee move ({@link evaluateVirtualFinalState});
 * 2. once the final state is supported, every ledger drops V's guarantee: its leader
 *    proposes `remove(V, leftAmount = a - p)`, its follower countersigns exactly that — so
 *    Alice pays Irene `p` in L_AI and Irene pays Bob `p` in L_IB.
 */
import type { ChannelId } from '../hex.ts';
import type { State, VariablePart } from '../state.ts';
import {
  type Channel,
  addSignedState,
  entryAt,
  fullState,
  latestSupportedState,
  others,
  pinState,
  sendSignedState,
  signAndAdd,
  signaturesOf,
  signedByMe,
  supportedAtLeast,
} from './channel.ts';
import { fail, guardPeerInput } from './fail.ts';
import { type ConsensusChannel, consensusIncludes } from './ledger.ts';
import { crankConnection, receiveConnectionProposal, receiveConnectionsCountersignature } from './ledger-connection.ts';
import { evaluateVirtualFinalState } from './hub-policy.ts';
import { VIRTUAL_FINAL_TURN, assertLedgerBetween, expectedRemove, virtualAmounts } from './virtual-channel.ts';
import type { CrankResult, Effect, ObjectiveEvent, ObjectiveStatus, Secrets } from './types.ts';

export type VirtualDefundWaitingFor =
  | 'WaitingForFinalStateProposal'
  | 'WaitingForSupportedFinalState'
  | 'WaitingForLedgerDefunding'
  | 'WaitingForNothing';

/** What each role will accept as the paid amount. */
export type PaymentBound =
  | { readonly role: 'payer'; /** total of the vouchers I signed */ readonly maxPaid: bigint }
  | { readonly role: 'payee'; /** my best voucher */ readonly minPaid: bigint }
  | { readonly role: 'intermediary' };

export interface VirtualDefundObjective {
  readonly type: 'virtualDefund';
  readonly id: string;
  readonly status: ObjectiveStatus;
  readonly v: Channel;
  /** V's funded (postfund) state, the baseline of the final state. */
  readonly funded: VariablePart;
  readonly bound: PaymentBound;
  readonly toMyLeft: ConsensusChannel | null;
  readonly toMyRight: ConsensusChannel | null;
}

export function virtualDefundId(channelId: ChannelId): string {
  return `VirtualDefund-${channelId}`;
}

export interface NewVirtualDefundInput {
  /** V after a completed virtual fund (postfund supported). */
  readonly v: Channel;
  readonly toMyLeft?: ConsensusChannel;
  readonly toMyRight?: ConsensusChannel;
  readonly bound: PaymentBound;
  /** Initiator only: the paid amount to close with (payer: what she paid; payee: his best voucher). */
  readonly paid?: bigint;
}

/** The final variable part moving `paid` from payer to payee. */
export function finalStateFor(v: Channel, funded: VariablePart, paid: bigint): VariablePart {
  const a = virtualAmounts(funded.outcome, v.fixedPart);
  if (typeof paid !== 'bigint' || paid < 0n || paid > a.payer) fail('INVALID_ARGUMENT', 'paid must be between 0 and the payer balance');
  const exit = funded.outcome[0]!;
  const [x, y] = exit.allocations;
  return {
    appData: '0x' as VariablePart['appData'],
    turnNum: VIRTUAL_FINAL_TURN,
    isFinal: true,
    outcome: [{ ...exit, allocations: [{ ...x!, amount: a.payer - paid }, { ...y!, amount: a.payee + paid }] }],
  };
}

function checkFinal(o: Pick<VirtualDefundObjective, 'v' | 'funded' | 'bound'>, final: VariablePart): void {
  const d = evaluateVirtualFinalState(o.v.fixedPart, o.funded, final);
  if (!d.ok) fail(d.code, d.reason, { channelId: o.v.id });
  if ((final.appData as string) !== '0x') fail('PROTOCOL_UNACCEPTABLE_STATE', 'a cooperative final state carries no appData');
  const paid = virtualAmounts(o.funded.outcome, o.v.fixedPart).payer - virtualAmounts(final.outcome, o.v.fixedPart).payer;
  if (o.bound.role === 'payer' && paid > o.bound.maxPaid) {
    fail('PROTOCOL_UNACCEPTABLE_STATE', 'final state pays more than the payer paid', { paid: String(paid), maxPaid: String(o.bound.maxPaid) });
  }
  if (o.bound.role === 'payee' && paid < o.bound.minPaid) {
    fail('PROTOCOL_UNACCEPTABLE_STATE', "final state pays less than the payee's best voucher", { paid: String(paid), minPaid: String(o.bound.minPaid) });
  }
}

/**
 * Start (with `paid`) or join (without) the virtual defund.
 * @throws SluiceError INVALID_ARGUMENT (V not funded, wrong ledgers or role), PROTOCOL_UNACCEPTABLE_STATE (paid outside my bound)
 */
export function newVirtualDefund(input: NewVirtualDefundInput): VirtualDefundObjective {
  const { v, bound } = input;
  const funded = latestSupportedState(v);
  if (funded === undefined || funded.state.turnNum !== 1) fail('INVALID_ARGUMENT', 'V must be funded (postfund supported) and not yet finalised');
  const n = v.fixedPart.participants.length;
  const i = v.myIndex;
  const role = i === 0 ? 'payer' : i === n - 1 ? 'payee' : 'intermediary';
  if (bound.role !== role) fail('INVALID_ARGUMENT', `my role in V is ${role}`);
  const toMyLeft = input.toMyLeft ?? null;
  const toMyRight = input.toMyRight ?? null;
  if ((i > 0) !== (toMyLeft !== null) || (i < n - 1) !== (toMyRight !== null)) fail('INVALID_ARGUMENT', 'need a ledger toward each neighbour on the path');
  const amounts = virtualAmounts(funded.state.outcome, v.fixedPart);
  if (toMyLeft !== null) assertLedgerBetween(toMyLeft, v.fixedPart, i - 1, amounts.asset);
  if (toMyRight !== null) assertLedgerBetween(toMyRight, v.fixedPart, i, amounts.asset);
  let o: VirtualDefundObjective = { type: 'virtualDefund', id: virtualDefundId(v.id), status: 'approved', v, funded: funded.state, bound, toMyLeft, toMyRight };
  if (input.paid !== undefined) {
    const final = finalStateFor(v, funded.state, input.paid);
    checkFinal(o, final);
    o = { ...o, v: pinState(v, final) };
  }
  return o;
}

/** The paid amount fixed by the final state, once known. */
export function paidAmount(o: VirtualDefundObjective): bigint | undefined {
  const final = entryAt(o.v, VIRTUAL_FINAL_TURN);
  if (final === undefined) return undefined;
  return virtualAmounts(o.funded.outcome, o.v.fixedPart).payer - virtualAmounts(final.state.outcome, o.v.fixedPart).payer;
}

function expectedRemoval(o: VirtualDefundObjective): ReturnType<typeof expectedRemove> | null {
  if (!supportedAtLeast(o.v, VIRTUAL_FINAL_TURN)) return null;
  const final = entryAt(o.v, VIRTUAL_FINAL_TURN)!;
  return expectedRemove(o.v.id, virtualAmounts(final.state.outcome, o.v.fixedPart).payer);
}

/** Advance the objective as far as it can go without new input. */
export function crankVirtualDefund(o: VirtualDefundObjective, secrets: Secrets): CrankResult<VirtualDefundObjective, VirtualDefundWaitingFor> {
  if (o.status !== 'approved') return { objective: o, effects: [], waitingFor: 'WaitingForNothing' };
  let v = o.v;
  const effects: Effect[] = [];
  const finalEntry = entryAt(v, VIRTUAL_FINAL_TURN);
  if (finalEntry === undefined) return { objective: o, effects, waitingFor: 'WaitingForFinalStateProposal' };
  if (!signedByMe(v, VIRTUAL_FINAL_TURN)) {
    v = signAndAdd(v, finalEntry.state, secrets.privateKey).channel;
    const state: State = fullState(v, finalEntry.state);
    effects.push(...sendSignedState(others(v), o.id, state, signaturesOf(entryAt(v, VIRTUAL_FINAL_TURN)!)));
  }
  let next: VirtualDefundObjective = { ...o, v };
  const removal = expectedRemoval(next);
  if (removal === null) return { objective: next, effects, waitingFor: 'WaitingForSupportedFinalState' };

  let { toMyLeft, toMyRight } = next;
  if (toMyLeft !== null && consensusIncludes(toMyLeft, v.id)) {
    const r = crankConnection(toMyLeft, removal, o.id, secrets.privateKey);
    toMyLeft = r.ledger;
    effects.push(...r.effects);
  }
  if (toMyRight !== null && consensusIncludes(toMyRight, v.id)) {
    const r = crankConnection(toMyRight, removal, o.id, secrets.privateKey);
    toMyRight = r.ledger;
    effects.push(...r.effects);
  }
  next = { ...next, toMyLeft, toMyRight };
  const defunded = (toMyLeft === null || !consensusIncludes(toMyLeft, v.id)) && (toMyRight === null || !consensusIncludes(toMyRight, v.id));
  if (!defunded) return { objective: next, effects, waitingFor: 'WaitingForLedgerDefunding' };
  return { objective: { ...next, status: 'completed' }, effects, waitingFor: 'WaitingForNothing' };
}

/**
 * Feed a peer message into the objective (chain events are ignored).
 * @throws SluiceError PROTOCOL_WRONG_TURN, PROTOCOL_UNACCEPTABLE_STATE (outside my bound or not a
 *   payer→payee move), PROTOCOL_WRONG_CHANNEL, PROTOCOL_WRONG_SIGNER, PROTOCOL_CONFLICTING_STATE,
 *   LEDGER_PROPOSAL_UNEXPECTED, LEDGER_PROPOSAL_INVALID, PROTOCOL_NOT_READY (retryable), PROTOCOL_MALFORMED
 */
export function updateVirtualDefund(o: VirtualDefundObjective, event: ObjectiveEvent): VirtualDefundObjective {
  return guardPeerInput('virtual defund event', () => {
    switch (event.kind) {
      case 'signedState': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        const s = event.state;
        if (s.turnNum !== VIRTUAL_FINAL_TURN) fail('PROTOCOL_WRONG_TURN', 'virtual defund only exchanges the final state', { turnNum: s.turnNum });
        checkFinal(o, s);
        return { ...o, v: addSignedState(o.v, s, event.signatures) };
      }
      case 'ledgerProposal': {
        if (event.objectiveId !== o.id) fail('PROTOCOL_WRONG_CHANNEL', 'message is for another objective');
        const hub = o.bound.role === 'intermediary' ? o.v.fixedPart.participants[o.v.myIndex]! : undefined;
        const expected = expectedRemoval(o);
        return receiveConnectionProposal(o, event.signedProposal, o.v.id, () => expected, hub);
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
        return fail('PROTOCOL_MALFORMED', 'unexpected event for a virtual defund');
    }
  });
}

