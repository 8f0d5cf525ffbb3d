/**
 * A malicious hub signs V's prefund and countersigns the guarantee in the payer's ledger, then
 * withholds its postfund signature and goes away. The payer's fallback exits L_AI, and, to reclaim
 * the guarantee, registers V (its prefund: the virtual fund failed, so the record holds no channel
 * yet; the fund's copy is used). Before, nobody registered V and the ledger exit waited in
 * WaitingForVirtualFinalization for good: the payer's whole ledger balance stayed on chain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P, type ChannelId } from '../../src/index.ts';
import { ADDR, dropSends, openLedgersAtIrene, until, world } from './harness.ts';

test('hub withholds its postfund after the guarantee is locked: the payer gets her ledger back', async () => {
  const fast = { objectiveTimeoutMs: 300, fallback: { peerTimeoutMs: 1_000 } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 11 }, { alice: fast, bob: fast });
  try {
    const { alice, irene } = w.nodes;
    const { ai } = await openLedgersAtIrene(w, 1000n, 800n);

    // Irene (hub) drops every postfund she would send
    dropSends(w, 'irene', (_to, m) => m?.kind === 'signedState' && m.objectiveId.startsWith('VirtualFund-') && m.state.turnNum === 1);
    const created = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }).catch((e: unknown) => e);
    await until(() => alice.getLedgerChannel(ai as ChannelId)?.locked === 300n, "Alice's 300 locked in L_AI for V");
    await irene.stop(); // ... and goes away (no watchtower of hers challenges V)
    const vId = alice.engine.activeObjectives().find((o) => o.type === 'virtualFund')!.id.slice('VirtualFund-'.length) as ChannelId;

    await until(() => w.events.alice.some((e) => e.type === 'fallbackStarted' && e.channelId === ai), 'Alice goes on chain (peer stalled)', 20_000);
    await created;
    await until(() => alice.getDisputes().some((d) => d.channelId === ai && d.phase === 'challenge'), 'L_AI challenge registered', 10_000);
    // wait out every challenge duration (ledger 1 day, virtual 1 hour)
    for (let i = 0; i < 5; i++) {
      w.chain.mine(100_000);
      await new Promise((r) => setTimeout(r, 300));
    }
    const d = alice.getDisputes().find((x) => x.channelId === ai);
    const vStatus = await w.chain.statusOf(vId);
    assert.ok(
      alice.engine.activeObjectives().some((o) => o.id === P.virtualChallengeId(vId)) || vStatus.turnNumRecord > 0 || vStatus.finalizesAt !== 0,
      `nobody registers V: Alice's ledger exit stays in ${d?.waitingFor} with ${d?.locked} locked and ${1000n - 300n} free (her whole deposit) unreachable`,
    );
  } finally {
    await w.stop();
  }
});
