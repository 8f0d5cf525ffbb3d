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
import { protocols as P, type ChannelId } from '../../src/index.ts';
import { ADDR, dropSends, expectGuaranteeRemovedByProof, openLedgersAtIrene, until, world } from './harness.ts';

test('a payee vanishing after the prefund: the payer settles the half-opened V on chain and its guarantee leaves her ledger by proof', async () => {
  const fast = { objectiveTimeoutMs: 300, fallback: { peerTimeoutMs: 1_000 } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 37 }, { alice: fast });
  try {
    const { alice, bob } = w.nodes;
    const { ai: aiRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;

    // Bob's postfund never leaves him, and he vanishes once the guarantees are in
    dropSends(w, 'bob', (_to, m) => m?.kind === 'signedState' && m.state.turnNum === 1);
    const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    const openAtAlice = (): P.Objective | undefined => alice.engine.activeObjectives().find((o) => o.type === 'virtualFund');
    await until(() => openAtAlice() !== undefined && alice.engine.objective(openAtAlice()!.id)?.waitingFor === 'WaitingForCompletePostFund', 'Alice waits for the postfund');
    const v = (openAtAlice() as P.VirtualFundObjective).v.id;
    await until(() => alice.getLedgerChannel(ai)?.guarantees === 1, "V's guarantee is in L_AI");
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
