/**
 * Ledger openings nobody funds: a peer that proposes a ledger to the hub and never deposits must
 * not leave an objective behind forever (anyone can do it, with any number of identities). The
 * hub abandons it after the opening timeout while nothing is at stake; a deposit seen later
 * resumes it, so an honest but slow depositor still gets the ledger. An opening in which the hub
 * asked for its own deposit is never abandoned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Address, type ChannelId, type State, getChannelId, isSluiceError, privateKeyToAddress, protocols as P, sameAddress, signState } from '../../src/index.ts';
import { encodeWireMessage } from '../../src/engine/index.ts';
import { ledgerPrefund } from '../protocols/fixtures.ts';
import { ADDR, ETH, KEYS, type World, dropSends, openLedgersAtIrene, until, world } from './harness.ts';
import { freeToLock } from '../../src/engine/join.ts';

const IRENE = { name: 'irene', privateKey: KEYS.irene, address: ADDR.irene };

/** A peer that speaks raw protocol messages to Irene: proposes ledgers, and signs what it sends. */
async function rawPeer(w: World, privateKey: string) {
  const address = privateKeyToAddress(privateKey);
  const raw = w.net.service(address);
  const received: Uint8Array[] = [];
  raw.onMessage(async (m) => void received.push(m.payload));
  await raw.start();
  const sendTo = (to: Address, state: State, objectiveId: string): Promise<string> =>
    raw.send(to, encodeWireMessage({ kind: 'signedState', objectiveId, state, signatures: [signState(state, privateKey)] }));
  return {
    received,
    /** A ledger [peer, Irene] with these deposits, and its funding objective id. */
    ledger(mine: bigint, irene: bigint, nonce: bigint): { prefund: State; ledgerId: ChannelId; id: string } {
      const prefund = ledgerPrefund({ name: 'peer', privateKey, address }, IRENE, mine, irene, nonce);
      const ledgerId = getChannelId(prefund);
      return { prefund, ledgerId, id: P.directFundId(ledgerId) };
    },
    send: (state: State, objectiveId: string): Promise<string> => sendTo(ADDR.irene, state, objectiveId),
    /** Send `state` signed by this peer to `to` (for forgeries: a state of someone else's channel). */
    sendTo,
  };
}

test('a ledger opening nobody funds is abandoned after the opening timeout, and resumed by a late deposit', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 5 }, { irene: { openingTimeoutMs: 300, objectiveTimeoutMs: 100 } });
  try {
    const { irene } = w.nodes;
    const mallory = await rawPeer(w, KEYS.mallory);
    const failed = (id: string) => w.events.irene.find((e) => e.type === 'objectiveFailed' && e.objectiveId === id);

    // Mallory proposes a ledger with her deposit of 100 (Irene deposits nothing), then goes quiet
    const { prefund, ledgerId, id } = mallory.ledger(100n, 0n, 77n);
    await mallory.send(prefund, id);
    await until(() => irene.engine.activeObjectives().some((o) => o.id === id), 'Irene joined');
    assert.equal(irene.getLedgerChannel(ledgerId)?.status, 'funding');

    // idle past the opening timeout with nothing deposited: abandoned
    await until(() => failed(id) !== undefined, 'abandoned', 5_000);
    const ev = failed(id)!;
    assert.equal(ev.type === 'objectiveFailed' ? ev.code : '', 'PEER_TIMEOUT');
    assert.equal(irene.engine.activeObjectives().some((o) => o.id === id), false, 'nothing left active');
    assert.equal(irene.getLedgerChannel(ledgerId)?.status, 'failed');
    assert.equal(irene.engine.objective(id)?.abandoned, true);

    // Mallory deposits after all: the opening resumes where it stopped; Irene signs the postfund
    await w.chain.submit({ kind: 'deposit', channelId: ledgerId, asset: ETH, amount: 100n });
    await until(() => irene.getLedgerChannel(ledgerId)?.status === 'funding' && irene.engine.activeObjectives().some((o) => o.id === id), 'resumed');
    // announced as resumed (its objectiveFailed was not final), the first announcement as new
    const created = w.events.irene.filter((e) => e.type === 'objectiveCreated' && e.objectiveId === id);
    assert.deepEqual(created.map((e) => (e.type === 'objectiveCreated' ? e.resumed ?? false : undefined)), [false, true]);
    const postfund: State = { ...prefund, turnNum: 1 };
    await until(() => irene.engine.objective(id)?.waitingFor === 'WaitingForCompletePostFund', 'Irene signed the postfund');
    await mallory.send(postfund, id);
    await until(() => irene.getLedgerChannel(ledgerId)?.status === 'open', 'the ledger opened');
    assert.equal(irene.getLedgerChannel(ledgerId)?.counterpartyBalance, 100n);
    assert.ok(mallory.received.length > 0, 'Irene sent Mallory her signatures');
  } finally {
    await w.stop();
  }
});

