/**
 * The fallback objectives step by step: every pause point, the safe-ordering guards, idempotent
 * cranks, reclaims by others resolved by inference or by the status fingerprint, the watchtower
 * decision table, the plan and the go-on-chain decision, and hostile chain events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Bytes32,
  type ChannelId,
  type State,
  getChannelId,
  hashState,
  signChallenge,
  signState,
  signVoucher,
  protocols as P,
} from '../../src/index.ts';
import { parseJson, stringifyJson } from '../../src/json.ts';
import { ETH, alice, bob, d, fundedLedger, irene, ledgerPrefund, mallory, rejects, secrets, virtualPrefund } from './fixtures.ts';
import { DisputeChain, contextOf, download } from './fallback-chain.ts';

type VC = P.VirtualChallengeObjective;
type LE = P.LedgerExitObjective;

function txOf(effects: readonly P.Effect[]): P.Transaction[] {
  return effects.flatMap((e) => (e.type === 'submitTransaction' ? [e.tx] : []));
}

/** Persist and reload, as the engine does between cranks. */
function reload<O>(o: O): O {
  return parseJson(stringifyJson(o)) as O;
}

function feed<O extends P.Objective>(o: O, events: readonly P.ObjectiveEvent[]): O {
  return events.reduce((x, e) => P.update(x, e) as O, o);
}

test('virtual challenge (payee): redemption submitted once, then WaitingForFinalization until finalizesAt', () => {
  const dl = download({ chunks: 4, price: 5n });
  const chain = dl.chain;
  let o: VC = P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: dl.bestVoucher, now: chain.time });
  assert.equal(o.id, P.virtualChallengeId(dl.V));

  const r1 = P.crankVirtualChallenge(o, secrets(bob));
  assert.equal(r1.waitingFor, 'WaitingForChallengeRegistered');
  const [tx] = txOf(r1.effects);
  assert.ok(tx?.kind === 'challenge');
  assert.equal(tx.channelId, dl.V);
  assert.equal(tx.candidate.state.turnNum, 2);
  assert.equal(tx.candidate.state.isFinal, false);
  assert.equal(tx.candidate.state.appData, P.redemptionState(dl.vs.get('bob')!, P.latestSupportedState(dl.vs.get('bob')!)!.state, dl.bestVoucher!).appData);
  assert.equal(tx.candidate.signatures.length, 1, 'signed by the payee only');
  assert.equal(tx.proof.length, 1, 'proof: the unanimous postfund');
  assert.equal(P.allocatedTo(tx.candidate.state.outcome, d(bob)), 20n);
  o = reload(r1.objective);

  // idempotent: cranking again (e.g. after a restart) submits nothing
  const r2 = P.crankVirtualChallenge(o, secrets(bob));
  assert.deepEqual(txOf(r2.effects), []);
  assert.equal(r2.waitingFor, 'WaitingForChallengeRegistered');

  const events = chain.submit(tx, 'bob');
  o = feed(r2.objective, events);
  assert.equal(o.submitted, null);
  const r3 = P.crankVirtualChallenge(o, secrets(bob));
  assert.equal(r3.waitingFor, 'WaitingForFinalization');
  assert.deepEqual(r3.effects, []);
  const finalizesAt = o.onChain!.finalizesAt;
  assert.equal(finalizesAt, chain.time + 3600);
  assert.equal(P.wakeAt(r3.objective), finalizesAt);

  // one second early: still waiting; at finalizesAt: completed
  o = feed(r3.objective, [{ kind: 'chainTime', timestamp: finalizesAt - 1, blockNumber: 9 }]);
  assert.equal(P.crankVirtualChallenge(o, secrets(bob)).waitingFor, 'WaitingForFinalization');
  o = feed(o, [{ kind: 'chainTime', timestamp: finalizesAt, blockNumber: 10 }]);
  const done = P.crankVirtualChallenge(o, secrets(bob));
  assert.equal(done.waitingFor, 'WaitingForNothing');
  assert.equal(done.objective.status, 'completed');
  assert.ok(P.virtualFinalized(done.objective));
  assert.equal(P.wakeAt(done.objective), null);
});

test('virtual challenge: a reverted submission is retried (onTransactionFailed); a better registered state is not re-challenged', () => {
  const dl = download({ chunks: 2 });
  let a: VC = P.newVirtualChallenge({ v: dl.vs.get('alice')!, now: dl.chain.time });
  const r = P.crankVirtualChallenge(a, secrets(alice));
  const [tx] = txOf(r.effects);
  assert.ok(tx?.kind === 'challenge' && tx.candidate.state.turnNum === 1 && tx.proof.length === 0, 'the payer registers the postfund');
  a = P.onTransactionFailed(r.objective) as VC;
  const again = P.crankVirtualChallenge(a, secrets(alice));
  assert.equal(txOf(again.effects).length, 1, 'resubmitted after a failure');
  // meanwhile Bob registered his redemption (turn 2): Alice's view of the chain stops her
  const b = P.crankVirtualChallenge(P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: dl.bestVoucher }), secrets(bob));
  const bobEvents = dl.chain.submit(txOf(b.effects)[0]!, 'bob');
  a = feed(P.onTransactionFailed(again.objective) as VC, bobEvents);
  const r2 = P.crankVirtualChallenge(a, secrets(alice));
  assert.deepEqual(r2.effects, []);
  assert.equal(r2.waitingFor, 'WaitingForFinalization');
  // a checkpoint later raises the record above what Alice can register: nothing she can do
  a = feed(r2.objective, [{ kind: 'challengeCleared', channelId: dl.V, newTurnNumRecord: 2, blockNumber: 1e6, logIndex: 0 }]);
  const r3 = P.crankVirtualChallenge(a, secrets(alice));
  assert.deepEqual(r3.effects, []);
  assert.equal(r3.waitingFor, 'WaitingForOtherParticipant');
  // Bob in the same situation challenges again (turn 2 >= record 2 is allowed when open)
  let bo = feed(b.objective, [...bobEvents, { kind: 'challengeCleared', channelId: dl.V, newTurnNumRecord: 2, blockNumber: 1e6, logIndex: 0 }]);
  const r4 = P.crankVirtualChallenge(bo, secrets(bob));
  assert.equal(txOf(r4.effects)[0]?.kind, 'challenge');
  bo = r4.objective;
  assert.equal(bo.submitted?.turnNum, 2);
});

