/**
 * Watchtower end to end: a cheating hub registers a stale state of the provider's ledger (one
 * where the provider was not paid yet). The provider's node answers with `checkpoint` before
 * the challenge finalizes; the stale state never pays out, the ledger stays open and is then
 * closed cooperatively with exact balances. And when the provider was away until the stale
 * state finalized, but that state still guarantees a virtual channel he closed cooperatively:
 * on return his engine concludes that channel with its final state and still collects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, hashState, protocols as P } from '@sluice/channel-core';
import { getLedgerData, toChainTransaction } from '@sluice/channel-core/engine';
import type { NodeEvent } from '@sluice/channel-core/node';
import { until } from './lib.ts';
import { HUB_POLICY, balanceOf, e2eSuite, fallbackInit, fundV, openLedgers, passChallenges, payVouchers, startOverLibp2p, statusOf } from './fallback-lib.ts';

const suite = e2eSuite();

test('a cheating hub challenges with a stale ledger state: the victim checkpoints, the stale state never pays out', async () => {
  const { e } = suite;
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const scenario = 'cheat';
  // a patient automatic fallback: the hub is away for a while in this story
  const fallback = { peerTimeoutMs: 60_000, cooperativeTimeoutMs: 30_000 };
  const started = await startOverLibp2p(e, scenario, fallback);
  const { alice, bob, hub } = started;
  let irene = started.irene;
  // restarted on the same address, so the peers' hub multiaddr stays valid
  const ireneInit = fallbackInit(e, I, scenario, { fallback, policy: HUB_POLICY, listen: [hub.multiaddrs[0]!.replace(/\/p2p\/.*$/, '')] });
  const bobEvents: NodeEvent[] = [];
  bob.onAny((x) => bobEvents.push(x));
  const { ai, ib, collateral } = await openLedgers(e, { alice, bob, irene });
  // the hub keeps an early state of Bob's ledger: Bob 0, hub everything
  const stale = getLedgerData(irene.engine.store, ib)!.ledger!;
  const bal0 = { alice: await balanceOf(e, asset, A.address), bob: await balanceOf(e, asset, B.address), irene: await balanceOf(e, asset, I.address) };

  const v = await fundV(e, alice, bob, { amount: 10n ** 17n });
  const paid = payVouchers(alice, bob, v, 9n);
  await bob.closeVirtualChannel(v);
  await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === paid, 'hub agrees bob was paid');
  const agreed = bob.getLedgerChannel(ib)!.turnNum;
  assert.ok(agreed > stale.current.turnNum);

  // The hub stops running honest software and registers the stale state.
  await irene.stop();
  const move = P.bestExitMove(P.ledgerToChannel(stale), I.key)!;
  const cheat = P.moveTransaction(ib, move, 'challenge', I.key);
  await e.chain.irene.chain.submit(toChainTransaction(cheat));
  await until(() => bobEvents.some((x) => x.type === 'challengeRegistered' && x.channelId === ib), 'bob sees the challenge');

  // Bob's watchtower clears it with the newer state before it finalizes.
  await until(() => bobEvents.some((x) => x.type === 'fallbackTransaction' && x.kind === 'checkpoint' && x.channelId === ib), 'bob checkpoints');
  const answered = bobEvents.find((x) => x.type === 'challengeAnswered' && x.channelId === ib);
  assert.ok(answered !== undefined && answered.type === 'challengeAnswered' && answered.action === 'checkpoint' && answered.turnNum === agreed);
  const st = await statusOf(e, ib);
  assert.equal(st.finalizesAt, 0, 'the challenge is cleared');
  assert.equal(st.turnNumRecord, agreed);
  assert.ok(!bobEvents.some((x) => x.type === 'fallbackStarted'), 'the cooperative path goes on: nothing settled on chain');

  // Long after the challenge would have finalized, the stale state still cannot pay out.
  await passChallenges(e);
  assert.equal((await statusOf(e, ib)).finalizesAt, 0);
  const staleChannel = P.ledgerToChannel(stale);
  const staleState = P.fullState(staleChannel, staleChannel.states.at(-1)!.state);
  await assert.rejects(e.chain.irene.chain.submit({ kind: 'transferAllAssets', channelId: ib as ChannelId, outcome: staleState.outcome, stateHash: hashState(staleState) }));
  assert.equal(bob.getLedgerChannel(ib)?.status, 'open');

  // The hub comes back (its own watchtower finds nothing left to answer) and both ledgers close cooperatively.
  irene = await e.start(I, ireneInit);
  await Promise.all([alice.closeLedgerChannel(ai), bob.closeLedgerChannel(ib)]);
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob + paid);
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice - paid + 10n ** 18n);
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + collateral);
});

test('victim away through a stale challenge that still holds a guarantee: on return it concludes V with its final state and is paid', async () => {
  const { e } = suite;
  const asset = e.token;
  const { irene: I, bob: B } = e.chain;
  const started = await startOverLibp2p(e, 'away', { peerTimeoutMs: 60_000, cooperativeTimeoutMs: 30_000 });
  const { irene, alice, bobInit } = started;
  let bob = started.bob;
  const collateral = 4n * 10n ** 17n;
  const [, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit: 10n ** 18n }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  await until(() => irene.getLedgerChannel(ib)?.status === 'open' && irene.getLedgerChannels().length === 2, 'hub sees both ledgers');
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: 10n ** 17n });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded' && irene.getLedgerChannel(ib)?.guarantees === 1, 'V funded, guaranteed in L_IB');
  // the hub keeps the state of Bob's ledger that still guarantees V (Bob 0 + guarantee)
  const stale = getLedgerData(irene.engine.store, ib)!.ledger!;
  const paid = payVouchers(alice, bob, v, 5n);
  await bob.closeVirtualChannel(v);
  await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === paid && irene.getLedgerChannel(ib)?.guarantees === 0, 'V defunded at the hub');
  const bal0 = await balanceOf(e, asset, B.address);

  // Bob goes away; the hub registers the stale state and lets it finalize.
  await bob.stop();
  await irene.stop();
  await e.chain.irene.chain.submit(toChainTransaction(P.moveTransaction(ib, P.bestExitMove(P.ledgerToChannel(stale), I.key)!, 'challenge', I.key)));
  await passChallenges(e);

  // Back online: too late to checkpoint; the engine exits the ledger from the registered state and
  // concludes V with the final state it signed cooperatively, so the guarantee pays Bob.
  bob = await e.start(B, bobInit);
  const events: NodeEvent[] = [];
  bob.onAny((x) => events.push(x));
  await until(() => bob.getLedgerChannel(ib)?.status === 'closed', 'bob collects from the finalized ledger', 60_000);
  assert.ok(events.some((x) => x.type === 'fallbackTransaction' && x.kind === 'conclude' && x.channelId === v), 'V concluded with its final state');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n);
  assert.equal(await balanceOf(e, asset, B.address), bal0 + paid, 'bob still gets exactly what V paid him');
});
