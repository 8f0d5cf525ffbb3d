/** Read models of the Node API: ledger and virtual channel summaries from the engine's records. */
import type { Store } from '../ports/store.ts';
import { isLeader } from '../protocols/ledger.ts';
import type { LedgerData, VirtualData } from '../engine/records.ts';
import type { LedgerChannelInfo, VirtualChannelInfo } from './types.ts';

/** A ledger's summary: agreed balances once funded, the prefund deposits while funding. */
export function ledgerInfo(ld: LedgerData): LedgerChannelInfo {
  const l = ld.ledger;
  const base = { channelId: ld.ledgerId, counterparty: ld.counterparty, asset: ld.asset, status: ld.status, ...(ld.status === 'closed' && ld.paidOut !== undefined ? { paidOut: ld.paidOut } : {}) };
  if (l === null) {
    return { ...base, leader: ld.myIndex === 0, turnNum: 0, myBalance: ld.myDeposit, counterpartyBalance: ld.counterpartyDeposit, locked: 0n, guarantees: 0 };
  }
  const lo = l.current.outcome;
  return {
    ...base,
    leader: isLeader(l),
    turnNum: l.current.turnNum,
    myBalance: isLeader(l) ? lo.leader.amount : lo.follower.amount,
    counterpartyBalance: isLeader(l) ? lo.follower.amount : lo.leader.amount,
    locked: lo.guarantees.reduce((sum, g) => sum + g.amount, 0n),
    guarantees: lo.guarantees.length,
  };
}

/** A virtual channel's summary; `paid` from the voucher store until the final amount is known. */
export function virtualInfo(store: Store, vd: VirtualData): VirtualChannelInfo {
  const paid = vd.paid ?? (vd.role === 'intermediary' ? 0n : (store.getVoucher(vd.channelId, vd.role)?.amount ?? 0n));
  return {
    channelId: vd.channelId,
    role: vd.role,
    payer: vd.payer,
    hub: vd.hub,
    payee: vd.payee,
    asset: vd.asset,
    amount: vd.amount,
    status: vd.status,
    paid,
    remaining: vd.amount - paid,
  };
}