test('an opening the peer funded, then left without its postfund, is abandoned after the opening timeout and resumed by its postfund', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 6 }, { irene: { openingTimeoutMs: 300, objectiveTimeoutMs: 100 } });
  try {
    const { irene } = w.nodes;
    const mallory = await rawPeer(w, KEYS.mallory);
    const { prefund, ledgerId, id } = mallory.ledger(100n, 0n, 78n);
    await mallory.send(prefund, id);
    await until(() => irene.engine.activeObjectives().some((o) => o.id === id), 'Irene joined');
    await w.chain.submit({ kind: 'deposit', channelId: ledgerId, asset: ETH, amount: 100n });
    await until(() => irene.engine.objective(id)?.waitingFor === 'WaitingForCompletePostFund', 'Irene signed the postfund');
    // Mallory never signs hers: nothing of Irene's is in the ledger, so after the opening timeout it goes
    await until(() => irene.getLedgerChannel(ledgerId)?.status === 'failed', 'abandoned', 5_000);
    assert.equal(irene.engine.objective(id)?.abandoned, true);
    assert.equal(irene.engine.activeObjectives().some((o) => o.id === id), false, 'nothing left active, nothing re-sent');
    // a postfund not signed by Mallory does not bring it back
    const postfund: State = { ...prefund, turnNum: 1 };
    const eve = await rawPeer(w, '0x' + '46'.repeat(32));
    await eve.sendTo(ADDR.irene, postfund, id);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(irene.getLedgerChannel(ledgerId)?.status, 'failed');
    // Mallory's postfund does: the ledger opens with her 100
    await mallory.send(postfund, id);
    await until(() => irene.getLedgerChannel(ledgerId)?.status === 'open', 'resumed and opened');
    assert.equal(irene.getLedgerChannel(ledgerId)?.counterpartyBalance, 100n);
  } finally {
    await w.stop();
  }
});

test('an opening in which the hub asked for its own deposit is never abandoned', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 6 }, { irene: { openingTimeoutMs: 200, objectiveTimeoutMs: 100 } });
  try {
    const { irene } = w.nodes;
    const carol = await rawPeer(w, '0x' + '43'.repeat(32));
    // Carol deposits nothing and asks Irene for 10: Irene deposits at once (her turn: Carol's 0 precedes)
    const { prefund, ledgerId, id } = carol.ledger(0n, 10n, 78n);
    await carol.send(prefund, id);
    await until(() => irene.engine.activeObjectives().some((o) => o.id === id && o.type === 'directFund' && o.depositsSubmitted.length === 1), 'Irene deposited');
    await new Promise((r) => setTimeout(r, 800)); // four opening timeouts
    assert.equal(irene.engine.activeObjectives().some((o) => o.id === id), true, 'still active: Irene\'s money is in it');
    assert.equal(irene.getLedgerChannel(ledgerId)?.status, 'funding');
  } finally {
    await w.stop();
  }
});

