/**
 * `exitLedgerChannel`'s cooperative attempt ends with the close's payout, a chain event that a node
 * waiting for several confirmations sees only blocks later. Its default cooperative timeout gets
 * `confirmationWaitMs` more: a close whose payout is still being confirmed is not taken for a
 * silent peer, and the ledger is not challenged for nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDR, testChain, until, world } from './harness.ts';
import { protocols as P } from '../../src/index.ts';

test('exitLedgerChannel waits out the confirmations of the payout before it would go on chain', async () => {
  const cooperativeTimeoutMs = 300;
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 11 }, {
    alice: { chain: testChain({ confirmations: 3 }), fallback: { cooperativeTimeoutMs } },
  });
  // blocks come while the ledger opens (Alice acts on her deposit 3 blocks deep)
  let mining: NodeJS.Timeout | undefined = setInterval(() => w.chain.mine(), 20);
  try {
    const { alice, irene } = w.nodes;
    // no block time read from an injected chain: 12 s assumed, 2 blocks after the first
    assert.equal(alice.confirmationWaitMs, 2 * 12_000);
    const { channelId } = await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n });
    await until(() => irene.getLedgerChannel(channelId)?.status === 'open', 'ledger open at irene');
    clearInterval(mining);
    mining = undefined;
    const exit = alice.exitLedgerChannel(channelId);
    // the close is concluded and paid out on chain, one block deep: Irene (1 confirmation) sees it
    await until(() => irene.getLedgerChannel(channelId)?.status === 'closed', 'closed at irene');
    // Alice does not yet; well past the configured cooperative timeout, she has not gone on chain
    await new Promise((r) => setTimeout(r, 3 * cooperativeTimeoutMs));
    assert.notEqual(alice.getLedgerChannel(channelId)?.status, 'closed');
    assert.equal(alice.engine.objective(P.ledgerExitId(channelId)), undefined, 'no ledger exit started');
    w.chain.mine();
    w.chain.mine();
    assert.deepEqual(await exit, { mode: 'cooperative' });
    assert.equal(alice.getLedgerChannel(channelId)?.status, 'closed');
    assert.equal(w.payout('alice'), 1000n);
  } finally {
    if (mining !== undefined) clearInterval(mining);
    await w.stop();
  }
});
