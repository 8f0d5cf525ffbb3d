/**
 * A virtual channel challenged on chain while the payer's copy of its prefund still lacks
 * signatures (found by bench:chaos). The hub's and Bob's prefund signatures do not reach Alice; Bob
 * challenges V on chain with the complete prefund. Before, Alice ignored
 * that challenge (V was not "hers" to follow without a supported state); once the signatures
 * reached her, her open proposed V's guarantee in L_AI to the hub, which had given V up for the
 * challenge and never countersigned it, and every later proposal on L_AI waited behind it for
 * ever. Now she takes the prefund from the challenge: her open ends, her virtual challenge follows
 * V, and nothing for V enters L_AI's queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P, type ChannelId, sameAddress } from '../../src/index.ts';
import { getLedgerData } from '../../src/engine/records.ts';
import { ADDR, challengeOpeningV, dropSends, openLedgersAtIrene, until, world } from './harness.ts';

test("a V challenged before the payer's prefund is complete: she follows it on chain and never proposes its guarantee", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 47 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai: aiRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;

    // the prefund signatures of the hub and Bob never reach Alice (until `blocked` is cleared)
    let blocked = true;
    const toAlicePrefund = (to: string, m: { kind: string; state?: { turnNum: number } } | undefined): boolean =>
      blocked && sameAddress(to, ADDR.alice) && m?.kind === 'signedState' && m.state?.turnNum === 0;
    dropSends(w, 'irene', (to, m) => toAlicePrefund(to, m as never));
    dropSends(w, 'bob', (to, m) => toAlicePrefund(to, m as never));

    const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    const openAtAlice = (): P.Objective | undefined => alice.engine.activeObjectives().find((o) => o.type === 'virtualFund');
    await until(() => openAtAlice() !== undefined, 'Alice opens V');
    const v = (openAtAlice() as P.VirtualFundObjective).v.id;
    // Bob holds the complete prefund (his, Alice's, the hub's): he challenges V on chain with it
    await until(() => bob.engine.activeObjectives().some((o) => o.type === 'virtualFund' && P.latestSupportedState(o.v) !== undefined), 'Bob holds the prefund');
    await challengeOpeningV(w, 'bob', bob, v);
    await until(() => w.events.alice.some((x) => x.type === 'fallbackStarted' && x.channelId === v), 'Alice follows V on chain');
    const failure = await opening;
    assert.ok(failure instanceof Error && (failure as { code?: string }).code === 'CHANNEL_CLOSING', `her open ends: ${String(failure)}`);
    blocked = false;

    // nothing for V was proposed in L_AI, even once the signatures get through (the open is over)
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(alice.getLedgerChannel(ai)?.guarantees, 0);
    assert.equal(getLedgerData(w.stores.alice, ai)?.ledger?.queue.length, 0, "a guarantee proposal for V waits in L_AI's queue (the hub would never countersign it)");
    assert.equal(alice.getLedgerChannel(ai)?.status, 'open');
  } finally {
    await w.stop();
  }
});
