/**
 * A client renews its ledger with the hub right after exiting the old one on chain. Its own
 * ledger record is `closing` as soon as it starts the exit, but the hub sees the exit only once
 * the challenge is mined and confirmed at its end (2.4 min on Ethereum at 12 confirmations):
 * until then it refuses the new ledger as a second one (LEDGER_EXISTS). Before, the opening failed
 * on that first refusal and the client had to try again by hand, later. Now the opening waits,
 * sending its prefund again, and opens once the hub has seen the exit; the same opening, not a
 * new one, so a late join can never leave the hub funding two. Past its patience (10 min) the
 * refusal is honoured.
 *
 * Here the hub waits for 5 confirmations and the test mines only when it wants the hub to see.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Address, type ChannelId, isSluiceError } from '../../src/index.ts';
import type { World } from './harness.ts';
import { openMemoryStore } from '../../src/sqlite/index.ts';
import { ADDR, ETH, testChain, until, world } from './harness.ts';

const HUB_CONFIRMATIONS = 5;

/** Mine a block every 10 ms until the returned function is called. */
function keepMining(w: World): () => void {
  const t = setInterval(() => w.chain.mine(), 10);
  return () => clearInterval(t);
}

/** Open Alice's ledger with Irene (both see it open), then start exiting it on chain; Irene does not see the exit yet. */
async function exitedAtAliceOnly(w: World): Promise<ChannelId> {
  const { alice, irene } = w.nodes;
  const stop = keepMining(w);
  let old: ChannelId;
  try {
    ({ channelId: old } = await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n }));
    await until(() => irene.getLedgerChannel(old)?.status === 'open', 'the ledger open at Irene');
  } finally {
    stop();
  }
  assert.equal((await alice.exitLedgerChannel(old, { force: true })).mode, 'onChain');
  await until(() => w.chain.allEvents.some((e) => e.type === 'ChallengeRegistered' && e.channelId.toLowerCase() === old.toLowerCase()), 'the challenge mined');
  assert.equal(alice.getLedgerChannel(old)?.status, 'closing');
  assert.equal(irene.getLedgerChannel(old)?.status, 'open', 'Irene has not seen the exit: it is not confirmed there yet');
  return old;
}

function refusalsAtIrene(w: World): number {
  return w.events.irene.filter((e) => e.type === 'messageRejected' && e.code === 'LEDGER_EXISTS').length;
}

test('a ledger renewed before the hub has seen the old one exit waits for it and opens, with no second attempt', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 31 }, { irene: { chain: testChain({ confirmations: HUB_CONFIRMATIONS }) } });
  try {
    const { alice, irene } = w.nodes;
    const old = await exitedAtAliceOnly(w);

    // Alice's sends, to deliver copies of her prefund as an outbox would after an outage
    const svc = w.net.service(ADDR.alice);
    const send = svc.send.bind(svc);
    const sent: { to: Address; payload: Uint8Array }[] = [];
    (svc as { send: typeof svc.send }).send = async (to, payload, o) => {
      sent.push({ to, payload });
      return send(to, payload, o);
    };
    const renewal = alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 400n });
    let settled = false;
    void renewal.then(
      () => (settled = true),
      () => (settled = true),
    );
    await until(() => refusalsAtIrene(w) >= 1, 'Irene refused the new ledger');
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await send(ADDR.irene, sent.find((m) => m.to === ADDR.irene)!.payload);
    // refused again (the prefund is sent again), and still waiting
    await until(() => refusalsAtIrene(w) >= 5, 'Irene refused the new ledger again');
    assert.equal(settled, false, 'the opening waits instead of failing');
    assert.equal(alice.engine.activeObjectives().filter((o) => o.type === 'directFund').length, 1);
    // one re-send at a time, whatever the copies: 1, 2, 4 s after the first refusal
    await new Promise((r) => setTimeout(r, 3_500 - (Date.now() - t0)));
    assert.ok(refusalsAtIrene(w) <= 7, `at most the 4 copies and 3 re-sends refused so far, not ${refusalsAtIrene(w)}`);

    // Irene sees the exit: the next copy of the prefund is joined, and the ledger opens
    const stop = keepMining(w);
    try {
      const { channelId: fresh } = await renewal;
      assert.notEqual(fresh, old);
      await until(() => irene.getLedgerChannel(fresh)?.status === 'open', 'the new ledger open at Irene');
      assert.equal(alice.getLedgerChannel(fresh)?.status, 'open');
      assert.equal(irene.getLedgerChannel(old)?.status, 'closing');
      assert.equal(await w.chain.holdings(ETH, fresh), 400n);
      // one opening only: no other ledger was proposed to Irene
      const openings = w.events.irene.filter((e) => e.type === 'objectiveCreated' && e.objectiveType === 'directFund' && e.channelId !== old);
      assert.deepEqual(
        openings.map((e) => e.type === 'objectiveCreated' && e.channelId),
        [fresh],
      );
    } finally {
      stop();
    }
  } finally {
    await w.stop();
  }
});

test('past its patience (10 min) the opening honours the refusal: LEDGER_EXISTS, nothing deposited', async () => {
  let skew = 0;
  const aliceClock = { now: () => Date.now() + skew };
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 32 }, { irene: { chain: testChain({ confirmations: HUB_CONFIRMATIONS }) } }, { alice: aliceClock });
  try {
    const { alice } = w.nodes;
    await exitedAtAliceOnly(w);
    const renewal = alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 400n }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await until(() => refusalsAtIrene(w) >= 1, 'Irene refused the new ledger');
    // the hub never sees the exit within the opening's patience
    skew = 601_000;
    const e = await renewal;
    assert.ok(isSluiceError(e, 'LEDGER_EXISTS'), `refused: ${String(e)}`);
    const failed = w.events.alice.find((x) => x.type === 'objectiveFailed' && x.objectiveType === 'directFund');
    assert.ok(failed?.type === 'objectiveFailed' && failed.channelId !== undefined);
    assert.equal(await w.chain.holdings(ETH, failed.channelId), 0n);
  } finally {
    await w.stop();
  }
});

test('a ledger the hub refuses as a second one, with no ledger closing at our end, fails at once', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 33 });
  try {
    const { alice, irene } = w.nodes;
    const { channelId: first } = await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 100n });
    await until(() => irene.getLedgerChannel(first)?.status === 'open', 'the ledger open at Irene');
    // our own check refuses a second one locally, with the same code
    await assert.rejects(alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1n }), (e: unknown) => isSluiceError(e, 'LEDGER_EXISTS'));
    // Alice's store is lost: a node with her key knows no ledger, and Irene refuses its proposal
    await alice.stop();
    const amnesiac = w.make('alice', openMemoryStore());
    await amnesiac.start();
    const t0 = Date.now();
    await assert.rejects(amnesiac.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1n }), (e: unknown) => isSluiceError(e, 'LEDGER_EXISTS') && /already exists/.test(e.message));
    assert.ok(Date.now() - t0 < 5_000, 'told at once, not after waiting');
  } finally {
    await w.stop();
  }
});
