/**
 * Timeouts and restarts: a silent peer makes an objective report `objectiveStalled` (naming the
 * peer) and the API call time out while the objective goes on; a node restarted on the same
 * sqlite file resumes every active objective and completes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError, isSluiceError } from '../../src/index.ts';
import type { ChainService } from '../../src/chain.ts';
import { MemoryChainService } from '../../src/memory/index.ts';
import { openSqliteStore } from '../../src/sqlite/index.ts';
import type { EngineEvent } from '../../src/engine/index.ts';
import { getLedgerData, getObjectiveData } from '../../src/engine/records.ts';
import { virtualFundId } from '../../src/protocols/index.ts';
import { recoverStateSigner } from '../../src/state.ts';
import { ADDR, ETH, openLedgers, until, world } from './harness.ts';

test('a silent payee stalls the virtual fund; after both restart, it completes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-engine-restart-'));
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 9 });
  try {
    const { irene } = w.nodes;
    // Alice and Bob on files, so they can be restarted
    await w.nodes.alice.stop();
    await w.nodes.bob.stop();
    const alicePath = join(dir, 'alice.db');
    const bobPath = join(dir, 'bob.db');
    const aliceStore = openSqliteStore({ path: alicePath });
    let alice = w.make('alice', aliceStore, { objectiveTimeoutMs: 200 });
    let bob = w.make('bob', openSqliteStore({ path: bobPath }));
    await alice.start();
    await bob.start();
    const { ai, ib } = await openLedgers({ ...w, nodes: { alice, irene, bob } }, 1000n, 1000n);
    await until(() => irene.getLedgerChannel(ib)?.status === 'open' && irene.getLedgerChannel(ai)?.status === 'open', 'ledgers open');

    // Bob goes offline (engine and transport)
    await bob.stop();
    await w.net.service(ADDR.bob).stop();
    const stalls: EngineEvent[] = [];
    alice.on('objectiveStalled', (e) => stalls.push(e));
    await assert.rejects(
      alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n }, { timeoutMs: 600 }),
      (e: unknown) => isSluiceError(e, 'PEER_TIMEOUT') && JSON.stringify(e.details.silentPeers).includes(ADDR.bob),
    );
    await until(() => stalls.length > 0, 'a stall is reported');
    const stall = stalls[0]!;
    assert.ok(stall.type === 'objectiveStalled' && stall.reason === 'timeout' && stall.silentPeers.includes(ADDR.bob), JSON.stringify(stall, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    const v = alice.getVirtualChannels()[0]!.channelId;
    assert.equal(alice.getVirtualChannel(v)?.status, 'funding');
    // The active objective's record refers to its ledger instead of copying it (a shared ledger
    // grows with every channel on it); reading it puts back the ledger record's copy.
    const raw = aliceStore.getObjective(virtualFundId(v))!.data as { objective: { toMyRight: unknown } };
    assert.deepEqual(raw.objective.toMyRight, { storedApart: ai });
    const restored = getObjectiveData(aliceStore, virtualFundId(v))!.objective;
    assert.ok(restored.type === 'virtualFund');
    assert.deepEqual(restored.toMyRight, getLedgerData(aliceStore, ai)!.ledger);
    // Likewise the prefund she sent (to Irene and Bob, kept for re-sending) is stored as a
    // reference to V's entry, and read back as the full signed state.
    const rawSent = (aliceStore.getObjective(virtualFundId(v))!.data as { sent: { to: string; message: Record<string, unknown> }[] }).sent;
    assert.equal(rawSent.length, 2);
    assert.ok(rawSent.every((s) => s.message['stateOf'] === v && s.message['turnNum'] === 0 && s.message['state'] === undefined), JSON.stringify(rawSent));
    const sent = getObjectiveData(aliceStore, virtualFundId(v))!.sent;
    assert.deepEqual(sent.map((s) => s.to).sort(), [ADDR.irene, ADDR.bob].sort());
    for (const { message: m } of sent) {
      assert.ok(m.kind === 'signedState' && m.state.turnNum === 0 && m.objectiveId === virtualFundId(v));
      // with every signature V's entry has by now: Alice's only (Irene signs after Bob, who is silent)
      assert.deepEqual(m.signatures.map((sig) => recoverStateSigner(m.state, sig)), [ADDR.alice]);
    }

    // Alice crashes (no clean handover: a new node object on the same file) and Bob comes back
    await alice.stop();
    alice = w.make('alice', openSqliteStore({ path: alicePath }));
    bob = w.make('bob', openSqliteStore({ path: bobPath }));
    await w.net.service(ADDR.bob).start();
    await alice.start();
    await bob.start();
    await until(() => alice.getVirtualChannel(v)?.status === 'funded' && bob.getVirtualChannel(v)?.status === 'funded', 'V funded after restart', 15_000);

    // and the resumed nodes keep working: pay, close
    assert.equal(bob.receiveVoucher(alice.pay(v, 25n)).kind, 'accepted');
    // restart Bob again: his best voucher is durable
    await bob.stop();
    bob = w.make('bob', openSqliteStore({ path: bobPath }));
    await bob.start();
    assert.equal(bob.getVirtualChannel(v)?.paid, 25n);
    assert.equal(bob.receiveVoucher(alice.pay(v, 5n)).kind, 'accepted');
    assert.equal((await bob.closeVirtualChannel(v)).paid, 30n);
    await until(() => alice.getLedgerChannel(ai)?.myBalance === 970n && irene.getLedgerChannel(ib)?.myBalance === 970n, 'ledgers settled');
    await alice.stop();
    await bob.stop();
  } finally {
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The memory chain as seen by a node that is about to crash: deposits hang until aborted (the
 * receipt never comes) and no chain event reaches it.
 */
