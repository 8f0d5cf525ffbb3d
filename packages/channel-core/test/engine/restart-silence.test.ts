/**
 * A node's own downtime is not its peers' silence. The fallback goes on chain when an objective
 * waits on a peer for the peer timeout; a node restarted after an outage longer than that used to
 * count the outage too (the objective's last progress was before it went down), so it went on
 * chain at once against every peer with an objective in flight — a hub back from a long outage
 * exited its clients' ledgers (found by bench:chaos). The silence is now counted from the restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineEvent } from '../../src/engine/index.ts';
import { ADDR, openLedgersAtIrene, until, world } from './harness.ts';

test('a node back from an outage longer than the peer timeout waits a full peer timeout before going on chain', async () => {
  const fast = { objectiveTimeoutMs: 300, fallback: { peerTimeoutMs: 1_000 } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 23 }, { alice: fast, bob: { objectiveTimeoutMs: 300 } });
  try {
    const { alice, bob, irene } = w.nodes;
    await openLedgersAtIrene(w, 1000n, 800n);
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded', 'V funded');

    // Bob goes away; Alice starts closing V (it waits on Bob) and goes down too, for longer than
    // her peer timeout
    assert.equal(bob.receiveVoucher(alice.pay(v, 40n)).kind, 'accepted');
    await bob.stop();
    await w.net.service(ADDR.bob).stop();
    const closing = alice.closeVirtualChannel(v, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await until(() => alice.getVirtualChannel(v)?.status === 'closing', 'the close started');
    await new Promise((r) => setTimeout(r, 100));
    await alice.stop();
    await closing;
    await new Promise((r) => setTimeout(r, 1_500));

    const events: EngineEvent[] = [];
    const alice2 = w.make('alice', w.stores.alice, fast);
    alice2.onAny((e) => events.push(e));
    await alice2.start();
    await new Promise((r) => setTimeout(r, 400)); // stall checks run every 75 ms
    assert.ok(!events.some((e) => e.type === 'fallbackStarted'), 'Alice went on chain at once, counting her own outage as Bob’s silence');

    // Bob is back within her peer timeout (counted from her restart): the close completes off chain
    const bob2 = w.make('bob', w.stores.bob, { objectiveTimeoutMs: 300 });
    await w.net.service(ADDR.bob).start();
    await bob2.start();
    await until(() => alice2.getVirtualChannel(v)?.status === 'closed', 'V closed at Alice');
    assert.ok(!events.some((e) => e.type === 'fallbackStarted'), 'Alice went on chain');
    assert.equal(alice2.getDisputes().length, 0);
  } finally {
    await w.stop();
  }
});
