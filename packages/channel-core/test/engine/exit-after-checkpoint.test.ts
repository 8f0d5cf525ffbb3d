/**
 * A ledger exit the counterparty clears with a state newer than any we hold (found by
 * `bench:chaos`): Bob proposes a guarantee in L_IB, the hub countersigns it, and the
 * countersignature never reaches Bob. Bob then exits L_IB with his latest supported state; the
 * hub's watchtower answers that stale challenge with a `checkpoint` of the newer state and keeps
 * the ledger open. The chain now records a turn Bob cannot register, and the hub never moves:
 * before, Bob's exit waited for the other participant for ever, his ledger stuck in `closing`.
 * Now the chain port hands the checkpointed state (read off the transaction) to the exit, which
 * registers it; the hub, whose latest state that is, settles too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, sameAddress } from '../../src/index.ts';
import { getLedgerData } from '../../src/engine/index.ts';
import { ADDR, dropSends, mineUntil, openLedgersAtIrene, until, world } from './harness.ts';

test("a ledger exit cleared by the counterparty's checkpoint of a state we never received registers that state and completes", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 11 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ib: ibRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ib = ibRaw as ChannelId;
    assert.equal(bob.getLedgerChannel(ib)?.leader, true, 'Bob proposes in L_IB');
    const agreed = getLedgerData(w.stores.irene, ib)!.ledger!.current.turnNum;

    // from the moment the hub holds a newer L_IB state than `agreed`, nothing it sends reaches Bob
    dropSends(w, 'irene', (to) => sameAddress(to, ADDR.bob) && getLedgerData(w.stores.irene, ib)!.ledger!.current.turnNum > agreed);

    const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 2_000 }).catch((e: unknown) => e);
    await until(() => getLedgerData(w.stores.irene, ib)!.ledger!.current.turnNum > agreed, 'the hub countersigned the guarantee');
    const newer = getLedgerData(w.stores.irene, ib)!.ledger!.current.turnNum;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(getLedgerData(w.stores.bob, ib)!.ledger!.current.turnNum, agreed, 'Bob never got the countersignature');

    // Bob leaves with what he holds; the hub's watchtower clears it with the newer state
    await bob.exitLedgerChannel(ib, { force: true });
    await until(() => w.events.irene.some((x) => x.type === 'challengeAnswered' && x.action === 'checkpoint' && x.channelId === ib && x.challengedTurnNum === agreed && x.turnNum === newer), 'the hub checkpoints');
    // Bob registers the checkpointed state (before: WaitingForOtherParticipant for ever)
    await until(() => w.events.bob.some((x) => x.type === 'challengeRegistered' && x.channelId === ib && x.turnNum === newer), 'Bob challenges with the checkpointed state');
    assert.ok(
      w.events.irene.some((x) => x.type === 'fallbackStarted' && x.channelId === ib),
      'the hub, whose latest state that is, settles the ledger too',
    );

    // chain time passes: the virtual channel and the ledger finalize with the checkpointed state,
    // and both exits go on to reclaim the guarantee (the in-memory chain does not model reclaim:
    // the payout runs on anvil in test/e2e/fallback-exit-after-checkpoint.test.ts)
    const exitAt = (n: 'bob' | 'irene'): string | undefined => w.nodes[n].engine.objective(`LedgerExit-${ib}`)?.waitingFor;
    await mineUntil(w, () => exitAt('bob') === 'WaitingForReclaim' && exitAt('irene') === 'WaitingForReclaim', 400);
    assert.equal(exitAt('bob'), 'WaitingForReclaim', "Bob's exit is past the ledger's finalization");
    assert.equal(exitAt('irene'), 'WaitingForReclaim');
    const st = await w.chain.statusOf(ib);
    assert.equal(st.turnNumRecord, newer, 'L_IB finalized with the checkpointed state');
    await opening;
  } finally {
    await w.stop();
  }
});
