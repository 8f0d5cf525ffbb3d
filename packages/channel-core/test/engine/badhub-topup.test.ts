/**
 * A top-up deposits first and is credited only by the hub's countersignature. A hub that does not
 * answer (malicious, or down for longer than the fallback's peer timeout) used to make the
 * client's fallback exit the ledger: transferAllAssets paid the last agreed state and the deposit
 * stayed in the adjudicator, allocated to nobody. A top-up is no reason to go on chain now (it
 * locks nothing else): the client waits, and the deposit is credited when the hub answers. Nor is
 * another objective stalling on the same hub a reason to exit that ledger while the deposit waits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { ADDR, ETH, openLedgersAtIrene, until, world } from './harness.ts';

test('a hub silent during a top-up: the client does not exit (that would lose the deposit); the top-up completes when the hub is back', async () => {
  const fast = { objectiveTimeoutMs: 300, fallback: { peerTimeoutMs: 1_000 } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 13 }, { alice: fast });
  try {
    const { alice, irene } = w.nodes;
    const ai = (await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
    await irene.stop(); // the hub does not countersign (malicious, or gone for a while)

    const topUp = alice.topUpLedgerChannel({ channelId: ai, amount: 500n }, { timeoutMs: 60_000 });
    await until(() => w.chain.allEvents.some((e) => e.type === 'Deposited' && e.destinationHoldings === 1500n), "Alice's top-up deposit mined");
    await new Promise((r) => setTimeout(r, 3_000)); // three peer timeouts
    assert.ok(!w.events.alice.some((e) => e.type === 'fallbackStarted'), 'Alice went on chain during the top-up (her deposit would be lost)');
    assert.equal(alice.getDisputes().length, 0);

    const back = w.make('irene', w.stores.irene);
    await back.start();
    await topUp;
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 1500n, 'the deposit is credited');
    assert.equal(await w.chain.holdings(ETH, ai), 1500n);
  } finally {
    await w.stop();
  }
});

test('a hub silent during a top-up while another objective waits on it too: the ledger with the uncredited deposit is not exited (found by bench:chaos)', async () => {
  const fast = { objectiveTimeoutMs: 300, fallback: { peerTimeoutMs: 1_000 } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 17 }, { alice: fast });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai: aiRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded', 'V funded');
    await irene.stop();

    const topUp = alice.topUpLedgerChannel({ channelId: ai, amount: 500n }, { timeoutMs: 60_000 });
    await until(() => w.chain.allEvents.some((e) => e.type === 'Deposited' && e.destinationHoldings === 1500n), "Alice's top-up deposit mined");
    // a close that needs the hub stalls past the peer timeout: before, that exited L_AI as well
    // as V, and the uncredited deposit stayed in the adjudicator for good
    const closing = alice.closeVirtualChannel(v, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await until(() => w.events.alice.some((e) => e.type === 'fallbackStarted' && e.channelId === v), 'the stall settles V on chain');
    await new Promise((r) => setTimeout(r, 2_000)); // two more peer timeouts
    assert.ok(!w.events.alice.some((e) => e.type === 'fallbackStarted' && e.channelId === ai), 'Alice exited L_AI with her top-up deposit uncredited');

    const back = w.make('irene', w.stores.irene);
    await back.start();
    await topUp;
    assert.equal(await w.chain.holdings(ETH, ai), 1500n);
    await until(() => (alice.getLedgerChannel(ai)?.myBalance ?? 0n) + (alice.getLedgerChannel(ai)?.locked ?? 0n) === 1500n, 'the deposit is credited');
    await closing;
  } finally {
    await w.stop();
  }
});
