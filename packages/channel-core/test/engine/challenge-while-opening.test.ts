/**
 * A virtual channel challenged on chain while the payer is still opening it (found by
 * `bench:chaos`). Bob's postfund signature never reaches Alice, so her open waits in
 * `WaitingForCompletePostFund` while Bob and the hub hold V funded. Bob then settles V on chain.
 * Before, Alice's engine ignored that challenge: V was not "open" to her fallback planner (it only
 * knew funded channels). Her open waited for ever, and she could not agree to remove V's guarantee
 * from L_AI by proof once V finalized, so the hub's removal stalled until its peer timeout exited
 * her ledger on chain. Now the challenge ends her open (`CHANNEL_CLOSING`), her virtual challenge
 * follows V to finalization, and the guarantee leaves L_AI cooperatively: L_AI stays open with her
 * whole deposit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P, type ChannelId, sameAddress } from '../../src/index.ts';
import { ADDR, dropSends, expectGuaranteeRemovedByProof, openLedgersAtIrene, until, world } from './harness.ts';

test('a virtual channel challenged while the payer still opens it: her open ends, her virtual challenge follows V, the guarantee leaves her ledger by proof', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 5 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai: aiRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;

    // Bob's postfund signature never reaches Alice
    dropSends(w, 'bob', (to, m) => sameAddress(to, ADDR.alice) && m?.kind === 'signedState' && m.state.turnNum === 1);

    const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    const openAtAlice = (): P.Objective | undefined => alice.engine.activeObjectives().find((o) => o.type === 'virtualFund');
    await until(() => openAtAlice() !== undefined && alice.engine.objective(openAtAlice()!.id)?.waitingFor === 'WaitingForCompletePostFund', 'Alice waits for the postfund');
    const v = (openAtAlice() as P.VirtualFundObjective).v.id;
    await until(() => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded', 'V funded at Bob and the hub');
    assert.equal(alice.getLedgerChannel(ai)?.guarantees, 1, "V's guarantee is in L_AI");

    // Bob settles V on chain (its postfund): Alice sees a challenge on a channel she is still opening
    await bob.settleVirtualChannel(v, { force: true });
    await until(() => w.events.alice.some((x) => x.type === 'fallbackStarted' && x.channelId === v), 'Alice follows V on chain');
    const failure = await opening;
    assert.ok(failure instanceof Error && (failure as { code?: string }).code === 'CHANNEL_CLOSING', `her open ends: ${String(failure)}`);

    // V finalizes; its guarantee leaves L_AI by on-chain proof (nothing was paid), no ledger goes on chain
    await expectGuaranteeRemovedByProof(w, ai, 1000n);
    // and both ends agree on how V ended: closed on chain, nothing paid
    await until(() => alice.getVirtualChannel(v)?.status === 'closed' && bob.getVirtualChannel(v)?.status === 'closed', 'V closed at both ends');
    assert.equal(alice.getVirtualChannel(v)?.paid, 0n);
  } finally {
    await w.stop();
  }
});
