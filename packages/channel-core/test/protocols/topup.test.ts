import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '../../src/index.ts';
import { ETH, alice, d, fundedLedger, holdingsEvent, irene, messagesTo, rejects, secrets, transactions } from './fixtures.ts';

const feed = (o: P.LedgerTopUpObjective, evs: readonly P.ObjectiveEvent[]) => evs.reduce(P.updateLedgerTopUp, o);

for (const depositor of [alice, irene]) {
  test(`ledger top-up by the ${depositor === alice ? 'leader' : 'follower'}: deposit first, then agree`, () => {
    const [la, li] = fundedLedger(alice, irene, 100n, 50n);
    let A = P.newLedgerTopUp({ ledger: la, depositor: depositor.address, amount: 25n });
    let I = P.newLedgerTopUp({ ledger: li, depositor: depositor.address, amount: 25n });
    assert.equal(A.id, I.id);
    const dep = depositor === alice ? 'A' : 'I';

    let ra = P.crankLedgerTopUp(A, secrets(alice));
    let ri = P.crankLedgerTopUp(I, secrets(irene));
    assert.equal(ra.waitingFor, 'WaitingForDeposit');
    assert.equal(ri.waitingFor, 'WaitingForDeposit');
    const txs = transactions(dep === 'A' ? ra.effects : ri.effects);
    assert.deepEqual(txs, [{ kind: 'deposit', channelId: la.id, asset: ETH, expectedHeld: 150n, amount: 25n }]);
    assert.equal(transactions(dep === 'A' ? ri.effects : ra.effects).length, 0);
    A = ra.objective;
    I = ri.objective;
    assert.equal(transactions(P.crankLedgerTopUp(dep === 'A' ? A : I, secrets(depositor)).effects).length, 0, 'deposit once');

    // a proposal before the follower has seen the deposit cannot be checked yet
    const early = P.propose(la, { type: 'topUp', destination: d(depositor), amount: 25n }, alice.privateKey).signedProposal;
    rejects(() => P.updateLedgerTopUp(I, { kind: 'ledgerProposal', objectiveId: I.id, signedProposal: early }), 'PROTOCOL_NOT_READY');
    // a partial deposit is not enough
    A = P.updateLedgerTopUp(A, holdingsEvent(la.id, 160n, 5));
    assert.equal(P.crankLedgerTopUp(A, secrets(alice)).waitingFor, 'WaitingForDeposit');

    const ev = holdingsEvent(la.id, 175n, 6);
    A = P.updateLedgerTopUp(A, ev);
    I = P.updateLedgerTopUp(I, ev);
    // the holdings cover it, but the depositor waits for its own deposit's receipt (the holdings
    // could be the counterparty's concurrent deposit): no proposal, no countersignature yet
    if (dep === 'A') assert.equal(P.crankLedgerTopUp(A, secrets(alice)).waitingFor, 'WaitingForDeposit');
    else {
      const sp = P.propose(la, { type: 'topUp', destination: d(depositor), amount: 25n }, alice.privateKey).signedProposal;
      rejects(() => P.updateLedgerTopUp(I, { kind: 'ledgerProposal', objectiveId: I.id, signedProposal: sp }), 'PROTOCOL_NOT_READY');
    }
    if (dep === 'A') A = P.topUpDepositMined(A);
    else I = P.topUpDepositMined(I);
    ra = P.crankLedgerTopUp(A, secrets(alice));
    assert.equal(ra.waitingFor, 'WaitingForLedgerUpdate');
    const prop = messagesTo(ra.effects, irene);
    assert.equal(prop[0]?.kind, 'ledgerProposal');
    // wrong amount / wrong beneficiary are refused
    const other = depositor === alice ? irene : alice;
    const bad = P.propose(la, { type: 'topUp', destination: d(other), amount: 25n }, alice.privateKey).signedProposal;
    rejects(() => P.updateLedgerTopUp(I, { kind: 'ledgerProposal', objectiveId: I.id, signedProposal: bad }), 'LEDGER_PROPOSAL_UNEXPECTED');
    const bad2 = P.propose(la, { type: 'topUp', destination: d(depositor), amount: 26n }, alice.privateKey).signedProposal;
    rejects(() => P.updateLedgerTopUp(I, { kind: 'ledgerProposal', objectiveId: I.id, signedProposal: bad2 }), 'LEDGER_PROPOSAL_UNEXPECTED');
    rejects(() => P.updateLedgerTopUp(I, { kind: 'signedState', objectiveId: I.id, state: P.consensusSignedState(li).state, signatures: [] }), 'PROTOCOL_WRONG_TURN');

    I = feed(I, prop);
    ri = P.crankLedgerTopUp(I, secrets(irene));
    assert.equal(ri.waitingFor, 'WaitingForNothing');
    A = feed(ra.objective, messagesTo(ri.effects, alice));
    ra = P.crankLedgerTopUp(A, secrets(alice));
    assert.equal(ra.waitingFor, 'WaitingForNothing');
    assert.deepEqual(ra.objective.ledger.current, ri.objective.ledger.current);
    const lo = ra.objective.ledger.current.outcome;
    assert.equal(P.ledgerTotal(lo), 175n);
    assert.equal(depositor === alice ? lo.leader.amount : lo.follower.amount, depositor === alice ? 125n : 75n);
  });
}

