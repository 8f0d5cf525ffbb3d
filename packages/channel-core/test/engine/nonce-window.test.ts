/**
 * The nonce window (`EnginePolicy.nonceWindow`, a hub's default): channels are joined only while
 * the time in their nonce is recent by the joiner's clock, so a hub can forget the ids of the
 * channels it pruned once their nonces are past the window — a replayed prefund of one is refused
 * anyway — and what it remembers of its history stays bounded.
 */
import { test } from 'node:test';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import assert from 'node:assert/strict';
import {
  type ChannelId,
  DEFAULT_NONCE_WINDOW,
  type State,
  getChannelId,
  isSluiceError,
  nonceOutsideWindow,
  nonceTimeMs,
  protocols as P,
  signState,
  timedNonce,
} from '../../src/index.ts';
import { encodeWireMessage } from '../../src/engine/index.ts';
import { fullState } from '../../src/protocols/channel.ts';
import { getVirtualData } from '../../src/engine/records.ts';
import { ADDR, KEYS, openLedgersAtIrene, until, world } from './harness.ts';

const HOUR = 3_600_000;
const hubPolicy = { hub: {}, maxLedgerDeposit: 10n ** 24n, nonceWindow: DEFAULT_NONCE_WINDOW };

/** A clock `offset` ms off the system's (mutable). */
function skewed(): { now(): number; offset: number } {
  const c = { offset: 0, now: () => Date.now() + c.offset };
  return c;
}

test('timed nonces: the time survives the round trip; outside the window is explained with the times', () => {
  const now = Date.UTC(2026, 10, 26, 9, 0, 0, 500);
  const n = timedNonce(now, 0xdeadbeef);
  assert.equal(nonceTimeMs(n), Date.UTC(2026, 10, 26, 9, 0, 0));
  assert.equal(n & 0xffff_ffffn, 0xdeadbeefn);
  assert.ok(n < 2n ** 64n);
  const many = new Set(Array.from({ length: 1_000 }, () => timedNonce(now)));
  assert.ok(many.size >= 999, 'random low bits');
  const w = { maxAgeMs: HOUR, maxAheadMs: 600_000 };
  assert.equal(nonceOutsideWindow(n, now, w), undefined);
  assert.equal(nonceOutsideWindow(n, now + HOUR, w), undefined, 'exactly the window old');
  assert.match(nonceOutsideWindow(n, now + 2 * HOUR, w)!, /made at 2026-11-26T09:00:00\.000Z, 2 h ago by my clock \(at most 1 h\)/);
  assert.match(nonceOutsideWindow(n, now - 20 * 60_000, w)!, /20 min ahead of my clock \(at most 10 min\)/);
  // a nonce made without a time (64 random bits, an old node) reads as a random time: refused as such
  assert.match(nonceOutsideWindow(0x9f3c_77a1_0b2d_44e5n, now, w)!, /carries no recent time.*upgrade the node/);
  assert.match(nonceOutsideWindow(7n, now, w)!, /carries no recent time/);
  assert.match(nonceOutsideWindow(n, now + 40 * 86_400_000, w)!, /carries no recent time/);
  assert.equal(nonceOutsideWindow(n, now + 40 * 86_400_000, { maxAgeMs: 50 * 86_400_000, maxAheadMs: 0 }), undefined, 'a wide window takes it');
  assert.throws(() => timedNonce(-1), RangeError);
  assert.throws(() => timedNonce(now, 2 ** 32), RangeError);
});

test('a hub with a nonce window refuses ledgers and virtual channels whose nonce is too old or ahead, saying why; fresh ones open', async () => {
  const aliceClock = skewed();
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 21 }, { irene: { policy: hubPolicy } }, { alice: aliceClock });
  try {
    const { alice, bob } = w.nodes;
    const refused = async (p: Promise<unknown>, why: RegExp): Promise<void> => {
      await assert.rejects(p, (e: unknown) => isSluiceError(e, 'HUB_POLICY_REJECTED') && why.test((e as Error).message));
    };
    aliceClock.offset = -2 * HOUR; // Alice's clock is 2 h behind: her nonces look 2 h old
    await refused(alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1_000n }), /2 h ago by my clock \(at most 1 h\)/);
    aliceClock.offset = 20 * 60_000; // 20 min ahead
    await refused(alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1_000n }), /20 min ahead of my clock/);
    aliceClock.offset = 0;
    await openLedgersAtIrene(w, 1_000n, 500n);
    aliceClock.offset = -2 * HOUR;
    await refused(alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n }), /ago by my clock/);
    aliceClock.offset = 5 * 60_000; // a little ahead: within the window
    const { channelId } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    await until(() => bob.getVirtualChannel(channelId)?.status === 'funded', 'funded at bob');
    assert.equal((await alice.closeVirtualChannel(channelId)).paid, 0n);
  } finally {
    await w.stop();
  }
});

