/**
 * A top-up deposits first and is credited only when the ledger's parties agree on it. A client that
 * goes silent right after its deposit is mined (laptop closed, process killed) used to lose it when
 * the hub's fallback exited the ledger for that silence: the exit pays the last agreed state, and
 * the deposit stayed in the adjudicator, allocated to nobody. The hub now holds back that exit
 * while the chain holds more than the ledger credits — for the ledger's challenge duration, the
 * time a party must come back within anyway to answer challenges — and the client, back within it,
 * gets its deposit credited. Past it, the hub exits (its own funds are not held hostage for ever).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import type { EngineEvent } from '../../src/engine/index.ts';
import { ETH, dropSends, openPaidV, until, world } from './harness.ts';

const fastHub = { objectiveTimeoutMs: 300, fallback: { peerTimeoutMs: 1_000 } };

/** Open the ledgers and a funded V; Alice deposits a top-up of 500 and vanishes before proposing its credit. */
async function clientVanishesAfterDeposit(w: Awaited<ReturnType<typeof world>>): Promise<{ ai: ChannelId; v: ChannelId; allow: () => void }> {
  const { alice, irene } = w.nodes;
  const { ai, v } = await openPaidV(w, 50n);
  await until(() => irene.getVirtualChannel(v)?.status === 'funded', 'V funded at the hub');
  let blocked = true;
  dropSends(w, 'alice', (_to, m) => blocked && m !== undefined && m.kind !== 'rejectObjective' && m.objectiveId.startsWith('LedgerTopUp-'));
  void alice.topUpLedgerChannel({ channelId: ai, amount: 500n }, { timeoutMs: 60_000 }).catch(() => {});
  await until(() => w.chain.allEvents.some((e) => e.type === 'Deposited' && e.destinationHoldings === 1500n), "Alice's top-up deposit mined");
  await alice.stop();
  return { ai, v, allow: () => (blocked = false) };
}

test('a client silent right after its top-up deposit: the hub does not exit its ledger (that would lose the deposit); the client back, the deposit is credited', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 29 }, { irene: fastHub });
  try {
    const { irene, bob } = w.nodes;
    const { ai, v, allow } = await clientVanishesAfterDeposit(w);
    // the payee closes V; the hub's part waits on Alice past its peer timeout: V goes on chain
    const closing = bob.closeVirtualChannel(v, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await until(() => w.events.irene.some((e) => e.type === 'fallbackStarted' && e.channelId === v), "the hub settles V on chain for Alice's silence");
    await new Promise((r) => setTimeout(r, 2_000)); // two more peer timeouts
    const exits = (e: EngineEvent): boolean => e.type === 'fallbackStarted' && e.channelId === ai;
    assert.ok(!w.events.irene.some(exits), "the hub exited L_AI with Alice's top-up deposit uncredited");

    allow();
    const alice2 = w.make('alice', w.stores.alice);
    await alice2.start();
    await until(() => (irene.getLedgerChannel(ai)?.counterpartyBalance ?? 0n) + (irene.getLedgerChannel(ai)?.locked ?? 0n) >= 1200n, 'the deposit is credited at the hub');
    assert.equal(await w.chain.holdings(ETH, ai), 1500n);
    assert.ok(!w.events.irene.some(exits));
    await closing;
  } finally {
    await w.stop();
  }
});

test("the hub's hold for a silent client's uncredited deposit ends after the ledger's challenge duration: then it exits", async () => {
  const hubPolicy = { policy: { hub: {}, maxLedgerDeposit: 10n ** 24n, challengeDurations: { ledger: [1, 86_400] as [number, number] } } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 31 }, { irene: { ...fastHub, ...hubPolicy }, alice: { ledgerChallengeDuration: 3 } });
  try {
    const { irene, bob } = w.nodes;
    const { ai, v } = await clientVanishesAfterDeposit(w);
    void bob.closeVirtualChannel(v, { timeoutMs: 60_000 }).catch(() => {});
    await until(() => w.events.irene.some((e) => e.type === 'fallbackStarted' && e.channelId === v), 'V on chain');
    const heldFrom = Date.now();
    await until(() => w.events.irene.some((e) => e.type === 'fallbackStarted' && e.channelId === ai), 'the hub exits L_AI after the grace', 15_000);
    const waited = Date.now() - heldFrom;
    assert.ok(waited >= 2_000, `the hub exited L_AI after ${waited} ms, within the 3 s challenge duration`);
    assert.notEqual(irene.getLedgerChannel(ai)?.status, 'open');
  } finally {
    await w.stop();
  }
});
