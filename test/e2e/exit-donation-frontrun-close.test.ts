/**
 * Regression (audit finding 3, on-chain paths): a 1-wei donation front-runs the cooperative close
 * of a ledger.
 *
 * Bob (provider) withdraws from L_IB cooperatively (`closeLedgerChannel`, what `sluice-provider
 * settle` / `sluice withdraw` do first): both sign the final state and Bob submits
 * `concludeAndTransferAllAssets`. Anyone (here the deployer, any account) gets a
 * `deposit(L_IB, 1 wei)` mined before it in the same block. The transfer pays every allocation in
 * full and 1 wei stays in the adjudicator for L_IB, belonging to nobody.
 *
 * Before the fix the direct defund completed only at zero holdings: the close reported PEER_TIMEOUT
 * (blaming the hub), the ledger stayed `closing`, and the CLIs' next step (`exitLedgerChannel`)
 * challenged the paid-out ledger — accepted, since the adjudicator deletes `statusOf` once
 * everything is paid — for a day's wait and gas. Now the close completes on the payout and nothing
 * goes on chain afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Contract } from 'ethers';
import { ZERO_ADDRESS, type ChannelId } from '@sluice/channel-core';
import type { NodeEvent } from '@sluice/channel-core/node';
import { loadArtifact } from '../../contracts/src/index.ts';
import { startE2E, until, type E2E } from './lib.ts';
import { fallbackInit, netChange, statusOf } from './fallback-lib.ts';

let e: E2E;
before(async () => {
  e = await startE2E();
});
after(async () => {
  await e?.chain.provider.send('evm_setAutomine', [true]).catch(() => {});
  await e?.stop();
});

test('a 1-wei donation mined just before concludeAndTransferAllAssets: the close completes, Bob paid, nothing challenged', async () => {
  const asset = ZERO_ADDRESS;
  const { alice: A, irene: I, bob: B, deployer: M } = e.chain;
  const scenario = 'donate';
  const irene = await e.start(I, fallbackInit(e, I, scenario, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } }));
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  const alice = await e.start(A, fallbackInit(e, A, scenario, { hub }));
  const bob = await e.start(B, fallbackInit(e, B, scenario, { hub }));
  const events: NodeEvent[] = [];
  bob.onAny((x) => events.push(x));
  const collateral = 4n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit: 10n ** 18n }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'ledgers open');
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded');
  const price = 10n ** 15n;
  for (let i = 0; i < 6; i++) assert.equal(bob.receiveVoucher(alice.pay(v, price), { price }).kind, 'accepted');
  const paid = 6n * price;
  await bob.closeVirtualChannel(v);
  await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === paid && irene.getLedgerChannel(ib)?.guarantees === 0, 'bob earned');
  const block0 = await e.chain.provider.getBlockNumber();
  const bal0 = await e.chain.alice.chain.balanceOf(asset, B.address);

  await e.chain.provider.send('evm_setAutomine', [false]);
  const closing = bob.closeLedgerChannel(ib as ChannelId, { timeoutMs: 30_000 }).then(
    () => 'closed',
    (err: { code?: string; message?: string }) => `${err.code}: ${err.message}`,
  );
  const adj = e.chain.deployment.adjudicator.toLowerCase();
  await until(async () => {
    const pool = (await e.chain.provider.send('txpool_content', [])) as { pending: Record<string, Record<string, { to?: string }>> };
    return Object.entries(pool.pending).some(([from, txs]) => from.toLowerCase() === B.address.toLowerCase() && Object.values(txs).some((t) => t.to?.toLowerCase() === adj));
  }, "bob's concludeAndTransferAllAssets in the mempool");
  const held = await e.chain.alice.chain.holdings(asset, ib);
  const adjudicator = new Contract(e.chain.deployment.adjudicator, loadArtifact('NitroAdjudicator').abi as never, M.wallet);
  const fee = await e.chain.provider.getFeeData();
  // a higher tip: mined first in the same block
  await adjudicator.getFunction('deposit')(asset, ib, held, 1n, { value: 1n, maxPriorityFeePerGas: 50n * 10n ** 9n, maxFeePerGas: (fee.maxFeePerGas ?? 10n ** 10n) + 100n * 10n ** 9n, gasLimit: 200_000n });
  await e.chain.provider.send('evm_mine', []);
  await e.chain.provider.send('evm_setAutomine', [true]);

  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 1n, 'the transfer paid every allocation; the donated wei stays');
  assert.equal(await netChange(e, asset, B.address, bal0, block0), paid, 'bob was paid in full on chain');
  assert.equal(await closing, 'closed', 'the cooperative close reports success');
  assert.equal(bob.getLedgerChannel(ib)?.status, 'closed');
  await until(() => irene.getLedgerChannel(ib)?.status === 'closed', 'the hub closes its record too');

  // what `sluice-provider settle` / `sluice withdraw` do next, even forced: nothing on chain
  assert.deepEqual(await bob.exitLedgerChannel(ib as ChannelId, { force: true }), { mode: 'cooperative' });
  assert.deepEqual(bob.getDisputes(), []);
  const st = await statusOf(e, ib);
  assert.deepEqual([st.turnNumRecord, st.finalizesAt], [0, 0], 'no challenge of the paid-out ledger');
  const onChain = events.filter((x) => x.type === 'fallbackStarted' || x.type === 'fallbackTransaction' || x.type === 'challengeRegistered' || (x.type === 'objectiveStalled' && x.channelId === ib));
  assert.deepEqual(onChain, [], 'no stall, no fallback');
});