function hangingDeposits(inner: MemoryChainService, applyFirst: boolean): ChainService {
  return {
    adjudicator: inner.adjudicator,
    holdings: (a, c, o) => inner.holdings(a, c, o),
    statusOf: (c, o) => inner.statusOf(c, o),
    latestBlock: (o) => inner.latestBlock(o),
    async *events(o) {
      await new Promise<void>((resolve) => o.signal?.addEventListener('abort', () => resolve(), { once: true }));
    },
    async submit(tx, opts = {}) {
      if (tx.kind !== 'deposit') return inner.submit(tx, opts);
      if (applyFirst) await inner.submit(tx, opts);
      return new Promise<never>((_, reject) => {
        const abort = (): void => reject(new SluiceError('ABORTED', 'aborted'));
        if (opts.signal?.aborted === true) abort();
        opts.signal?.addEventListener('abort', abort, { once: true });
      });
    },
  };
}

for (const applyFirst of [true, false]) {
  test(`a deposit interrupted ${applyFirst ? 'after' : 'before'} it reached the chain is made exactly once after a restart`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-engine-deposit-'));
    const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 4 });
    try {
      await w.nodes.alice.stop();
      const path = join(dir, 'alice.db');
      let alice = w.make('alice', openSqliteStore({ path }), {}, hangingDeposits(w.chain, applyFirst));
      await alice.start();
      await assert.rejects(alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 300n }, { timeoutMs: 300 }), (e: unknown) => isSluiceError(e, 'PEER_TIMEOUT'));
      const ledgerId = alice.getLedgerChannels()[0]!.channelId;
      assert.equal(await w.chain.holdings(ETH, ledgerId), applyFirst ? 300n : 0n);
      await alice.stop(); // the "crash": the receipt never came
      alice = w.make('alice', openSqliteStore({ path }));
      await alice.start();
      await until(() => alice.getLedgerChannel(ledgerId)?.status === 'open', 'ledger funded after restart');
      assert.equal(await w.chain.holdings(ETH, ledgerId), 300n, 'deposited exactly once');
      assert.equal(w.chain.allEvents.filter((e) => e.type === 'Deposited' && e.destination === ledgerId).length, 1);
      await alice.stop();
    } finally {
      await w.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('an undeliverable message stalls the objective and names the peer', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 6, expiryMs: 300 });
  try {
    const { alice, irene } = w.nodes;
    const { ib } = await openLedgers(w, 500n, 500n);
    await until(() => irene.getLedgerChannel(ib)?.status === 'open', 'ledger open');
    await w.nodes.bob.stop();
    await w.net.service(ADDR.bob).stop();
    const stalls: EngineEvent[] = [];
    alice.on('objectiveStalled', (e) => stalls.push(e));
    await assert.rejects(alice.createVirtualChannel({ payee: ADDR.bob, amount: 10n }, { timeoutMs: 1_000 }));
    await until(() => stalls.some((e) => e.type === 'objectiveStalled' && e.reason === 'undeliverable'), 'undeliverable reported');
    const s = stalls.find((e) => e.type === 'objectiveStalled' && e.reason === 'undeliverable')!;
    assert.ok(s.type === 'objectiveStalled' && s.silentPeers.includes(ADDR.bob) && s.objectiveType === 'virtualFund');
  } finally {
    await w.stop();
  }
});

test("a node refuses a store that holds another key's channels (it would take them for its own)", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 31 });
  try {
    await openLedgers(w, 1_000n, 500n);
    await w.nodes.bob.stop();
    const impostor = w.make('alice', w.stores.bob); // Alice's key on Bob's store
    await assert.rejects(impostor.start(), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && e.message.includes(`holds the channels of ${ADDR.bob}, not of our key ${ADDR.alice}`));
    const bob = w.make('bob', w.stores.bob); // its owner still can
    await bob.start();
    assert.equal(bob.getLedgerChannels().length, 1);
  } finally {
    await w.stop();
  }
});
