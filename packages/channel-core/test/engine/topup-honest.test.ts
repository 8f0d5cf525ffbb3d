/** Honest top-ups after the follower stopped guessing from deposits: by the follower, and by the leader racing a virtual fund. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { ADDR, ETH, openLedgersAtIrene, until, world } from './harness.ts';

test('follower (hub) tops up L_IB', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 3 });
  try {
    const { irene, bob } = w.nodes;
    const { ib } = await openLedgersAtIrene(w, 1000n, 800n);
    await irene.topUpLedgerChannel({ channelId: ib as ChannelId, amount: 200n }, { timeoutMs: 8_000 });
    await until(() => bob.getLedgerChannel(ib as ChannelId)?.counterpartyBalance === 1000n, 'credited at Bob');
    assert.equal(await w.chain.holdings(ETH, ib as ChannelId), 1000n);
  } finally {
    await w.stop();
  }
});

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`leader top-up racing a virtual fund (seed ${seed})`, async () => {
    const w = await world({ minDelayMs: 0, maxDelayMs: 6, seed });
    try {
      const { alice, irene } = w.nodes;
      const { ai } = await openLedgersAtIrene(w, 1000n, 800n);
      const [v] = await Promise.all([
        alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 8_000 }),
        alice.topUpLedgerChannel({ channelId: ai as ChannelId, amount: 500n }, { timeoutMs: 8_000 }),
      ]);
      await until(() => irene.getLedgerChannel(ai as ChannelId)?.counterpartyBalance === 1200n, 'credited at the hub');
      const l = alice.getLedgerChannel(ai as ChannelId)!;
      assert.equal(l.myBalance, 1200n);
      assert.equal(l.locked, 300n);
      assert.ok(v.channelId);
    } finally {
      await w.stop();
    }
  });
}
