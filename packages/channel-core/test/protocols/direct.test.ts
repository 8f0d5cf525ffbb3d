import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type State, getChannelId, signState, protocols as P } from '../../src/index.ts';
import {
  ETH,
  TOKEN,
  alice,
  fundedLedger,
  holdingsEvent,
  irene,
  ledgerPrefund,
  mallory,
  messagesTo,
  rejects,
  secrets,
  simpleOutcome,
  transactions,
} from './fixtures.ts';

function deliver<O>(o: O, msgs: readonly P.ObjectiveEvent[], update: (o: O, e: P.ObjectiveEvent) => O): O {
  return msgs.reduce(update, o);
}

/** Alice's and Irene's direct fund objectives once both have signed and exchanged the prefund. */
function prefundExchanged(prefund: State): { a: P.DirectFundObjective; i: P.DirectFundObjective } {
  const ra = P.crankDirectFund(P.newDirectFund(prefund, alice.address), secrets(alice));
  const ri = P.crankDirectFund(P.newDirectFund(prefund, irene.address), secrets(irene));
  return {
    a: deliver(ra.objective, messagesTo(ri.effects, alice), P.updateDirectFund),
    i: deliver(ri.objective, messagesTo(ra.effects, irene), P.updateDirectFund),
  };
}

test('direct fund: every pause point for leader and follower', () => {
  const prefund = ledgerPrefund(alice, irene, 100n, 50n);
  const id = getChannelId(prefund);
  let a = P.newDirectFund(prefund, alice.address);
  let i = P.newDirectFund(prefund, irene.address);
  assert.equal(a.id, i.id);

  // 1. Alice signs the prefund and sends it to Irene; waits for Irene's.
  let ra = P.crankDirectFund(a, secrets(alice));
  assert.equal(ra.waitingFor, 'WaitingForCompletePrefund');
  const toIrene = messagesTo(ra.effects, irene);
  assert.equal(toIrene.length, 1);
  assert.equal(transactions(ra.effects).length, 0);
  a = ra.objective;
  assert.equal(P.crankDirectFund(a, secrets(alice)).effects.length, 0, 'no re-send on a second crank');

  // 2. Irene sees it, signs; the prefund is complete for her but Alice deposits first.
  i = deliver(i, toIrene, P.updateDirectFund);
  let ri = P.crankDirectFund(i, secrets(irene));
  assert.equal(ri.waitingFor, 'WaitingForMyTurnToFund');
  assert.equal(transactions(ri.effects).length, 0);
  const toAlice = messagesTo(ri.effects, alice);
  i = ri.objective;

  // 3. Alice: prefund complete, her turn: deposit 100 expecting 0 held; exactly once.
  a = deliver(a, toAlice, P.updateDirectFund);
  ra = P.crankDirectFund(a, secrets(alice));
  assert.equal(ra.waitingFor, 'WaitingForCompleteFunding');
  assert.deepEqual(transactions(ra.effects), [{ kind: 'deposit', channelId: id, asset: ETH, expectedHeld: 0n, amount: 100n }]);
  a = ra.objective;
  assert.equal(transactions(P.crankDirectFund(a, secrets(alice)).effects).length, 0, 'deposit submitted once');

  // 4. Alice's deposit lands: Irene's turn to deposit 50; Alice keeps waiting.
  const e1 = holdingsEvent(id, 100n, 10);
  a = P.updateDirectFund(a, e1);
  i = P.updateDirectFund(i, e1);
  ra = P.crankDirectFund(a, secrets(alice));
  assert.equal(ra.waitingFor, 'WaitingForCompleteFunding');
  assert.equal(ra.effects.length, 0);
  ri = P.crankDirectFund(i, secrets(irene));
  assert.equal(ri.waitingFor, 'WaitingForCompleteFunding');
  assert.deepEqual(transactions(ri.effects), [{ kind: 'deposit', channelId: id, asset: ETH, expectedHeld: 100n, amount: 50n }]);
  i = ri.objective;

  // 5. Fully funded: both sign the postfund and wait for each other.
  const e2 = holdingsEvent(id, 150n, 11);
  a = P.updateDirectFund(P.updateDirectFund(a, e2), e1); // a stale event afterwards is ignored
  i = P.updateDirectFund(i, e2);
  ra = P.crankDirectFund(a, secrets(alice));
  ri = P.crankDirectFund(i, secrets(irene));
  assert.equal(ra.waitingFor, 'WaitingForCompletePostFund');
  assert.equal(ri.waitingFor, 'WaitingForCompletePostFund');
  assert.equal(messagesTo(ra.effects, irene)[0]?.kind, 'signedState');

  // 6. Postfunds cross: both complete, and the ledger can be built from either side.
  a = deliver(ra.objective, messagesTo(ri.effects, alice), P.updateDirectFund);
  i = deliver(ri.objective, messagesTo(ra.effects, irene), P.updateDirectFund);
  ra = P.crankDirectFund(a, secrets(alice));
  ri = P.crankDirectFund(i, secrets(irene));
  assert.equal(ra.waitingFor, 'WaitingForNothing');
  assert.equal(ra.objective.status, 'completed');
  assert.equal(ri.objective.status, 'completed');
  assert.ok(P.postFundComplete(ra.objective.channel));
  const la = P.newConsensusChannel(ra.objective.channel);
  const li = P.newConsensusChannel(ri.objective.channel);
  assert.deepEqual(la.current, li.current);
  assert.equal(la.current.outcome.leader.amount, 100n);
  assert.equal(P.crankDirectFund(ra.objective, secrets(alice)).effects.length, 0, 'completed objectives are inert');
});

