/**
 * A payee that vanishes after signing the prefund of a virtual channel, before its postfund: the
 * payer's open can never complete, and V's guarantee already sits in her ledger with the hub. Before,
 * her stalled open went on chain only against ledgers and funded channels shared with the payee —
 * none — so the guarantee stayed locked until someone else challenged V or her ledger was exited.
 * Now the stalled payee settles V on chain from the payer's side (her prefund, which pays her
 * everything back), and the guarantee leaves her ledger by proof: the ledger stays open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { expectGuaranteeRemovedByProof, halfOpenV, openLedgersAtIrene, until, world } from './harness.ts';

test('a payee vanishing after the prefund: the payer settles the half-opened V on chain and its guarantee leaves her ledger by proof', async () => {
  const fast = { objectiveTimeoutMs: 300, fallback: { peerTimeoutMs: 1_000 } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 37 }, { alice: fast });
  try {
    const { alice, bob } = w.nodes;
    const { ai: aiRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;

    // Bob's postfund never leaves him, and he vanishes once the guarantees are in
    const { v, opening } = await halfOpenV(w, ai);
    await bob.stop();

    // past her peer timeout, Alice settles V on chain (nothing was paid: her prefund pays her back)
    await until(() => w.events.alice.some((x) => x.type === 'fallbackStarted' && x.channelId === v && x.reason === 'peerStalled'), 'Alice settles V on chain');
    const failure = await opening;
    assert.ok(failure instanceof Error && (failure as { code?: string }).code === 'CHANNEL_CLOSING', `her open ends: ${String(failure)}`);

    await expectGuaranteeRemovedByProof(w, ai, 1000n);
    await until(() => alice.getVirtualChannel(v)?.status === 'closed', 'V closed at Alice');
    assert.equal(alice.getVirtualChannel(v)?.paid, 0n);
  } finally {
    await w.stop();
  }
});
