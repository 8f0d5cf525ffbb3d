/**
 * On-chain paths (from an adversarial audit, 2026-11-26) — defending the hub: the payer refuses the ledger update after V's final
 * state, then registers V's postfund on chain (which would give her back everything she paid).
 *
 * Bob closes V cooperatively; L_IB is updated (the hub paid Bob N x price). Alice, who leads L_AI,
 * never sends her proposal to drop V's guarantee (so the hub is not paid back), stops, and
 * registers V's postfund (turn 1: payer keeps everything) with `challenge`. The honest hub must
 * conclude V with the final state it holds and collect N x price from L_AI (V settled, the hub
 * tries to remove V's guarantee from L_AI with Alice by proof; she is silent, so it exits L_AI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '@sluice/channel-core';
import { toChainTransaction } from '@sluice/channel-core/engine';
import type { NodeEvent } from '@sluice/channel-core/node';
import { getVirtualData } from '../../packages/channel-core/src/engine/records.ts';
import { until } from './lib.ts';
import { HUB_POLICY, PATIENT_FALLBACK, balanceOf, fundV, memorySuite, openLedgers, passChallengesUntil, payVouchers } from './fallback-lib.ts';

const suite = memorySuite();

test('payer refuses the L_AI update and challenges V with its postfund: the hub concludes V and is paid back', async () => {
  const { e } = suite;
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const net = suite.scenario('payer-postfund', 19);
  let armed = false;
  // The hub answers Alice's challenge with its watchtower (conclude V with the final state), not on
  // a peer timeout. V settled on chain leaves L_AI open: the hub then removes V's guarantee with
  // Alice by proof, she stays silent, and after the hub's peer timeout it exits L_AI and is paid
  // back. (A long timeout — PATIENT_FALLBACK's 600 s — only delays that exit by as much.)
  const irene = await net.start(I, { policy: HUB_POLICY, fallback: { peerTimeoutMs: 10_000, cooperativeTimeoutMs: 30_000 } });
  const alice = await net.start(A, { hub: net.hub, fallback: PATIENT_FALLBACK }, (to, kind) => armed && to.toLowerCase() === I.address.toLowerCase() && (kind === 'ledgerProposal' || kind === 'ledgerCountersignature'));
  const bob = await net.start(B, { hub: net.hub });
  const events: NodeEvent[] = [];
  irene.onAny((x) => events.push(x));
  const { ai, ib, deposit } = await openLedgers(e, { alice, bob, irene });
  assert.equal(alice.getLedgerChannel(ai)?.leader, true);
  const v = await fundV(e, alice, bob, { also: [alice] });
  const postfund = getVirtualData(alice.engine.store, v)!.v!;
  assert.equal(P.latestSupportedState(postfund)?.state.turnNum, 1);
  const paid = payVouchers(alice, bob, v, 8n);
  const bal0 = { irene: await balanceOf(e, asset, I.address), alice: await balanceOf(e, asset, A.address) };

  armed = true;
  await bob.closeVirtualChannel(v);
  await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === paid && irene.getLedgerChannel(ib)?.guarantees === 0, 'L_IB: the hub paid bob');
  assert.equal(irene.getLedgerChannel(ai)?.guarantees, 1, 'L_AI still holds the guarantee at the hub');
  await alice.stop();
  const move = P.bestExitMove(postfund, A.key)!;
  assert.equal(move.turnNum, 1);
  await e.chain.alice.chain.submit(toChainTransaction(P.moveTransaction(v, move, 'challenge', A.key)));

  await passChallengesUntil(e, () => irene.getLedgerChannel(ai)?.status === 'closed', 700, 120_000);
  const hubSteps = events.flatMap((x) => (x.type === 'fallbackStarted' ? [`started:${x.channelId.toLowerCase()}:${x.reason}`] : x.type === 'fallbackTransaction' ? [x.kind] : []));
  assert.ok(hubSteps.includes(`started:${v.toLowerCase()}:virtualOnChain`), `the hub's watchtower settles V: ${hubSteps.join(', ')}`);
  assert.ok(hubSteps.includes('conclude'), `the hub concludes V with the final state it holds: ${hubSteps.join(', ')}`);
  assert.ok(hubSteps.includes(`started:${ai.toLowerCase()}:peerStalled`), `the hub exits L_AI once Alice ignores the removal: ${hubSteps.join(', ')}`);
  assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n, 'L_AI paid out');
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + paid, 'hub: paid back N x price from L_AI');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paid, 'alice: deposit - N x price, not more');
});