test('virtual challenge with a unanimous final state concludes at once', () => {
  const pre = virtualPrefund(alice, irene, bob, 40n);
  const post = { ...pre, turnNum: 1 };
  const keys = [alice, irene, bob];
  const sign = (s: State) => keys.map((k) => signState(s, k.privateKey));
  let v = P.addSignedState(P.newChannel(post, bob.address), post, sign(post));
  const final = { ...post, ...P.finalStateFor(v, post, 15n) };
  v = P.addSignedState(v, final, sign(final));
  const chain = new DisputeChain();
  const r = P.crankVirtualChallenge(P.newVirtualChallenge({ v, bestVoucher: signVoucher(v.id, 10n, alice.privateKey) }), secrets(bob));
  const [tx] = txOf(r.effects);
  assert.ok(tx?.kind === 'conclude' && tx.candidate.state.isFinal && tx.candidate.signatures.length === 3);
  const o = feed(r.objective, chain.submit(tx, 'bob'));
  assert.equal(P.crankVirtualChallenge(o, secrets(bob)).objective.status, 'completed');
});

test('ledger exit: every pause point; never reclaims before the ledger and V are finalized; one step at a time', () => {
  const dl = download({ chunks: 5, price: 2n });
  const chain = dl.chain;
  const ib = dl.ledgers.get('bob')!.get(dl.IB)!;
  let o: LE = P.newLedgerExit({ ledger: ib, virtuals: [dl.vs.get('bob')!], now: chain.time });
  assert.deepEqual(P.watchedChannels(o), [dl.IB, dl.V]);

  const r1 = P.crankLedgerExit(o, secrets(bob));
  assert.equal(r1.waitingFor, 'WaitingForChallengeRegistered');
  const [ch] = txOf(r1.effects);
  assert.equal(ch && P.fallbackTransactionKey(ch), `challenge:${dl.IB}:2`);
  assert.ok(ch?.kind === 'challenge' && ch.candidate.state.turnNum === 2 && ch.candidate.signatures.length === 2);
  assert.deepEqual(txOf(P.crankLedgerExit(reload(r1.objective), secrets(bob)).effects), [], 'no double submission');
  const lEvents = chain.submit(ch, 'bob');
  o = feed(r1.objective, lEvents);
  const r2 = P.crankLedgerExit(o, secrets(bob));
  assert.equal(r2.waitingFor, 'WaitingForFinalization');
  const lFinal = o.onChain!.finalizesAt;

  // V gets challenged by Bob's redemption and finalizes long before the ledger
  const vc = P.crankVirtualChallenge(P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: dl.bestVoucher }), secrets(bob));
  const vEvents = chain.submit(txOf(vc.effects)[0]!, 'bob');
  o = feed(r2.objective, vEvents);
  chain.time = o.targets[dl.V]!.finalizesAt;
  o = feed(o, [chain.now()]);
  const r3 = P.crankLedgerExit(o, secrets(bob));
  assert.equal(r3.waitingFor, 'WaitingForFinalization', 'V is final but the ledger is not: no reclaim');
  assert.deepEqual(r3.effects, []);
  assert.equal(P.wakeAt(r3.objective), lFinal);

  // the ledger finalizes; had V not been finalized (nobody challenged it), the exit would wait for it
  chain.time = lFinal;
  const withoutV = feed(P.newLedgerExit({ ledger: ib, virtuals: [dl.vs.get('bob')!] }), [...lEvents, chain.now()]);
  const rw = P.crankLedgerExit(withoutV, secrets(bob));
  assert.equal(rw.waitingFor, 'WaitingForVirtualFinalization');
  assert.deepEqual(rw.effects, []);

  o = feed(r3.objective, [chain.now()]);
  const r4 = P.crankLedgerExit(o, secrets(bob));
  assert.equal(r4.waitingFor, 'WaitingForReclaim');
  const [rc] = txOf(r4.effects);
  assert.ok(rc?.kind === 'reclaim');
  assert.equal(rc.targetChannelId, dl.V);
  assert.equal(P.fallbackTransactionKey(rc), `reclaim:${dl.IB}:${dl.V}`);
  assert.deepEqual(P.unknownGuaranteeTargets(r4.objective), []);
  assert.deepEqual(P.unknownGuaranteeTargets(P.newLedgerExit({ ledger: ib })), [], 'nothing registered yet');
  assert.deepEqual(P.unknownGuaranteeTargets(feed(P.newLedgerExit({ ledger: ib }), lEvents)), [dl.V]);
  assert.equal(P.withGuaranteedChannel(feed(P.newLedgerExit({ ledger: ib }), lEvents), dl.vs.get('bob')!).virtuals.length, 1);
  assert.equal(rc.indexOfTargetInSource, 2);
  assert.equal(rc.sourceStateHash, hashState(ch.candidate.state));
  assert.deepEqual(txOf(P.crankLedgerExit(reload(r4.objective), secrets(bob)).effects), [], 'no double reclaim');
  o = feed(r4.objective, chain.submit(rc, 'bob').map((e) => (e.kind === 'reclaimed' ? { ...e, target: dl.V } : e)));
  assert.deepEqual(o.onChain!.reclaimed, [dl.V]);

  const r5 = P.crankLedgerExit(o, secrets(bob));
  assert.equal(r5.waitingFor, 'WaitingForTransfer');
  const [tr] = txOf(r5.effects);
  assert.ok(tr?.kind === 'transferAllAssets');
  assert.equal(P.guaranteesOf(tr.outcome).length, 0);
  assert.equal(P.allocatedTo(tr.outcome, d(bob)), 5n + dl.paid);
  assert.deepEqual(txOf(P.crankLedgerExit(reload(r5.objective), secrets(bob)).effects), [], 'no double transfer');
  o = feed(r5.objective, chain.submit(tr, 'bob'));
  const r6 = P.crankLedgerExit(o, secrets(bob));
  assert.equal(r6.waitingFor, 'WaitingForNothing');
  assert.equal(r6.objective.status, 'completed');
  assert.equal(chain.paid(bob, ETH), 5n + dl.paid);
});

