/**
 * A short in-memory history of the on-chain fallback (our mined transactions, payouts), for the
 * admin API and the CLIs: what `settle` prints as tx hashes and amounts.
 */
import type { Address, ChannelId } from '@sluice/channel-core';
import type { Node, NodeEvent } from '@sluice/channel-core/node';

export interface FallbackTxView {
  readonly objectiveId: string;
  readonly channelId: ChannelId;
  readonly kind: string;
  readonly txHash: string;
  readonly blockNumber: number;
  readonly gasUsed: string;
  readonly targetChannelId?: ChannelId;
}

export interface PayoutView {
  readonly channelId: ChannelId;
  readonly asset: Address;
  readonly amounts: readonly { readonly participant: Address; readonly amount: string }[];
  readonly mine: string;
  /** Paid to the ledger's parties in a split our node cannot tell (not in `amounts` nor `mine`). */
  readonly unattributed?: string;
}

export type FallbackActivityEvent =
  | { readonly type: 'transaction'; readonly tx: FallbackTxView }
  | { readonly type: 'payout'; readonly payout: PayoutView }
  | { readonly type: 'challenge'; readonly channelId: ChannelId; readonly kind: 'ledger' | 'virtual'; readonly turnNum: number; readonly finalizesAt: number; readonly txHash: string }
  | { readonly type: 'started'; readonly channelId: ChannelId; readonly objectiveId: string; readonly reason: string };

/** JSON-safe view of a fallback node event, or undefined for other events. */
export function activityOf(e: NodeEvent): FallbackActivityEvent | undefined {
  switch (e.type) {
    case 'fallbackTransaction':
      return {
        type: 'transaction',
        tx: { objectiveId: e.objectiveId, channelId: e.channelId, kind: e.kind, txHash: e.txHash, blockNumber: e.blockNumber, gasUsed: e.gasUsed.toString(), ...(e.targetChannelId === undefined ? {} : { targetChannelId: e.targetChannelId }) },
      };
    case 'payout':
      return { type: 'payout', payout: { channelId: e.channelId, asset: e.asset, amounts: e.amounts.map((a) => ({ participant: a.participant, amount: a.amount.toString() })), mine: e.mine.toString(), ...(e.unattributed === undefined ? {} : { unattributed: e.unattributed.toString() }) } };
    case 'challengeRegistered':
      return { type: 'challenge', channelId: e.channelId, kind: e.kind, turnNum: e.turnNum, finalizesAt: e.finalizesAt, txHash: e.txHash };
    case 'fallbackStarted':
      return { type: 'started', channelId: e.channelId, objectiveId: e.objectiveId, reason: e.reason };
    default:
      return undefined;
  }
}

/** What a payout line adds when part of the payout cannot be attributed to a party. */
export function unattributedNote(unattributed: string | bigint | undefined): string {
  return unattributed === undefined || BigInt(unattributed) === 0n ? '' : `; ${unattributed} more paid to the parties in a split this node cannot tell`;
}

/** One line of text for a fallback event (CLI progress). */
export function describeActivity(a: FallbackActivityEvent): string {
  switch (a.type) {
    case 'transaction':
      return `tx ${a.tx.kind} ${a.tx.txHash} (channel ${a.tx.channelId}${a.tx.targetChannelId === undefined ? '' : ` → ${a.tx.targetChannelId}`}, gas ${a.tx.gasUsed})`;
    case 'payout':
      return `payout from ledger ${a.payout.channelId}: ${a.payout.amounts.map((x) => `${x.participant} ${x.amount}`).join(', ')} (ours ${a.payout.mine})${unattributedNote(a.payout.unattributed)}`;
    case 'challenge':
      return `challenge registered on ${a.kind} ${a.channelId} at turn ${a.turnNum} (tx ${a.txHash}), finalizes at chain time ${a.finalizesAt}`;
    case 'started':
      return `settling ${a.channelId} on chain (${a.reason})`;
  }
}

export interface FallbackActivity {
  transactions(): FallbackTxView[];
  payouts(): PayoutView[];
  stop(): void;
}

/** Keep the last `max` fallback transactions and payouts of `node` (in memory). */
export function recordFallbackActivity(node: Pick<Node, 'onAny'>, max = 200): FallbackActivity {
  const txs: FallbackTxView[] = [];
  const pays: PayoutView[] = [];
  const off = node.onAny((e) => {
    const a = activityOf(e);
    if (a?.type === 'transaction') {
      txs.push(a.tx);
      if (txs.length > max) txs.shift();
    } else if (a?.type === 'payout') {
      pays.push(a.payout);
      if (pays.length > max) pays.shift();
    }
  });
  return { transactions: () => [...txs], payouts: () => [...pays], stop: off };
}
