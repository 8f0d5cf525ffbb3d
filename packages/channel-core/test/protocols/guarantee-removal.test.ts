/**
 * Guarantee removal by on-chain proof (`guarantee-removal.ts`): a ledger drops a settled V's
 * guarantee cooperatively with V's outcome as the chain fixed it — each side checking its OWN view
 * of the chain, never the proposer's word.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, type Outcome, protocols as P } from '../../src/index.ts';
import { alice, bob, irene, rejects, secrets } from './fixtures.ts';
import { download } from './fallback-chain.ts';

const ZERO = ('0x' + '00'.repeat(32)) as P.OnChainRecord['stateHash'];

/** The record of V registered with Bob's redemption (finalizing at 1000), or concluded with it. */
function records(dl: ReturnType<typeof download>): { redemption: P.OnChainRecord; outcome: Outcome } {
  const v = dl.vs.get('bob')!;
  const post = P.latestSupportedState(v)!.state;
  const outcome = P.redemptionState(v, post, dl.bestVoucher!).outcome;
  return {
    outcome,
    redemption: { turnNumRecord: 2, finalizesAt: 1000, concluded: false, stateHash: ZERO, outcome, reclaimed: [], unresolvedReclaims: 0, cursor: null },
  };
}

function removal(dl: ReturnType<typeof download>, who: 'alice' | 'irene' | 'bob', ledgerId: ChannelId, record: P.OnChainRecord | null, now: number): P.GuaranteeRemovalObjective {
  return P.newGuaranteeRemoval({ ledger: dl.ledgers.get(who)!.get(ledgerId)!, v: dl.vs.get(who)!.fixedPart, proof: { record, now } });
}

function proposalOf(r: P.AnyCrankResult): P.LedgerProposalMessage {
  const m = r.effects.find((e) => e.type === 'sendMessage' && e.payload.kind === 'ledgerProposal');
  return m?.type === 'sendMessage' && m.payload.kind === 'ledgerProposal' ? m.payload : assert.fail('no proposal');
}

test('removal by proof: the leader proposes V\'s on-chain split; the follower countersigns it only from its own view; both complete, the ledger stays open', () => {
  const dl = download({ chunks: 4, price: 5n });
  const { redemption } = records(dl);
  // L_IB: Irene leads, Bob follows
  const leader = removal(dl, 'irene', dl.IB, redemption, 1000);
  assert.equal(leader.id, P.guaranteeRemovalId(dl.IB, dl.V));
  assert.deepEqual(P.removalByProof(leader), { type: 'remove', target: dl.V, leftAmount: 60n - dl.paid });
  const r1 = P.crank(leader, secrets(irene));
  assert.equal(r1.waitingFor, 'WaitingForLedgerUpdate');
  const msg = proposalOf(r1);
  const follower = removal(dl, 'bob', dl.IB, redemption, 1000);
  const f1 = P.crank(P.update(follower, msg), secrets(bob));
  assert.equal(f1.objective.status, 'completed');
  const cs = f1.effects.find((e) => e.type === 'sendMessage')!;
  assert.ok(cs.type === 'sendMessage' && cs.payload.kind === 'ledgerCountersignature');
  const l1 = P.crank(P.update(r1.objective, cs.payload), secrets(irene));
  assert.equal(l1.objective.status, 'completed');
  for (const o of [f1.objective, l1.objective] as P.GuaranteeRemovalObjective[]) {
    const out = o.ledger.current.outcome;
    assert.equal(out.guarantees.length, 0);
    assert.equal(out.follower.amount, dl.start.bobInIB + dl.paid, "Bob: exactly V's on-chain outcome");
    assert.equal(out.leader.amount, dl.start.ireneInIB - dl.paid);
  }

  // L_AI, the other roles: Alice leads, Irene (the hub) follows; a conclusion is proof at any chain time
  const concluded: P.OnChainRecord = { ...redemption, concluded: true, finalizesAt: 0 };
  const a = P.crank(removal(dl, 'alice', dl.AI, concluded, 0), secrets(alice));
  const i = P.crank(P.update(removal(dl, 'irene', dl.AI, concluded, 0), proposalOf(a)), secrets(irene));
  assert.equal(i.objective.status, 'completed');
  const ai = (i.objective as P.GuaranteeRemovalObjective).ledger.current.outcome;
  assert.equal(ai.follower.amount, dl.start.ireneInAI + dl.paid, 'the hub gets from Alice what it paid Bob');
  assert.equal(ai.leader.amount, dl.start.aliceInAI - dl.paid);
});

