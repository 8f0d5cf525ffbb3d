/**
 * One live ledger per counterparty and asset, but a ledger being closed does not count. A ledger
 * exited on chain stays `closing` for its challenge duration (a day by default): before, neither
 * end could open another one meanwhile — a client whose hub had been away past its peer timeout
 * could not download for a day ("a ledger with this counterparty in this asset already exists",
 * reported as bad usage), and a provider in that state could not even start (it opens its ledger
 * with the hub at start). Now a new ledger opens beside the closing one, carries new virtual
 * channels, and the old exit completes on its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { ADDR, ETH, mineUntil, openLedgersAtIrene, until, world } from './harness.ts';

test('a new ledger with the hub opens while the old one is being exited on chain; it carries channels, and the old exit completes', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 21 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai: old } = await openLedgersAtIrene(w, 1000n, 800n);
    assert.equal((await alice.exitLedgerChannel(old as ChannelId, { force: true })).mode, 'onChain');
    await until(() => alice.getLedgerChannel(old as ChannelId)?.status === 'closing' && irene.getLedgerChannel(old as ChannelId)?.status === 'closing', 'the old ledger closing at both ends');

    // business goes on in a new ledger, joined by the hub beside the closing one
    const { channelId: fresh } = await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 400n });
    assert.notEqual(fresh, old);
    await until(() => irene.getLedgerChannel(fresh)?.status === 'open', 'the new ledger open at the hub');
    // still one live ledger per counterparty: a third is refused while the new one is open
    await assert.rejects(alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1n }), /a ledger with this counterparty in this asset already exists/);
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded over the new ledger');
    assert.equal(bob.receiveVoucher(alice.pay(v, 120n)).kind, 'accepted');
    await alice.closeVirtualChannel(v);
    await until(() => irene.getLedgerChannel(fresh)?.guarantees === 0 && alice.getLedgerChannel(fresh)?.guarantees === 0, 'V closed');
    assert.equal(alice.getLedgerChannel(fresh)?.myBalance, 280n);
    assert.equal(irene.getLedgerChannel(fresh)?.counterpartyBalance, 280n);

    // the old exit finalizes and pays out; the new ledger is untouched by it
    await mineUntil(w, () => alice.getLedgerChannel(old as ChannelId)?.status === 'closed' && irene.getLedgerChannel(old as ChannelId)?.status === 'closed');
    assert.equal(alice.getLedgerChannel(old as ChannelId)?.status, 'closed');
    assert.equal(await w.chain.holdings(ETH, old), 0n);
    assert.equal(alice.getLedgerChannel(fresh)?.status, 'open');
    assert.equal(await w.chain.holdings(ETH, fresh), 400n);
  } finally {
    await w.stop();
  }
});