test('direct fund: abandonable only while we asked for no deposit and nothing is held', () => {
  const prefund = ledgerPrefund(alice, irene, 100n, 50n);
  const id = getChannelId(prefund);
  let a = P.newDirectFund(prefund, alice.address);
  let i = P.newDirectFund(prefund, irene.address);
  assert.equal(P.directFundAbandonable(a), true, 'nothing signed yet');
  const ra = P.crankDirectFund(a, secrets(alice));
  const ri = P.crankDirectFund(i, secrets(irene));
  a = deliver(ra.objective, messagesTo(ri.effects, alice), P.updateDirectFund);
  i = deliver(ri.objective, messagesTo(ra.effects, irene), P.updateDirectFund);
  // Irene waits for Alice's deposit: nothing at stake for anyone
  const ri2 = P.crankDirectFund(i, secrets(irene));
  assert.equal(ri2.waitingFor, 'WaitingForMyTurnToFund');
  assert.equal(P.directFundAbandonable(ri2.objective), true);
  // Alice asked for her deposit: never (her money may be on its way)
  const ra2 = P.crankDirectFund(a, secrets(alice));
  assert.equal(transactions(ra2.effects).length, 1);
  assert.equal(P.directFundAbandonable(ra2.objective), false);
  // Alice's deposit seen by Irene: not any more (the depositor needs her)
  assert.equal(P.directFundAbandonable(P.updateDirectFund(ri2.objective, holdingsEvent(id, 100n, 10))), false);
  // both deposits zero: funded at once, waiting for postfunds — nothing held, abandonable
  const zero = ledgerPrefund(alice, irene, 0n, 0n);
  let z = P.newDirectFund(zero, irene.address);
  z = deliver(z, messagesTo(P.crankDirectFund(P.newDirectFund(zero, alice.address), secrets(alice)).effects, irene), P.updateDirectFund);
  const rz = P.crankDirectFund(z, secrets(irene));
  assert.equal(rz.waitingFor, 'WaitingForCompletePostFund');
  assert.equal(P.directFundAbandonable(rz.objective), true);
  assert.equal(P.directFundAbandonable({ ...rz.objective, status: 'completed' }), false, 'finished objectives are not');
});

