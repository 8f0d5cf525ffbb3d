/**
 * On-chain paths — a ledger exit cleared by a state the exiting side never received (found by
 * `bench:chaos`, 2026-11-27).
 *
 * Bob leads L_IB, so he proposes the guarantee for a new V and the hub countersigns; the
 * countersignature never reaches him (the hub's transport drops it). Bob then leaves: he exits L_IB
 * with his latest supported state. The hub's watchtower answers that stale challenge with a
 * `checkpoint` of the newer state and keeps the ledger open. The chain now records a turn Bob
 * cannot register, and the hub never moves again: before, Bob's exit waited for the other
 * participant for ever, with the hub's collateral locked in L_IB. Now Bob's chain port reads the
 * checkpointed state off the checkpoint's calldata, his exit registers it, the hub (whose latest
 * state that is) settles too, and L_IB pays out to the wei.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeEvent } from '@sluice/channel-core/node';
import { until } from './lib.ts';
import { HUB_POLICY, PATIENT_FALLBACK, balanceOf, memorySuite, openLedgers, passChallengesUntil } from './fallback-lib.ts';

const suite = memorySuite();

test("a ledger exit cleared by the hub's checkpoint of a state Bob never received: Bob registers it and L_IB pays out", async () => {
  const { e } = suite;
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const net = suite.scenario('exit-after-checkpoint', 17);
  let armed = false;
  const irene = await net.start(I, { policy: HUB_POLICY, fallback: PATIENT_FALLBACK }, (to, kind) => armed && to.toLowerCase() === B.address.toLowerCase() && kind === 'ledgerCountersignature');
  const alice = await net.start(A, { hub: net.hub, fallback: PATIENT_FALLBACK });
  const bob = await net.start(B, { hub: net.hub, fallback: PATIENT_FALLBACK });
  const bobEvents: NodeEvent[] = [];
  const ireneEvents: NodeEvent[] = [];
  bob.onAny((x) => bobEvents.push(x));
  irene.onAny((x) => ireneEvents.push(x));

  const { ib, collateral } = await openLedgers(e, { alice, bob, irene });
  assert.equal(bob.getLedgerChannel(ib)?.leader, true, 'Bob leads L_IB');
  const bal0 = { bob: await balanceOf(e, asset, B.address), irene: await balanceOf(e, asset, I.address) };
  const agreed = bob.getLedgerChannel(ib)!.turnNum;

  armed = true;
  const funding = alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n }, { timeoutMs: 5_000 }).catch((err: { code?: string }) => err.code ?? String(err));
  await until(() => (irene.getLedgerChannel(ib)?.turnNum ?? 0) > agreed, 'the hub countersigned the guarantee in L_IB');
  const newer = irene.getLedgerChannel(ib)!.turnNum;
  assert.equal(bob.getLedgerChannel(ib)!.turnNum, agreed, 'Bob never got the countersignature');

  // Bob leaves with what he holds; the hub, online, clears his challenge with the newer state
  await bob.exitLedgerChannel(ib, { force: true });
  await until(() => ireneEvents.some((x) => x.type === 'challengeAnswered' && x.channelId === ib && x.action === 'checkpoint' && x.turnNum === newer), 'the hub checkpoints', 30_000);
  await until(() => bobEvents.some((x) => x.type === 'challengeRegistered' && x.channelId === ib && x.turnNum === newer), 'Bob registers the checkpointed state', 30_000);
  await funding;

  await passChallengesUntil(e, () => bob.getLedgerChannel(ib)?.status === 'closed', 700);
  assert.equal(bob.getLedgerChannel(ib)?.status, 'closed', "Bob's exit completed");
  assert.equal(await e.chain.bob.chain.holdings(asset, ib), 0n, 'L_IB paid out');
  // nothing was paid on V (it never got its postfund): Bob had nothing in L_IB, the hub its collateral
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob);
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + collateral, 'the hub gets its collateral back');
});
