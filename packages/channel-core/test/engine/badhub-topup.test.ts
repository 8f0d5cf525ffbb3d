/**
 * A top-up deposits first and is credited only by the hub's countersignature. A hub that does not
 * answer (malicious, or down for longer than the fallback's peer timeout) used to make the
 * client's fallback exit the ledger: transferAllAssets paid the last agreed state and the deposit
 * stayed in the adjudicator, allocated to nobody. A top-up is no reason to go on chain now (it
 * locks nothing else): the client waits, and the deposit is credited when the hub answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { ADDR, ETH, until, world } from './harness.ts';

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