test('direct fund: "waits only on the peer\'s postfund" once funded with nothing of ours, our postfund signed', () => {
  // Alice deposits 100, Irene nothing: Irene signs the postfund once Alice's deposit is held
  const prefund = ledgerPrefund(alice, irene, 100n, 0n);
  const id = getChannelId(prefund);
  let i = P.newDirectFund(prefund, irene.address);
  i = deliver(i, messagesTo(P.crankDirectFund(P.newDirectFund(prefund, alice.address), secrets(alice)).effects, irene), P.updateDirectFund);
  const ri = P.crankDirectFund(i, secrets(irene));
  assert.equal(P.directFundWaitsOnPeerPostfund(ri.objective), false, 'not funded yet');
  const rf = P.crankDirectFund(P.updateDirectFund(ri.objective, holdingsEvent(id, 100n, 10)), secrets(irene));
  assert.equal(rf.waitingFor, 'WaitingForCompletePostFund');
  assert.equal(P.directFundWaitsOnPeerPostfund(rf.objective), true);
  assert.equal(P.directFundAbandonable(rf.objective), false, 'the peer\'s deposit is held: not the "nothing held" case');
  assert.equal(P.directFundHasOurDeposit(rf.objective), false);
  // the side that deposited never qualifies
  const ra = P.crankDirectFund(P.newDirectFund(prefund, alice.address), secrets(alice));
  const a = deliver(ra.objective, messagesTo(ri.effects, alice), P.updateDirectFund);
  const ra2 = P.crankDirectFund(P.updateDirectFund(P.crankDirectFund(a, secrets(alice)).objective, holdingsEvent(id, 100n, 11)), secrets(alice));
  assert.equal(ra2.waitingFor, 'WaitingForCompletePostFund');
  assert.equal(P.directFundWaitsOnPeerPostfund(ra2.objective), false, 'Alice deposited');
  // complete: no longer
  const done = deliver(rf.objective, messagesTo(ra2.effects, irene), P.updateDirectFund);
  assert.equal(P.directFundWaitsOnPeerPostfund(P.crankDirectFund(done, secrets(irene)).objective), false);
});

test('direct fund: "our deposit is in" only once we asked for it and the chain holds it', () => {
  const prefund = ledgerPrefund(alice, irene, 100n, 50n);
  const id = getChannelId(prefund);
  let { a, i } = prefundExchanged(prefund);
  a = P.crankDirectFund(a, secrets(alice)).objective; // Alice asks for her 100
  assert.equal(P.directFundHasOurDeposit(a), false, 'asked for, not on chain yet');
  a = P.updateDirectFund(a, holdingsEvent(id, 100n, 10));
  assert.equal(P.directFundHasOurDeposit(a), true);
  // Irene: Alice's 100 held but nothing of Irene's yet (she has not even asked)
  i = P.updateDirectFund(i, holdingsEvent(id, 100n, 10));
  assert.equal(P.directFundHasOurDeposit(i), false, "the holdings are Alice's");
  i = P.crankDirectFund(i, secrets(irene)).objective; // Irene asks for her 50
  assert.equal(P.directFundHasOurDeposit(i), false, 'still only what precedes hers');
  assert.equal(P.directFundHasOurDeposit(P.updateDirectFund(i, holdingsEvent(id, 150n, 11))), true);
});

