/**
 * Shape of a virtual channel (VirtualPaymentApp, participants [payer, ...intermediaries, payee])
 * as the fund/defund protocols need it: one asset, allocations `[payer a, payee b]`, and the
 * guarantee each ledger along the path must hold for it.
 */
import type { Address } from '../hex.ts';
import { addressToDestination, sameAddress } from '../address.ts';
import type { Outcome } from '../outcome.ts';
import type { FixedPart } from '../state.ts';
import { fail, guardPeerInput } from './fail.ts';
import type { ConsensusChannel, Guarantee, Proposal } from './ledger.ts';
import type { Destination } from './types.ts';
import type { ChannelId } from '../hex.ts';

/** VirtualPaymentApp turn numbers on the cooperative path. */
export const VIRTUAL_PREFUND_TURN = 0;
export const VIRTUAL_POSTFUND_TURN = 1;
export const VIRTUAL_FINAL_TURN = 2;

export interface VirtualAmounts {
  readonly asset: Address;
  /** Payer's balance (what vouchers can pay). */
  readonly payer: bigint;
  /** Payee's balance. */
  readonly payee: bigint;
}

export function dest(a: Address): Destination {
  return addressToDestination(a) as Destination;
}

/**
 * Read `[payer a, payee b]` from a virtual channel outcome.
 * @throws SluiceError PROTOCOL_MALFORMED if the outcome is not that shape
 */
export function virtualAmounts(outcome: Outcome, fixedPart: FixedPart): VirtualAmounts {
  return guardPeerInput('virtual channel outcome', () => {
    const n = fixedPart.participants.length;
    if (n < 3) fail('PROTOCOL_MALFORMED', 'a virtual channel has a payer, at least one intermediary and a payee');
    if (outcome.length !== 1) fail('PROTOCOL_MALFORMED', 'a virtual channel outcome has exactly one asset');
    const exit = outcome[0]!;
    const [x, y, ...rest] = exit.allocations;
    if (x === undefined || y === undefined || rest.length > 0) fail('PROTOCOL_MALFORMED', 'a virtual channel outcome has two allocations');
    if (x.destination !== dest(fixedPart.participants[0]!) || y.destination !== dest(fixedPart.participants[n - 1]!)) {
      fail('PROTOCOL_MALFORMED', 'a virtual channel outcome pays the payer then the payee');
    }
    if (x.allocationType !== 0 || y.allocationType !== 0) fail('PROTOCOL_MALFORMED', 'virtual channel allocations are simple');
    return { asset: exit.asset, payer: x.amount, payee: y.amount };
  });
}

/** The guarantee the ledger between participants `j` and `j + 1` holds for V. */
export function expectedGuarantee(vId: ChannelId, fixedPart: FixedPart, amounts: VirtualAmounts, j: number): Guarantee {
  return {
    target: vId,
    amount: amounts.payer + amounts.payee,
    left: dest(fixedPart.participants[j]!),
    right: dest(fixedPart.participants[j + 1]!),
  };
}

/** The `add` proposal for the ledger between participants `j` and `j + 1`. */
export function expectedAdd(vId: ChannelId, fixedPart: FixedPart, amounts: VirtualAmounts, j: number): Proposal {
  return { type: 'add', guarantee: expectedGuarantee(vId, fixedPart, amounts, j), leftDeposit: amounts.payer };
}

/** The `remove` proposal once V's final outcome gives the payer `finalPayer`. */
export function expectedRemove(vId: ChannelId, finalPayer: bigint): Proposal {
  return { type: 'remove', target: vId, leftAmount: finalPayer };
}

/**
 * Check a ledger connects exactly participants `j` and `j + 1` of V in V's asset.
 * @throws SluiceError INVALID_ARGUMENT
 */
export function assertLedgerBetween(ledger: ConsensusChannel, fixedPart: FixedPart, j: number, asset: Address): void {
  const a = fixedPart.participants[j]!;
  const b = fixedPart.participants[j + 1]!;
  const [p, q] = ledger.fixedPart.participants;
  const ok = p !== undefined && q !== undefined && ((sameAddress(p, a) && sameAddress(q, b)) || (sameAddress(p, b) && sameAddress(q, a)));
  if (!ok) fail('INVALID_ARGUMENT', `ledger does not connect participants ${j} and ${j + 1}`, { ledgerId: ledger.id });
  if (!sameAddress(ledger.current.outcome.asset, asset)) fail('INVALID_ARGUMENT', 'ledger holds another asset', { ledgerId: ledger.id });
}
