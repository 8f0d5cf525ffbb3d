/**
 * A channel `conclude`d with a final state we signed but never received with every signature
 * (audit finding 1): the outcome is learnt from the chain status (`statusOf` fingerprint of
 * stateHash 0 and the outcome of a final state we signed), never assumed; the fallback objectives
 * and the direct defund then pay out with it. Pure: the toy adjudicator of fallback-chain.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Bytes32, type ChannelId, type Outcome, type Signature, type VariablePart, hashState, protocols as P } from '../../src/index.ts';
import { parseJson, stringifyJson } from '../../src/json.ts';
import { ETH, alice, bob, d, fundedLedger, irene, secrets } from './fixtures.ts';
import { type Download, DisputeChain, Node, download, drive } from './fallback-chain.ts';

const ZERO = `0x${'00'.repeat(32)}` as Bytes32;

function txOf(effects: readonly P.Effect[]): P.Transaction[] {
  return effects.flatMap((e) => (e.type === 'submitTransaction' ? [e.tx] : []));
}

function reload<O>(o: O): O {
  return parseJson(stringifyJson(o)) as O;
}

/** V's final state paying Bob `paid`, signed by `signers` into each one's copy of V. */
function finalV(dl: Download, paid: bigint): { vp: VariablePart; copies: Map<string, P.Channel>; signatures: Map<string, Signature> } {
  const post = P.latestSupportedState(dl.vs.get('bob')!)!.state;
  const vp = P.finalStateFor(dl.vs.get('bob')!, post, paid);
  const copies = new Map<string, P.Channel>();
  const signatures = new Map<string, Signature>();
  for (const a of [alice, irene, bob]) {
    const r = P.signAndAdd(dl.vs.get(a.name)!, vp, a.privateKey);
    copies.set(a.name, r.channel);
    signatures.set(a.name, r.signature);
  }
  return { vp, copies, signatures };
}

/** `conclude(V)` by `by` with every signature; returns the chain's events. */
function concludeV(dl: Download, f: ReturnType<typeof finalV>, by: string): P.ObjectiveEvent[] {
  const state = P.fullState(f.copies.get('bob')!, f.vp);
  return dl.chain.submit({ kind: 'conclude', channelId: dl.V, candidate: { state, signatures: [alice, irene, bob].map((a) => f.signatures.get(a.name)!) } }, by);
}

function statusEvent(chain: DisputeChain, channelId: ChannelId, finalOutcomes: readonly Outcome[] = []): P.ObjectiveEvent {
  const st = chain.statusOf(channelId);
  return { kind: 'channelStatus', channelId, turnNumRecord: st.turnNumRecord, finalizesAt: st.finalizesAt, fingerprint: st.fingerprint, blockNumber: chain.block, finalOutcomes };
}

test('signedFinalOutcomes: the final states I signed (supported or not), not the ones only others signed', () => {
  const dl = download({ chunks: 3, price: 2n });
  const f = finalV(dl, 6n);
  assert.deepEqual(P.signedFinalOutcomes(f.copies.get('bob')!), [f.vp.outcome]);
  assert.deepEqual(P.heldFinalOutcome(f.copies.get('bob')!), null, 'not unanimous: the old rule knew nothing');
  // Alice's signature added to Bob's copy: still one outcome
  const both = P.addSignedState(f.copies.get('bob')!, P.fullState(f.copies.get('bob')!, f.vp), [f.signatures.get('alice')!]);
  assert.deepEqual(P.signedFinalOutcomes(both), [f.vp.outcome]);
  // a final state only Alice signed, in Bob's copy of V: not his
  const onlyAlice = P.addSignedState(dl.vs.get('bob')!, P.fullState(dl.vs.get('bob')!, f.vp), [f.signatures.get('alice')!]);
  assert.deepEqual(P.signedFinalOutcomes(onlyAlice), []);
  assert.deepEqual(P.signedFinalOutcomes(dl.vs.get('bob')!), [], 'no final state at all');
});