test('direct fund: multi-asset safe order and a zero deposit', () => {
  const prefund: State = {
    ...ledgerPrefund(alice, irene, 0n, 0n),
    outcome: [...simpleOutcome(ETH, [[alice, 5n], [irene, 0n]]), ...simpleOutcome(TOKEN, [[alice, 0n], [irene, 7n]])],
  };
  const id = getChannelId(prefund);
  let { a, i } = prefundExchanged(prefund);
  // Alice: ETH now; nothing of TOKEN. Irene: nothing of ETH; TOKEN is safe at once (Alice's 0 precedes).
  assert.deepEqual(transactions(P.crankDirectFund(a, secrets(alice)).effects), [{ kind: 'deposit', channelId: id, asset: ETH, expectedHeld: 0n, amount: 5n }]);
  assert.deepEqual(transactions(P.crankDirectFund(i, secrets(irene)).effects), [{ kind: 'deposit', channelId: id, asset: TOKEN, expectedHeld: 0n, amount: 7n }]);
  a = P.updateDirectFund(P.updateDirectFund(a, holdingsEvent(id, 5n, 3)), holdingsEvent(id, 7n, 4, TOKEN));
  assert.equal(P.crankDirectFund(a, secrets(alice)).waitingFor, 'WaitingForCompletePostFund');
});

test('direct fund: bad peer input is rejected with codes', () => {
  const prefund = ledgerPrefund(alice, irene, 100n, 50n);
  const i = P.newDirectFund(prefund, irene.address);
  const msg = (state: State, key: string): P.SignedStateMessage => ({ kind: 'signedState', objectiveId: i.id, state, signatures: [signState(state, key)] });
  rejects(() => P.updateDirectFund(i, msg(prefund, mallory.privateKey)), 'PROTOCOL_WRONG_SIGNER');
  rejects(() => P.updateDirectFund(i, msg({ ...prefund, turnNum: 5 }, alice.privateKey)), 'PROTOCOL_WRONG_TURN');
  rejects(() => P.updateDirectFund(i, msg({ ...prefund, outcome: simpleOutcome(ETH, [[alice, 1n], [irene, 149n]]) }, alice.privateKey)), 'PROTOCOL_CONFLICTING_STATE');
  rejects(() => P.updateDirectFund(i, msg({ ...prefund, turnNum: 1, outcome: simpleOutcome(ETH, [[alice, 1n], [irene, 149n]]) }, alice.privateKey)), 'PROTOCOL_UNACCEPTABLE_STATE');
  rejects(() => P.updateDirectFund(i, msg({ ...prefund, channelNonce: 99n }, alice.privateKey)), 'PROTOCOL_WRONG_CHANNEL');
  rejects(() => P.updateDirectFund(i, { ...msg(prefund, alice.privateKey), objectiveId: 'other' }), 'PROTOCOL_WRONG_CHANNEL');
  rejects(() => P.updateDirectFund(i, { ...msg(prefund, alice.privateKey), signatures: [new Uint8Array(65) as never] }), 'SIGNATURE_BAD_V');
  rejects(() => P.updateDirectFund(i, { ...msg(prefund, alice.privateKey), signatures: [] }), 'PROTOCOL_MALFORMED');
  rejects(() => P.updateDirectFund(i, { ...msg(prefund, alice.privateKey), state: { ...prefund, participants: 'x' as never } }), 'PROTOCOL_MALFORMED');
  rejects(() => P.updateDirectFund(i, { kind: 'bogus' } as never), 'PROTOCOL_MALFORMED');
  rejects(() => P.updateDirectFund(i, null as never), 'PROTOCOL_MALFORMED');
  rejects(() => P.newDirectFund({ ...prefund, turnNum: 3 }, irene.address), 'INVALID_ARGUMENT');
  rejects(() => P.newDirectFund(prefund, mallory.address), 'INVALID_ARGUMENT');
  // a chain event for another channel changes nothing
  assert.equal(P.updateDirectFund(i, holdingsEvent(getChannelId({ ...prefund, channelNonce: 2n }), 1n, 1)).channel, i.channel);
});

