/**
 * Helpers of the on-chain fallback suites: short challenge durations, time travel, exact
 * balances net of the gas an account paid (ETH), on-chain channel status.
 */
import { join } from 'node:path';
import type { Address, ChannelId } from '@sluice/channel-core';
import type { NodeInit } from '@sluice/channel-core/node';
import type { Actor } from '../chain/lib.ts';
import { increaseTime } from '../chain/lib.ts';
import type { E2E } from './lib.ts';

/** Short durations for tests (real-network defaults: FALLBACK_DEFAULTS, ADR 0008). */
export const LEDGER_CHALLENGE = 600;
export const VIRTUAL_CHALLENGE = 300;

/** Node init for an actor in one scenario (its own store file), fast fallback timeouts. */
export function fallbackInit(e: E2E, actor: Actor, scenario: string, extra: Partial<NodeInit> = {}): NodeInit {
  return e.init(actor, {
    store: join(e.dir, `${scenario}-${actor.name}.db`),
    ledgerChallengeDuration: LEDGER_CHALLENGE,
    virtualChallengeDuration: VIRTUAL_CHALLENGE,
    objectiveTimeoutMs: 1_000,
    fallback: { peerTimeoutMs: 2_000, cooperativeTimeoutMs: 3_000 },
    ...extra,
  });
}

/** Move chain time past every challenge duration (and mine a block). */
export async function passChallenges(e: E2E, seconds = LEDGER_CHALLENGE + 60): Promise<void> {
  await increaseTime(e.chain.provider, seconds);
}

/** Balance of `asset` (zero address = ETH). */
export function balanceOf(e: E2E, asset: Address, who: Address): Promise<bigint> {
  return e.chain.alice.chain.balanceOf(asset, who);
}

/** Gas fees (wei) paid by `who` in blocks [from, to]. */
export async function feesPaid(e: E2E, who: Address, from: number, to?: number): Promise<bigint> {
  const p = e.chain.provider;
  const last = to ?? (await p.getBlockNumber());
  let total = 0n;
  for (let n = from; n <= last; n++) {
    const b = await p.getBlock(n, true);
    for (const tx of b?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() !== who.toLowerCase()) continue;
      const r = await p.getTransactionReceipt(tx.hash);
      if (r !== null) total += r.fee;
    }
  }
  return total;
}

/** Net balance change of `who` in `asset` since `before` (at block `fromBlock`), gas added back for ETH. */
export async function netChange(e: E2E, asset: Address, who: Address, before: bigint, fromBlock: number): Promise<bigint> {
  const now = await balanceOf(e, asset, who);
  const fees = asset === ('0x' + '00'.repeat(20)) ? await feesPaid(e, who, fromBlock + 1) : 0n;
  return now - before + fees;
}

export async function statusOf(e: E2E, channelId: ChannelId): Promise<{ turnNumRecord: number; finalizesAt: number }> {
  return e.chain.alice.chain.statusOf(channelId);
}

/** The exit of a child node, or a rejection after `ms` (a missed kill point must fail, not hang). */
export function exitOf(node: { exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }, ms = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    node.exited.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error('node process did not exit in time')), ms);
    }),
  ]);
}
