/**
 * A third party's deposit (anyone can deposit into any channel) into an open ledger: the leader
 * credits it to the follower, the follower follows the leader's proposal, and the ledger goes on
 * (before, each side credited the other and the two top-ups blocked the ledger for good).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { ADDR, ETH, until, world } from './harness.ts';

test('a 1-wei donation into an open ledger: the client can still top up and close', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 9 });
  try {
    const { alice, irene } = w.nodes;
    const ai = (await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
    await w.chain.submit({ kind: 'deposit', channelId: ai, asset: ETH, expectedHeld: 1000n, amount: 1n }); // anyone
    await new Promise((r) => setTimeout(r, 1_000));
    // the donation is credited to the follower (the hub), on the leader's proposal, and nothing is left stuck
    await until(() => irene.getLedgerChannel(ai)?.myBalance === 1n && alice.engine.activeObjectives().length === 0 && irene.engine.activeObjectives().length === 0, 'the donation credited, nothing in flight');
    const top = await alice.topUpLedgerChannel({ channelId: ai, amount: 500n }, { timeoutMs: 5_000 }).then(() => 'ok', (e) => `${e.code}: ${e.message}`);
    assert.equal(top, 'ok');
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 1500n);
    const close = await alice.closeLedgerChannel(ai, { timeoutMs: 5_000 }).then(() => 'closed', (e) => `${e.code}: ${e.message}`);
    assert.equal(close, 'closed');
  } finally {
    await w.stop();
  }
});
