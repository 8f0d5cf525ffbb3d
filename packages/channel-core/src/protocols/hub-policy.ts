/**
 * The hub's (intermediary's) policy, pure and explicit. Every decision carries a reason.
 *
 * - Join a virtual channel only if the ledger toward the payee has free collateral for
 *   the payer's balance (the hub locks that much toward the payee), the payer can lock
 *   hers, and (by default) the payee starts with nothing, so the hub locks nothing toward the payer.
 * - Never countersign a ledger proposal that leaves the hub worse off than the one agreed.
 * - Sign a virtual channel's final state only if it just moves money from payer to payee.
 */
import type { Address } from '../hex.ts';
import { sameAddress } from '../address.ts';
import type { FixedPart, State, VariablePart } from '../state.ts';
import type { SluiceErrorCode } from '../errors.ts';
import { type ConsensusChannel, type LedgerOutcome, type Proposal, applyProposal, pendingOutcome } from './ledger.ts';
import { VIRTUAL_FINAL_TURN, assertLedgerBetween, dest, virtualAmounts } from './virtual-channel.ts';
import { isSluiceError } from '../errors.ts';
import type { Destination } from './types.ts';

export interface HubPolicyConfig {
  /** Largest guarantee (payer + payee balance) the hub backs for one virtual channel. */
  readonly maxGuarantee?: bigint;
  /** Allow a non-zero payee balance in V (the hub then also locks that much toward the payer). Default false. */
  readonly allowPayeeBalance?: boolean;
  /** When set, V must run on this VirtualPaymentApp deployment (anything else is refused). */
  readonly virtualPaymentApp?: Address;
}

export type PolicyDecision = { readonly ok: true } | { readonly ok: false; readonly code: SluiceErrorCode; readonly reason: string };

const OK: PolicyDecision = { ok: true };
const no = (reason: string, code: SluiceErrorCode = 'HUB_POLICY_REJECTED'): PolicyDecision => ({ ok: false, code, reason });

function freeBalance(lo: LedgerOutcome, d: Destination): bigint {
  return lo.leader.destination === d ? lo.leader.amount : lo.follower.destination === d ? lo.follower.amount : 0n;
}

/**
 * Should the hub join virtual channel V (given by its prefund)?
 * @param input.toPayer - the hub's ledger with V's payer; `toPayee` with V's payee
 */
export function evaluateVirtualFundJoin(
  input: {
    readonly prefund: State;
    readonly hub: Address;
    readonly toPayer: ConsensusChannel;
    readonly toPayee: ConsensusChannel;
    /**
     * Hub funds already promised to channels it joined whose guarantees are not yet proposed in
     * these ledgers (the engine tracks them); they are not free for this channel.
     */
    readonly reserved?: { readonly towardPayer: bigint; readonly towardPayee: bigint };
  },
  config: HubPolicyConfig = {},
): PolicyDecision {
  const { prefund, hub, toPayer, toPayee } = input;
  const reserved = input.reserved ?? { towardPayer: 0n, towardPayee: 0n };
  const ps = prefund.participants;
  if (ps.length !== 3 || !sameAddress(ps[1]!, hub)) return no('the hub is not the single intermediary of this channel');
  if (prefund.turnNum !== 0 || prefund.isFinal) return no('not a prefund state');
  if (config.virtualPaymentApp !== undefined && !sameAddress(prefund.appDefinition, config.virtualPaymentApp)) {
    return no('the channel does not run on the expected VirtualPaymentApp');
  }
  let amounts;
  try {
    amounts = virtualAmounts(prefund.outcome, prefund);
    assertLedgerBetween(toPayer, prefund, 0, amounts.asset);
    assertLedgerBetween(toPayee, prefund, 1, amounts.asset);
  } catch (e) {
    return no(isSluiceError(e) ? e.message : 'malformed virtual channel');
  }
  const total = amounts.payer + amounts.payee;
  if (config.maxGuarantee !== undefined && total > config.maxGuarantee) return no(`guarantee ${total} exceeds the hub's limit ${config.maxGuarantee}`);
  if (amounts.payee > 0n && config.allowPayeeBalance !== true) return no('the payee must start with a zero balance');
  const hubDest = dest(hub);
  const payerDest = dest(ps[0]!);
  const payeeDest = dest(ps[2]!);
  const towardPayee = pendingOutcome(toPayee);
  const towardPayer = pendingOutcome(toPayer);
  const freeTowardPayee = freeBalance(towardPayee, hubDest) - reserved.towardPayee;
  if (freeTowardPayee < amounts.payer) {
    return no(`insufficient collateral toward the payee: ${freeTowardPayee} free, ${amounts.payer} needed`);
  }
  if (freeBalance(towardPayer, payerDest) < amounts.payer) return no('the payer cannot lock her balance in her ledger');
  if (freeBalance(towardPayer, hubDest) - reserved.towardPayer < amounts.payee) return no('insufficient hub balance toward the payer for the payee balance');
  if (freeBalance(towardPayee, payeeDest) < amounts.payee) return no('the payee cannot lock his balance in his ledger');
  return OK;
}

/** Change of `who`'s free balance if `proposal` is applied on top of the ledger's pending outcome. */
export function positionChange(ledger: ConsensusChannel, proposal: Proposal, who: Destination): bigint {
  const before = pendingOutcome(ledger);
  const after = applyProposal(before, proposal);
  return freeBalance(after, who) - freeBalance(before, who);
}

/**
 * Should the hub countersign `received` when it agreed to `agreed`? Only if it concerns the same
 * channel and leaves the hub at least as well off (no blind countersigning).
 */
export function evaluateLedgerProposal(ledger: ConsensusChannel, received: Proposal, agreed: Proposal, hub: Address): PolicyDecision {
  try {
    const hubDest = dest(hub);
    if (received.type !== agreed.type) return no(`a ${received.type} proposal where ${agreed.type} was agreed`, 'LEDGER_PROPOSAL_UNEXPECTED');
    const got = positionChange(ledger, received, hubDest);
    const want = positionChange(ledger, agreed, hubDest);
    if (got < want) return no(`proposal would leave the hub ${want - got} worse off than agreed`, 'LEDGER_PROPOSAL_UNEXPECTED');
    return OK;
  } catch (e) {
    return no(isSluiceError(e) ? e.message : 'malformed proposal', 'LEDGER_PROPOSAL_INVALID');
  }
}

/**
 * Should an intermediary sign V's final state? It must be final at the final turn, keep the asset,
 * destinations and total, and only move money from the payer to the payee.
 */
export function evaluateVirtualFinalState(fp: FixedPart, funded: VariablePart, final: VariablePart): PolicyDecision {
  try {
    if (!final.isFinal || final.turnNum !== VIRTUAL_FINAL_TURN) return no('not a final state at the final turn', 'PROTOCOL_WRONG_TURN');
    const before = virtualAmounts(funded.outcome, fp);
    const after = virtualAmounts(final.outcome, fp);
    if (!sameAddress(before.asset, after.asset)) return no('final state changes the asset', 'PROTOCOL_UNACCEPTABLE_STATE');
    if (before.payer + before.payee !== after.payer + after.payee) return no('final state does not conserve the total', 'PROTOCOL_UNACCEPTABLE_STATE');
    if (after.payer > before.payer) return no('final state moves money from the payee to the payer', 'PROTOCOL_UNACCEPTABLE_STATE');
    return OK;
  } catch (e) {
    return no(isSluiceError(e) ? e.message : 'malformed final state', 'PROTOCOL_UNACCEPTABLE_STATE');
  }
}

