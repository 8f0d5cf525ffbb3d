/**
 * The engine's ledger holdings (what the follower checks a top-up proposal against, and the leader
 * re-checks after a top-up) had one entry per ledger ever seen, for good. An entry now goes when
 * the ledger can no longer be topped up: closing, closed (or failed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { ADDR, until, world } from './harness.ts';

test('the holdings entry of a ledger goes when the ledger closes', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 9 });
  try {
    const { alice, irene } = w.nodes;
    const ai = (await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
    await alice.topUpLedgerChannel({ channelId: ai, amount: 500n }, { timeoutMs: 8_000 });
    await until(() => irene.getLedgerChannel(ai)?.counterpartyBalance === 1500n, 'credited at the hub');
    // both have seen the ledger's deposits
    assert.equal(alice.engine.holdingsTracked, 1);
    assert.equal(irene.engine.holdingsTracked, 1);
    await alice.closeLedgerChannel(ai, { timeoutMs: 8_000 });
    await until(() => irene.getLedgerChannel(ai)?.status === 'closed', 'closed at the hub');
    assert.equal(alice.engine.holdingsTracked, 0, 'entry kept at the leader');
    assert.equal(irene.engine.holdingsTracked, 0, 'entry kept at the follower');
  } finally {
    await w.stop();
  }
});
