/**
 * Regression (audit finding 1a, 1b) — a virtual channel V `conclude`d with a final state the
 * honest parties signed but never received with every signature.
 *
 * 1a: honest Alice (payer) and Bob (payee) run the real engine on anvil with the real contracts;
 * the hub Irene runs the honest engine too, but her transport silently drops everything she sends
 * to Alice and Bob once Bob starts the cooperative close of V (she still *receives*). So Irene ends
 * up the only one holding V's unanimous final state (turn 2, isFinal, Bob paid N x price). She then
 * stops her node and calls `conclude(V)` with it from her own account, and does nothing else.
 * 1b: the same hole opened by the payer: Alice withholds her signature on V's final state,
 * concludes V with it and stops.
 *
 * The honest engines must pay everyone out with no manual step: their virtual challenges find V
 * finalized, they learn the concluded outcome from the chain status (its fingerprint is the one of
 * the final state they signed themselves), reclaim V's guarantees and transfer the ledgers they
 * exit (1b: only L_AI — between Bob and the live hub, V's guarantee leaves L_IB by removal with the
 * concluded outcome, and L_IB stays open).
 * Before the fix they only learnt a `Concluded` channel's outcome from a unanimous final state
 * they held, and a `Concluded` event seen before a fallback objective existed was never fed to it:
 * the ledger exits waited forever in `WaitingForVirtualFinalization`, with Bob's earnings and the
 * hub's collateral (and in 1a Alice's deposit) frozen in the adjudicator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, protocols as P } from '@sluice/channel-core';
import { toChainTransaction } from '@sluice/channel-core/engine';
import type { Node, NodeEvent } from '@sluice/channel-core/node';
import { getObjectiveData } from '../../packages/channel-core/src/engine/records.ts';
import { virtualDefundId } from '../../packages/channel-core/src/protocols/virtual-defund.ts';
import { until } from './lib.ts';
import { HUB_POLICY, PATIENT_FALLBACK, balanceOf, fundV, memorySuite, mineUntil, openLedgers, passChallenges, payVouchers, statusOf } from './fallback-lib.ts';

const suite = memorySuite();

/** V as `node`'s defund objective holds it, once that holds V's unanimous final state. */
function finalVAt(node: Node, v: ChannelId): P.Channel | undefined {
  const ch = (getObjectiveData(node.engine.store, virtualDefundId(v))?.objective as { v?: P.Channel } | undefined)?.v;
  const s = ch === undefined ? undefined : P.latestSupportedState(ch);
  return s !== undefined && s.state.isFinal ? ch : undefined;
}

test('hub concludes V with a final state it withheld, then stays away: Alice and Bob still collect what they are owed', async () => {
  const { e } = suite;
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const net = suite.scenario('hub-conclude', 11);
  let cut = false;
  // the hub's own engine is patient (it must not settle on chain by itself before it "goes rogue")
  const irene = await net.start(I, { policy: HUB_POLICY, fallback: PATIENT_FALLBACK }, () => cut);
  const alice = await net.start(A, { hub: net.hub });
  const bob = await net.start(B, { hub: net.hub });
  const events: NodeEvent[] = [];
  bob.onAny((x) => events.push(x));
  const aliceEvents: NodeEvent[] = [];
  alice.onAny((x) => aliceEvents.push(x));

  const { ai, ib, deposit, collateral } = await openLedgers(e, { alice, bob, irene });
  const v = await fundV(e, alice, bob, { also: [irene] });
  const paid = payVouchers(alice, bob, v, 7n);
  const bal0 = { alice: await balanceOf(e, asset, A.address), bob: await balanceOf(e, asset, B.address), irene: await balanceOf(e, asset, I.address) };

  // Irene goes rogue: from now on she only listens.
  cut = true;
  const closing = bob.closeVirtualChannel(v as ChannelId, { timeoutMs: 120_000 }).then(
    () => 'closed',
    (err: { code?: string }) => err.code ?? String(err),
  );
  // Irene collects Alice's and Bob's signatures on V's final state (she signs it too, but keeps hers).
  await until(() => finalVAt(irene, v) !== undefined, 'irene holds the unanimous final state of V');
  const vAtIrene = finalVAt(irene, v)!;
  await irene.stop();
  const move = P.bestExitMove(vAtIrene, I.key)!;
  assert.equal(move.kind, 'conclude');
  await e.chain.irene.chain.submit(toChainTransaction(P.moveTransaction(v, move, 'challenge', I.key)));
  assert.equal(P.allocatedTo(move.candidate.state.outcome, B.dest), paid, 'the concluded outcome pays Bob exactly N x price');

  // Bob's cooperative close cannot finish; his engine goes on chain (peer stalled), as does Alice's.
  assert.equal(await closing, 'CHANNEL_CLOSING');
  await until(() => events.some((x) => x.type === 'fallbackStarted' && x.channelId === ib), 'bob exits L_IB on chain', 60_000);
  await until(async () => (await statusOf(e, ib)).finalizesAt > 0 && (await statusOf(e, ai)).finalizesAt > 0, 'both ledgers challenged', 60_000);
  await passChallenges(e);
  const done = async (): Promise<boolean> =>
    bob.getLedgerChannel(ib)?.status === 'closed' && alice.getLedgerChannel(ai)?.status === 'closed' && bob.getDisputes().length === 0 && alice.getDisputes().length === 0;
  await mineUntil(e, done, 'both ledger exits complete');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n, 'L_IB paid out');
  assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n, 'L_AI paid out');
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob + paid, 'bob: exactly N x price (he signed the concluded state)');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paid, 'alice: deposit - N x price');
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + collateral, 'the hub: its collateral back (paid by the honest transfers)');
  for (const [who, evs] of [['bob', events], ['alice', aliceEvents]] as const) {
    const reclaims = evs.filter((x) => x.type === 'fallbackTransaction' && x.kind === 'reclaim');
    assert.equal(reclaims.length, 1, `${who}: one reclaim (V's guarantee, with the concluded outcome)`);
    const stalled = evs.filter((x) => x.type === 'objectiveStalled' && (x as { reason?: string }).reason === 'transactionFailed');
    assert.equal(stalled.length, 0, `${who}: no fallback step stalled on failed transactions`);
  }
});

