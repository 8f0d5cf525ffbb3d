/**
 * Alice (payer), Irene (hub) and Bob (payee) as full nodes over the in-memory network (random
 * delays, hence reordering) and the in-memory chain: open ledgers, open a virtual channel, pay,
 * close it, top up, close the ledgers; every balance checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError } from '../../src/index.ts';
import { openMemoryStore } from '../../src/sqlite/index.ts';
import { ADDR, openLedgers, until, world } from './harness.ts';

test('open ledgers, virtual channel, vouchers, virtual defund, top-up, withdraw', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 10, seed: 11 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai, ib } = await openLedgers(w, 1000n, 800n);
    await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'irene sees both ledgers open');
    // the hub's relay check: a live ledger with each of them, none with a stranger
    assert.deepEqual([irene.engine.hasLiveLedgerWith(ADDR.alice), irene.engine.hasLiveLedgerWith(ADDR.bob), irene.engine.hasLiveLedgerWith(ADDR.irene)], [true, true, false]);
    assert.equal(w.chain.allEvents.filter((e) => e.type === 'Deposited').length, 2);
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 1000n);
    assert.equal(bob.getLedgerChannel(ib)?.counterpartyBalance, 800n);

    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'bob sees V funded');
    assert.equal(alice.getLedgerChannel(ai)?.locked, 300n);
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 700n);
    await until(() => irene.getLedgerChannel(ib)?.locked === 300n, 'L_IB guarantee agreed');
    assert.equal(irene.getLedgerChannel(ib)?.myBalance, 500n);

    let last;
    for (let i = 0; i < 25; i++) {
      last = alice.pay(v, 4n);
      const r = bob.receiveVoucher(last, { price: 4n });
      assert.equal(r.kind, 'accepted');
    }
    assert.equal(bob.getVirtualChannel(v)?.paid, 100n);
    assert.equal(alice.getVirtualChannel(v)?.paid, 100n);
    assert.equal(bob.receiveVoucher(last!, { price: 4n }).kind, 'duplicate');

    const closed = await bob.closeVirtualChannel(v);
    assert.equal(closed.paid, 100n);
    await until(() => alice.getVirtualChannel(v)?.status === 'closed' && irene.getVirtualChannel(v)?.status === 'closed', 'everyone sees V closed');
    await until(() => alice.getLedgerChannel(ai)?.locked === 0n && irene.getLedgerChannel(ai)?.locked === 0n, 'L_AI guarantee removed');
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 900n);
    assert.equal(irene.getLedgerChannel(ai)?.myBalance, 100n);
    assert.equal(bob.getLedgerChannel(ib)?.myBalance, 100n);
    assert.equal(irene.getLedgerChannel(ib)?.myBalance, 700n);
    assert.throws(() => alice.pay(v, 1n), /closing or closed/);

    // Bob tops up his ledger with the hub.
    await bob.topUpLedgerChannel({ channelId: ib, amount: 50n });
    await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === 150n, 'irene credits the top-up');
    assert.equal(bob.getLedgerChannel(ib)?.myBalance, 150n);

    // The hub (the ledger's follower) tops up its collateral; Bob follows the deposit and credits it.
    await irene.topUpLedgerChannel({ channelId: ib, amount: 30n });
    await until(() => bob.getLedgerChannel(ib)?.counterpartyBalance === 730n, 'bob credits the hub top-up');
    assert.equal(irene.getLedgerChannel(ib)?.myBalance, 730n);

    await Promise.all([alice.closeLedgerChannel(ai), bob.closeLedgerChannel(ib)]);
    await until(() => irene.getLedgerChannels().every((l) => l.status === 'closed'), 'irene sees the ledgers closed');
    assert.equal(w.payout('alice'), 900n);
    assert.equal(w.payout('bob'), 150n);
    assert.equal(w.payout('irene'), 830n);
    assert.equal(w.payout('alice') + w.payout('bob') + w.payout('irene'), 1000n + 800n + 50n + 30n, 'nothing created or lost');
    // each closed ledger records what its close paid us
    assert.deepEqual([alice.getLedgerChannel(ai)?.paidOut, bob.getLedgerChannel(ib)?.paidOut, irene.getLedgerChannel(ai)?.paidOut, irene.getLedgerChannel(ib)?.paidOut], [900n, 150n, 100n, 730n]);
    assert.deepEqual([irene.engine.hasLiveLedgerWith(ADDR.alice), irene.engine.hasLiveLedgerWith(ADDR.bob)], [false, false], 'closed ledgers relay nothing');
    for (const n of [alice, irene, bob]) assert.deepEqual(n.engine.activeObjectives(), []);
  } finally {
    await w.stop();
  }
});

test('stopping a node rejects its pending calls with ABORTED; an aborted signal too', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 12 });
  try {
    const { alice, irene } = w.nodes;
    const completed: number[] = [];
    alice.on('objectiveCompleted', (e) => completed.push(e.durationMs));
    const { ai } = await openLedgers(w, 100n, 100n);
    assert.ok(completed.length > 0 && completed.every((d) => d >= 0), 'completion carries a duration');
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'open');
    await irene.stop();
    await w.net.service(ADDR.irene).stop();
    const ctl = new AbortController();
    const aborted = alice.createVirtualChannel({ payee: ADDR.bob, amount: 10n }, { signal: ctl.signal, timeoutMs: 60_000 });
    ctl.abort();
    await assert.rejects(aborted, (e: unknown) => isSluiceError(e, 'ABORTED'));
    const pending = alice.createVirtualChannel({ payee: ADDR.bob, amount: 10n }, { timeoutMs: 60_000 });
    const t = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    await alice.stop();
    await assert.rejects(pending, (e: unknown) => isSluiceError(e, 'ABORTED'));
    assert.ok(Date.now() - t < 5_000);
  } finally {
    await w.stop();
  }
});

// A node that stops while its last group's fsync is pending: the engine emits that group's events
// once durable, during its stop. The node unsubscribed from the engine before stopping it, so those
// events never reached its listeners — `sluice-hub settle --wait` now and then lost its payout line.
test("stopping a node delivers its last group's events, made durable during the stop, to its listeners", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 14 });
  try {
    let armed = false;
    const pending: (() => void)[] = [];
    const base = openMemoryStore();
    const gated = new Proxy(base, {
      get(t, k) {
        if (k === 'syncAsync') return () => (armed ? new Promise<void>((r) => pending.push(r)) : Promise.resolve());
        const v = Reflect.get(t, k) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const node = w.make('mallory', gated, { policy: {} });
    await node.start();
    const seen: string[] = [];
    node.onAny((e) => seen.push(e.type));
    armed = true;
    const opening = node.createLedgerChannel({ counterparty: ADDR.irene, deposit: 10n }, { timeoutMs: 1_000 }).catch((e: unknown) => e);
    await until(() => pending.length > 0, 'the first group waits for its fsync');
    assert.ok(!seen.includes('objectiveCreated'), 'not delivered before it is durable');
    const stopping = node.stop();
    await new Promise((r) => setTimeout(r, 20));
    armed = false;
    for (const r of pending.splice(0)) r();
    await stopping;
    assert.ok(seen.includes('objectiveCreated'), `delivered during the stop: ${seen.join(', ')}`);
    assert.ok((await opening) instanceof Error, 'the call ends with the node');
  } finally {
    await w.stop();
  }
});