/** L_IB with guarantees for two virtual channels, both postfund-supported; Irene and Bob hold them. */
function twoGuarantees() {
  const [ibI] = fundedLedger(irene, bob, 100n, 10n, 2n);
  const keys = [alice, irene, bob];
  const vs = [7n, 8n].map((nonce) => {
    const pre = virtualPrefund(alice, irene, bob, 30n, 0n, nonce);
    const post = { ...pre, turnNum: 1 };
    const sigs = keys.map((k) => signState(post, k.privateKey));
    return { id: getChannelId(pre), post, sigs, channel: (who: typeof bob) => P.addSignedState(P.newChannel(post, who.address), post, sigs) };
  });
  let lo = ibI.current.outcome;
  for (const v of vs) lo = P.applyProposal(lo, P.expectedAdd(v.id, v.post, P.virtualAmounts(v.post.outcome, v.post), 1));
  const s = P.ledgerState(ibI, 2, lo);
  const sigs = [signState(s, irene.privateKey), signState(s, bob.privateKey)];
  const ledger = (who: typeof bob) => P.addSignedState(P.newChannel(s, who.address), s, sigs);
  const chain = new DisputeChain();
  chain.setHeld(ibI.id, ETH, 110n);
  return { L: ibI.id, vs, ledger, chain };
}

/**
 * Bob's and Irene's exits of {@link twoGuarantees}' ledger: Bob registered it, Irene challenged both
 * virtual channels with their postfunds, and chain time is past every challenge.
 */
function finalizedExits() {
  const { L, vs, ledger, chain } = twoGuarantees();
  const mk = (who: typeof bob) => P.newLedgerExit({ ledger: ledger(who), virtuals: vs.map((v) => v.channel(who)), now: chain.time });
  let b = mk(bob);
  let i = mk(irene);
  const all = (events: readonly P.ObjectiveEvent[]) => {
    b = feed(b, events);
    i = feed(i, events);
  };
  const rb = P.crankLedgerExit(b, secrets(bob));
  b = rb.objective;
  all(chain.submit(txOf(rb.effects)[0]!, 'bob'));
  i = P.crankLedgerExit(i, secrets(irene)).objective; // nothing to add: same turn registered
  assert.equal(i.pending, null);
  for (const v of vs) {
    const post = { state: v.post, signatures: v.sigs };
    all(chain.submit({ kind: 'challenge', channelId: v.id, proof: [], candidate: post, challengerSignature: signChallenge(v.post, irene.privateKey) }, 'irene'));
  }
  all([chain.advance(86400)]);
  return { L, vs, chain, b, i };
}

test('ledger exit: reclaims by someone else are attributed by inference or by the status fingerprint', () => {
  for (const mode of ['inferred', 'fingerprint'] as const) {
    const exits = finalizedExits();
    const { L, vs, chain } = exits;
    let { b, i } = exits;
    const all = (events: readonly P.ObjectiveEvent[]) => {
      b = feed(b, events);
      i = feed(i, events);
    };
    // Irene reclaims: the events reach Bob without a target
    const reclaims = mode === 'inferred' ? 2 : 1;
    for (let k = 0; k < reclaims; k++) {
      const ri = P.crankLedgerExit(i, secrets(irene));
      const [tx] = txOf(ri.effects);
      assert.ok(tx?.kind === 'reclaim');
      const evs = chain.submit(tx, 'irene');
      i = feed(ri.objective, evs.map((e) => (e.kind === 'reclaimed' ? { ...e, target: tx.targetChannelId } : e)));
      b = feed(b, evs); // Bob's engine did not submit it: no target
    }
    if (mode === 'fingerprint') {
      const stuck = P.crankLedgerExit(b, secrets(bob));
      assert.equal(stuck.waitingFor, 'WaitingForChannelStatus');
      assert.deepEqual(stuck.effects, []);
      const st = chain.statusOf(L);
      b = feed(stuck.objective, [{ kind: 'channelStatus', channelId: L, turnNumRecord: st.turnNumRecord, finalizesAt: st.finalizesAt, fingerprint: 12345n }]);
      assert.equal(P.crankLedgerExit(b, secrets(bob)).waitingFor, 'WaitingForChannelStatus', 'a wrong fingerprint resolves nothing');
      b = feed(b, [{ kind: 'channelStatus', channelId: L, turnNumRecord: st.turnNumRecord, finalizesAt: st.finalizesAt, fingerprint: st.fingerprint }]);
      assert.equal(b.onChain!.reclaimed.length, 1);
      // Irene is reclaiming: Bob leaves the next reclaim to her for a while (his and hers would
      // revert one another), then makes the one she left
      const yielded = P.crankLedgerExit(b, secrets(bob));
      assert.equal(yielded.waitingFor, 'WaitingForCounterpartyReclaims');
      assert.deepEqual(yielded.effects, []);
      all([chain.advance(P.RECLAIM_YIELD_S)]);
      const rr = P.crankLedgerExit(b, secrets(bob));
      const [tx] = txOf(rr.effects);
      assert.ok(tx?.kind === 'reclaim');
      assert.notEqual(tx.targetChannelId, b.onChain!.reclaimed[0]);
      b = feed(rr.objective, chain.submit(tx, 'bob').map((e) => (e.kind === 'reclaimed' ? { ...e, target: tx.targetChannelId } : e)));
    }
    if (mode === 'inferred') {
      // Irene reclaimed both: the transfer is hers to make for a while too
      assert.equal(P.crankLedgerExit(b, secrets(bob)).waitingFor, 'WaitingForCounterpartyReclaims');
      all([chain.advance(P.RECLAIM_YIELD_S)]);
    }
    const rt = P.crankLedgerExit(b, secrets(bob));
    assert.equal(rt.waitingFor, 'WaitingForTransfer', mode);
    b = feed(rt.objective, chain.submit(txOf(rt.effects)[0]!, 'bob'));
    assert.equal(P.crankLedgerExit(b, secrets(bob)).objective.status, 'completed');
    // the postfunds paid Bob nothing from the channels: he gets his 10, Irene her 100
    assert.equal(chain.paid(bob, ETH), 10n);
    assert.equal(chain.paid(irene, ETH), 100n);
    // Irene's exit completes from the transfer's event alone
    i = feed(i, [{ kind: 'allocationUpdated', channelId: L, asset: ETH, holdings: 0n, blockNumber: chain.block + 1, logIndex: 0 }]);
    assert.equal(P.crankLedgerExit(i, secrets(irene)).objective.status, 'completed');
  }
});