test('history retention deletes abandoned openings; their ids stay known, so a replayed prefund is ignored', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 7 }, { irene: { openingTimeoutMs: 150, objectiveTimeoutMs: 100 } });
  try {
    const { irene } = w.nodes;
    const mallory = await rawPeer(w, KEYS.mallory);
    const { prefund, ledgerId, id } = mallory.ledger(100n, 0n, 79n);
    await mallory.send(prefund, id);
    await until(() => irene.getLedgerChannel(ledgerId)?.status === 'failed', 'abandoned', 5_000);
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(await irene.pruneHistory({ olderThanMs: 0 }), { channels: 1, objectives: 1, kept: 0, forgotten: 0 });
    assert.equal(irene.getLedgerChannel(ledgerId), undefined);
    assert.equal(irene.engine.objective(id), undefined);
    assert.equal(irene.engine.ledgerChannels().some((l) => l.ledgerId.toLowerCase() === ledgerId.toLowerCase()), false, 'out of the ledger cache');
    const created = (): number => w.events.irene.filter((e) => e.type === 'objectiveCreated' && e.objectiveId === id).length;
    assert.equal(created(), 1);
    await mallory.send(prefund, id);
    await w.net.idle(2_000).catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(created(), 1, 'the replayed prefund started nothing');
    assert.equal(irene.engine.activeObjectives().length, 0);
  } finally {
    await w.stop();
  }
});

test('an opening the hub deposited into, whose counterparty goes silent before the postfund, is exited on chain with the prefund: the hub gets its deposit back', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 8 }, { irene: { objectiveTimeoutMs: 100, fallback: { peerTimeoutMs: 300 } } });
  try {
    const { irene } = w.nodes;
    const carol = await rawPeer(w, '0x' + '44'.repeat(32));
    // Carol asks Irene for 10 and deposits nothing herself; Irene deposits; Carol never signs the postfund
    const { prefund, ledgerId, id } = carol.ledger(0n, 10n, 80n);
    await carol.send(prefund, id);
    await until(() => w.events.irene.some((e) => e.type === 'fallbackStarted' && e.objectiveId === P.ledgerExitId(ledgerId)), 'exit started', 5_000);
    assert.equal(irene.getLedgerChannel(ledgerId)?.status, 'closing');
    const failed = w.events.irene.find((e) => e.type === 'objectiveFailed' && e.objectiveId === id);
    assert.equal(failed?.type === 'objectiveFailed' ? failed.code : '', 'CHANNEL_CLOSING', 'the opening gave way to the exit');
    await until(() => irene.getDisputes().some((d) => d.channelId === ledgerId && d.phase === 'challenge'), 'the prefund registered');
    w.chain.mine(86_401); // the ledger's challenge duration passes
    await until(() => irene.getLedgerChannel(ledgerId)?.status === 'closed', 'paid out', 10_000);
    assert.equal(w.payout('irene'), 10n, "Irene's deposit came back");
  } finally {
    await w.stop();
  }
});

// `exitLedgerChannel` (the CLIs' withdraw / settle) on a ledger that never opened: before, it
// refused ("no funded ledger"), and a deposit into an opening whose peer vanished came back only if
// the node kept running past the fallback timeout.
test('exitLedgerChannel on an opening: with our deposit in it, exits on chain with the prefund after the cooperative timeout; with nothing of ours, gives it up', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 12 }, { irene: { objectiveTimeoutMs: 5_000, fallback: { peerTimeoutMs: 3_600_000 } } });
  try {
    const { irene } = w.nodes;
    const carol = await rawPeer(w, '0x' + '45'.repeat(32));
    // Carol asks Irene for 10 and deposits nothing; Irene deposits; Carol never signs the postfund
    const held = carol.ledger(0n, 10n, 81n);
    await carol.send(held.prefund, held.id);
    await until(() => irene.engine.objective(held.id)?.waitingFor === 'WaitingForCompletePostFund', 'Irene waits for the postfund');
    const t0 = Date.now();
    const r = await irene.exitLedgerChannel(held.ledgerId, { cooperativeTimeoutMs: 300 });
    assert.ok(Date.now() - t0 >= 250, 'the opening was given the cooperative timeout first');
    assert.deepEqual(r, { mode: 'onChain', objectiveIds: [P.ledgerExitId(held.ledgerId)] });
    assert.equal(irene.getLedgerChannel(held.ledgerId)?.status, 'closing');
    await until(() => irene.getDisputes().some((d) => d.channelId === held.ledgerId && d.phase === 'challenge'), 'the prefund registered');
    w.chain.mine(86_401);
    await until(() => irene.getLedgerChannel(held.ledgerId)?.status === 'closed', 'paid out', 10_000);
    assert.equal(w.payout('irene'), 10n, "Irene's deposit came back");
    // again: idempotent, nothing new started
    assert.deepEqual(await irene.exitLedgerChannel(held.ledgerId), { mode: 'cooperative' });

    // Mallory proposes a ledger with her own deposit of 100, Irene's is 0: nothing of Irene's in it
    const mallory = await rawPeer(w, KEYS.mallory);
    const empty = mallory.ledger(100n, 0n, 82n);
    await mallory.send(empty.prefund, empty.id);
    await until(() => irene.engine.activeObjectives().some((o) => o.id === empty.id), 'Irene joined');
    assert.deepEqual(await irene.exitLedgerChannel(empty.ledgerId), { mode: 'cooperative', openingGivenUp: true });
    assert.equal(irene.getLedgerChannel(empty.ledgerId)?.status, 'failed');
    assert.equal(irene.engine.objective(empty.id)?.abandoned, true, 'a deposit seen later would resume it');
    assert.equal(irene.engine.activeObjectives().some((o) => o.id === empty.id), false);
    await assert.rejects(irene.exitLedgerChannel(empty.ledgerId), (e: unknown) => isSluiceError(e, 'CHANNEL_UNKNOWN'));
  } finally {
    await w.stop();
  }
});