test('applyStatusToRecord: a conclusion is named only by a matching fingerprint; unmatched statuses are recorded, never invented', () => {
  const dl = download({ chunks: 3, price: 2n });
  const f = finalV(dl, 6n);
  const fp = dl.vs.get('bob')!.fixedPart;
  const [concluded] = concludeV(dl, f, 'irene');
  const rec0 = P.applyToRecord(null, fp, concluded as never, null)!;
  assert.equal(rec0.concluded, true);
  assert.equal(rec0.outcome, null);
  assert.ok(P.needsStatus(rec0), 'concluded, outcome unknown: ask the chain once');

  const st = dl.chain.statusOf(dl.V);
  assert.equal(st.fingerprint, P.statusFingerprint(ZERO, f.vp.outcome), 'conclude records stateHash 0 and the outcome hash');
  const snap = { turnNumRecord: st.turnNumRecord, finalizesAt: st.finalizesAt, fingerprint: st.fingerprint, blockNumber: dl.chain.block };

  // matched: the outcome of the final state we signed
  const rec1 = P.applyStatusToRecord(rec0, fp, snap, [f.vp.outcome])!;
  assert.deepEqual(rec1.outcome, f.vp.outcome);
  assert.equal(rec1.stateHash, ZERO);
  assert.ok(P.isFinalizedAt(rec1, 0));
  assert.ok(!P.needsStatus(rec1));
  assert.deepEqual(rec1.cursor, { blockNumber: dl.chain.block, logIndex: Number.MAX_SAFE_INTEGER });
  // the Concluded event again (catch-up), later in the chain: the outcome stays
  const again = P.applyToRecord(rec1, fp, { kind: 'concluded', channelId: dl.V, blockNumber: dl.chain.block + 1, logIndex: 0 }, null)!;
  assert.deepEqual(again.outcome, f.vp.outcome);

  // a candidate that is not the concluded state (another outcome): not taken
  const other = P.finalStateFor(dl.vs.get('bob')!, P.latestSupportedState(dl.vs.get('bob')!)!.state, 2n).outcome;
  const rec2 = P.applyStatusToRecord(rec0, fp, snap, [other])!;
  assert.equal(rec2.outcome, null);
  assert.equal(rec2.fingerprint, st.fingerprint, 'the read is recorded');
  assert.ok(!P.needsStatus(rec2), 'and not asked for again');

  // no record yet (the objective was created after the conclusion): seeded from the status
  const seeded = P.applyStatusToRecord(null, fp, snap, [other, f.vp.outcome])!;
  assert.equal(seeded.concluded, true);
  assert.deepEqual(seeded.outcome, f.vp.outcome);
  // open on chain: nothing learnt
  assert.equal(P.applyStatusToRecord(null, fp, { turnNumRecord: 0, finalizesAt: 0, fingerprint: 0n, blockNumber: 3 }, [f.vp.outcome]), null);
  // a status read before events we already applied: ignored
  const later = { ...P.OPEN_RECORD, turnNumRecord: 1, finalizesAt: 99, cursor: { blockNumber: dl.chain.block + 5, logIndex: 0 } };
  assert.equal(P.applyStatusToRecord(later, fp, snap, [f.vp.outcome]), later);
  // a finalized status matching nothing we hold: finalized, outcome unknown (nothing left to register)
  const unknown = P.applyStatusToRecord(null, fp, { turnNumRecord: 1, finalizesAt: 500, fingerprint: 12345n, blockNumber: 3 }, [f.vp.outcome])!;
  assert.equal(unknown.outcome, null);
  assert.ok(P.isFinalizedAt(unknown, 500) && !P.isFinalizedAt(unknown, 499));
  assert.equal(unknown.cursor, null, 'unmatched: the events explaining it still apply');
  // hostile status words
  assert.throws(() => P.applyStatusToRecord(null, fp, { turnNumRecord: -1, finalizesAt: 5, fingerprint: 1n }, []), { code: 'PROTOCOL_MALFORMED' });
  assert.throws(() => P.applyStatusToRecord(null, fp, { turnNumRecord: 0, finalizesAt: 5, fingerprint: 1 as never }, []), { code: 'PROTOCOL_MALFORMED' });
});

test('applyStatusToRecord: a registered challenge whose event we missed is matched against the states we hold', () => {
  const dl = download({ chunks: 2, price: 2n });
  const [ledger] = fundedLedger(alice, irene, 30n, 10n, 9n);
  const ch = P.ledgerToChannel(ledger);
  const latest = P.latestSupportedState(ch)!;
  const stateHash = hashState(P.fullState(ch, latest.state));
  const snap = { turnNumRecord: latest.state.turnNum, finalizesAt: 4_000, fingerprint: P.statusFingerprint(stateHash, latest.state.outcome), blockNumber: 7 };
  const rec = P.applyStatusToRecord(null, ch.fixedPart, snap, [], ch.states.map((e) => e.state))!;
  assert.equal(rec.concluded, false);
  assert.equal(rec.stateHash, stateHash);
  assert.deepEqual(rec.outcome, latest.state.outcome);
  assert.equal(rec.finalizesAt, 4_000);
  void dl;
});