test('ledger exit: the loser of a reclaim race leaves the rest to the winner, and takes over when the winner stops', () => {
  for (const winnerStops of [false, true]) {
    const exits = finalizedExits();
    const { L, chain } = exits;
    let { b, i } = exits;
    const all = (events: readonly P.ObjectiveEvent[]) => {
      b = feed(b, events);
      i = feed(i, events);
    };
    const ours = (events: readonly P.ObjectiveEvent[], tx: P.Transaction) =>
      events.map((e) => (e.kind === 'reclaimed' && tx.kind === 'reclaim' ? { ...e, target: tx.targetChannelId } : e));
    // both reclaim the same guarantee at once; Irene's lands first and Bob's reverts
    const rb = P.crankLedgerExit(b, secrets(bob));
    const ri = P.crankLedgerExit(i, secrets(irene));
    const [tb] = txOf(rb.effects);
    const [ti] = txOf(ri.effects);
    assert.ok(tb?.kind === 'reclaim' && ti?.kind === 'reclaim');
    assert.equal(tb.targetChannelId, ti.targetChannelId);
    const evs = chain.submit(ti, 'irene');
    i = feed(ri.objective, ours(evs, ti));
    b = feed(rb.objective, evs);
    assert.throws(() => chain.submit(tb, 'bob'), /incorrect fingerprint/);
    b = P.onTransactionFailed(b) as LE;
    // Bob learns which guarantee Irene reclaimed from the ledger's status, then yields
    const st = chain.statusOf(L);
    assert.equal(P.crankLedgerExit(b, secrets(bob)).waitingFor, 'WaitingForChannelStatus');
    b = feed(b, [{ kind: 'channelStatus', channelId: L, turnNumRecord: st.turnNumRecord, finalizesAt: st.finalizesAt, fingerprint: st.fingerprint }]);
    const y = P.crankLedgerExit(b, secrets(bob));
    assert.equal(y.waitingFor, 'WaitingForCounterpartyReclaims');
    assert.deepEqual(y.effects, []);
    b = y.objective;
    if (!winnerStops) {
      // Irene, who saw no reclaim but her own, goes on alone: the second reclaim and the transfer
      const r2 = P.crankLedgerExit(i, secrets(irene));
      const [t2] = txOf(r2.effects);
      assert.ok(t2?.kind === 'reclaim');
      const e2 = chain.submit(t2, 'irene');
      i = feed(r2.objective, ours(e2, t2));
      b = feed(b, e2);
      assert.equal(P.crankLedgerExit(b, secrets(bob)).waitingFor, 'WaitingForCounterpartyReclaims');
      const r3 = P.crankLedgerExit(i, secrets(irene));
      assert.equal(r3.waitingFor, 'WaitingForTransfer');
      all(chain.submit(txOf(r3.effects)[0]!, 'irene'));
      i = P.crankLedgerExit(i, secrets(irene)).objective;
      assert.equal(i.status, 'completed');
      // Bob's exit completes from the transfer's event without a transaction of his
      const done = P.crankLedgerExit(b, secrets(bob));
      assert.equal(done.objective.status, 'completed');
      assert.deepEqual(done.effects, []);
    } else {
      // Irene stops after one reclaim: Bob waits out the yield, then finishes the exit himself
      all([chain.advance(P.RECLAIM_YIELD_S - 1)]);
      assert.equal(P.crankLedgerExit(b, secrets(bob)).waitingFor, 'WaitingForCounterpartyReclaims');
      all([chain.advance(1)]);
      const r2 = P.crankLedgerExit(b, secrets(bob));
      const [t2] = txOf(r2.effects);
      assert.ok(t2?.kind === 'reclaim');
      assert.notEqual(t2.targetChannelId, ti.targetChannelId);
      b = feed(r2.objective, ours(chain.submit(t2, 'bob'), t2));
      const r3 = P.crankLedgerExit(b, secrets(bob));
      assert.equal(r3.waitingFor, 'WaitingForTransfer');
      all(chain.submit(txOf(r3.effects)[0]!, 'bob'));
      assert.equal(P.crankLedgerExit(b, secrets(bob)).objective.status, 'completed');
    }
    assert.equal(chain.paid(bob, ETH), 10n);
    assert.equal(chain.paid(irene, ETH), 100n);
  }
});

test('ledger exit: reclaims and the transfer made by someone else while we were away: payouts attributed to the wei', () => {
  for (const donation of [0n, 1n]) {
    const { L, vs, ledger, chain } = twoGuarantees();
    const mk = (who: typeof bob) => P.newLedgerExit({ ledger: ledger(who), virtuals: vs.map((v) => v.channel(who)), now: chain.time });
    let b = mk(bob);
    let i = mk(irene);
    const rb = P.crankLedgerExit(b, secrets(bob));
    const lEvents = chain.submit(txOf(rb.effects)[0]!, 'bob');
    b = feed(rb.objective, lEvents);
    i = feed(i, lEvents);
    for (const v of vs) {
      const post = { state: v.post, signatures: v.sigs };
      const evs = chain.submit({ kind: 'challenge', channelId: v.id, proof: [], candidate: post, challengerSignature: signChallenge(v.post, irene.privateKey) }, 'irene');
      b = feed(b, evs);
      i = feed(i, evs);
    }
    const t = chain.advance(86400);
    i = feed(i, [t]);
    // Bob's node is down: Irene reclaims both guarantees and transfers
    const bobMissed: P.ObjectiveEvent[] = [t];
    for (let k = 0; k < 2; k++) {
      const ri = P.crankLedgerExit(i, secrets(irene));
      const [tx] = txOf(ri.effects);
      assert.ok(tx?.kind === 'reclaim');
      const evs = chain.submit(tx, 'irene');
      i = feed(ri.objective, evs.map((e) => (e.kind === 'reclaimed' ? { ...e, target: tx.targetChannelId } : e)));
      bobMissed.push(...evs); // Bob's engine did not submit it: no target
    }
    if (donation > 0n) {
      // someone deposits into the finalized ledger just before the transfer: it stays behind
      chain.setHeld(L, ETH, 110n + donation);
      bobMissed.push({ kind: 'deposited', channelId: L, asset: ETH, holdings: 110n + donation, blockNumber: chain.block, logIndex: 99 });
    }
    const rt = P.crankLedgerExit(i, secrets(irene));
    const transfer = chain.submit(txOf(rt.effects)[0]!, 'irene');
    bobMissed.push(...transfer);
    assert.equal(chain.paid(bob, ETH), 10n);
    assert.equal(chain.paid(irene, ETH), 100n);

    // Bob's node catches up: after a full payout statusOf is deleted, so no fingerprint can tell;
    // transferAllAssets needs every guarantee reclaimed, so both were
    b = reload(feed(b, bobMissed));
    assert.equal(b.transferred, true, `donation ${donation}`);
    assert.deepEqual(b.transfer, { initialHoldings: 110n + donation, holdings: donation });
    const done = P.crankLedgerExit(b, secrets(bob));
    assert.equal(done.objective.status, 'completed');
    assert.deepEqual(done.effects, [], 'nothing left to send');
    assert.deepEqual([...done.objective.onChain!.reclaimed].sort(), vs.map((v) => v.id).sort());
    const paid = P.ledgerExitPaid(done.objective, [d(irene), d(bob)]);
    assert.deepEqual(paid, { amounts: [{ destination: d(irene), amount: 100n }, { destination: d(bob), amount: 10n }], unattributed: 0n });
    // the same before the crank (what the engine reads when the exit completes)
    assert.deepEqual(P.ledgerExitPaid(b, [d(irene), d(bob)]), paid);
  }
});

