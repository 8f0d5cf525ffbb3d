/**
 * Regression (audit finding 1c) — a malicious hub `conclude`s a ledger with the final state it
 * withheld, and never transfers.
 *
 * Bob (provider) has earned N x price in L_IB (a virtual channel closed cooperatively). He
 * withdraws: he signs L_IB's final state and sends it; the hub countersigns but its transport
 * drops the countersignature on its way to Bob. The hub stops and calls `conclude(L_IB)` with the
 * unanimous final state (not `concludeAndTransferAllAssets`), then does nothing.
 *
 * Bob's engine pays out by itself: the outcome is the one of the only final state he signed,
 * which the chain status confirms (`statusOf` fingerprint = keccak(stateHash 0, outcomeHash)), and
 * `transferAllAssets(L_IB, outcome, stateHash 0)` needs no signature. Before the fix his direct
 * defund waited for the countersignature forever, the automatic fallback's ledger exit `challenge`
 * reverted (the channel is finalized) and never learnt the conclusion, and the ledger's holdings
 * (his earnings and the hub's remaining collateral) stayed in the adjudicator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '@sluice/channel-core';
import { toChainTransaction } from '@sluice/channel-core/engine';
import type { NodeEvent } from '@sluice/channel-core/node';
import { getObjectiveData } from '../../packages/channel-core/src/engine/records.ts';
import { until } from './lib.ts';
import { HUB_POLICY, PATIENT_FALLBACK, balanceOf, fundV, memorySuite, openLedgers, payVouchers } from './fallback-lib.ts';

const suite = memorySuite();

/**
 * @param exitFirst - Bob's automatic fallback starts first (his ledger exit registers L_IB's last
 *   agreed state) and the hub concludes during that challenge; else the hub concludes while Bob's
 *   close still waits for the countersignature.
 */
async function hubConcludesLedger(scenario: string, exitFirst: boolean): Promise<void> {
  const { e } = suite;
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const net = suite.scenario(scenario, 17);
  let armed = false;
  const irene = await net.start(I, { policy: HUB_POLICY, fallback: PATIENT_FALLBACK }, (to, kind) => armed && to.toLowerCase() === B.address.toLowerCase() && kind === 'signedState');
  const alice = await net.start(A, { hub: net.hub });
  const bob = await net.start(B, { hub: net.hub, fallback: { peerTimeoutMs: exitFirst ? 2_000 : 600_000, cooperativeTimeoutMs: 3_000 } });
  const events: NodeEvent[] = [];
  bob.onAny((x) => events.push(x));

  const { ib, collateral } = await openLedgers(e, { alice, bob, irene });
  const v = await fundV(e, alice, bob);
  const paid = payVouchers(alice, bob, v, 9n);
  await bob.closeVirtualChannel(v);
  await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === paid && bob.getLedgerChannel(ib)?.guarantees === 0, 'L_IB: bob has earned N x price');
  const bal0 = await balanceOf(e, asset, B.address);
  const iBal0 = await balanceOf(e, asset, I.address);

  armed = true;
  const closing = bob.closeLedgerChannel(ib, { timeoutMs: 20_000 }).then(
    () => 'closed',
    (err: { code?: string }) => err.code ?? String(err),
  );
  const finalAtIrene = (): P.Channel | undefined => {
    const ch = (getObjectiveData(irene.engine.store, P.directDefundId(ib))?.objective as { channel?: P.Channel } | undefined)?.channel;
    const s = ch === undefined ? undefined : P.latestSupportedState(ch);
    return s !== undefined && s.state.isFinal ? ch : undefined;
  };
  await until(() => finalAtIrene() !== undefined, 'the hub holds the unanimous final state of L_IB');
  const ch = finalAtIrene()!;
  await irene.stop();
  if (exitFirst) await until(async () => (await e.chain.alice.chain.statusOf(ib)).finalizesAt > 0, 'bob exits L_IB: his challenge runs', 30_000);
  const move = P.bestExitMove(ch, I.key)!;
  assert.equal(move.kind, 'conclude');
  assert.equal(P.allocatedTo(move.candidate.state.outcome, B.dest), paid);
  await e.chain.irene.chain.submit(toChainTransaction(P.moveTransaction(ib, move, 'challenge', I.key)));
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), collateral, 'concluded, nothing transferred');

  // no manual step, no time travel: Bob's node pays out and ends
  assert.equal(await closing, exitFirst ? 'CHANNEL_CLOSING' : 'closed', exitFirst ? 'the close gave way to the ledger exit' : 'the cooperative close ends with the payout');
  if (exitFirst) await until(() => bob.getDisputes().length === 0 && bob.getLedgerChannel(ib)?.status === 'closed', 'the ledger exit completes', 30_000);
  assert.equal(bob.getLedgerChannel(ib)?.status, 'closed');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n, 'L_IB paid out');
  assert.equal(await balanceOf(e, asset, B.address), bal0 + paid, 'bob: his earnings, to the wei');
  assert.equal(await balanceOf(e, asset, I.address), iBal0 + collateral - paid, "the hub: its remaining collateral (paid by Bob's transfer)");
  const txs = events.flatMap((x) => (x.type === 'fallbackTransaction' ? [x.kind] : []));
  assert.deepEqual(txs, exitFirst ? ['challenge', 'transferAllAssets'] : ['transferAllAssets'], 'the transfer of the concluded outcome, nothing else');
  assert.equal(events.some((x) => x.type === 'fallbackStarted'), exitFirst);
  if (exitFirst) {
    const payout = events.find((x) => x.type === 'payout' && x.channelId === ib) as { amounts?: readonly { participant: string; amount: bigint }[] } | undefined;
    const got = new Map(payout?.amounts?.map((x) => [x.participant.toLowerCase(), x.amount]));
    assert.equal(got.get(B.address.toLowerCase()), paid, 'payout event: bob');
    assert.equal(got.get(I.address.toLowerCase()), collateral - paid, 'payout event: the hub');
  }
}

test('hub concludes L_IB with a withheld final state and never transfers: Bob\'s close pays out by itself', () => hubConcludesLedger('hub-conclude-ledger', false));

test('hub concludes L_IB during Bob\'s ledger exit: the exit pays out the concluded outcome', () => hubConcludesLedger('hub-conclude-ledger-exit', true));