test('virtual challenge: V concluded with the final state Bob signed: no doomed challenge, the outcome learnt from the status', () => {
  const dl = download({ chunks: 4, price: 5n });
  const f = finalV(dl, dl.paid);
  // Bob's challenge objective holds his own copy of V (the final state signed by him only)
  let o = P.newVirtualChallenge({ v: f.copies.get('bob')!, bestVoucher: dl.bestVoucher, now: dl.chain.time });
  const events = concludeV(dl, f, 'irene');
  o = events.reduce((x, e) => P.updateVirtualChallenge(x, e), o);
  const r1 = P.crankVirtualChallenge(reload(o), secrets(bob));
  assert.equal(r1.waitingFor, 'WaitingForChannelStatus');
  assert.deepEqual(txOf(r1.effects), [], 'no challenge: V is finalized');
  assert.deepEqual(P.statusReadsNeeded(r1.objective), [dl.V]);
  // the engine's read: Bob's own final state is recognised (from the objective's copy of V)
  const fed = P.update(r1.objective, statusEvent(dl.chain, dl.V)) as P.VirtualChallengeObjective;
  assert.deepEqual(fed.onChain!.outcome, f.vp.outcome);
  const done = P.crankVirtualChallenge(fed, secrets(bob));
  assert.equal(done.objective.status, 'completed');
  assert.equal(P.allocatedTo(done.objective.onChain!.outcome!, d(bob)), dl.paid + 0n);

  // created after the conclusion (its event went to nobody), holding only the postfund: its
  // challenge reverts; the status read after the revert (with the engine's candidates) settles it
  let late = P.newVirtualChallenge({ v: dl.vs.get('alice')!, now: dl.chain.time });
  const r2 = P.crankVirtualChallenge(late, secrets(alice));
  const [tx] = txOf(r2.effects);
  assert.throws(() => dl.chain.submit(tx!, 'alice'), /Channel finalized/);
  late = P.update(r2.objective, statusEvent(dl.chain, dl.V, [f.vp.outcome])) as P.VirtualChallengeObjective;
  assert.equal(late.submitted, null, 'finalized: the move in flight is moot');
  const r3 = P.crankVirtualChallenge(P.onTransactionFailed(late) as P.VirtualChallengeObjective, secrets(alice));
  assert.deepEqual(txOf(r3.effects), [], 'not re-sent');
  assert.equal(r3.objective.status, 'completed');
});

