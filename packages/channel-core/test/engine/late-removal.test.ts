/**
 * A guarantee removal proposed by a virtual defund that ended before the hub countersigned it.
 * V's final state is signed by all three; Alice (L_AI's leader) proposes the removal of V's
 * guarantee from L_AI, and the proposal is lost on its way (her outbox gave up on it). V is then
 * concluded on chain with the final state, which ends every defund of V. The removal is still
 * first in Alice's L_AI queue, and her removal by proof is that same proposal, so she waits for
 * its countersignature; the hub ignores a removal of an ended defund, and nobody re-sent it: L_AI
 * stalled until one of them exited it on chain. Now Alice's removal by proof sends that queued
 * removal under its own id, and the hub's removal by proof countersigns it (V's outcome on chain
 * is the final state's split).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P, sameAddress } from '../../src/index.ts';
import { toChainTransaction } from '../../src/engine/index.ts';
import { getLedgerData } from '../../src/engine/records.ts';
import { ADDR, dropSends, ETH, openPaidV, until, world } from './harness.ts';

test("a removal proposed by a defund that ended before the hub countersigned it: sent again by the leader's removal by proof and countersigned; L_AI stays open", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 61 }, {
    alice: { objectiveTimeoutMs: 300 },
    irene: { objectiveTimeoutMs: 300 },
    bob: { objectiveTimeoutMs: 300 },
  });
  try {
    const { alice, irene } = w.nodes;
    const { ai, v } = await openPaidV(w, 100n);

    // Alice's removal of V's guarantee from L_AI is lost on its way to the hub, once
    let lost = 0;
    dropSends(w, 'alice', (to, m) => lost === 0 && sameAddress(to, ADDR.irene) && m?.kind === 'ledgerProposal' && m.objectiveId.startsWith('VirtualDefund-') && ++lost === 1);
    const closing = alice.closeVirtualChannel(v, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await until(() => lost === 1, 'Alice proposes the removal');
    const defund = alice.engine.activeObjectives().find((o) => o.type === 'virtualDefund') as P.VirtualDefundObjective;
    const final = P.latestSupportedState(defund.v)!;
    assert.equal(final.state.isFinal, true, 'the final state is signed by all');

    // V is concluded on chain with it: every defund of V ends. Her removal is still queued in L_AI
    // when her defund ends (read as that end commits: her removal by proof may have it countersigned
    // a few milliseconds later, before a poll would look)
    let queuedAtEnd: number | undefined;
    const off = alice.engine.onCommitted((e) => {
      if ((e.type === 'objectiveFailed' || e.type === 'objectiveCompleted') && e.objectiveId === defund.id) queuedAtEnd = getLedgerData(w.stores.alice, ai)?.ledger?.queue.length;
    });
    await w.chain.submit(toChainTransaction({ kind: 'conclude', channelId: v, candidate: { state: { ...defund.v.fixedPart, ...final.state }, signatures: final.signatures as never } }));
    await until(() => !alice.engine.activeObjectives().some((o) => o.type === 'virtualDefund') && !irene.engine.activeObjectives().some((o) => o.type === 'virtualDefund'), 'the defunds end');
    void closing;
    off();
    assert.equal(queuedAtEnd, 1, 'her removal waits in L_AI when her defund ends');

    // the guarantee leaves L_AI by the removal Alice proposed: 100 to Irene, 200 back to Alice
    await until(() => alice.getLedgerChannel(ai)?.guarantees === 0 && irene.getLedgerChannel(ai)?.guarantees === 0, "V's guarantee removed from L_AI", 15_000);
    assert.equal(alice.getLedgerChannel(ai)?.status, 'open');
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 900n);
    assert.equal(irene.getLedgerChannel(ai)?.myBalance, 100n);
    assert.ok(!w.events.alice.some((x) => x.type === 'fallbackStarted' && x.channelId === ai), 'L_AI never went on chain');
    assert.ok(!w.events.irene.some((x) => x.type === 'fallbackStarted' && x.channelId === ai), 'L_AI never went on chain');
    assert.equal(await w.chain.holdings(ETH, ai), 1000n);
  } finally {
    await w.stop();
  }
});
