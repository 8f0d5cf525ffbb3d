/**
 * Regression (audit finding 4, on-chain paths): someone else makes the honest party's reclaim and
 * transfer.
 *
 * The hub vanishes mid-download; Bob settles V on chain and exits L_IB (V redeemed with his best
 * voucher, L_IB challenged). Bob's node is down when the challenges finalize, and the hub (any account could)
 * submits the `reclaim` of V's guarantee into L_IB and the `transferAllAssets` itself. Bob's node
 * comes back: it must see the ledger paid out, close it, and report (event `payout`, what
 * `sluice-hub settle` prints and the provider's fallback activity shows) exactly what each got.
 *
 * Before the fix the exit completed on the transfer before attributing the other account's
 * `Reclaimed` (the adjudicator's event does not name the target, and after a full payout `statusOf`
 * is deleted, so no fingerprint tells): the payout said Bob 0, hub 2e17.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '@sluice/channel-core';
import { toChainTransaction } from '@sluice/channel-core/engine';
import type { NodeEvent } from '@sluice/channel-core/node';
import { getObjectiveData } from '../../packages/channel-core/src/engine/records.ts';
import { startE2E, until, type E2E } from './lib.ts';
import { balanceOf, fallbackInit, passChallenges, statusOf } from './fallback-lib.ts';

let e: E2E;
before(async () => {
  e = await startE2E();
});
after(async () => {
  await e?.stop();
});

test('the hub reclaims and transfers L_IB before Bob does: Bob is paid and his node reports the payout to the wei', async () => {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const scenario = 'frontrun';
  const irene = await e.start(I, fallbackInit(e, I, scenario, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } }));
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  const alice = await e.start(A, fallbackInit(e, A, scenario, { hub }));
  const bobInit = fallbackInit(e, B, scenario, { hub });
  let bob = await e.start(B, bobInit);
  const collateral = 4n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit: 10n ** 18n }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'ledgers open');
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded');
  const price = 10n ** 15n;
  const N = 7n;
  for (let i = 0; i < Number(N); i++) assert.equal(bob.receiveVoucher(alice.pay(v, price), { price }).kind, 'accepted');
  const paid = N * price;
  const bobBal0 = await balanceOf(e, asset, B.address);
  const hubBal0 = await balanceOf(e, asset, I.address);

  await irene.stop();
  await alice.stop();
  const r = await bob.settleVirtualChannel(v, { force: true });
  assert.equal(r.mode, 'onChain');
  // Settling V alone leaves L_IB open (no closure cascade): Bob leaves it too, as `sluice-provider
  // settle` does. V being settled on chain, his exit goes on chain at once, without --force.
  const x = await bob.exitLedgerChannel(ib);
  assert.equal(x.mode, 'onChain');
  await until(async () => (await statusOf(e, v)).turnNumRecord === 2 && (await statusOf(e, ib)).finalizesAt > 0, 'V redeemed, L_IB challenged');
  await until(() => bob.getDisputes().length === 2 && bob.getDisputes().every((d) => d.phase === 'challenge'), 'bob sees both challenges');
  // The other account builds the same reclaim and transfer from what is on chain (here: from Bob's records).
  let exit = getObjectiveData(bob.engine.store, P.ledgerExitId(ib))!.objective as P.LedgerExitObjective;
  await bob.stop();
  await passChallenges(e);
  const head = await e.chain.provider.getBlock('latest');
  exit = P.updateLedgerExit(exit, { kind: 'chainTime', timestamp: head!.timestamp, blockNumber: head!.number });
  const c1 = P.crankLedgerExit(exit, { privateKey: I.key });
  const reclaim = c1.effects.find((x) => x.type === 'submitTransaction') as { tx: P.Transaction } | undefined;
  assert.equal(reclaim?.tx.kind, 'reclaim');
  await e.chain.irene.chain.submit(toChainTransaction(reclaim!.tx));
  exit = P.updateLedgerExit(c1.objective, { kind: 'reclaimed', channelId: ib, assetIndex: 0, target: v, blockNumber: head!.number + 1, logIndex: 0 } as P.ObjectiveEvent);
  const c2 = P.crankLedgerExit(exit, { privateKey: I.key });
  const transfer = c2.effects.find((x) => x.type === 'submitTransaction') as { tx: P.Transaction } | undefined;
  assert.equal(transfer?.tx.kind, 'transferAllAssets');
  await e.chain.irene.chain.submit(toChainTransaction(transfer!.tx));
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n);
  assert.equal(await balanceOf(e, asset, B.address), bobBal0 + paid, 'bob was paid by the transfer someone else submitted');
  assert.equal(await balanceOf(e, asset, I.address), hubBal0 + collateral - paid, 'the hub got the rest');

  bob = await e.start(B, bobInit);
  const events: NodeEvent[] = [];
  bob.onAny((x) => events.push(x));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && bob.getLedgerChannel(ib)?.status !== 'closed') {
    await new Promise((r2) => setTimeout(r2, 250));
    await e.chain.provider.send('evm_mine', []);
  }
  assert.equal(bob.getLedgerChannel(ib)?.status, 'closed');
  const payout = events.find((x) => x.type === 'payout' && x.channelId === ib);
  assert.ok(payout?.type === 'payout', 'a payout event');
  assert.equal(payout.mine, paid);
  assert.deepEqual(
    payout.amounts.map((a) => [a.participant.toLowerCase(), a.amount]),
    [
      [B.address.toLowerCase(), paid],
      [I.address.toLowerCase(), collateral - paid],
    ],
  );
  assert.equal(payout.unattributed, undefined);
  assert.deepEqual(events.filter((x) => x.type === 'fallbackTransaction'), [], 'bob sends nothing: everything was done');
  await until(() => bob.getVirtualChannel(v)?.status === 'closed', 'V closed');
  assert.equal(bob.getVirtualChannel(v)?.paid, paid);
  assert.deepEqual(bob.getDisputes(), []);
  await bob.stop();
});
