/**
 * From the protocols' transactions (data) to the chain port's, and the idempotency rules the
 * engine applies before (re)submitting one after a restart or a failure.
 */
import type { ChainService, ChainTransaction } from '../chain.ts';
import type { Transaction } from '../protocols/types.ts';
import { fallbackTransactionKey } from '../protocols/dispute.ts';

/** The chain port's form of a protocol transaction. */
export function toChainTransaction(tx: Transaction): ChainTransaction {
  switch (tx.kind) {
    case 'deposit':
      return { kind: 'deposit', asset: tx.asset, channelId: tx.channelId, amount: tx.amount, expectedHeld: tx.expectedHeld };
    case 'concludeAndTransferAllAssets':
      return { kind: 'concludeAndTransferAllAssets', candidate: { state: tx.state, signatures: tx.signatures } };
    case 'transferAllAssets':
      return { kind: 'transferAllAssets', channelId: tx.channelId, outcome: tx.outcome, stateHash: tx.stateHash };
    default: {
      // The other fallback transactions (challenge, checkpoint, conclude, reclaim) are the port's
      // transaction of the same kind plus the ids they act on: pass them through.
      const { channelId: _channelId, targetChannelId: _target, ...rest } = tx as unknown as Record<string, unknown>;
      return rest as unknown as ChainTransaction;
    }
  }
}

/**
 * A stable key for a transaction of an objective: one deposit per channel, asset and target; one
 * cooperative close per channel; one fallback step per {@link fallbackTransactionKey} (a
 * counter-challenge at a higher turn and the reclaim of another guarantee are different steps).
 */
export function transactionKey(tx: Transaction): string {
  const fallback = fallbackTransactionKey(tx);
  if (fallback !== undefined) return fallback;
  return tx.kind === 'deposit' ? `deposit:${tx.channelId}:${tx.asset.toLowerCase()}:${tx.expectedHeld + tx.amount}` : `${tx.kind}:${tx.channelId}`;
}

/**
 * Re-check a transaction against the chain before sending it again (after a restart, or after
 * a failed attempt): a deposit is reduced to what is still missing up to its target (or dropped
 * once the target is held), a conclude is dropped once the channel is finalized. The
 * adjudicator's `expectedHeld` check turns any remaining race into a harmless revert.
 * @returns the transaction to submit, or null when nothing is left to do
 * @throws SluiceError from the chain port (CHAIN_RPC, CHAIN_TIMEOUT, ABORTED)
 */
export async function reconcileTransaction(tx: Transaction, chain: ChainService, signal?: AbortSignal): Promise<Transaction | null> {
  const opts = signal === undefined ? {} : { signal };
  switch (tx.kind) {
    case 'deposit': {
      const target = tx.expectedHeld + tx.amount;
      const held = await chain.holdings(tx.asset, tx.channelId, opts);
      if (held >= target) return null;
      if (held < tx.expectedHeld) return tx; // earlier depositors are not in yet: the adjudicator will refuse, we retry later
      return { ...tx, expectedHeld: held, amount: target - held };
    }
    case 'concludeAndTransferAllAssets': {
      const status = await chain.statusOf(tx.channelId, opts);
      return status.finalizesAt !== 0 ? null : tx;
    }
    default:
      return tx; // the fallback path's own checks (turn numbers, finalization) make a re-send revert harmlessly
  }
}