test('exitLedgerChannel on an opening whose peer answers: it opens within the cooperative timeout and is closed cooperatively', async () => {
  const w = await world({ minDelayMs: 40, maxDelayMs: 60, seed: 13 });
  try {
    const { alice } = w.nodes;
    const opening = alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 100n });
    await until(() => alice.getLedgerChannels().length === 1, 'the opening is recorded');
    const ledgerId = alice.getLedgerChannels()[0]!.channelId;
    await until(() => alice.engine.objective(P.directFundId(ledgerId))?.waitingFor === 'WaitingForCompletePostFund', 'our deposit is in, the postfund not yet');
    assert.equal(alice.getLedgerChannel(ledgerId)?.status, 'funding', 'still opening when asked to exit');
    assert.deepEqual(await alice.exitLedgerChannel(ledgerId, { cooperativeTimeoutMs: 5_000 }), { mode: 'cooperative' });
    await opening;
    assert.equal(alice.getLedgerChannel(ledgerId)?.status, 'closed');
    assert.equal(w.payout('alice'), 100n, 'withdrawn cooperatively');
    assert.deepEqual(alice.getDisputes(), [], 'nothing went on chain');
  } finally {
    await w.stop();
  }
});

// Virtual channels whose payee never signs the prefund: the hub signs last, so until the payee
// has signed nobody holds a complete prefund, and the hub may give up. Without this a payer who
// never sends the payee its prefund (or names a payee that is down) kept the hub's collateral
// toward that payee reserved, and the objective alive at every party, for good.
test('the hub gives up a virtual channel its payee has not signed within the prefund timeout; payer and payee give up too', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 31 }, { irene: { prefundTimeoutMs: 300, objectiveTimeoutMs: 400 } });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai, ib } = await openLedgersAtIrene(w, 1_000n, 1_000n);
    const free = (): bigint => freeToLock(irene.engine.ledgerChannel(ib)!.ledger!, ADDR.irene, irene.engine.activeObjectives());
    const before = free();
    // Bob's transport goes down: he does not see the prefund
    await w.net.service(ADDR.bob).stop();
    const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n }, { timeoutMs: 10_000 });
    await until(() => irene.engine.activeObjectives().length === 1, 'irene joined');
    assert.equal(free(), before - 100n, 'the join reserves collateral toward Bob');
    const v = irene.getVirtualChannels()[0]!.channelId;
    await assert.rejects(opening, (e: unknown) => isSluiceError(e, 'PEER_TIMEOUT') && /did not sign the prefund/.test(e.message));
    assert.deepEqual(irene.engine.activeObjectives(), []);
    assert.equal(irene.getVirtualChannel(v)?.status, 'failed');
    assert.equal(free(), before, 'the reservation is released');
    assert.equal(alice.getVirtualChannel(v)?.status, 'failed');
    assert.ok(w.events.irene.some((e) => e.type === 'objectiveFailed' && e.objectiveId === P.virtualFundId(v) && e.code === 'PEER_TIMEOUT'));
    // Bob comes back: the prefund Alice queued for him arrives with the hub's refusal; he joins
    // (or not) and gives up; the hub ignores his late signature
    await w.net.service(ADDR.bob).start();
    await until(() => bob.getVirtualChannel(v)?.status === 'failed', 'bob joins and gives up', 15_000);
    assert.deepEqual(bob.engine.activeObjectives(), []);
    assert.equal(irene.getVirtualChannel(v)?.status, 'failed', 'a late payee signature does not revive it at the hub');
    assert.ok(alice.getLedgerChannel(ai)!.guarantees === 0 && irene.getLedgerChannel(ib)!.guarantees === 0, 'nothing was proposed in any ledger');
    // and channels open as before
    const { channelId } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    await until(() => bob.getVirtualChannel(channelId)?.status === 'funded', 'a new channel funded');
  } finally {
    await w.stop();
  }
});