test('retention under a nonce window forgets pruned ids once their nonces are past it, and a replayed prefund is still refused', async () => {
  const ireneClock = skewed();
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 22 }, { irene: { policy: hubPolicy } }, { irene: ireneClock });
  try {
    const { alice, irene, bob } = w.nodes;
    await openLedgersAtIrene(w, 1_000n, 500n);
    const { channelId: c1 } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    const { channelId: c2 } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    await until(() => [c1, c2].every((c) => bob.getVirtualChannel(c)?.status === 'funded' && irene.getVirtualChannel(c)?.status === 'funded'), 'funded');
    const fund = alice.engine.objective(P.virtualFundId(c1))!.objective as P.VirtualFundObjective;
    const prefund: State = { ...fullState(fund.v, fund.v.states.at(-1)!.state), turnNum: 0 };
    assert.equal(bob.receiveVoucher(alice.pay(c1, 30n)).kind, 'accepted');
    await alice.closeVirtualChannel(c1);
    await bob.closeVirtualChannel(c2);
    await until(() => [alice, irene, bob].every((n) => n.getVirtualChannel(c1)?.status === 'closed' && n.getVirtualChannel(c2)?.status === 'closed'), 'closed everywhere');
    await w.net.idle(5_000).catch(() => {});

    // pruned now: the ids are remembered while their nonces are within the window
    assert.deepEqual(await irene.pruneHistory({ olderThanMs: 0 }), { channels: 2, objectives: 4, kept: 0, forgotten: 0 });
    assert.equal(w.stores.irene.isRetired!(c1 as ChannelId), true);
    // two hours later (Irene's clock), they are forgotten: all of them in one call, a batch of
    // one at a time
    ireneClock.offset = 2 * HOUR;
    assert.deepEqual(await irene.pruneHistory({ olderThanMs: 0, batch: 1 }), { channels: 0, objectives: 0, kept: 0, forgotten: 2 });
    assert.equal(w.stores.irene.isRetired!(c1 as ChannelId), false);
    assert.deepEqual(await irene.pruneHistory({ olderThanMs: 0 }), { channels: 0, objectives: 0, kept: 0, forgotten: 0 });

    // Alice's signed prefund of c1 replayed: refused by the window (Irene would otherwise lock 100
    // for a channel whose final state is out there). The control: a prefund with a nonce made now
    // (by Irene's clock) is joined.
    const fresh: State = { ...prefund, channelNonce: timedNonce(ireneClock.now()) };
    const freshId = P.virtualFundId(getChannelId(fresh));
    const created = (): string[] => w.events.irene.flatMap((e) => (e.type === 'objectiveCreated' ? [e.objectiveId] : []));
    const rejected = (): string[] => w.events.irene.flatMap((e) => (e.type === 'messageRejected' ? [`${e.objectiveId}: ${e.reason}`] : []));
    const before = created().length;
    await alice.stop();
    const raw = w.net.service(ADDR.alice);
    await raw.send(ADDR.irene, encodeWireMessage({ kind: 'signedState', objectiveId: P.virtualFundId(c1), state: prefund, signatures: [signState(prefund, KEYS.alice)] }));
    await raw.send(ADDR.irene, encodeWireMessage({ kind: 'signedState', objectiveId: freshId, state: fresh, signatures: [signState(fresh, KEYS.alice)] }));
    await until(() => created().includes(freshId), 'the control prefund joined');
    assert.deepEqual(created().slice(before), [freshId], 'the replayed prefund started nothing');
    // (refused for being before what Irene forgot, which the window also implies)
    assert.ok(rejected().some((r) => r.startsWith(P.virtualFundId(c1)) && /no longer remembers/.test(r)), rejected().join('\n'));
    assert.equal(irene.getVirtualChannel(c1), undefined);

    // Irene's clock steps back two hours: the window alone would take the replay again, but
    // what was forgotten stays refused
    ireneClock.offset = 0;
    const replay = async (node: string): Promise<void> => {
      const n = rejected().length;
      const c1Created = (): number => created().filter((id) => id === P.virtualFundId(c1)).length;
      const was = c1Created();
      await raw.send(ADDR.irene, encodeWireMessage({ kind: 'signedState', objectiveId: P.virtualFundId(c1), state: prefund, signatures: [signState(prefund, KEYS.alice)] }));
      await until(() => rejected().length > n, `${node}: the replay answered`);
      assert.match(rejected().at(-1)!, /the history this node no longer remembers/);
      assert.equal(c1Created(), was, `${node}: the replay started nothing`);
    };
    await replay('clock stepped back');
    // and so does a restart without the window
    await irene.stop();
    const irene2 = w.make('irene', w.stores.irene, { policy: { hub: {}, maxLedgerDeposit: 10n ** 24n } });
    irene2.onAny((e) => w.events.irene.push(e));
    await irene2.start();
    await replay('no window');
    assert.equal(irene2.getVirtualChannel(c1), undefined);
  } finally {
    await w.stop();
  }
});