test('ledger exit: a payout reclaimed for a channel whose outcome we do not know is reported unattributed, not as ours', () => {
  const { L, vs, ledger, chain } = twoGuarantees();
  // Bob knows only the first virtual channel
  let b = P.newLedgerExit({ ledger: ledger(bob), virtuals: [vs[0]!.channel(bob)], now: chain.time });
  let i = P.newLedgerExit({ ledger: ledger(irene), virtuals: vs.map((v) => v.channel(irene)), now: chain.time });
  const rb = P.crankLedgerExit(b, secrets(bob));
  const lEvents = chain.submit(txOf(rb.effects)[0]!, 'bob');
  b = feed(rb.objective, lEvents);
  i = feed(i, lEvents);
  for (const v of vs) {
    const post = { state: v.post, signatures: v.sigs };
    const evs = chain.submit({ kind: 'challenge', channelId: v.id, proof: [], candidate: post, challengerSignature: signChallenge(v.post, irene.privateKey) }, 'irene');
    b = feed(b, evs);
    i = feed(i, evs);
  }
  const t = chain.advance(86400);
  i = feed(i, [t]);
  b = feed(b, [t]);
  for (let k = 0; k < 2; k++) {
    const ri = P.crankLedgerExit(i, secrets(irene));
    const [tx] = txOf(ri.effects);
    assert.ok(tx?.kind === 'reclaim');
    const evs = chain.submit(tx, 'irene');
    i = feed(ri.objective, evs.map((e) => (e.kind === 'reclaimed' ? { ...e, target: tx.targetChannelId } : e)));
    b = feed(b, evs);
  }
  const rt = P.crankLedgerExit(i, secrets(irene));
  b = feed(b, chain.submit(txOf(rt.effects)[0]!, 'irene'));
  const done = P.crankLedgerExit(b, secrets(bob));
  assert.equal(done.objective.status, 'completed', 'paid out: the exit ends either way');
  const paid = P.ledgerExitPaid(done.objective, [d(irene), d(bob)]);
  assert.equal(paid.unattributed, 30n, "the unknown channel's guarantee: its split is not known here");
  assert.deepEqual(paid.amounts.map((a) => a.amount), [70n, 10n], 'the known reclaim attributed; the rest as the outcome pays');
  assert.equal(chain.held(L, ETH), 0n);
});

test('watchtower: the decision table', () => {
  const dl = download({ chunks: 3 });
  const ib = P.newLedgerExit({ ledger: dl.ledgers.get('bob')!.get(dl.IB)! }).ledger;
  const stale = { ...P.fullState(ib, P.latestSupportedState(ib)!.state), turnNum: 1 };
  const ev = (over: Partial<P.ChallengeRegisteredEvent> = {}, s: State = stale): P.ChallengeRegisteredEvent => ({
    kind: 'challengeRegistered',
    channelId: dl.IB,
    finalizesAt: dl.chain.time + 100,
    proof: [],
    candidate: { variablePart: { outcome: s.outcome, appData: s.appData, turnNum: s.turnNum, isFinal: s.isFinal }, signatures: [] },
    blockNumber: 5,
    logIndex: 0,
    ...over,
  });
  const now = dl.chain.time;
  const decide = (e: P.ChallengeRegisteredEvent, o: P.ChallengeResponseOptions = {}, t = now) => P.decideChallengeResponse({ channel: ib }, e, t, secrets(bob), o);
  assert.deepEqual(decide(ev({ channelId: dl.V })), { action: 'none', reason: 'otherChannel' });
  assert.deepEqual(decide(ev(), {}, now + 100), { action: 'none', reason: 'finalized' });
  assert.equal(decide(ev()).action, 'checkpoint');
  assert.equal(decide(ev(), { exiting: true }).action, 'challenge');
  const cp = decide(ev());
  assert.ok(cp.action === 'checkpoint' && cp.tx.kind === 'checkpoint' && cp.tx.proof.length === 0 && cp.turnNum === 2);
  const latest = P.fullState(ib, P.latestSupportedState(ib)!.state);
  assert.deepEqual(decide(ev({}, latest)), { action: 'none', reason: 'upToDate' });
  assert.deepEqual(decide(ev({}, { ...latest, turnNum: 9 })), { action: 'none', reason: 'upToDate' });
  // a unanimous final state held: conclude at once
  const final = { ...latest, turnNum: 3, isFinal: true };
  const withFinal = P.addSignedState(ib, final, [signState(final, irene.privateKey), signState(final, bob.privateKey)]);
  const c = P.decideChallengeResponse({ channel: withFinal }, ev({}, latest), now, secrets(bob));
  assert.ok(c.action === 'conclude' && c.tx.kind === 'conclude');
  // the payee without a voucher registers the postfund; with one, the redemption
  const vBob = dl.vs.get('bob')!;
  const vpost = P.fullState(vBob, P.latestSupportedState(vBob)!.state);
  const vev = { ...ev({}, { ...vpost, turnNum: 0 }), channelId: dl.V };
  const noVoucher = P.decideChallengeResponse({ channel: vBob }, vev, now, secrets(bob));
  assert.ok(noVoucher.action === 'challenge' && noVoucher.turnNum === 1);
  const withVoucher = P.decideChallengeResponse({ channel: vBob, bestVoucher: dl.bestVoucher }, vev, now, secrets(bob));
  assert.ok(withVoucher.action === 'challenge' && withVoucher.turnNum === 2);
  // a forged voucher is refused, never registered
  rejects(() => P.decideChallengeResponse({ channel: vBob, bestVoucher: signVoucher(dl.V, 5n, mallory.privateKey) }, vev, now, secrets(bob)), 'INVALID_ARGUMENT');
  // malformed events
  rejects(() => decide(ev({ finalizesAt: -1 })), 'PROTOCOL_MALFORMED');
  rejects(() => decide({ ...ev(), candidate: { variablePart: { outcome: 'x' } as never, signatures: [] } }), 'PROTOCOL_MALFORMED');
});