test('direct defund: every pause point for the submitter and the other party', () => {
  const [la, li] = fundedLedger(alice, irene, 70n, 80n);
  let a = P.newDirectDefund(P.ledgerToChannel(la));
  let i = P.newDirectDefund(P.ledgerToChannel(li));
  assert.equal(a.finalTurnNum, 2);

  let ra = P.crankDirectDefund(a, secrets(alice));
  assert.equal(ra.waitingFor, 'WaitingForFinalization');
  assert.equal(transactions(ra.effects).length, 0);
  a = ra.objective;

  i = deliver(i, messagesTo(ra.effects, irene), P.updateDirectDefund);
  let ri = P.crankDirectDefund(i, secrets(irene));
  assert.equal(ri.waitingFor, 'WaitingForWithdraw', 'Irene (not the submitter) waits for the chain');
  assert.equal(transactions(ri.effects).length, 0);
  i = ri.objective;

  a = deliver(a, messagesTo(ri.effects, alice), P.updateDirectDefund);
  ra = P.crankDirectDefund(a, secrets(alice));
  assert.equal(ra.waitingFor, 'WaitingForWithdraw');
  const [tx] = transactions(ra.effects);
  assert.equal(tx?.kind, 'concludeAndTransferAllAssets');
  assert.ok(tx?.kind === 'concludeAndTransferAllAssets' && tx.state.isFinal && tx.signatures.length === 2);
  a = ra.objective;
  assert.equal(transactions(P.crankDirectDefund(a, secrets(alice)).effects).length, 0, 'submitted once');

  const events: P.ChainEvent[] = [
    { kind: 'concluded', channelId: la.id, blockNumber: 20, logIndex: 0 },
    { kind: 'allocationUpdated', channelId: la.id, asset: ETH, holdings: 0n, blockNumber: 20, logIndex: 1 },
  ];
  a = deliver(a, events, P.updateDirectDefund);
  i = deliver(i, events, P.updateDirectDefund);
  assert.equal(P.crankDirectDefund(a, secrets(alice)).objective.status, 'completed');
  assert.equal(P.crankDirectDefund(i, secrets(irene)).waitingFor, 'WaitingForNothing');
});

/** Alice's and Irene's direct defunds once both signed the final state and Alice submitted. */
function finalSigned(): { a: P.DirectDefundObjective; i: P.DirectDefundObjective; id: ReturnType<typeof getChannelId> } {
  const [la, li] = fundedLedger(alice, irene, 70n, 80n);
  const ra = P.crankDirectDefund(P.newDirectDefund(P.ledgerToChannel(la)), secrets(alice));
  const ri = P.crankDirectDefund(deliver(P.newDirectDefund(P.ledgerToChannel(li)), messagesTo(ra.effects, irene), P.updateDirectDefund), secrets(irene));
  const a = P.crankDirectDefund(deliver(ra.objective, messagesTo(ri.effects, alice), P.updateDirectDefund), secrets(alice));
  assert.equal(transactions(a.effects)[0]?.kind, 'concludeAndTransferAllAssets');
  return { a: a.objective, i: ri.objective, id: la.id };
}

test('direct defund: a donation mined just before concludeAndTransferAllAssets leaves 1 wei behind; the close still completes', () => {
  let { a, i, id } = finalSigned();
  const events: P.ChainEvent[] = [
    { kind: 'deposited', channelId: id, asset: ETH, holdings: 151n, blockNumber: 20, logIndex: 0 },
    { kind: 'concluded', channelId: id, blockNumber: 20, logIndex: 1 },
    { kind: 'allocationUpdated', channelId: id, asset: ETH, holdings: 1n, initialHoldings: 151n, blockNumber: 20, logIndex: 2 },
  ];
  a = deliver(a, events, P.updateDirectDefund);
  i = deliver(i, events, P.updateDirectDefund);
  assert.equal(P.holdingsOf(a.channel, ETH), 1n);
  assert.equal(P.withdrawn(a), true, 'every allocation of the final state was paid; the 1 wei belongs to nobody');
  const ra = P.crankDirectDefund(a, secrets(alice));
  assert.equal(ra.objective.status, 'completed');
  assert.equal(transactions(ra.effects).length, 0);
  assert.equal(P.crankDirectDefund(i, secrets(irene)).objective.status, 'completed');
  assert.equal(P.finalStateConcluded(a), true);
  // the same events again (a restart's catch-up) count once
  assert.deepEqual(deliver(a, events, P.updateDirectDefund).paidOut, a.paidOut);
});