/**
 * The same hole, opened by the payer: Alice withholds her signature on V's final state from Bob
 * and the hub, concludes V with it and stops. Bob's and the hub's engines still reclaim V's
 * guarantees with the concluded outcome: L_IB pays Bob and the hub, and the hub's exit of L_AI
 * even pays Alice her change.
 */
test('payer concludes V with a final state she withheld: Bob and the hub still collect, Alice gets her change', async () => {
  const { e } = suite;
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const net = suite.scenario('payer-conclude', 23);
  let cut = false;
  const irene = await net.start(I, { policy: HUB_POLICY });
  const alice = await net.start(A, { hub: net.hub, fallback: PATIENT_FALLBACK }, () => cut);
  const bob = await net.start(B, { hub: net.hub });
  const { ai, ib, deposit, collateral } = await openLedgers(e, { alice, bob, irene });
  const v = await fundV(e, alice, bob, { also: [irene] });
  const paid = payVouchers(alice, bob, v, 5n);
  const bal0 = { alice: await balanceOf(e, asset, A.address), bob: await balanceOf(e, asset, B.address), irene: await balanceOf(e, asset, I.address) };

  cut = true;
  void bob.closeVirtualChannel(v as ChannelId, { timeoutMs: 120_000 }).catch(() => {});
  await until(() => finalVAt(alice, v) !== undefined, 'alice holds the unanimous final state of V');
  const vAtAlice = finalVAt(alice, v)!;
  await alice.stop();
  const move = P.bestExitMove(vAtAlice, A.key)!;
  assert.equal(move.kind, 'conclude');
  await e.chain.alice.chain.submit(toChainTransaction(P.moveTransaction(v, move, 'challenge', A.key)));
  const finalOutcome = move.candidate.state.outcome;

  // The hub goes on chain with L_AI (Alice stalled its objectives). V is concluded: Bob and the hub,
  // both live, remove V's guarantee from L_IB by that on-chain outcome; L_IB stays open (no closure
  // cascade from V), Bob credited N x price in it.
  const ibHeld0 = await e.chain.alice.chain.holdings(asset, ib);
  await until(async () => (await statusOf(e, ai)).finalizesAt > 0, 'L_AI challenged', 60_000);
  await passChallenges(e);
  const done = async (): Promise<boolean> =>
    irene.getLedgerChannel(ai)?.status === 'closed' && bob.getLedgerChannel(ib)?.guarantees === 0 && irene.getLedgerChannel(ib)?.guarantees === 0 && bob.getDisputes().length === 0 && irene.getDisputes().length === 0;
  await mineUntil(e, done, "L_AI's exit completes and V's guarantee leaves L_IB");
  assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n, 'L_AI paid out');
  assert.equal(bob.getLedgerChannel(ib)?.status, 'open');
  assert.equal(irene.getLedgerChannel(ib)?.status, 'open');
  assert.equal((await statusOf(e, ib)).finalizesAt, 0, 'L_IB never challenged');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), ibHeld0, 'L_IB holdings untouched');
  assert.equal(P.allocatedTo(finalOutcome, B.dest), paid);
  assert.equal(bob.getLedgerChannel(ib)?.myBalance, paid, 'bob: N x price, credited in L_IB');
  assert.equal(irene.getLedgerChannel(ib)?.myBalance, collateral - paid);
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob, 'bob: nothing moved on chain');
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + paid, 'the hub: N x price from L_AI (what it owes Bob in L_IB)');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paid, 'alice: deposit - N x price (the hub transferred L_AI)');
});