test('shouldGoOnChain and fallbackPlan: cooperative first, triggers as data, closure, idempotent', () => {
  assert.deepEqual(P.shouldGoOnChain({}), { onChain: false, reason: 'cooperative' });
  assert.deepEqual(P.shouldGoOnChain({ peerStalled: false }), { onChain: false, reason: 'cooperative' });
  assert.deepEqual(P.shouldGoOnChain({ peerStalled: true }), { onChain: true, reason: 'peerStalled' });
  assert.deepEqual(P.shouldGoOnChain({ force: true, peerStalled: true }), { onChain: true, reason: 'forced' });
  assert.deepEqual(P.shouldGoOnChain({ challengeRunning: true }), { onChain: true, reason: 'challengeRunning' });
  assert.deepEqual(P.shouldGoOnChain({ virtualOnChain: true }), { onChain: true, reason: 'virtualOnChain' });

  const dl = download({ chunks: 1 });
  const ids = (p: P.FallbackPlan) => p.create.map((o) => o.id).sort();
  // a silent stranger: nothing to do
  assert.deepEqual(ids(P.fallbackPlan(contextOf(dl, bob), { kind: 'peerStalled', peer: mallory.address }, secrets(bob))), []);
  // Alice's silence: Bob settles V only — L_IB is with Irene, who is online (the guarantee is removed by proof once V is finalized)
  assert.deepEqual(ids(P.fallbackPlan(contextOf(dl, bob), { kind: 'peerStalled', peer: alice.address }, secrets(bob))), [P.virtualChallengeId(dl.V)]);
  // Irene's silence: Bob exits L_IB and (closure) settles the V it guarantees
  assert.deepEqual(ids(P.fallbackPlan(contextOf(dl, bob), { kind: 'peerStalled', peer: irene.address }, secrets(bob))), [P.ledgerExitId(dl.IB), P.virtualChallengeId(dl.V)].sort());
  // the hub, Alice silent: L_AI and V, not L_IB
  assert.deepEqual(ids(P.fallbackPlan(contextOf(dl, irene), { kind: 'peerStalled', peer: alice.address }, secrets(irene))), [P.ledgerExitId(dl.AI), P.virtualChallengeId(dl.V)].sort());
  // Irene forcing everything: both ledgers and V
  const all = P.fallbackPlan(contextOf(dl, irene), { kind: 'userForce' }, secrets(irene));
  assert.deepEqual(all.decision, { onChain: true, reason: 'forced' });
  assert.deepEqual(ids(all), [P.ledgerExitId(dl.AI), P.ledgerExitId(dl.IB), P.virtualChallengeId(dl.V)].sort());
  // idempotent: live objectives are not created again
  assert.deepEqual(ids(P.fallbackPlan(contextOf(dl, irene, all.create.map((o) => o.id)), { kind: 'userForce' }, secrets(irene))), []);
  // the payer's and the hub's virtual challenges carry no voucher; the payee's does
  const bobPlan = P.fallbackPlan(contextOf(dl, bob), { kind: 'peerStalled', peer: irene.address }, secrets(bob));
  const bobVc = bobPlan.create.find((o): o is VC => o.type === 'virtualChallenge')!;
  assert.equal(bobVc.bestVoucher?.amount, dl.paid);
  assert.equal(all.create.find((o): o is VC => o.type === 'virtualChallenge')!.bestVoucher, null);
  // a challenge on a channel we do not hold
  const foreign = P.fallbackPlan(contextOf(dl, alice), {
    kind: 'challengeRegistered',
    event: { kind: 'challengeRegistered', channelId: dl.IB, finalizesAt: 5000, proof: [], candidate: { variablePart: P.latestSupportedState(dl.vs.get('alice')!)!.state, signatures: [] }, blockNumber: 3, logIndex: 0 },
  }, secrets(alice));
  assert.deepEqual(foreign, { decision: { onChain: false, reason: 'cooperative' }, create: [], respond: { action: 'none', reason: 'otherChannel' } });
});

test('constructors refuse what they cannot settle', () => {
  const dl = download({ chunks: 2 });
  rejects(() => P.newVirtualChallenge({ v: dl.vs.get('alice')!, bestVoucher: dl.bestVoucher }), 'INVALID_ARGUMENT');
  rejects(() => P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: signVoucher(dl.V, 1000n, alice.privateKey) }), 'INVALID_ARGUMENT');
  rejects(() => P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: signVoucher(dl.AI, 3n, alice.privateKey) }), 'INVALID_ARGUMENT');
  rejects(() => P.newVirtualChallenge({ v: dl.vs.get('bob')!, now: -1 }), 'INVALID_ARGUMENT');
  rejects(() => P.newVirtualChallenge({ v: P.newLedgerExit({ ledger: dl.ledgers.get('bob')!.get(dl.IB)! }).ledger }), 'INVALID_ARGUMENT');
  rejects(() => P.newLedgerExit({ ledger: dl.vs.get('bob')! }), 'INVALID_ARGUMENT');
});