test('removal by proof: refused while the challenge runs, for a split the chain did not fix, for a V we know nothing of, and for another channel', () => {
  const dl = download({ chunks: 4, price: 5n });
  const { redemption } = records(dl);
  const msg = proposalOf(P.crank(removal(dl, 'irene', dl.IB, redemption, 1000), secrets(irene)));

  // a running challenge (chain time 999 < finalizesAt 1000) can still be raised: not ready, nothing signed
  const running = removal(dl, 'bob', dl.IB, redemption, 999);
  assert.equal(P.removalByProof(running), null);
  rejects(() => P.update(running, msg), 'PROTOCOL_NOT_READY');
  assert.equal(P.crank(running, secrets(bob)).waitingFor, 'WaitingForVirtualFinalization');
  assert.deepEqual(P.crank(running, secrets(bob)).effects, []);
  // the leader does not propose either before its own view shows V finalized
  assert.deepEqual(P.crank(removal(dl, 'irene', dl.IB, redemption, 999), secrets(irene)).effects, []);
  // no record of V on chain at all (an unknown V, or events not seen yet)
  rejects(() => P.update(removal(dl, 'bob', dl.IB, null, 5000), msg), 'PROTOCOL_NOT_READY');
  // a finalized record whose outcome we cannot name (concluded with a state we do not hold)
  rejects(() => P.update(removal(dl, 'bob', dl.IB, { ...redemption, outcome: null }, 5000), msg), 'PROTOCOL_NOT_READY');

  // our view: V finalized with its postfund (Alice's challenge was never raised) — the leader's
  // proposal with Bob's redemption split is not what the chain fixed here, and vice versa
  const post = P.latestSupportedState(dl.vs.get('bob')!)!.state.outcome;
  const postRecord: P.OnChainRecord = { ...redemption, turnNumRecord: 1, outcome: post };
  rejects(() => P.update(removal(dl, 'bob', dl.IB, postRecord, 1000), msg), 'LEDGER_PROPOSAL_UNEXPECTED');
  // a leader proposing a split of its own (paying Bob less than V's outcome)
  const ledgerI = dl.ledgers.get('irene')!.get(dl.IB)!;
  const cheap = P.propose(ledgerI, { type: 'remove', target: dl.V, leftAmount: 60n }, irene.privateKey);
  const cheapMsg: P.LedgerProposalMessage = { kind: 'ledgerProposal', objectiveId: P.guaranteeRemovalId(dl.IB, dl.V), signedProposal: cheap.signedProposal };
  rejects(() => P.update(removal(dl, 'bob', dl.IB, redemption, 1000), cheapMsg), 'LEDGER_PROPOSAL_UNEXPECTED');
  // a record whose outcome does not fit the guarantee (not V's total): no split to agree
  const [exit] = redemption.outcome!;
  const short: Outcome = [{ ...exit!, allocations: exit!.allocations.map((al, k) => (k === 0 ? { ...al, amount: al.amount - 1n } : al)) }];
  assert.equal(P.removalByProof(removal(dl, 'bob', dl.IB, { ...redemption, outcome: short }, 1000)), null);

  // a ledger that does not guarantee V, another objective's message
  const other = P.newVirtualChallenge({ v: dl.vs.get('bob')! }).v.fixedPart;
  rejects(() => P.newGuaranteeRemoval({ ledger: ledgerI, v: { ...other, channelNonce: 999n }, proof: { record: redemption, now: 1000 } }), 'INVALID_ARGUMENT');
  rejects(() => P.update(removal(dl, 'bob', dl.IB, redemption, 1000), { ...msg, objectiveId: P.guaranteeRemovalId(dl.IB, dl.AI) }), 'PROTOCOL_WRONG_CHANNEL');
  assert.deepEqual(P.parseGuaranteeRemovalId(P.guaranteeRemovalId(dl.IB, dl.V)), { ledgerId: dl.IB.toLowerCase(), target: dl.V.toLowerCase() });
  assert.equal(P.parseGuaranteeRemovalId('GuaranteeRemoval-0x12'), undefined);
});

