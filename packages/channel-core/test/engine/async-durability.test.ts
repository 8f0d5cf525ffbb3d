/**
 * The engine's group fsync runs off the event loop (`Store.syncAsync`): while it is pending, the
 * step is committed and visible but not durable. What must already hold then: the payee's voucher
 * ledger knows the channel is closing (so no voucher beyond the final state is accepted), while
 * the Node's listeners — which resolve API calls — hear of it only once it is durable.
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

/** A file store whose asynchronous syncs can be held back (a slow disk). */
function gated(path: string): { store: Store; hold(): void; release(): void; held: () => number } {
  const inner = openSqliteStore({ path });
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let held = 0;
  const store: Store = {
    ...inner,
    async syncAsync() {
      if (gate !== undefined) {
        held++;
        await gate;
      }
      await inner.syncAsync!();
    },
  };
  return {
    store,
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release() {
      gate = undefined;
      open?.();
    },
    held: () => held,
  };
}

test('while a final state is committed but not yet durable, the payee refuses later vouchers and its listeners have not heard of it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-engine-async-'));
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 5 });
  const g = gated(join(dir, 'bob.db'));
  try {
    const { alice, irene } = w.nodes;
    await w.nodes.bob.stop();
    const bob = w.make('bob', g.store);
    await bob.start();
    await openLedgers({ ...w, nodes: { alice, irene, bob } }, 1000n, 1000n);
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded at Bob');
    const first = await alice.payAsync(v, 10n);
    const later = await alice.payAsync(v, 5n); // signed now, handed to Bob only after the close began
    assert.equal((await bob.receiveVoucherAsync(first)).kind, 'accepted');
    const heard: string[] = [];
    bob.on('virtualChannelClosing', (e) => heard.push(e.channelId));

    g.hold();
    const closing = alice.closeVirtualChannel(v);
    // the defund goes on at Bob (the engine does not wait for the disk); only its effects wait
    await until(() => ['closing', 'closed'].includes(bob.getVirtualChannel(v)?.status ?? ''), 'the final state committed at Bob');
    assert.ok(g.held() > 0, 'the fsync of that step is still pending');
    assert.deepEqual(heard, [], 'listeners hear of it only once durable');
    const refused = bob.receiveVoucher(later);
    assert.ok(refused.kind === 'rejected' && isSluiceError(refused.error, 'CHANNEL_CLOSING'), `a voucher after the final state: ${refused.kind}`);
    assert.deepEqual(heard, [], 'still nothing heard while the fsync is held');

    g.release();
    assert.equal((await closing).paid, 15n); // the payer closes with everything she signed
    await until(() => heard.length === 1, 'the closing event after the fsync');
    assert.equal(bob.getVirtualChannel(v)?.paid, 15n);
  } finally {
    g.release(); // never leave an engine waiting on a held fsync
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
