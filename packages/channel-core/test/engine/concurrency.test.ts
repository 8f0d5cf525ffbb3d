/**
 * 20 virtual channels opened and closed concurrently on the same two ledgers, over a network
 * with random delays (reordering) and duplicate deliveries; balances conserved at every
 * party, and the hub never locks more collateral than it has.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError, signVoucher } from '../../src/index.ts';
import { getLedgerData } from '../../src/engine/index.ts';
import { putLedgerData } from '../../src/engine/records.ts';
import { openMemoryStore } from '../../src/sqlite/index.ts';
import { ADDR, ETH, KEYS, openLedgers, openLedgersAtIrene, until, world } from './harness.ts';

const N = 20;

test(`${N} virtual channels opened and closed concurrently on the same ledgers`, async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 15, duplicateRate: 0.1, seed: 2024 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai, ib } = await openLedgersAtIrene(w, 10_000n, 5_000n);

    // amounts 100..290 (sum 3900 <= both Alice's 10 000 and Irene's 5 000 collateral)
    const amounts = Array.from({ length: N }, (_, i) => BigInt(100 + 10 * i));
    const opened = await Promise.all(amounts.map((amount) => alice.createVirtualChannel({ payee: ADDR.bob, amount })));
    const ids = opened.map((o) => o.channelId);
    assert.equal(new Set(ids).size, N);
    await until(() => ids.every((v) => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded'), 'all funded everywhere');
    // the in-memory index of open channels agrees with a scan of the store, at every node
    const openIds = (n: typeof alice): string[] => n.getVirtualChannels({ open: true }).map((v) => v.channelId).sort();
    for (const n of [alice, irene, bob]) assert.deepEqual(openIds(n), n.getVirtualChannels().filter((v) => v.status !== 'closed' && v.status !== 'failed').map((v) => v.channelId).sort());
    assert.equal(openIds(irene).length, N);
    assert.deepEqual([alice.getVoucherLedgerSizes(), bob.getVoucherLedgerSizes()], [{ payer: N, payee: 0 }, { payer: 0, payee: N }]);
    const locked = amounts.reduce((s, a) => s + a, 0n);
    await until(() => irene.getLedgerChannel(ib)?.locked === locked && irene.getLedgerChannel(ai)?.locked === locked, 'all guarantees agreed');
    assert.equal(alice.getLedgerChannel(ai)?.guarantees, N);
    assert.equal(bob.getLedgerChannel(ib)?.guarantees, N);
    // each ledger record keeps its guarantees beside it, a row each, and reads back whole
    for (const [n, id] of [['alice', ai], ['irene', ai], ['irene', ib], ['bob', ib]] as const) {
      const store = w.stores[n];
      const raw = store.getChannel(id)!.data as { ledger: { current: { outcome: { guarantees: unknown } } } };
      assert.deepEqual(raw.ledger.current.outcome.guarantees, { storedApart: 'guarantees' });
      assert.equal(store.listChannelParts!(id).length, N);
      assert.deepEqual(getLedgerData(store, id), w.nodes[n].engine.ledgerChannel(id), `${n}'s record of ${id} reads back as its engine holds it`);
    }
    // a record written whole (by an older version) reads unchanged, and is split at its next write
    const whole = irene.engine.ledgerChannel(ib)!;
    const old = openMemoryStore();
    old.putChannel({ channelId: ib, kind: 'ledger', data: whole, updatedAt: 0 });
    assert.deepEqual(getLedgerData(old, ib), whole);
    putLedgerData(old, whole, 1);
    assert.equal(old.listChannelParts!(ib).length, N);
    assert.deepEqual(getLedgerData(old, ib), whole);
    old.close();

    // pay i+1 on channel i, then close them all at once, half by the payer, half by the payee
    let total = 0n;
    ids.forEach((v, i) => {
      for (let k = 0; k <= i; k++) assert.equal(bob.receiveVoucher(alice.pay(v, 1n)).kind, 'accepted');
      total += BigInt(i + 1);
    });
    // Bob's earnings, kept incrementally: first from the open channels' vouchers...
    const earned = (): bigint => bob.getPayeeEarnings().reduce((s, e) => s + e.amount, 0n);
    assert.equal(earned(), total);
    const closes = await Promise.all(ids.map((v, i) => (i % 2 === 0 ? alice : bob).closeVirtualChannel(v)));
    assert.deepEqual(closes.map((c) => c.paid), ids.map((_, i) => BigInt(i + 1)));
    await until(
      () => ids.every((v) => [alice, irene, bob].every((n) => n.getVirtualChannel(v)?.status === 'closed')),
      'all closed everywhere',
    );
    await until(() => [alice, irene].every((n) => n.getLedgerChannel(ai)?.locked === 0n) && [irene, bob].every((n) => n.getLedgerChannel(ib)?.locked === 0n), 'guarantees removed');

    // conservation: each ledger's total unchanged; Alice paid `total` to Irene, Irene paid it to Bob
    const la = alice.getLedgerChannel(ai)!;
    const li = irene.getLedgerChannel(ai)!;
    assert.equal(la.myBalance, 10_000n - total);
    assert.equal(la.counterpartyBalance, total);
    assert.equal(li.myBalance, la.counterpartyBalance);
    assert.equal(li.turnNum, la.turnNum, 'both sides agree on the ledger turn');
    const lb = bob.getLedgerChannel(ib)!;
    assert.equal(lb.myBalance, total);
    assert.equal(lb.counterpartyBalance, 5_000n - total);
    assert.equal(irene.getLedgerChannel(ib)!.turnNum, lb.turnNum);
    assert.equal(li.myBalance + irene.getLedgerChannel(ib)!.myBalance, 5_000n, 'the hub nets zero');
    for (const n of [alice, irene, bob]) assert.deepEqual(n.engine.activeObjectives(), [], 'no objective left behind');
    for (const n of [alice, irene, bob]) assert.deepEqual(openIds(n), [], 'no open channel left in the index');
    // closed channels leave the in-memory voucher ledgers (a long-lived provider would otherwise
    // keep every channel it ever had); a late voucher for one is still refused as closing
    for (const n of [alice, irene, bob]) assert.deepEqual(n.getVoucherLedgerSizes(), { payer: 0, payee: 0 });
    const late = bob.receiveVoucher(signVoucher(ids[N - 1]!, BigInt(N + 5), KEYS.alice));
    assert.equal(late.kind === 'rejected' ? late.error.code : late.kind, 'CHANNEL_CLOSING');
    // ...then from the closed ones' final amounts; the same as a scan of every record
    assert.deepEqual(bob.getPayeeEarnings(), [{ asset: ETH, amount: total }]);
    assert.equal(bob.getVirtualChannels().filter((v) => v.role === 'payee').reduce((s, v) => s + v.paid, 0n), total);
    assert.deepEqual(alice.getPayeeEarnings(), [], 'the payer earned nothing');
    assert.ok(w.net.stats().duplicates + w.net.stats().retried > 0, 'duplicates or retries were exercised');
  } finally {
    await w.stop();
  }
});

for (const seed of [5, 17, 23]) test(`the hub refuses virtual channels beyond its free collateral, even when asked concurrently (seed ${seed})`, async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 20, seed });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ib } = await openLedgers(w, 1_000n, 250n);
    await until(() => irene.getLedgerChannel(ib)?.status === 'open', 'ledger open at irene');
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n }, { timeoutMs: 10_000 })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    assert.equal(ok, 2, 'only two channels of 100 fit in 250 of collateral');
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(isSluiceError(r.reason, 'HUB_POLICY_REJECTED'), String(r.reason)); // told, not timed out
    }
    assert.ok(w.events.irene.some((e) => e.type === 'messageRejected' && e.code === 'HUB_POLICY_REJECTED'));
    await until(() => irene.getLedgerChannel(ib)?.locked === 200n, 'hub locked 200');
    assert.equal(bob.getLedgerChannel(ib)!.counterpartyBalance, 50n);
    // the refused channels are failed at Alice and reserve nothing: a channel that fits still opens
    assert.equal(alice.getVirtualChannels().filter((v) => v.status === 'failed').length, 2);
    assert.equal(alice.getVirtualChannels({ open: true }).length, 2, 'failed channels are not in the open index');
    await alice.createVirtualChannel({ payee: ADDR.bob, amount: 50n });
    await until(() => irene.getLedgerChannel(ib)?.locked === 250n, 'hub locked 250');
    assert.deepEqual(alice.engine.activeObjectives(), []);
    // Bob had joined the refused channels too; the hub's notice released them
    await until(() => bob.engine.activeObjectives().length === 0, 'bob drops the refused channels');
    assert.equal(bob.getVirtualChannels().filter((v) => v.status === 'failed').length, 2);
  } finally {
    await w.stop();
  }
});

// A ledger's guarantee count is capped (policy `maxLedgerGuarantees`): settling it on chain costs
// gas linear in that count for every channel it funds. Every party checks its own ledgers before
// it signs the prefund, counting the channels it has already agreed to, so the cap holds under
// concurrent opens and nobody is left with a ledger proposal it must refuse.
for (const seed of [5, 17]) test(`the hub refuses a virtual channel that would put a ledger past its guarantee cap, also concurrently (seed ${seed})`, async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 20, seed }, { irene: { policy: { hub: {}, maxLedgerDeposit: 10n ** 24n, maxLedgerGuarantees: 2 } } });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai, ib } = await openLedgersAtIrene(w, 1_000n, 1_000n);
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => alice.createVirtualChannel({ payee: ADDR.bob, amount: 10n }, { timeoutMs: 10_000 })));
    const opened = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.channelId] : []));
    assert.equal(opened.length, 2, 'two guarantees fit under the hub\'s cap of 2');
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(isSluiceError(r.reason, 'LEDGER_FULL'), String(r.reason)); // told why, not timed out
    }
    assert.ok(w.events.irene.some((e) => e.type === 'messageRejected' && e.code === 'LEDGER_FULL'));
    await until(() => irene.getLedgerChannel(ib)?.guarantees === 2 && irene.getLedgerChannel(ai)?.guarantees === 2, 'two guarantees in each ledger');
    await until(() => bob.engine.activeObjectives().length === 0 && alice.engine.activeObjectives().length === 0, 'refused channels dropped everywhere');
    // a closed channel frees its slot
    await alice.closeVirtualChannel(opened[0]!);
    await until(() => irene.getLedgerChannel(ib)?.guarantees === 1, 'guarantee removed at irene');
    const { channelId } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 10n });
    await until(() => irene.getVirtualChannel(channelId)?.status === 'funded', 'new channel funded at irene');
    assert.equal(irene.getLedgerChannel(ib)?.guarantees, 2);
  } finally {
    await w.stop();
  }
});

test('a payer and a payee enforce their own guarantee caps before signing', async () => {
  // the payer's own cap: refused locally, nothing sent, nothing left behind
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 3 }, { alice: { policy: { maxLedgerGuarantees: 1 } } });
  try {
    const { alice, bob } = w.nodes;
    const { ib } = await openLedgersAtIrene(w, 1_000n, 1_000n);
    await alice.createVirtualChannel({ payee: ADDR.bob, amount: 10n });
    await assert.rejects(alice.createVirtualChannel({ payee: ADDR.bob, amount: 10n }), (e: unknown) => isSluiceError(e, 'LEDGER_FULL'));
    assert.equal(alice.getVirtualChannels().length, 1);
    assert.deepEqual(alice.engine.activeObjectives(), []);
    assert.equal(bob.getLedgerChannel(ib)?.guarantees, 1);
  } finally {
    await w.stop();
  }
  // the payee's cap: it refuses the prefund; the hub (which waits for the payee's signature before
  // signing) and the payer both give up
  const w2 = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 4 }, { bob: { policy: { maxLedgerGuarantees: 1 } } });
  try {
    const { alice, irene } = w2.nodes;
    const { ib } = await openLedgersAtIrene(w2, 1_000n, 1_000n);
    await alice.createVirtualChannel({ payee: ADDR.bob, amount: 10n });
    await assert.rejects(alice.createVirtualChannel({ payee: ADDR.bob, amount: 10n }, { timeoutMs: 10_000 }), (e: unknown) => isSluiceError(e, 'LEDGER_FULL'));
    // the payer may hear Bob's refusal before the hub has even seen the prefund: wait for the hub
    await until(() => irene.getVirtualChannels().some((v) => v.status === 'failed'), 'the hub drops the refused channel');
    assert.deepEqual(irene.engine.activeObjectives(), []);
    assert.equal(irene.getVirtualChannels().filter((v) => v.status === 'failed').length, 1);
    assert.equal(irene.getLedgerChannel(ib)?.guarantees, 1);
  } finally {
    await w2.stop();
  }
});