// The same, but the hub's refusal never reaches Bob (lost; in a chaos run the hub's open had
// failed when a channel went on chain while Bob was down, and no refusal was sent). Bob joins from
// Alice's queued prefund, signs it and waits for the hub's signature: the hub ignored that as a late
// duplicate, so Bob's open waited in WaitingForCompletePrefund for ever. Now the hub answers a
// prefund signature for an opening it gave up, unsigned by it, with its refusal again.
test('a payee signing the prefund of an opening the hub gave up (its refusal lost) is refused again, not left waiting', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 37 }, { irene: { prefundTimeoutMs: 300, objectiveTimeoutMs: 400 } });
  // the hub's first refusal to Bob is lost
  let dropNext = true;
  dropSends(w, 'irene', (to, m) => {
    if (!dropNext || !sameAddress(to, ADDR.bob) || m?.kind !== 'rejectObjective') return false;
    dropNext = false;
    return true;
  });
  try {
    const { alice, irene, bob } = w.nodes;
    await openLedgersAtIrene(w, 1_000n, 1_000n);
    await w.net.service(ADDR.bob).stop();
    const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n }, { timeoutMs: 10_000 });
    await until(() => irene.engine.activeObjectives().length === 1, 'irene joined');
    const v = irene.getVirtualChannels()[0]!.channelId;
    await assert.rejects(opening, (e: unknown) => isSluiceError(e, 'PEER_TIMEOUT'));
    assert.equal(dropNext, false, "the hub's refusal to Bob was lost");
    await w.net.service(ADDR.bob).start();
    await until(() => bob.getVirtualChannel(v)?.status === 'failed', 'bob joins from the queued prefund, signs, is refused again and gives up', 15_000);
    assert.deepEqual(bob.engine.activeObjectives(), []);
    assert.equal(irene.getVirtualChannel(v)?.status, 'failed', 'the late payee signature does not revive it at the hub');
    assert.equal(alice.getVirtualChannel(v)?.status, 'failed');
  } finally {
    await w.stop();
  }
});

test('the hub gives up a virtual channel whose prefund is complete but whose guarantee neither ledger proposed within the prefund timeout; nothing is locked', async () => {
  // bench:chaos (ERC20, payees away 30 s): the payer and the payee gave V up on the hub's first
  // refusal, the payee's prefund signature crossed it, and the hub joined on it when its ledger with
  // the payee was back: complete prefund, no proposal ever, 17 opens in flight at the hub for good
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 33 }, { irene: { prefundTimeoutMs: 300, objectiveTimeoutMs: 400 } });
  try {
    const { alice, irene } = w.nodes;
    const { ai, ib } = await openLedgersAtIrene(w, 1_000n, 1_000n);
    const free = (): bigint => freeToLock(irene.engine.ledgerChannel(ib)!.ledger!, ADDR.irene, irene.engine.activeObjectives());
    const before = free();
    // neither leader's guarantee proposal reaches the hub
    dropSends(w, 'alice', (to, m) => sameAddress(to, ADDR.irene) && m?.kind === 'ledgerProposal');
    dropSends(w, 'bob', (to, m) => sameAddress(to, ADDR.irene) && m?.kind === 'ledgerProposal');
    void alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n }, { timeoutMs: 10_000 }).catch(() => {});
    await until(() => irene.engine.activeObjectives().some((o) => o.type === 'virtualFund' && P.preFundComplete(o.v)), 'the prefund is complete at the hub');
    const v = irene.getVirtualChannels()[0]!.channelId;
    await until(() => w.events.irene.some((e) => e.type === 'objectiveFailed' && e.objectiveId === P.virtualFundId(v) && e.code === 'PEER_TIMEOUT' && /neither ledger proposed/.test(e.reason)), 'the hub gives V up', 10_000);
    assert.deepEqual(irene.engine.activeObjectives(), []);
    assert.equal(free(), before, 'the reservation toward Bob is released');
    assert.ok(irene.getLedgerChannel(ai)!.guarantees === 0 && irene.getLedgerChannel(ib)!.guarantees === 0, 'nothing locked');
  } finally {
    await w.stop();
  }
});

