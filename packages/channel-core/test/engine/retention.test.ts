/**
 * History retention (`Node.pruneHistory`): the records of virtual channels closed long enough
 * ago are deleted at every node, earnings and open channels are untouched, a channel a ledger
 * still guarantees is kept, and a replayed opening message for a pruned channel is ignored —
 * the channel id is remembered, so no hub ever guarantees a finished channel again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, type State, getChannelId, protocols as P, signState } from '../../src/index.ts';
import { encodeWireMessage } from '../../src/engine/index.ts';
import { putVirtualData, type VirtualData } from '../../src/engine/records.ts';
import { fullState } from '../../src/protocols/channel.ts';
import { ADDR, ETH, KEYS, openLedgers, until, world } from './harness.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('pruneHistory deletes closed channels at every node, keeps open and guaranteed ones, and a replayed prefund is ignored', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 11 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ib } = await openLedgers(w, 10_000n, 5_000n);
    const ids: ChannelId[] = [];
    for (const amount of [100n, 200n, 300n]) ids.push((await alice.createVirtualChannel({ payee: ADDR.bob, amount })).channelId as ChannelId);
    const [c1, c2, open] = ids as [ChannelId, ChannelId, ChannelId];
    await until(() => ids.every((v) => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded'), 'funded everywhere');
    for (const [v, n] of [[c1, 7n], [c2, 11n], [open, 5n]] as const) assert.equal(bob.receiveVoucher(alice.pay(v, n)).kind, 'accepted');
    // the prefund Alice signed for c1, to replay once c1 is pruned
    const fund = alice.engine.objective(P.virtualFundId(c1))!.objective as P.VirtualFundObjective;
    const prefund: State = { ...fullState(fund.v, fund.v.states.at(-1)!.state), turnNum: 0 };
    await alice.closeVirtualChannel(c1);
    await bob.closeVirtualChannel(c2);
    await until(() => [alice, irene, bob].every((n) => n.getVirtualChannel(c1)?.status === 'closed' && n.getVirtualChannel(c2)?.status === 'closed'), 'closed everywhere');
    await until(() => irene.getLedgerChannel(ib)?.locked === 300n && bob.getLedgerChannel(ib)?.locked === 300n, 'guarantees removed');
    await w.net.idle(5_000).catch(() => {});
    const earned = bob.getPayeeEarnings();
    assert.deepEqual(earned, [{ asset: ETH, amount: 23n }]);
    assert.deepEqual(irene.getVirtualChannelCounts(), { closed: 2, funded: 1 });

    // Irene: a channel the ledger still guarantees is kept, whatever its record says (white
    // box: the open channel's record made to look closed, long ago; restored after)
    const openAtIrene = w.stores.irene.getChannel(open)!;
    putVirtualData(w.stores.irene, { ...(openAtIrene.data as VirtualData), status: 'closed' }, 0);
    await sleep(5);
    // one candidate per pass: the kept one is the oldest, and the passes go on past it
    assert.deepEqual(await irene.pruneHistory({ olderThanMs: 0, batch: 1 }), { channels: 2, objectives: 4, kept: 1, forgotten: 0 });
    putVirtualData(w.stores.irene, openAtIrene.data as VirtualData, openAtIrene.updatedAt);

    // Alice and Bob (records must be older than olderThanMs: 0 → now)
    assert.deepEqual(await alice.pruneHistory({ olderThanMs: 60_000 }), { channels: 0, objectives: 0, kept: 0, forgotten: 0 }, 'nothing that old yet');
    for (const n of [alice, bob]) assert.deepEqual(await n.pruneHistory({ olderThanMs: 0, batch: 1 }), { channels: 2, objectives: 4, kept: 0, forgotten: 0 });
    for (const [name, n] of [['alice', alice], ['irene', irene], ['bob', bob]] as const) {
      const st = w.stores[name];
      for (const v of [c1, c2]) {
        assert.equal(n.getVirtualChannel(v), undefined, `${name}: ${v} pruned`);
        assert.equal(st.getVoucher(v, name === 'alice' ? 'payer' : 'payee'), undefined, `${name}: vouchers of ${v} pruned`);
        for (const id of [P.virtualFundId(v), P.virtualDefundId(v)]) assert.equal(st.getObjective(id), undefined, `${name}: ${id} pruned`);
        assert.equal(st.isRetired!(v), true);
      }
      assert.equal(n.getVirtualChannel(open)?.status, 'funded', `${name}: the open channel is untouched`);
      assert.deepEqual(n.getVirtualChannelCounts(), { funded: 1 });
      assert.deepEqual(n.getPrunedHistory(), { channels: 2, objectives: 4 });
      assert.deepEqual(await n.pruneHistory({ olderThanMs: 0 }), { channels: 0, objectives: 0, kept: 0, forgotten: 0 }, `${name}: a second pass finds nothing`);
    }
    // earnings unchanged: the pruned channels' amounts were carried into a total (also as read
    // afresh, by a node started on the same store)
    assert.deepEqual(bob.getPayeeEarnings(), earned);
    await bob.stop();
    const bob2 = w.make('bob', w.stores.bob);
    await bob2.start();
    assert.deepEqual(bob2.getPayeeEarnings(), earned);

    // the open channel still pays and closes
    assert.equal(bob2.receiveVoucher(alice.pay(open, 4n)).kind, 'accepted');
    assert.equal((await alice.closeVirtualChannel(open)).paid, 9n);

    // A replayed prefund: Alice's signed turn 0 of c1 again. Irene must not take it for a new
    // channel (she would lock 100 for a channel whose final state is out there). The control:
    // a prefund for a channel never seen before is joined.
    const fresh: State = { ...prefund, channelNonce: prefund.channelNonce + 1_000n };
    const created = (): string[] => w.events.irene.flatMap((e) => (e.type === 'objectiveCreated' ? [e.objectiveId] : []));
    const before = created().length;
    await alice.stop();
    const raw = w.net.service(ADDR.alice);
    await raw.send(ADDR.irene, encodeWireMessage({ kind: 'signedState', objectiveId: P.virtualFundId(c1), state: prefund, signatures: [signState(prefund, KEYS.alice)] }));
    const freshId = P.virtualFundId(getChannelId(fresh));
    await raw.send(ADDR.irene, encodeWireMessage({ kind: 'signedState', objectiveId: freshId, state: fresh, signatures: [signState(fresh, KEYS.alice)] }));
    await until(() => created().includes(freshId), 'the control prefund joined');
    assert.deepEqual(created().slice(before), [freshId], 'the replayed prefund of a pruned channel started nothing');
    assert.equal(w.stores.irene.getObjective(P.virtualFundId(c1)), undefined);
    assert.equal(irene.getVirtualChannel(c1), undefined);
  } finally {
    await w.stop();
  }
});

test('pruneHistory deletes closed ledgers with their objectives; the open ones stay, and a new ledger with the same peer opens', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 12 });
  try {
    const { alice, irene } = w.nodes;
    const { ai, ib } = await openLedgers(w, 1_000n, 500n);
    await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'open at irene');
    await alice.closeLedgerChannel(ai);
    await until(() => irene.getLedgerChannel(ai)?.status === 'closed', 'closed at irene');
    await w.net.idle(2_000).catch(() => {});
    await sleep(5);
    for (const n of [alice, irene]) {
      assert.deepEqual(await n.pruneHistory({ olderThanMs: 0 }), { channels: 1, objectives: 2, kept: 0, forgotten: 0 }, 'the ledger, its funding and defunding');
      assert.equal(n.getLedgerChannel(ai), undefined);
      assert.equal(n.engine.ledgerChannels().some((l) => l.ledgerId.toLowerCase() === ai.toLowerCase()), false, 'out of the ledger cache');
      for (const id of [P.directFundId(ai), P.directDefundId(ai)]) assert.equal(n.engine.objective(id), undefined);
    }
    assert.equal(irene.getLedgerChannel(ib)?.status, 'open', 'the open ledger stays');
    // Alice opens a new ledger with Irene (a new channel id)
    const again = await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 300n });
    await until(() => irene.getLedgerChannel(again.channelId)?.status === 'open', 'the new ledger opened');
  } finally {
    await w.stop();
  }
});