test('planner: a challenge on V creates V\'s virtual challenge only; a silent peer still gets its ledger exited', () => {
  const dl = download({ chunks: 2 });
  const ev: P.ChallengeRegisteredEvent = {
    kind: 'challengeRegistered',
    channelId: dl.V,
    finalizesAt: 5000,
    proof: [],
    candidate: { variablePart: P.latestSupportedState(dl.vs.get('irene')!)!.state, signatures: [] },
    blockNumber: 3,
    logIndex: 0,
  };
  const ctx = (_a: typeof alice, name: 'alice' | 'irene' | 'bob'): P.FallbackContext => ({
    ledgers: [...dl.ledgers.get(name)!.values()],
    virtuals: [{ channel: dl.vs.get(name)!, ...(name === 'bob' ? { bestVoucher: dl.bestVoucher } : {}) }],
    live: [],
    now: 100,
  });
  for (const [a, name] of [[alice, 'alice'], [irene, 'irene'], [bob, 'bob']] as const) {
    const plan = P.fallbackPlan(ctx(a, name), { kind: 'challengeRegistered', event: ev }, secrets(a));
    assert.deepEqual(plan.create.map((o) => o.id), [P.virtualChallengeId(dl.V)], `${name}: no ledger exit for a challenge on V`);
    // forcing V alone: V only
    assert.deepEqual(P.fallbackPlan(ctx(a, name), { kind: 'userForce', channelId: dl.V }, secrets(a)).create.map((o) => o.id), [P.virtualChallengeId(dl.V)]);
  }
  // the hub with Bob silent: L_IB exited and (closure) V settled; L_AI (Alice online) is not
  const hub = P.fallbackPlan(ctx(irene, 'irene'), { kind: 'peerStalled', peer: bob.address }, secrets(irene));
  assert.deepEqual(hub.create.map((o) => o.id).sort(), [P.ledgerExitId(dl.IB), P.virtualChallengeId(dl.V)].sort());
  // forcing a ledger exit still settles the V's it guarantees
  assert.deepEqual(P.fallbackPlan(ctx(alice, 'alice'), { kind: 'userForce', channelId: dl.AI }, secrets(alice)).create.map((o) => o.id).sort(), [P.ledgerExitId(dl.AI), P.virtualChallengeId(dl.V)].sort());
});

test('removal by proof: the leader sends, under its own id and once, the same removal already queued by an ended defund; a different queued split is not adopted', () => {
  const dl = download({ chunks: 4, price: 5n });
  const { redemption } = records(dl);
  const concluded: P.OnChainRecord = { ...redemption, concluded: true, finalizesAt: 0 };
  // Alice (L_AI's leader) queued V's removal in her defund; it never reached the hub
  const ledgerA = dl.ledgers.get('alice')!.get(dl.AI)!;
  const split = P.removalByProof(removal(dl, 'alice', dl.AI, concluded, 0))!;
  const queued = P.propose(ledgerA, split, alice.privateKey);
  const leader = P.newGuaranteeRemoval({ ledger: queued.ledger, v: dl.vs.get('alice')!.fixedPart, proof: { record: concluded, now: 0 } });
  const a1 = P.crank(leader, secrets(alice));
  const msg = proposalOf(a1);
  assert.equal(msg.objectiveId, leader.id);
  assert.deepEqual(msg.signedProposal, queued.signedProposal, 'the queued proposal itself, not a second one');
  assert.equal((a1.objective as P.GuaranteeRemovalObjective).ledger.queue.length, 1);
  assert.deepEqual(P.crank(a1.objective, secrets(alice)).effects, [], 'sent once (a stall re-sends it)');
  // the hub's removal by proof countersigns it; Alice takes the countersignature
  const i = P.crank(P.update(removal(dl, 'irene', dl.AI, concluded, 0), msg), secrets(irene));
  assert.equal(i.objective.status, 'completed');
  const cs = i.effects.find((e) => e.type === 'sendMessage')!;
  assert.ok(cs.type === 'sendMessage' && cs.payload.kind === 'ledgerCountersignature');
  assert.equal(P.crank(P.update(a1.objective, cs.payload), secrets(alice)).objective.status, 'completed');

  // a queued removal of V with another split (V settled otherwise on chain) is not sent as ours
  const other = P.propose(ledgerA, { type: 'remove', target: dl.V, leftAmount: 60n }, alice.privateKey);
  const stuck = P.newGuaranteeRemoval({ ledger: other.ledger, v: dl.vs.get('alice')!.fixedPart, proof: { record: concluded, now: 0 } });
  // (nor can V's guarantee be removed twice: the ledger waits; the peer timeout exits it on chain)
  const s1 = P.crank(stuck, secrets(alice));
  assert.deepEqual(s1.effects, []);
  assert.equal(s1.waitingFor, 'WaitingForLedgerUpdate');
});
