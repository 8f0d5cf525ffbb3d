/**
 * a third party deposits 1 wei into Alice's ledger just before Alice's top-up deposit
 * (a front-run, or any unrelated deposit landing first). The hub's only top-up objective is the
 * one made from the first deposit it sees (target 1001); Alice's is for target 1500. Nobody can
 * ever match the other's id: Alice's 499 stays uncredited for good.
 * Before, the hub's only top-up objective was the one made from the first deposit it saw (target
 * 1001), Alice's was for 1500, and nobody could ever match the other's id. Now the hub follows
 * Alice's proposal, which the holdings cover. Since the fix for both parties topping up at once,
 * Alice's deposit that the 1 wei beat reverts and is not "reconciled" against it (it could be the
 * hub's own top-up deposit): the hub is credited the 1 wei and Alice's call tries again on top.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import type { ChainService } from '../../src/chain.ts';
import { ADDR, ETH, until, world } from './harness.ts';

test('a 1-wei deposit landing just before the client\'s top-up deposit: the top-up still completes', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 9 });
  try {
    const { irene } = w.nodes;
    const ai = (await w.nodes.alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
    await w.nodes.alice.stop();
    // Alice's node again, on a chain where someone else's 1-wei deposit is mined just before hers
    let fronted = false;
    const chain = new Proxy(w.chain, {
      get(t, k, r) {
        if (k === 'submit') {
          return async (tx: Parameters<ChainService['submit']>[0]) => {
            if (tx.kind === 'deposit' && !fronted) {
              fronted = true;
              await t.submit({ kind: 'deposit', channelId: ai, asset: ETH, expectedHeld: 1000n, amount: 1n });
            }
            return t.submit(tx);
          };
        }
        const v = Reflect.get(t, k, r);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    }) as ChainService;
    const alice = w.make('alice', w.stores.alice, {}, chain);
    await alice.start();
    const r = await alice.topUpLedgerChannel({ channelId: ai, amount: 500n }, { timeoutMs: 8_000 }).then(() => 'ok', (e) => `${e.code}: ${e.message}`);
    assert.ok(fronted);
    assert.equal(r, 'ok');
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 1500n);
  } finally {
    await w.stop();
  }
});