test('a failed opening is forgotten too (its nonce is read from its opening objective); a clock that ran ahead and was corrected locks nobody out', async () => {
  const ireneClock = skewed();
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 23 }, { irene: { policy: hubPolicy, prefundTimeoutMs: 300, objectiveTimeoutMs: 400 } }, { irene: ireneClock });
  try {
    const { alice, irene } = w.nodes;
    await openLedgersAtIrene(w, 1_000n, 500n);
    await w.net.service(ADDR.bob).stop(); // Bob never signs the prefund: the hub gives up
    await assert.rejects(alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n }, { timeoutMs: 10_000 }), (e: unknown) => isSluiceError(e, 'PEER_TIMEOUT'));
    const v = irene.getVirtualChannels()[0]!.channelId as ChannelId;
    assert.equal(irene.getVirtualChannel(v)?.status, 'failed');
    assert.equal(getVirtualData(w.stores.irene, v)?.v, null, 'never funded: the channel record has no states');
    assert.deepEqual(await irene.pruneHistory({ olderThanMs: 0 }), { channels: 1, objectives: 1, kept: 0, forgotten: 0 });
    ireneClock.offset = 30 * 24 * HOUR; // a clock a month ahead forgets it early...
    assert.deepEqual(await irene.pruneHistory({ olderThanMs: 0 }), { channels: 0, objectives: 0, kept: 0, forgotten: 1 });
    assert.equal(w.stores.irene.isRetired!(v), false);
    // ...and once corrected, new channels open: what was forgotten bounds what is refused, not
    // the clock that forgot it (the mark is the newest forgotten nonce, not "a month from now")
    ireneClock.offset = 0;
    await new Promise((r) => setTimeout(r, 1_000)); // a nonce second after the forgotten one's
    await w.net.service(ADDR.bob).start();
    const { channelId } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    await until(() => irene.getVirtualChannel(channelId)?.status === 'funded', 'a new channel funded at the hub');
  } finally {
    await w.stop();
  }
});

test('a new channel whose nonce draws an existing channel id (same second, same 32 random bits) draws again: virtual and ledger', async () => {
  // The nonce's low half comes from crypto.randomBytes(4): force the draws, with Alice's clock
  // frozen inside one second so that equal draws make equal nonces.
  const forced: number[] = [];
  const real = crypto.randomBytes;
  const fake = ((size: number, ...rest: unknown[]) => {
    if (size !== 4 || forced.length === 0) return (real as (...a: unknown[]) => Buffer)(size, ...rest);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(forced.shift()!);
    return b;
  }) as typeof crypto.randomBytes;
  crypto.randomBytes = fake;
  syncBuiltinESMExports();
  const t0 = Math.floor(Date.now() / 1000) * 1000 + 500;
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 24 }, { irene: { policy: hubPolicy } }, { alice: { now: () => t0 } });
  try {
    const { alice, bob, irene } = w.nodes;
    forced.push(5);
    const { channelId: ai } = await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1_000n });
    const { channelId: ib } = await bob.createLedgerChannel({ counterparty: ADDR.irene, deposit: 0n, counterpartyDeposit: 500n });
    await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'ledgers open at irene');

    forced.push(7, 7, 8);
    const { channelId: c1 } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    const { channelId: c2 } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    assert.equal(forced.length, 0, 'the second channel drew twice');
    assert.notEqual(c1, c2);
    await until(() => irene.getVirtualChannel(c2)?.status === 'funded', 'the redrawn channel funded at the hub');

    // a ledger: the same nonce as Alice's closed ledger with Irene
    await alice.closeVirtualChannel(c1);
    await alice.closeVirtualChannel(c2);
    await alice.closeLedgerChannel(ai);
    assert.equal(alice.getLedgerChannel(ai)?.status, 'closed');
    forced.push(5, 6);
    const { channelId: ai2 } = await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1_000n });
    assert.equal(forced.length, 0, 'the new ledger drew twice');
    assert.notEqual(ai2, ai);
    assert.equal(alice.getLedgerChannel(ai2)?.status, 'open');
    // three equal draws in a row are not a coincidence: the call fails rather than loop
    forced.push(7, 7, 7);
    await assert.rejects(alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n }), /objective already exists/);
  } finally {
    forced.length = 0;
    crypto.randomBytes = real;
    syncBuiltinESMExports();
    await w.stop();
  }
});