test('direct defund: without initialHoldings the payout is taken from the holdings last seen', () => {
  let { a, id } = finalSigned();
  a = deliver(a, [
    { kind: 'deposited', channelId: id, asset: ETH, holdings: 151n, blockNumber: 20, logIndex: 0 },
    { kind: 'concluded', channelId: id, blockNumber: 20, logIndex: 1 },
    { kind: 'allocationUpdated', channelId: id, asset: ETH, holdings: 1n, blockNumber: 20, logIndex: 2 },
  ], P.updateDirectDefund);
  assert.equal(P.crankDirectDefund(a, secrets(alice)).objective.status, 'completed');
});

test('direct defund: a payout that does not cover the final outcome, or one before the conclusion, does not complete it', () => {
  const { a, id } = finalSigned();
  // holdings fell by less than the 150 owed: not paid out
  const short = deliver(a, [
    { kind: 'deposited', channelId: id, asset: ETH, holdings: 200n, blockNumber: 20, logIndex: 0 },
    { kind: 'concluded', channelId: id, blockNumber: 21, logIndex: 0 },
    { kind: 'allocationUpdated', channelId: id, asset: ETH, holdings: 100n, initialHoldings: 200n, blockNumber: 21, logIndex: 1 },
  ], P.updateDirectDefund);
  assert.equal(P.withdrawn(short), false);
  // concluded and not paid out: the engine is asked for the chain status (was it our final state?)
  assert.equal(P.crankDirectDefund(short, secrets(alice)).waitingFor, 'WaitingForChannelStatus');
  // a payout before the conclusion (of some other registered outcome) does not count
  const early = deliver(a, [
    { kind: 'deposited', channelId: id, asset: ETH, holdings: 400n, blockNumber: 20, logIndex: 0 },
    { kind: 'allocationUpdated', channelId: id, asset: ETH, holdings: 200n, initialHoldings: 400n, blockNumber: 20, logIndex: 1 },
    { kind: 'concluded', channelId: id, blockNumber: 21, logIndex: 0 },
  ], P.updateDirectDefund);
  assert.equal(P.withdrawn(early), false);
  assert.equal(P.finalStateConcluded(early), true);
  // concluded but nothing paid yet
  assert.equal(P.withdrawn(deliver(a, [{ kind: 'deposited', channelId: id, asset: ETH, holdings: 150n, blockNumber: 20, logIndex: 0 }, { kind: 'concluded', channelId: id, blockNumber: 20, logIndex: 1 }], P.updateDirectDefund)), false);
  rejects(() => P.updateDirectDefund(deliver(a, [{ kind: 'concluded', channelId: id, blockNumber: 20, logIndex: 1 }], P.updateDirectDefund), { kind: 'allocationUpdated', channelId: id, asset: ETH, holdings: 1n, initialHoldings: 5 as never, blockNumber: 21, logIndex: 0 }), 'PROTOCOL_MALFORMED');
});