test('ledger top-up: argument checks', () => {
  const [la] = fundedLedger(alice, irene, 100n, 50n);
  rejects(() => P.newLedgerTopUp({ ledger: la, depositor: alice.address, amount: 0n }), 'INVALID_ARGUMENT');
  rejects(() => P.newLedgerTopUp({ ledger: la, depositor: '0x0000000000000000000000000000000000000001' as never, amount: 1n }), 'INVALID_ARGUMENT');
  const pending = P.propose(la, { type: 'topUp', destination: d(alice), amount: 1n }, alice.privateKey).ledger;
  rejects(() => P.newLedgerTopUp({ ledger: pending, depositor: alice.address, amount: 1n }), 'INVALID_ARGUMENT');
});

test('a deposit already credited by one top-up does not cover another made before it (its stored target is stale)', () => {
  const [la, li] = fundedLedger(alice, irene, 100n, 50n);
  // the follower holds two top-ups made on the same ledger: 25 (target 175) and 10 (target 160)
  let first = P.newLedgerTopUp({ ledger: li, depositor: alice.address, amount: 25n });
  const second = P.newLedgerTopUp({ ledger: li, depositor: alice.address, amount: 10n });
  const ev = holdingsEvent(la.id, 175n, 6);
  first = P.updateLedgerTopUp(first, ev);
  const prop = P.propose(la, { type: 'topUp', destination: d(alice), amount: 25n }, alice.privateKey);
  first = P.updateLedgerTopUp(first, { kind: 'ledgerProposal', objectiveId: first.id, signedProposal: prop.signedProposal });
  const done = P.crankLedgerTopUp(first, secrets(irene));
  assert.equal(done.waitingFor, 'WaitingForNothing');
  assert.equal(P.ledgerTotal(done.objective.ledger.current.outcome), 175n, 'the 25 is credited');
  // the second, on the ledger as it is now: 175 held covers its target of 160, but 175 is credited already
  const stale = P.updateLedgerTopUp({ ...second, ledger: done.objective.ledger }, ev);
  assert.equal(P.crankLedgerTopUp(stale, secrets(irene)).waitingFor, 'WaitingForDeposit');
  const next = P.propose(prop.ledger, { type: 'topUp', destination: d(alice), amount: 10n }, alice.privateKey).signedProposal;
  rejects(() => P.updateLedgerTopUp(stale, { kind: 'ledgerProposal', objectiveId: stale.id, signedProposal: next }), 'PROTOCOL_NOT_READY');
});

test('both parties top up at once: neither counts the other\'s deposit as its own; the one that reverted is given up', () => {
  const [la, li] = fundedLedger(alice, irene, 100n, 50n);
  // the leader tops up 10 and the follower 25, both expecting 150 held; the follower's lands first
  let A = P.crankLedgerTopUp(P.newLedgerTopUp({ ledger: la, depositor: alice.address, amount: 10n }), secrets(alice)).objective;
  let I = P.crankLedgerTopUp(P.newLedgerTopUp({ ledger: li, depositor: irene.address, amount: 25n }), secrets(irene)).objective;
  const ev = holdingsEvent(la.id, 175n, 6);
  A = P.updateLedgerTopUp(A, ev);
  I = P.updateLedgerTopUp(I, ev);
  // 175 covers the leader's target of 160, but that is the follower's money: the leader proposes nothing
  const ra = P.crankLedgerTopUp(A, secrets(alice));
  assert.equal(ra.waitingFor, 'WaitingForDeposit');
  assert.equal(messagesTo(ra.effects, irene).length, 0);
  // the leader's deposit reverted with 175 held where it expected 150: given up (nothing of it is on chain)
  assert.equal(P.topUpDepositConflicts(A, 150n, 175n), true);
  assert.equal(P.topUpDepositConflicts(A, 150n, 150n), false, 'holdings that did not move: a plain failure, retried');
  // the follower's receipt says mined: it is never in conflict, and waits for the leader's proposal
  I = P.topUpDepositMined(I);
  assert.equal(P.topUpDepositConflicts(I, 150n, 175n), false);
  assert.equal(P.crankLedgerTopUp(I, secrets(irene)).waitingFor, 'WaitingForLedgerUpdate');
  // not the depositor: never in conflict
  const notMine = P.newLedgerTopUp({ ledger: li, depositor: alice.address, amount: 10n });
  assert.equal(P.topUpDepositConflicts(notMine, 150n, 175n), false);
});
