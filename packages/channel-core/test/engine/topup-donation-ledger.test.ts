/**
 * A 1-wei deposit by anyone into an open client ledger. Before, each node made a top-up crediting
 * the other party; the follower rejected the leader's proposal and both stayed active for good,
 * blocking every later proposal on the ledger: no payment, no top-up, no cooperative close. Now
 * the leader credits it to the follower and the ledger goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { ADDR, ETH, openLedgersAtIrene, world } from './harness.ts';

test('after a 1-wei donation into L_AI the client can still pay, top up and close cooperatively', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 9 });
  try {
    const { alice } = w.nodes;
    const { ai } = await openLedgersAtIrene(w, 1000n, 800n);
    await w.chain.submit({ kind: 'deposit', channelId: ai as ChannelId, asset: ETH, expectedHeld: 1000n, amount: 1n });
    await new Promise((r) => setTimeout(r, 500));
    const v = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 8_000 }).then((x) => x.channelId, (e) => `${e.code}`);
    assert.ok(v.startsWith('0x'), `no payment possible: ${v}`);
    await alice.closeVirtualChannel(v as ChannelId);
    const ex = await alice.exitLedgerChannel(ai as ChannelId, { cooperativeTimeoutMs: 3_000 }).then((x) => x.mode, (e) => `${e.code}: ${e.message}`);
    assert.equal(ex, 'cooperative');
  } finally {
    await w.stop();
  }
});