test('direct defund: refuses a ledger with guarantees, and bad final states', () => {
  const [la, li] = fundedLedger(alice, irene, 70n, 80n);
  const V = getChannelId({ ...ledgerPrefund(alice, irene, 0n, 0n), channelNonce: 42n });
  const r = P.propose(la, { type: 'add', guarantee: { target: V, amount: 5n, left: la.current.outcome.leader.destination, right: la.current.outcome.follower.destination }, leftDeposit: 5n }, alice.privateKey);
  const c = P.signNextProposal(P.receiveProposal(li, r.signedProposal), r.signedProposal.proposal, irene.privateKey);
  rejects(() => P.newDirectDefund(P.ledgerToChannel(c.ledger)), 'LEDGER_NOT_EMPTY');

  const i = P.newDirectDefund(P.ledgerToChannel(li), { submitter: 1 });
  const final = P.consensusSignedState(li).state;
  const msg = (state: State): P.SignedStateMessage => ({ kind: 'signedState', objectiveId: i.id, state, signatures: [signState(state, alice.privateKey)] });
  rejects(() => P.updateDirectDefund(i, msg({ ...final, turnNum: 2, isFinal: false })), 'PROTOCOL_UNACCEPTABLE_STATE');
  rejects(() => P.updateDirectDefund(i, msg({ ...final, turnNum: 2, isFinal: true, outcome: simpleOutcome(ETH, [[alice, 150n], [irene, 0n]]) })), 'PROTOCOL_UNACCEPTABLE_STATE');
  rejects(() => P.updateDirectDefund(i, msg({ ...final, turnNum: 3, isFinal: true })), 'PROTOCOL_WRONG_TURN');
  // with submitter 1, Irene submits once Alice's signature is in
  const ok = P.updateDirectDefund(i, msg({ ...final, turnNum: 2, isFinal: true }));
  assert.equal(transactions(P.crankDirectDefund(ok, secrets(irene)).effects)[0]?.kind, 'concludeAndTransferAllAssets');
  rejects(() => P.newDirectDefund(P.ledgerToChannel(li), { submitter: 2 }), 'INVALID_ARGUMENT');
});

test('direct defund: the other party can take over submission; failed transactions are re-submitted', () => {
  const [la, li] = fundedLedger(alice, irene, 70n, 80n);
  const a = P.crankDirectDefund(P.newDirectDefund(P.ledgerToChannel(la)), secrets(alice));
  let i = deliver(P.newDirectDefund(P.ledgerToChannel(li)), messagesTo(a.effects, irene), P.updateDirectDefund);
  let ri = P.crankDirectDefund(i, secrets(irene));
  assert.equal(transactions(ri.effects).length, 0);
  i = P.takeOverSubmission(ri.objective);
  ri = P.crankDirectDefund(i, secrets(irene));
  assert.equal(transactions(ri.effects)[0]?.kind, 'concludeAndTransferAllAssets');
  assert.equal(transactions(P.crankDirectDefund(ri.objective, secrets(irene)).effects).length, 0);
  const retried = P.onTransactionFailed(ri.objective) as P.DirectDefundObjective;
  assert.equal(transactions(P.crankDirectDefund(retried, secrets(irene)).effects)[0]?.kind, 'concludeAndTransferAllAssets');
  // direct fund: a failed deposit is submitted again
  const prefund = ledgerPrefund(alice, irene, 10n, 0n);
  const f0 = P.crankDirectFund(P.newDirectFund(prefund, alice.address), secrets(alice));
  const fi = P.crankDirectFund(P.newDirectFund(prefund, irene.address), secrets(irene));
  const f1 = P.crankDirectFund(deliver(f0.objective, messagesTo(fi.effects, alice), P.updateDirectFund), secrets(alice));
  assert.equal(transactions(f1.effects).length, 1);
  assert.equal(transactions(P.crankDirectFund(f1.objective, secrets(alice)).effects).length, 0);
  assert.equal(transactions(P.crankDirectFund(P.onTransactionFailed(f1.objective) as P.DirectFundObjective, secrets(alice)).effects).length, 1);
});

test('ledger defund: refuses pending proposals and guarantees', () => {
  const [la] = fundedLedger(alice, irene, 70n, 80n);
  assert.equal(P.newLedgerDefund(la).finalTurnNum, 2);
  const pending = P.propose(la, { type: 'topUp', destination: la.current.outcome.leader.destination, amount: 1n }, alice.privateKey).ledger;
  rejects(() => P.newLedgerDefund(pending), 'LEDGER_NOT_EMPTY');
});
