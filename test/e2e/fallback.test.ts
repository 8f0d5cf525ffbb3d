/**
 * On-chain fallback end to end (real anvil with time travel, real libp2p, the hub in its own
 * process): the hub is SIGKILLed mid-download and everyone is still paid exactly what they are
 * owed from the chain, in ETH and in ERC20; the hub, restarted later, finds its remaining funds
 * paid out and its ledgers closed. And the client disappearing mid-download: the provider's
 * engine goes on chain by itself and redeems its best voucher.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZERO_ADDRESS, type Address, type ChannelId } from '@sluice/channel-core';
import type { LedgerChannelInfo, Node, NodeEvent } from '@sluice/channel-core/node';
import { startE2E, until, type E2E } from './lib.ts';
import { spawnNode, type RemoteNode } from './remote-node.ts';
import { balanceOf, fallbackInit, netChange, passChallenges, passChallengesUntil, statusOf } from './fallback-lib.ts';

let e: E2E;
const children: RemoteNode[] = [];
before(async () => {
  e = await startE2E();
});
after(async () => {
  for (const c of children) await c.kill();
  await e?.stop();
});

const DEPOSIT = 10n ** 18n;
const COLLATERAL = 4n * 10n ** 17n;
const AMOUNT = 2n * 10n ** 17n;
const PRICE = 10n ** 15n;

function record(node: Node): NodeEvent[] {
  const events: NodeEvent[] = [];
  node.onAny((x) => events.push(x));
  return events;
}

for (const assetName of ['ETH', 'ERC20'] as const) {
  test(`hub killed mid-download (${assetName}): provider gets exactly N x price from the hub's collateral, client the rest, hub its remainder`, async () => {
    const asset: Address = assetName === 'ETH' ? ZERO_ADDRESS : e.token;
    const { alice: A, irene: I, bob: B } = e.chain;
    const scenario = `hubkill-${assetName}`;
    const spawnIrene = (): RemoteNode => {
      const c = spawnNode(fallbackInit(e, I, scenario, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } }));
      children.push(c);
      return c;
    };
    let irene = spawnIrene();
    const ready = await irene.ready;
    const hub = { address: I.address, multiaddrs: ready.multiaddrs };
    const alice = await e.start(A, fallbackInit(e, A, scenario, { hub }));
    const bob = await e.start(B, fallbackInit(e, B, scenario, { hub }));
    const aliceEvents = record(alice);
    const bobEvents = record(bob);

    const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
      alice.createLedgerChannel({ counterparty: I.address, asset, deposit: DEPOSIT }),
      bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: COLLATERAL }),
    ]);
    await until(async () => (await irene.call<LedgerChannelInfo[]>('getLedgerChannels')).filter((l) => l.status === 'open').length === 2, 'hub sees both ledgers open');
    const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: AMOUNT });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'bob sees V funded');

    const N = 7n;
    for (let i = 0; i < Number(N); i++) assert.equal(bob.receiveVoucher(alice.pay(v, PRICE), { price: PRICE }).kind, 'accepted');
    const paid = N * PRICE;

    // balances once everything is deposited (ETH: gas paid from here on is added back)
    const block0 = await e.chain.provider.getBlockNumber();
    const bal0 = { alice: await balanceOf(e, asset, A.address), bob: await balanceOf(e, asset, B.address), irene: await balanceOf(e, asset, I.address) };

    // the hub dies mid-download
    await irene.kill();

    // Bob settles: the cooperative close cannot complete without the hub, so it goes on chain.
    const r = await bob.settleVirtualChannel(v);
    assert.equal(r.mode, 'onChain');
    // Bob's engine found the hub stalled (his cooperative close waited on it): L_IB is exited with V.
    await until(async () => (await statusOf(e, v)).finalizesAt > 0 && (await statusOf(e, ib)).finalizesAt > 0, 'V and L_IB challenged');
    assert.equal((await statusOf(e, v)).turnNumRecord, 2, "V registered with Bob's voucher redemption (turn 2)");
    const disputes = bob.getDisputes();
    const dv = disputes.find((d) => d.channelId === v);
    assert.ok(dv !== undefined && dv.kind === 'virtual');
    await until(() => bob.getDisputes().find((d) => d.channelId === v)?.phase === 'challenge', 'bob sees V in challenge');
    const dv2 = bob.getDisputes().find((d) => d.channelId === v)!;
    assert.ok(dv2.secondsLeft !== null && dv2.secondsLeft > 0, 'time left shown');
    assert.equal(dv2.mine, paid, 'bob will get his best voucher from V');
    // Alice's watchtower settles V with her (no closure cascade: L_AI stays open while V's challenge runs).
    await until(() => aliceEvents.some((x) => x.type === 'fallbackStarted' && x.channelId === v && x.reason === 'virtualOnChain'), 'alice settles V');
    assert.equal((await statusOf(e, ai)).finalizesAt, 0, 'L_AI is not challenged while V is');
    assert.ok(!aliceEvents.some((x) => x.type === 'fallbackStarted' && x.channelId === ai), 'alice does not exit L_AI yet');

    // V finalizes: Alice tries to remove V's guarantee from L_AI with the hub by proof; the hub is
    // dead, so after her peer timeout she exits L_AI on chain (reclaiming the finalized guarantee).
    await passChallenges(e);
    await until(() => aliceEvents.some((x) => x.type === 'fallbackStarted' && x.channelId === ai && x.reason === 'peerStalled'), 'alice exits L_AI once the removal times out', 60_000);
    await until(async () => (await statusOf(e, ai)).finalizesAt > 0, 'L_AI challenged');
    await passChallenges(e);
    await until(() => bob.getLedgerChannel(ib)?.status === 'closed' && alice.getLedgerChannel(ai)?.status === 'closed', 'both ledgers paid out', 60_000);
    assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n);
    assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n);
    assert.equal(bob.getVirtualChannel(v)?.status, 'closed');
    assert.equal(bob.getVirtualChannel(v)?.paid, paid);
    assert.equal(alice.getVirtualChannel(v)?.paid, paid);

    assert.equal(await netChange(e, asset, B.address, bal0.bob, block0), paid, 'bob: exactly N x price');
    assert.equal(await netChange(e, asset, A.address, bal0.alice, block0), DEPOSIT - paid, 'alice: deposit - N x price');
    // the hub's remaining funds were paid to its address by the transfers
    assert.equal((await balanceOf(e, asset, I.address)) - bal0.irene, COLLATERAL, 'hub: collateral - N x price from L_IB + N x price from L_AI');
    assert.ok(bobEvents.some((x) => x.type === 'payout' && x.channelId === ib && x.mine === paid));
    const kinds = bobEvents.flatMap((x) => (x.type === 'fallbackTransaction' ? [x.kind] : [])).sort();
    assert.deepEqual(kinds, ['challenge', 'challenge', 'reclaim', 'transferAllAssets']);

    // The hub, restarted later, catches up and closes its ledgers without sending anything.
    const blockBeforeRestart = await e.chain.provider.getBlockNumber();
    const ireneBal = await balanceOf(e, asset, I.address);
    irene = spawnIrene();
    await irene.ready;
    await until(async () => (await irene.call<LedgerChannelInfo[]>('getLedgerChannels')).every((l) => l.status === 'closed'), 'restarted hub closes its ledgers', 60_000);
    assert.equal(await netChange(e, asset, I.address, ireneBal, blockBeforeRestart), 0n);
    await irene.call('stop');
    assert.equal((await irene.exited).code, 0);
    await alice.stop();
    await bob.stop();
  });
}

test('client disappears mid-download: the provider goes on chain by itself and redeems its best voucher', async () => {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const scenario = 'client-gone';
  const irene = await e.start(I, fallbackInit(e, I, scenario, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } }));
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  const alice = await e.start(A, fallbackInit(e, A, scenario, { hub }));
  const bob = await e.start(B, fallbackInit(e, B, scenario, { hub }));
  const bobEvents = record(bob);
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit: DEPOSIT }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: COLLATERAL }),
  ]);
  await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'hub sees both ledgers open');
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: AMOUNT });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'bob sees V funded');
  const N = 11n;
  for (let i = 0; i < Number(N); i++) assert.equal(bob.receiveVoucher(alice.pay(v, PRICE), { price: PRICE }).kind, 'accepted');
  const paid = N * PRICE;
  const bal0 = { alice: await balanceOf(e, asset, A.address), bob: await balanceOf(e, asset, B.address), irene: await balanceOf(e, asset, I.address) };

  await alice.stop(); // the client vanishes
  // Bob closes cooperatively; Alice never answers: after the peer timeout his engine goes on chain.
  const closing = bob.closeVirtualChannel(v as ChannelId, { timeoutMs: 60_000 }).then(
    () => 'closed',
    (err: { code?: string }) => err.code,
  );
  // Bob's own timeout (`peerStalled`) or the hub's, whose challenge of V Bob's watchtower answers
  // with his redemption (`virtualOnChain`): either way nobody had to ask.
  await until(() => bobEvents.some((x) => x.type === 'fallbackStarted' && x.channelId === v), 'automatic fallback on the silent client', 60_000);
  const started = bobEvents.find((x) => x.type === 'fallbackStarted' && x.channelId === v);
  assert.ok(started?.type === 'fallbackStarted' && (started.reason === 'peerStalled' || started.reason === 'virtualOnChain'));
  assert.equal(await closing, 'CHANNEL_CLOSING', 'the cooperative close is superseded');
  // The hub exits L_AI: with V if its own objectives with Alice stalled first, else once V is
  // finalized and the removal of V's guarantee from L_AI times out on her. L_IB, between two live
  // parties, stays open (no closure cascade from V).
  await until(async () => (await statusOf(e, v)).turnNumRecord === 2, 'V redeemed');
  const ibHeld0 = await e.chain.alice.chain.holdings(asset, ib);
  await passChallengesUntil(e, () => irene.getLedgerChannel(ai)?.status === 'closed', 700, 90_000);
  assert.equal(irene.getLedgerChannel(ai)?.status, 'closed', 'L_AI paid out');
  // V finalized: Bob and the hub remove V's guarantee from L_IB by on-chain proof; Bob is credited
  // his best voucher in L_IB, which stays open and untouched on chain.
  await until(() => bob.getLedgerChannel(ib)?.guarantees === 0 && irene.getLedgerChannel(ib)?.guarantees === 0, "L_IB: V's guarantee removed", 60_000);
  assert.equal(bob.getLedgerChannel(ib)?.status, 'open');
  assert.equal(irene.getLedgerChannel(ib)?.status, 'open');
  assert.equal(bob.getLedgerChannel(ib)?.myBalance, paid, 'bob credited exactly his best voucher in L_IB');
  assert.equal(irene.getLedgerChannel(ib)?.myBalance, COLLATERAL - paid);
  assert.equal((await statusOf(e, ib)).finalizesAt, 0, 'L_IB never challenged');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), ibHeld0, 'L_IB holdings untouched');
  assert.equal(bob.getVirtualChannel(v)?.paid, paid);
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob, 'bob paid nothing on chain and was paid inside L_IB');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + DEPOSIT - paid, 'the absent client got her remainder');
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + paid, "the hub got N x price from L_AI (and owes it to Bob inside L_IB)");
  await bob.stop();
  await irene.stop();
});