test('hostile or irrelevant chain events: SluiceError PROTOCOL_MALFORMED only, cooperative objectives unaffected, stale events ignored', () => {
  const dl = download({ chunks: 2 });
  const vc: P.Objective = P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: dl.bestVoucher });
  const le: P.Objective = P.newLedgerExit({ ledger: dl.ledgers.get('bob')!.get(dl.IB)!, virtuals: [dl.vs.get('bob')!] });
  const good: P.ChallengeRegisteredEvent = {
    kind: 'challengeRegistered',
    channelId: dl.V,
    finalizesAt: 5000,
    proof: [],
    candidate: { variablePart: P.latestSupportedState(dl.vs.get('bob')!)!.state, signatures: [] },
    blockNumber: 10,
    logIndex: 1,
  };
  const hostile: unknown[] = [
    { ...good, finalizesAt: 0 },
    { ...good, finalizesAt: 1.5 },
    { ...good, finalizesAt: 'soon' },
    { ...good, candidate: null },
    { ...good, candidate: { variablePart: { ...good.candidate.variablePart, turnNum: -1 }, signatures: [] } },
    { ...good, candidate: { variablePart: { ...good.candidate.variablePart, appData: 'zz' }, signatures: [] } },
    { kind: 'challengeCleared', channelId: dl.V, newTurnNumRecord: -3, blockNumber: 11, logIndex: 0 },
    { kind: 'chainTime', timestamp: Number.NaN, blockNumber: 1 },
    { kind: 'signedState', objectiveId: vc.id, state: {}, signatures: [] },
    { kind: 'nonsense' },
  ];
  for (const o of [vc, le]) {
    for (const h of hostile) {
      const ev = h as P.ObjectiveEvent;
      const isForIt = !('channelId' in (h as object)) || (h as { channelId: string }).channelId === dl.V;
      if (!isForIt) continue;
      rejects(() => P.update(o, ev), 'PROTOCOL_MALFORMED');
    }
    // events for channels it does not watch are ignored
    assert.equal(P.update(o, { ...good, channelId: dl.AI as Bytes32 }), o);
  }
  // stale (at or before the last applied position) events are ignored
  const once = P.update(vc, good) as VC;
  assert.equal(P.update(once, { ...good, finalizesAt: 9999 }), once);
  assert.equal(P.update(once, { ...good, blockNumber: 9, finalizesAt: 9999 }), once);
  // cooperative objectives ignore dispute events (the dispatcher filters them)
  const df: P.Objective = P.newDirectFund(ledgerPrefund(irene, bob, 1n, 1n, 99n), bob.address);
  for (const e of [good, { kind: 'chainTime', timestamp: 5, blockNumber: 1 }, { kind: 'reclaimed', channelId: dl.IB, assetIndex: 0, blockNumber: 3, logIndex: 0 }] as P.ObjectiveEvent[]) {
    assert.equal(P.update(df, e), df);
  }
});

test('port events map to protocol dispute events', () => {
  const base = { txHash: '0x' as never, blockNumber: 7, logIndex: 2 };
  const id = ('0x' + 'AB'.repeat(32)) as ChannelId;
  const vp = P.latestSupportedState(download({ chunks: 1 }).vs.get('bob')!)!.state;
  assert.deepEqual(P.disputeEventFromPort({ ...base, type: 'ChallengeRegistered', channelId: id, finalizesAt: 99, proof: [], candidate: { variablePart: vp, signatures: [] } }), {
    kind: 'challengeRegistered',
    channelId: id.toLowerCase(),
    finalizesAt: 99,
    proof: [],
    candidate: { variablePart: vp, signatures: [] },
    blockNumber: 7,
    logIndex: 2,
  });
  assert.deepEqual(P.disputeEventFromPort({ ...base, type: 'ChallengeCleared', channelId: id, newTurnNumRecord: 4 }), { kind: 'challengeCleared', channelId: id.toLowerCase(), newTurnNumRecord: 4, blockNumber: 7, logIndex: 2 });
  assert.deepEqual(P.disputeEventFromPort({ ...base, type: 'Checkpointed', channelId: id, newTurnNumRecord: 4 }), { kind: 'checkpointed', channelId: id.toLowerCase(), newTurnNumRecord: 4, blockNumber: 7, logIndex: 2 });
  assert.deepEqual(P.disputeEventFromPort({ ...base, type: 'Reclaimed', channelId: id, assetIndex: 0n }, id), { kind: 'reclaimed', channelId: id.toLowerCase(), assetIndex: 0, target: id.toLowerCase(), blockNumber: 7, logIndex: 2 });
  assert.equal(P.disputeEventFromPort({ ...base, type: 'Concluded', channelId: id, finalizesAt: 3 }), undefined);
});

test('the payee can switch to a better voucher until his redemption is submitted', () => {
  const dl = download({ chunks: 3, price: 2n });
  const o = P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: dl.bestVoucher });
  const better = signVoucher(dl.V, 10n, alice.privateKey);
  const up = P.withBestVoucher(o, better);
  assert.equal(up.bestVoucher?.amount, 10n);
  rejects(() => P.withBestVoucher(up, dl.bestVoucher!), 'INVALID_ARGUMENT');
  rejects(() => P.withBestVoucher(o, signVoucher(dl.V, 10n, mallory.privateKey)), 'INVALID_ARGUMENT');
  const r = P.crankVirtualChallenge(up, secrets(bob));
  const [tx] = txOf(r.effects);
  assert.ok(tx?.kind === 'challenge' && P.allocatedTo(tx.candidate.state.outcome, d(bob)) === 10n);
  rejects(() => P.withBestVoucher(r.objective, signVoucher(dl.V, 12n, alice.privateKey)), 'PROTOCOL_BAD_ROLE_OR_STATUS');
  rejects(() => P.withBestVoucher(P.newVirtualChallenge({ v: dl.vs.get('alice')! }), better), 'INVALID_ARGUMENT');
});

test('ledger exit: a record above our turn, or a cooperative close by the peer, leaves it to the peer', () => {
  const dl = download({ chunks: 1 });
  const ib = dl.ledgers.get('bob')!.get(dl.IB)!;
  let o: LE = P.newLedgerExit({ ledger: ib, virtuals: [dl.vs.get('bob')!] });
  o = feed(o, [{ kind: 'checkpointed', channelId: dl.IB, newTurnNumRecord: 5, blockNumber: 3, logIndex: 0 }]);
  const r = P.crankLedgerExit(o, secrets(bob));
  assert.equal(r.waitingFor, 'WaitingForOtherParticipant');
  assert.deepEqual(r.effects, []);
  // the peer concludes and pays out cooperatively (a final state this exit does not hold)
  o = feed(r.objective, [{ kind: 'concluded', channelId: dl.IB, blockNumber: 4, logIndex: 0 }]);
  // which final state? asked once of the chain status (it may be one we signed: see conclude-status.test.ts)
  assert.equal(P.crankLedgerExit(o, secrets(bob)).waitingFor, 'WaitingForChannelStatus');
  o = feed(o, [{ kind: 'channelStatus', channelId: dl.IB, turnNumRecord: 0, finalizesAt: 1_000, fingerprint: 777n, blockNumber: 4, finalOutcomes: [] }]);
  assert.deepEqual(P.statusReadsNeeded(o), []);
  assert.equal(P.crankLedgerExit(o, secrets(bob)).waitingFor, 'WaitingForOtherParticipant');
  o = feed(o, [{ kind: 'allocationUpdated', channelId: dl.IB, asset: ETH, holdings: 0n, blockNumber: 4, logIndex: 1 }]);
  const done = P.crankLedgerExit(o, secrets(bob));
  assert.equal(done.objective.status, 'completed');
  assert.deepEqual(done.effects, []);
});


