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
import { ADDR, type World, dropSends, expectGuaranteeRemovedByProof, halfOpenV, openLedgersAtIrene, until, world } from './harness.ts';

test('a payee vanishing after the prefund: the payer settles the half-opened V on chain and its guarantee leaves her ledger by proof', async () => {
  const fast = { objectiveTimeoutMs: 300, fallback: { peerTimeoutMs: 1_000 } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 37 }, { alice: fast });
  try {
    const { bob } = w.nodes;
    const { ai: aiRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;

    // Bob's postfund never leaves him, and he vanishes once the guarantees are in
    const { v, opening } = await halfOpenV(w, ai);
    await bob.stop();

    // past her peer timeout, Alice settles V on chain
    await expectSettledOnChainByAlice(w, v, ai, opening);
  } finally {
    await w.stop();
  }
});

test("a payee vanishing before it countersigns the hub's guarantee: the payer blames the payee, not the hub that waits on it, and keeps her ledger open", async () => {
  const fast = { objectiveTimeoutMs: 300, fallback: { peerTimeoutMs: 1_000 } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 38 }, { alice: fast });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai: aiRaw, ib: ibRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;
    const ib = ibRaw as ChannelId;

    // Bob signs V's prefund, then nothing more: neither L_IB's guarantee nor his postfund leaves him.
    // Irene signs V's postfund only once both of her ledgers hold the guarantee, so Alice misses
    // the postfunds of both, though Irene answers everything.
    dropSends(w, 'bob', (_to, m) => m?.kind === 'ledgerProposal' || m?.kind === 'ledgerCountersignature' || (m?.kind === 'signedState' && m.state.turnNum >= 1));
    const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    const open = (): P.VirtualFundObjective | undefined => alice.engine.activeObjectives().find((o): o is P.VirtualFundObjective => o.type === 'virtualFund');
    await until(() => open() !== undefined && alice.engine.objective(open()!.id)?.waitingFor === 'WaitingForCompletePostFund', 'Alice waits for the postfund');
    await until(() => alice.getLedgerChannel(ai)?.guarantees === 1 && irene.getLedgerChannel(ai)?.guarantees === 1, "V's guarantee is in L_AI at both ends");
    const v = open()!.v.id;
    assert.equal(irene.getLedgerChannel(ib)?.guarantees ?? 0, 0, 'L_IB never got the guarantee');
    await bob.stop();

    // past her peer timeout Alice settles V on chain against Bob; L_AI, with Irene answering, stays open
    const fallbackOn = (c: ChannelId): boolean => w.events.alice.some((x) => x.type === 'fallbackStarted' && x.channelId === c);
    await until(() => fallbackOn(v) || fallbackOn(ai), 'Alice goes on chain');
    assert.ok(!fallbackOn(ai), 'Alice does not exit L_AI: Irene is not the silent one');
    await expectSettledOnChainByAlice(w, v, ai, opening);
    const stalls = w.events.alice.filter((x) => x.type === 'objectiveStalled' && x.objectiveType === 'virtualFund' && x.channelId === v);
    assert.ok(stalls.length > 0 && stalls.every((x) => x.type === 'objectiveStalled' && x.silentPeers.length === 1 && x.silentPeers[0] === ADDR.bob), `only Bob is reported silent: ${JSON.stringify(stalls.map((x) => x.type === 'objectiveStalled' && x.silentPeers))}`);
  } finally {
    await w.stop();
  }
});

/**
 * Alice settles the half-opened V on chain against the silent payee (nothing was paid: her prefund
 * pays her back), her open ends with CHANNEL_CLOSING, and V's guarantee leaves L_AI by proof.
 */
async function expectSettledOnChainByAlice(w: World, v: ChannelId, ai: ChannelId, opening: Promise<unknown>): Promise<void> {
  const { alice } = w.nodes;
  await until(() => w.events.alice.some((x) => x.type === 'fallbackStarted' && x.channelId === v && x.reason === 'peerStalled'), 'Alice settles V on chain');
  const failure = await opening;
  assert.ok(failure instanceof Error && (failure as { code?: string }).code === 'CHANNEL_CLOSING', `her open ends: ${String(failure)}`);
  await expectGuaranteeRemovedByProof(w, ai, 1000n);
  await until(() => alice.getVirtualChannel(v)?.status === 'closed', 'V closed at Alice');
  assert.equal(alice.getVirtualChannel(v)?.paid, 0n);
}