test('direct defund: the peer withholds its countersignature, concludes and vanishes: we transfer our final state ourselves', () => {
  const [lx, ly] = fundedLedger(irene, bob, 40n, 9n, 5n);
  let mine = P.newLedgerDefund(ly); // Bob's
  let peer = P.newLedgerDefund(lx); // Irene's
  const rb = P.crankDirectDefund(mine, secrets(bob));
  mine = rb.objective;
  const msg = rb.effects.find((e) => e.type === 'sendMessage')!;
  peer = P.updateDirectDefund(peer, (msg as { payload: P.ProtocolMessage }).payload as P.ObjectiveEvent);
  const ri = P.crankDirectDefund(peer, secrets(irene)); // Irene countersigns; her message is lost
  peer = ri.objective;
  const final = P.latestSupportedState(peer.channel)!;
  assert.ok(final.state.isFinal);
  const chain = new DisputeChain();
  chain.setHeld(mine.channel.id, ETH, 49n);
  // Irene: conclude, not concludeAndTransferAllAssets
  const events = chain.submit({ kind: 'conclude', channelId: mine.channel.id, candidate: { state: P.fullState(peer.channel, final.state), signatures: P.signaturesOf(final) } }, 'irene');
  mine = events.reduce((o, e) => P.update(o, e) as P.DirectDefundObjective, mine);
  const w = P.crankDirectDefund(mine, secrets(bob));
  assert.equal(w.waitingFor, 'WaitingForChannelStatus');
  assert.deepEqual(w.effects, [], 'nothing to sign or send once concluded');
  assert.deepEqual(P.statusReadsNeeded(w.objective), [mine.channel.id]);
  // the status names Bob's final state: he pays it out, stateHash 0
  mine = P.update(reload(w.objective), statusEvent(chain, mine.channel.id)) as P.DirectDefundObjective;
  assert.equal(mine.concludedWith, 'final');
  assert.deepEqual(P.statusReadsNeeded(mine), []);
  const t = P.crankDirectDefund(mine, secrets(bob));
  const [tx] = txOf(t.effects);
  assert.ok(tx?.kind === 'transferAllAssets');
  assert.equal(tx.stateHash, ZERO);
  assert.deepEqual(P.crankDirectDefund(t.objective, secrets(bob)).effects, [], 'submitted once');
  const paid = chain.submit(tx, 'bob');
  assert.equal(chain.paid(bob, ETH), 9n);
  assert.equal(chain.paid(irene, ETH), 40n);
  const done = P.crankDirectDefund(paid.reduce((o, e) => P.update(o, e) as P.DirectDefundObjective, t.objective), secrets(bob));
  assert.equal(done.objective.status, 'completed');

  // a conclusion with something else (not possible without our signature; a status read after
  // the transfer deleted the status): never a transfer of our outcome, wait for the holdings
  const elsewise = P.update(w.objective, { kind: 'channelStatus', channelId: mine.channel.id, turnNumRecord: 0, finalizesAt: 0, fingerprint: 0n }) as P.DirectDefundObjective;
  assert.equal(elsewise.concludedWith, 'other');
  const e2 = P.crankDirectDefund(elsewise, secrets(bob));
  assert.deepEqual(e2.effects, []);
  assert.equal(e2.waitingFor, 'WaitingForWithdraw');
  // the cooperative objectives other than a direct defund still ignore status events
  assert.equal(P.update(w.objective, { kind: 'chainTime', timestamp: 5, blockNumber: 5 }), w.objective);
});

test('ledger exit: the ledger concluded with our final state during our exit: transfer with stateHash 0, payout as concluded', () => {
  const [lx] = fundedLedger(irene, bob, 40n, 9n, 6n);
  // Irene's exit knows only the ledger (the final state she signed is in her direct defund: the engine passes it)
  let exit = P.newLedgerExit({ ledger: lx, now: 1_000 });
  const final = { ...P.latestSupportedState(P.ledgerToChannel(lx))!.state };
  const finalVp = { ...final, turnNum: final.turnNum + 1, isFinal: true };
  const ch = P.ledgerToChannel(lx);
  const ireneCh = P.signAndAdd(P.ledgerToChannel(lx), finalVp, irene.privateKey).channel;
  const bobSig = P.signAndAdd(ch, finalVp, bob.privateKey).signature;
  const unanimous = P.addSignedState(ireneCh, P.fullState(ch, finalVp), [bobSig]);
  const chain = new DisputeChain();
  chain.setHeld(lx.id, ETH, 49n);
  const r1 = P.crankLedgerExit(exit, secrets(irene));
  const [challenge] = txOf(r1.effects);
  exit = chain.submit(challenge!, 'irene').reduce((o, e) => P.updateLedgerExit(o, e), r1.objective);
  const s = P.latestSupportedState(unanimous)!;
  exit = chain.submit({ kind: 'conclude', channelId: lx.id, candidate: { state: P.fullState(unanimous, s.state), signatures: P.signaturesOf(s) } }, 'bob').reduce((o, e) => P.updateLedgerExit(o, e), exit);
  const w = P.crankLedgerExit(exit, secrets(irene));
  assert.equal(w.waitingFor, 'WaitingForChannelStatus');
  assert.deepEqual(P.statusReadsNeeded(w.objective), [lx.id]);
  exit = P.updateLedgerExit(w.objective, statusEvent(chain, lx.id, [finalVp.outcome]) as never);
  const t = P.crankLedgerExit(exit, secrets(irene));
  const [tx] = txOf(t.effects);
  assert.ok(tx?.kind === 'transferAllAssets');
  assert.equal(tx.stateHash, ZERO);
  const done = P.crankLedgerExit(chain.submit(tx, 'irene').reduce((o, e) => P.updateLedgerExit(o, e), t.objective), secrets(irene));
  assert.equal(done.objective.status, 'completed');
  assert.equal(chain.paid(bob, ETH), 9n);
  assert.equal(chain.paid(irene, ETH), 40n);
});

