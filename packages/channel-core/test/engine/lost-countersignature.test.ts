/**
 * A follower's countersignature lost for good (its outbox gave up: the leader was away longer than
 * the expiry). The hub countersigns Alice's removal of V's guarantee from L_AI; its virtual defund
 * is then complete, and the countersignature never reaches Alice. Alice's defund re-sends the
 * proposal on each stall, but the hub ignored a proposal of an ended defund, so Alice's close
 * could only end on chain after her peer timeout. Now a follower answers a proposal it already
 * agreed to with its countersignature of the ledger's current state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sameAddress } from '../../src/index.ts';
import { ADDR, dropSends, openPaidV, until, world } from './harness.ts';

test("a lost countersignature is sent again when the leader re-sends the proposal the follower agreed to", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 71 }, { alice: { objectiveTimeoutMs: 300 } });
  try {
    const { alice, irene } = w.nodes;
    const { ai, v } = await openPaidV(w, 100n);

    // the hub's countersignature of Alice's removal from L_AI is lost, once
    let lost = 0;
    dropSends(w, 'irene', (to, m) => lost === 0 && sameAddress(to, ADDR.alice) && m?.kind === 'ledgerCountersignature' && m.objectiveId.startsWith('VirtualDefund-') && ++lost === 1);
    const { paid } = await alice.closeVirtualChannel(v, { timeoutMs: 15_000 });
    assert.equal(lost, 1);
    assert.equal(paid, 100n);
    await until(() => irene.getLedgerChannel(ai)?.guarantees === 0 && alice.getLedgerChannel(ai)?.guarantees === 0, 'the guarantee is gone at both ends');
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 900n);
    assert.ok(!w.events.alice.some((x) => x.type === 'fallbackStarted'), 'nothing went on chain');
  } finally {
    await w.stop();
  }
});
