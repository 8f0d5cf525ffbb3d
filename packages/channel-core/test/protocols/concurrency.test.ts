/**
 * Several virtual channels share the same two ledgers and are funded and defunded
 * concurrently: proposals interleave in one ledger queue, followers countersign them in turn
 * order, and the engine (here the simulation) re-cranks objectives sharing a changed ledger.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getChannelId, protocols as P } from '../../src/index.ts';
import { Sim, alice, bob, d, fundedLedger, irene, rng, virtualPrefund } from './fixtures.ts';

for (const seed of [11, 12, 13]) {
  test(`three virtual channels over shared ledgers, concurrently (seed ${seed})`, () => {
    const sim = new Sim(rng(seed), 0.1);
    const [aiA, aiI] = fundedLedger(alice, irene, 300n, 0n, 1n);
    const [ibI, ibB] = fundedLedger(irene, bob, 300n, 0n, 2n);
    sim.addLedger(alice, aiA);
    sim.addLedger(irene, aiI);
    sim.addLedger(irene, ibI);
    sim.addLedger(bob, ibB);
    const amounts = [50n, 70n, 90n];
    const pre = amounts.map((a, k) => virtualPrefund(alice, irene, bob, a, 0n, BigInt(100 + k)));
    const ids = pre.map((s) => getChannelId(s));
    for (const s of pre) {
      sim.start(alice, P.newVirtualFund({ prefund: s, myAddress: alice.address, toMyRight: sim.ledger(alice, aiA.id) }));
      sim.start(irene, P.newVirtualFund({ prefund: s, myAddress: irene.address, toMyLeft: sim.ledger(irene, aiI.id), toMyRight: sim.ledger(irene, ibI.id), hubPolicy: {} }));
      sim.start(bob, P.newVirtualFund({ prefund: s, myAddress: bob.address, toMyLeft: sim.ledger(bob, ibB.id) }));
    }
    sim.run();
    assert.deepEqual(sim.rejections, []);
    for (const id of ids) for (const a of [alice, irene, bob]) assert.equal(sim.objective(a, P.virtualFundId(id)).status, 'completed');
    const ai = sim.ledger(alice, aiA.id);
    assert.deepEqual(ai.current, sim.ledger(irene, aiA.id).current);
    assert.equal(ai.current.outcome.guarantees.length, 3);
    assert.equal(ai.current.outcome.leader.amount, 300n - 210n);
    assert.equal(sim.ledger(bob, ibB.id).current.outcome.leader.amount, 90n, 'Irene locked 210 toward Bob');

    // a fourth channel now exceeds Irene's free collateral toward Bob: refused
    const tooBig = virtualPrefund(alice, irene, bob, 91n, 0n, 200n);
    const d4 = P.evaluateVirtualFundJoin({ prefund: tooBig, hub: irene.address, toPayer: sim.ledger(irene, aiI.id), toPayee: sim.ledger(irene, ibI.id) });
    assert.equal(d4.ok, false);

    // close all three concurrently, each paying a different amount
    const paid = [10n, 0n, 90n];
    ids.forEach((id, k) => {
      const v = (a: typeof alice) => sim.objective<P.VirtualFundObjective>(a, P.virtualFundId(id)).v;
      sim.start(alice, P.newVirtualDefund({ v: v(alice), toMyRight: sim.ledger(alice, aiA.id), bound: { role: 'payer', maxPaid: paid[k]! }, paid: paid[k]! }));
      sim.start(irene, P.newVirtualDefund({ v: v(irene), toMyLeft: sim.ledger(irene, aiI.id), toMyRight: sim.ledger(irene, ibI.id), bound: { role: 'intermediary' } }));
      sim.start(bob, P.newVirtualDefund({ v: v(bob), toMyLeft: sim.ledger(bob, ibB.id), bound: { role: 'payee', minPaid: paid[k]! } }));
    });
    sim.run();
    assert.deepEqual(sim.rejections, []);
    for (const id of ids) for (const a of [alice, irene, bob]) assert.equal(sim.objective(a, P.virtualDefundId(id)).status, 'completed');
    const total = paid.reduce((x, y) => x + y, 0n);
    const aiEnd = sim.ledger(irene, aiI.id).current.outcome;
    const ibEnd = sim.ledger(irene, ibI.id).current.outcome;
    assert.deepEqual(sim.ledger(alice, aiA.id).current, sim.ledger(irene, aiI.id).current);
    assert.deepEqual(sim.ledger(bob, ibB.id).current, sim.ledger(irene, ibI.id).current);
    assert.equal(aiEnd.guarantees.length + ibEnd.guarantees.length, 0);
    assert.equal(aiEnd.leader.amount, 300n - total);
    assert.equal(aiEnd.follower.amount, total);
    assert.equal(ibEnd.leader.amount, 300n - total);
    assert.equal(ibEnd.follower.amount, total);
    assert.equal(ibEnd.follower.destination, d(bob));
  });
}