test('ledger exit: a checkpoint of a state newer than ours, carried by the event with every signature, is learnt and registered; a bad one is ignored', () => {
  const dl = download({ chunks: 1 });
  const ib = dl.ledgers.get('bob')!.get(dl.IB)!;
  const ch = P.ledgerToChannel(ib);
  const l = P.latestSupportedState(ch)!.state;
  const ours: State = { ...ch.fixedPart, outcome: l.outcome, appData: l.appData, turnNum: l.turnNum, isFinal: l.isFinal };
  // a later state both signed (say, a guarantee Bob proposed and the hub countersigned; the countersignature never reached Bob)
  const newer: State = { ...ours, turnNum: ours.turnNum + 1 };
  const both = [signState(newer, bob.privateKey), signState(newer, irene.privateKey)];
  const vp = (s: State) => ({ outcome: s.outcome, appData: s.appData, turnNum: s.turnNum, isFinal: s.isFinal });
  const cleared = (candidate: P.ChallengeClearedEvent['candidate'], turn = newer.turnNum): P.ObjectiveEvent =>
    ({ kind: 'checkpointed', channelId: dl.IB, newTurnNumRecord: turn, blockNumber: 3, logIndex: 0, ...(candidate === undefined ? {} : { candidate }) }) as P.ObjectiveEvent;
  const start: LE = P.newLedgerExit({ ledger: ib, virtuals: [dl.vs.get('bob')!] });
  const stuck = (e: P.ObjectiveEvent): void => {
    const r = P.crankLedgerExit(feed(start, [e]), secrets(bob));
    assert.equal(r.waitingFor, 'WaitingForOtherParticipant');
    assert.deepEqual(r.effects, []);
  };
  // nothing learnt: no candidate; one signature only; a non-participant's; another turn than the record; garbage
  stuck(cleared(undefined));
  stuck(cleared({ variablePart: vp(newer), signatures: [both[1]!] }));
  stuck(cleared({ variablePart: vp(newer), signatures: [both[0]!, signState(newer, mallory.privateKey)] }));
  stuck(cleared({ variablePart: vp(newer), signatures: both }, newer.turnNum + 1));
  stuck(cleared({ variablePart: { ...vp(newer), turnNum: -1 }, signatures: both }));
  stuck(cleared({ variablePart: vp({ ...newer, appData: '0x01' as State['appData'] }), signatures: both }));
  // learnt: the exit challenges with it, once
  const o = feed(start, [cleared({ variablePart: vp(newer), signatures: both })]);
  const r = P.crankLedgerExit(o, secrets(bob));
  assert.equal(r.waitingFor, 'WaitingForChallengeRegistered');
  const txs = txOf(r.effects);
  assert.equal(txs.length, 1);
  assert.equal(txs[0]!.kind, 'challenge');
  assert.equal((txs[0] as { candidate: { state: State } }).candidate.state.turnNum, newer.turnNum);
  assert.deepEqual(P.crankLedgerExit(reload(r.objective), secrets(bob)).effects, [], 'submitted once');
  // a candidate no newer than what we hold changes nothing
  assert.equal(P.withCheckpointedState(o.ledger, cleared({ variablePart: vp(ours), signatures: both }, ours.turnNum) as P.ChallengeClearedEvent), o.ledger);
});

test('fallbackPlan: a virtual channel still being opened is settled on chain when a challenge is registered on it, or when a participant stalls while a ledger we keep guarantees it', () => {
  const dl = download({ chunks: 1 });
  const v = dl.vs.get('alice')!;
  // V as Alice holds it while her open waits for the postfund: in `opening`, not among her open channels
  const ctx: P.FallbackContext = { ...contextOf(dl, alice), virtuals: [], opening: [{ channel: v, bestVoucher: null }] };
  const ids = (p: P.FallbackPlan) => p.create.map((o) => o.id).sort();
  const state = P.latestSupportedState(v)!.state;
  const challenged = P.fallbackPlan(ctx, {
    kind: 'challengeRegistered',
    event: { kind: 'challengeRegistered', channelId: dl.V, finalizesAt: dl.chain.time + 3600, proof: [], candidate: { variablePart: state, signatures: [] }, blockNumber: 3, logIndex: 0 },
  }, secrets(alice));
  assert.deepEqual(challenged.decision, { onChain: true, reason: 'virtualOnChain' });
  assert.deepEqual(ids(challenged), [P.virtualChallengeId(dl.V)], 'her virtual challenge follows V');
  // the payee stalls: its guarantee sits in L_AI, which stays open, so V goes on chain to free it by proof
  const stalledPayee = P.fallbackPlan(ctx, { kind: 'peerStalled', peer: bob.address }, secrets(alice));
  assert.deepEqual(stalledPayee.decision, { onChain: true, reason: 'peerStalled' });
  assert.deepEqual(ids(stalledPayee), [P.virtualChallengeId(dl.V)]);
  // ... not when no ledger of ours holds its guarantee (nothing of ours is locked for it)
  assert.deepEqual(ids(P.fallbackPlan({ ...ctx, ledgers: [] }, { kind: 'peerStalled', peer: bob.address }, secrets(alice))), []);
  // ... nor when the guarantee holds only the counterparty's funds: Bob's L_BI guarantee is the
  // hub's collateral (Bob's balance in V is 0), so a stalled payer is the hub's to settle
  const asOpening = (a: typeof bob): P.FallbackContext => ({ ...contextOf(dl, a), virtuals: [], opening: [{ channel: dl.vs.get(a.name)!, bestVoucher: null }] });
  assert.deepEqual(ids(P.fallbackPlan(asOpening(bob), { kind: 'peerStalled', peer: alice.address }, secrets(bob))), []);
  // the hub: the payer stalls, so L_AI is exited, and its collateral in L_IB's guarantee goes on chain with V
  assert.deepEqual(ids(P.fallbackPlan(asOpening(irene), { kind: 'peerStalled', peer: alice.address }, secrets(irene))), [P.virtualChallengeId(dl.V), P.ledgerExitId(dl.AI)].sort());
  // a ledger exit does not settle a channel still being opened (an exit resolves its guarantees itself)
  assert.deepEqual(ids(P.fallbackPlan(ctx, { kind: 'peerStalled', peer: irene.address }, secrets(alice))), [P.ledgerExitId(dl.AI)]);
  assert.deepEqual(ids(P.fallbackPlan(ctx, { kind: 'userForce' }, secrets(alice))), [P.ledgerExitId(dl.AI)]);
});
