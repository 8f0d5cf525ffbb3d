/**
 * A guarantee proposal that arrives after its virtual channel went on chain (found by bench:chaos).
 * Alice proposes V's guarantee in L_AI in time, but it reaches the hub only after V was challenged
 * and the hub gave V up (`CHANNEL_CLOSING`). The hub used to ignore it, and the proposal stayed
 * first in Alice's L_AI queue for good: every later proposal on L_AI (guarantee removals, a
 * top-up) waited behind it until the ledger went on chain. Now the hub countersigns it — exactly
 * the guarantee it agreed to at V's prefund — Alice takes the countersignature although her open
 * has ended too, and the guarantee leaves L_AI by proof once V finalizes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P, type ChannelId, sameAddress } from '../../src/index.ts';
import { getLedgerData } from '../../src/engine/records.ts';
import { ADDR, challengeOpeningV, dropSends, ETH, expectGuaranteeRemovedByProof, holdSends, openLedgersAtIrene, until, world } from './harness.ts';

test("a guarantee proposed before V went on chain and delivered after: the hub countersigns it and it leaves by proof; the ledger's queue moves on", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 53 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai: aiRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;

    // Alice's guarantee proposal for V is held on its way to the hub
    const held = holdSends(w, 'alice', (to, m) => sameAddress(to, ADDR.irene) && m.kind === 'ledgerProposal' && m.objectiveId.startsWith('VirtualFund-'));

    const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await until(() => held.length > 0, 'Alice proposes the guarantee');
    const v = (alice.engine.activeObjectives().find((o) => o.type === 'virtualFund') as P.VirtualFundObjective).v.id;
    // Bob challenges V on chain with the prefund: the hub and Alice give V up
    await until(() => bob.engine.activeObjectives().some((o) => o.type === 'virtualFund' && P.latestSupportedState(o.v) !== undefined), 'Bob holds the prefund');
    await challengeOpeningV(w, 'bob', bob, v);
    await until(() => w.events.irene.some((x) => x.type === 'objectiveFailed' && x.channelId === v), 'the hub gives V up', 15_000);
    await until(() => w.events.alice.some((x) => x.type === 'fallbackStarted' && x.channelId === v), 'Alice follows V on chain');
    assert.equal((await opening as { code?: string }).code, 'CHANNEL_CLOSING');
    assert.equal(getLedgerData(w.stores.alice, ai)?.ledger?.queue.length, 1, 'her proposal waits in L_AI');

    // the proposal arrives now: countersigned, and the guarantee leaves L_AI by proof once V finalizes
    for (const f of held.splice(0)) await f();
    await until(() => getLedgerData(w.stores.alice, ai)?.ledger?.queue.length === 0, 'the proposal is agreed');
    await expectGuaranteeRemovedByProof(w, ai, 1000n);

    // and L_AI takes new proposals: a top-up is credited
    await alice.topUpLedgerChannel({ channelId: ai, amount: 200n }, { timeoutMs: 10_000 });
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 1200n);
    assert.equal(await w.chain.holdings(ETH, ai), 1200n);
  } finally {
    await w.stop();
  }
});

test("a guarantee proposal lost for good (the outbox gave up) before V went on chain: the next objective stalled behind it sends it again; the hub countersigns it and the ledger's queue moves on", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 54 }, { alice: { objectiveTimeoutMs: 300 } });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai: aiRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;

    // Alice's guarantee proposal for V never reaches the hub (lost once; nothing of hers re-sends it
    // after her open ends)
    let lost = 0;
    dropSends(w, 'alice', (to, m) => lost === 0 && sameAddress(to, ADDR.irene) && m?.kind === 'ledgerProposal' && m.objectiveId.startsWith('VirtualFund-') && ++lost === 1);
    const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await until(() => lost === 1, 'Alice proposes the guarantee');
    const v = (alice.engine.activeObjectives().find((o) => o.type === 'virtualFund') as P.VirtualFundObjective).v.id;
    await until(() => bob.engine.activeObjectives().some((o) => o.type === 'virtualFund' && P.latestSupportedState(o.v) !== undefined), 'Bob holds the prefund');
    await challengeOpeningV(w, 'bob', bob, v);
    await until(() => w.events.alice.some((x) => x.type === 'fallbackStarted' && x.channelId === v), 'Alice follows V on chain');
    assert.equal((await opening as { code?: string }).code, 'CHANNEL_CLOSING');
    assert.equal(getLedgerData(w.stores.alice, ai)?.ledger?.queue.length, 1, 'her proposal waits in L_AI');

    // a top-up queues behind it and stalls: its stall sends the orphaned proposal again
    await alice.topUpLedgerChannel({ channelId: ai, amount: 200n }, { timeoutMs: 15_000 });
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 900n, 'V\'s 300 still guaranteed, the 200 credited');
    assert.equal(irene.getLedgerChannel(ai)?.counterpartyBalance, 900n);
    await expectGuaranteeRemovedByProof(w, ai, 1200n);
  } finally {
    await w.stop();
  }
});
