/**
 * Alice (payer) closes her virtual channel, then her ledger with the hub (`sluice
 * withdraw`). The provider, Bob, signs V's final state and then goes quiet (crash, network) before
 * proposing V's removal from L_IB. The hub's virtual defund stays active (it waits on L_IB), and
 * 86d98e8 made the hub refuse to join Alice's close of L_AI while any of its objectives names
 * L_AI: Alice's cooperative close times out and her withdraw goes on chain (gas, and the ledger's
 * challenge duration) although the hub, her only counterparty, is live and honest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { ADDR, dropSends, openLedgersAtIrene, until, world } from './harness.ts';

test("payer's withdraw after closing V: cooperative although the payee is slow with L_IB", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 5 });
  try {
    const { alice, irene } = w.nodes;
    const { ai } = await openLedgersAtIrene(w, 1000n, 800n);
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => w.nodes.bob.getVirtualChannel(v)?.status === 'funded', 'V funded at Bob');
    assert.equal(w.nodes.bob.receiveVoucher(alice.pay(v, 100n), { price: 100n }).kind, 'accepted');

    // Bob's node again, whose proposals on L_IB for V's defund do not get out (Bob went quiet)
    await w.nodes.bob.stop();
    dropSends(w, 'bob', (_to, m) => m?.kind === 'ledgerProposal' && m.objectiveId.startsWith('VirtualDefund'));
    const bob = w.make('bob', w.stores.bob);
    await bob.start();

    const { paid } = await alice.closeVirtualChannel(v);
    assert.equal(paid, 100n);
    await until(() => irene.getLedgerChannel(ai as ChannelId)?.locked === 0n, 'V removed from L_AI at the hub');
    const r = await alice.exitLedgerChannel(ai as ChannelId, { cooperativeTimeoutMs: 3_000 });
    assert.equal(r.mode, 'cooperative', 'Alice went on chain against a live, honest hub');
  } finally {
    await w.stop();
  }
});