test("ledger exit: a guarantee target's status is kept only when it names the outcome", () => {
  const dl = download({ chunks: 2, price: 3n });
  const f = finalV(dl, dl.paid);
  const exit = P.newLedgerExit({ ledger: dl.ledgers.get('irene')!.get(dl.IB)!, virtuals: [dl.vs.get('irene')!] });
  // V challenged by someone with a state Irene does not hold: nothing recorded (the engine may still settle V)
  const bare = P.updateLedgerExit(exit, { kind: 'channelStatus', channelId: dl.V, turnNumRecord: 2, finalizesAt: 9_999, fingerprint: 42n, blockNumber: 3, finalOutcomes: [f.vp.outcome] });
  assert.deepEqual(bare.targets, {});
  // V concluded with the final state Irene signed (the engine passes it): recorded with its outcome
  concludeV(dl, f, 'alice');
  const named = P.updateLedgerExit(exit, statusEvent(dl.chain, dl.V, [f.vp.outcome]) as never);
  assert.deepEqual(named.targets[dl.V]?.outcome, f.vp.outcome);
  assert.equal(named.targets[dl.V]?.concluded, true);
});

for (const [name, concluder, honest] of [
  ['the hub concludes V and vanishes (1a)', 'irene', ['alice', 'bob']],
  ['the payer concludes V and vanishes (1b)', 'alice', ['irene', 'bob']],
] as const) {
  test(`${name}: the honest parties reclaim with the concluded outcome and everyone is paid`, () => {
    for (const seed of [1, 2, 3]) {
      for (const concludeFirst of [true, false]) {
        const dl = download({ chunks: 3 + seed, price: 4n, deposit: 60n, seed });
        const f = finalV(dl, dl.paid);
        // each honest party's copy of V carries the final state it signed (the virtual defund's)
        for (const a of honest) dl.vs.set(a, f.copies.get(a)!);
        const nodes = honest.map((a) => new Node(a === 'alice' ? alice : a === 'bob' ? bob : irene));
        for (const n of nodes) n.finals.set(dl.V, P.signedFinalOutcomes(f.copies.get(n.actor.name)!));
        if (concludeFirst) concludeV(dl, f, concluder);
        for (const n of nodes) {
          const peer = n.actor === irene ? alice.address : irene.address;
          const plan = P.fallbackPlan(
            { ledgers: [...dl.ledgers.get(n.actor.name)!.values()], virtuals: [{ channel: dl.vs.get(n.actor.name)!, ...(n.actor === bob ? { bestVoucher: dl.bestVoucher } : {}) }], live: [], now: dl.chain.time },
            { kind: 'peerStalled', peer },
            secrets(n.actor),
          );
          for (const o of plan.create) n.add(o);
        }
        if (!concludeFirst) {
          // the exits start, then the conclusion lands before anything finalizes
          drive(dl.chain, nodes, { maxRounds: 1, statusReads: true });
          const events = concludeV(dl, f, concluder);
          for (const n of nodes) for (const o of n.live()) n.save(events.reduce((x, e) => (P.watchedChannels(x).includes(dl.V) ? P.update(x, e) : x), o));
        }
        drive(dl.chain, nodes, { statusReads: true });
        for (const n of nodes) for (const o of n.all()) assert.equal(o.status, 'completed', `${seed} ${concludeFirst} ${n.actor.name} ${o.id}`);
        assert.deepEqual(dl.chain.premature, []);
        const { start, paid } = dl;
        assert.equal(dl.chain.paid(bob, ETH), start.bobInIB + paid, 'Bob: his ledger balance + exactly what he was paid');
        assert.equal(dl.chain.paid(alice, ETH), start.aliceInAI - paid, 'Alice: everything she did not spend');
        assert.equal(dl.chain.paid(irene, ETH), start.ireneInAI + start.ireneInIB, 'Irene: net zero');
        assert.equal(dl.chain.held(dl.AI, ETH) + dl.chain.held(dl.IB, ETH), 0n);
        // V reclaimed with the concluded outcome (stateHash 0); no V challenge mined after the conclusion
        const vMoves = dl.chain.submissions.filter((s) => s.ok && s.key.startsWith(`challenge:${dl.V}`));
        if (concludeFirst) assert.deepEqual(vMoves, []);
      }
    }
  });
}
