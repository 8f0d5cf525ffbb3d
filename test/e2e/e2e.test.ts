/**
 * End to end over real libp2p (TCP + Noise + Yamux, relayed through the hub) and a real chain
 * (anvil): ledgers opened with deposits, a virtual channel, 100 vouchers, virtual defund,
 * ledger top-up, withdraw — final on-chain token balances exact.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '@sluice/channel-core/node';
import type { ChannelId } from '@sluice/channel-core';
import { startE2E, until, type E2E } from './lib.ts';

let e: E2E;
before(async () => {
  e = await startE2E();
});
after(async () => {
  await e?.stop();
});

test('ledgers, virtual channel, 100 vouchers, defund, top-up, withdraw: exact balances', async () => {
  const { alice: A, irene: I, bob: B } = e.chain;
  const before = { alice: await e.tokenBalance(A.address), irene: await e.tokenBalance(I.address), bob: await e.tokenBalance(B.address) };
  const irene: Node = await e.start(I, { policy: { hub: { maxGuarantee: 10n ** 21n }, maxLedgerDeposit: 10n ** 21n } });
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  assert.ok(hub.multiaddrs.length > 0);
  const alice = await e.start(A, { hub });
  const bob = await e.start(B, { hub });

  const deposit = 10n ** 18n;
  const collateral = 5n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset: e.token, deposit }),
    bob.createLedgerChannel({ counterparty: I.address, asset: e.token, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  assert.equal(await e.chain.alice.chain.holdings(e.token, ai), deposit);
  assert.equal(await e.chain.alice.chain.holdings(e.token, ib), collateral);
  await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'irene sees both ledgers open');

  const amount = 2n * 10n ** 17n;
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset: e.token, amount });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'bob sees V funded');

  const price = 10n ** 15n;
  for (let i = 0; i < 100; i++) {
    const voucher = alice.pay(v as ChannelId, price);
    const r = bob.receiveVoucher(voucher, { price });
    assert.equal(r.kind, 'accepted', `voucher ${i}`);
  }
  const paid = 100n * price;
  assert.equal(bob.getVirtualChannel(v)?.paid, paid);

  const closed = await bob.closeVirtualChannel(v);
  assert.equal(closed.paid, paid);
  await until(() => alice.getLedgerChannel(ai)?.locked === 0n && alice.getVirtualChannel(v)?.status === 'closed', 'alice sees V closed');
  assert.equal(alice.getLedgerChannel(ai)?.myBalance, deposit - paid);
  assert.equal(bob.getLedgerChannel(ib)?.myBalance, paid);

  const topUp = 3n * 10n ** 16n;
  await bob.topUpLedgerChannel({ channelId: ib, amount: topUp });
  await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === paid + topUp, 'irene credits the top-up');

  await Promise.all([alice.closeLedgerChannel(ai), bob.closeLedgerChannel(ib)]);
  assert.equal(await e.chain.alice.chain.holdings(e.token, ai), 0n);
  assert.equal(await e.chain.alice.chain.holdings(e.token, ib), 0n);
  await until(() => irene.getLedgerChannels().every((l) => l.status === 'closed'), 'irene sees both ledgers closed');
  assert.equal(alice.getLedgerChannel(ai)?.paidOut, deposit - paid, 'alice: the close paid her the change');
  assert.equal(bob.getLedgerChannel(ib)?.paidOut, paid + topUp, 'bob: his earnings and his top-up');

  assert.equal(await e.tokenBalance(A.address), before.alice - paid, 'alice paid exactly the vouchers');
  assert.equal(await e.tokenBalance(B.address), before.bob + paid, 'bob earned exactly the vouchers (his top-up came back)');
  assert.equal(await e.tokenBalance(I.address), before.irene, 'the hub nets zero');
});
