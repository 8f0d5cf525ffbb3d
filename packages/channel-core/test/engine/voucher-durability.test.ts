/**
 * Voucher group commit (Node API `payAsync` / `receiveVoucherAsync`): decided and committed at
 * once, resolved once fsync'd; the vouchers of one event-loop turn share one `store.sync()`, and
 * what resolved is there after a restart on the same sqlite file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSluiceError } from '../../src/index.ts';
import { openSqliteStore } from '../../src/sqlite/index.ts';
import type { Store } from '../../src/ports/store.ts';
import { ADDR, openLedgers, until, world } from './harness.ts';

/**
 * A file store that counts syncs. Without `syncAsync` (whose callers share fsyncs inside the
 * store, see store.test.ts), so what is counted here is the Node's own one-sync-per-turn batching.
 */
function counting(path: string): { store: Store; syncs: () => number } {
  const { syncAsync: _async, ...inner } = openSqliteStore({ path });
  let syncs = 0;
  const store: Store = {
    ...inner,
    sync() {
      syncs++;
      inner.sync?.();
    },
  };
  return { store, syncs: () => syncs };
}

test('payAsync / receiveVoucherAsync: one sync for a turn of vouchers, committed before they resolve, durable across a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-engine-vouchers-'));
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 11 });
  try {
    const { irene } = w.nodes;
    await w.nodes.alice.stop();
    await w.nodes.bob.stop();
    const alicePath = join(dir, 'alice.db');
    const bobPath = join(dir, 'bob.db');
    const a = counting(alicePath);
    const b = counting(bobPath);
    const alice = w.make('alice', a.store);
    let bob = w.make('bob', b.store);
    await alice.start();
    await bob.start();
    await openLedgers({ ...w, nodes: { alice, irene, bob } }, 1000n, 1000n);
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded at Bob');
    await until(() => w.net.pending() === 0, 'network idle');

    // 10 vouchers signed in one turn: each decided at once (increasing), one promise each
    const syncs0 = a.syncs();
    const signed = await Promise.all(Array.from({ length: 10 }, () => alice.payAsync(v, 2n)));
    assert.deepEqual(signed.map((x) => x.amount), Array.from({ length: 10 }, (_, i) => BigInt(2 * (i + 1))));
    assert.ok(a.syncs() - syncs0 <= 2, `payer: ${a.syncs() - syncs0} syncs for 10 vouchers`);

    // received in one turn: the decision is synchronous (the next is judged against the previous)
    const syncsB = b.syncs();
    const pending = signed.map((x) => bob.receiveVoucherAsync(x, { price: 2n }));
    assert.equal(bob.getVirtualChannel(v)?.paid, 20n, 'committed (visible) before durable');
    const results = await Promise.all(pending);
    assert.deepEqual(results.map((r) => r.kind), Array(10).fill('accepted'));
    assert.ok(b.syncs() - syncsB <= 2, `payee: ${b.syncs() - syncsB} syncs for 10 vouchers`);
    assert.equal((await bob.receiveVoucherAsync(signed[9]!, { price: 2n })).kind, 'duplicate');
    const low = await bob.receiveVoucherAsync(signed[3]!, { price: 2n });
    assert.equal(low.kind, 'stale');

    // errors are decided synchronously and reported as rejections (payAsync) or results (receive)
    await assert.rejects(alice.payAsync(v, 1000n), (e: unknown) => isSluiceError(e, 'INSUFFICIENT_BALANCE'));

    // Bob restarts on his file: the best voucher is there
    await bob.stop();
    bob = w.make('bob', openSqliteStore({ path: bobPath }));
    await bob.start();
    assert.equal(bob.getVirtualChannel(v)?.paid, 20n);
    assert.equal((await bob.closeVirtualChannel(v)).paid, 20n);
    await alice.stop();
    await bob.stop();
  } finally {
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