test("a deposit into an abandoned opening while another ledger with the peer is open is kept; the peer's late join resumes the opening with it", async () => {
  // bench:chaos (seed 111): the resumed opening did not know of the deposit, waited for a funding
  // it had, and the peer waited for its postfund — neither moved again
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 12 }, { irene: { openingTimeoutMs: 300, objectiveTimeoutMs: 100 } });
  try {
    const { irene } = w.nodes;
    const mallory = await rawPeer(w, KEYS.mallory);
    const M = privateKeyToAddress(KEYS.mallory);
    const prefundOf = (ledgerId: ChannelId): State => {
      const c = (irene.engine.objective(P.directFundId(ledgerId))!.objective as P.DirectFundObjective).channel;
      return { ...c.fixedPart, ...c.states[0]!.state } as State;
    };
    // L_a: Irene proposes it (Mallory to deposit 100); Mallory does not answer: abandoned
    const opening = irene.createLedgerChannel({ counterparty: M, deposit: 0n, counterpartyDeposit: 100n }).catch(() => undefined);
    await until(() => irene.getLedgerChannels().length === 1, 'L_a proposed');
    const la = irene.getLedgerChannels()[0]!.channelId;
    await opening;
    await until(() => irene.engine.objective(P.directFundId(la))?.abandoned === true, 'L_a abandoned');
    // L_b: proposed and opened meanwhile
    const openingB = irene.createLedgerChannel({ counterparty: M, deposit: 0n, counterpartyDeposit: 50n });
    await until(() => irene.getLedgerChannels().length === 2, 'L_b proposed');
    const lb = irene.getLedgerChannels().find((l) => l.channelId !== la)!.channelId;
    const pb = prefundOf(lb);
    await mallory.send(pb, P.directFundId(lb));
    await w.chain.submit({ kind: 'deposit', channelId: lb, asset: ETH, amount: 50n });
    await until(() => irene.engine.objective(P.directFundId(lb))?.waitingFor === 'WaitingForCompletePostFund', 'L_b funded');
    await mallory.send({ ...pb, turnNum: 1 }, P.directFundId(lb));
    await openingB;
    assert.equal(irene.getLedgerChannel(lb)?.status, 'open');
    // Mallory funds L_a after all: not resumed (L_b is open), but the deposit is recorded
    await w.chain.submit({ kind: 'deposit', channelId: la, asset: ETH, amount: 100n });
    await until(() => w.chain.allEvents.some((e) => e.type === 'Deposited' && e.destinationHoldings === 100n), 'L_a deposit mined');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(irene.getLedgerChannel(la)?.status, 'failed');
    // L_b leaves (exited on chain); Mallory's late prefund signature for L_a resumes it, funded:
    // Irene signs its postfund, Mallory hers, and it opens
    assert.equal((await irene.exitLedgerChannel(lb, { force: true })).mode, 'onChain');
    await until(() => irene.getLedgerChannel(lb)?.status === 'closing', 'L_b closing');
    const pa = prefundOf(la);
    await mallory.send(pa, P.directFundId(la));
    await until(() => irene.engine.objective(P.directFundId(la))?.waitingFor === 'WaitingForCompletePostFund', 'L_a resumed, funded', 5_000);
    await mallory.send({ ...pa, turnNum: 1 }, P.directFundId(la));
    await until(() => irene.getLedgerChannel(la)?.status === 'open', 'L_a open');
    assert.equal(irene.getLedgerChannel(la)?.counterpartyBalance, 100n);
  } finally {
    await w.stop();
  }
});
