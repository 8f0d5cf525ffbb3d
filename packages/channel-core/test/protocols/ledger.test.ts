import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, encodeOutcome, getChannelId, signState, protocols as P } from '../../src/index.ts';
import { alice, bob, d, fundedLedger, irene, mallory, rejects, virtualPrefund } from './fixtures.ts';

const V = getChannelId(virtualPrefund(alice, irene, bob, 10n));
const V2 = getChannelId(virtualPrefund(alice, irene, bob, 10n, 0n, 8n));
const add = (target: ChannelId, amount: bigint, leftDeposit: bigint): P.Proposal => ({
  type: 'add',
  guarantee: { target, amount, left: d(alice), right: d(irene) },
  leftDeposit,
});

test('ledger outcome maps to a Nitro outcome and back', () => {
  const [l] = fundedLedger(alice, irene, 100n, 50n);
  const lo = P.applyProposal(l.current.outcome, add(V, 30n, 20n));
  const outcome = P.ledgerOutcomeToOutcome(lo);
  encodeOutcome(outcome); // valid for the ABI encoder
  assert.deepEqual(P.ledgerOutcomeFromOutcome(outcome, l.fixedPart), lo);
  assert.equal(lo.leader.amount, 80n);
  assert.equal(lo.follower.amount, 40n);
  assert.equal(P.ledgerTotal(lo), 150n);
  const removed = P.applyProposal(lo, { type: 'remove', target: V, leftAmount: 5n });
  assert.equal(removed.leader.amount, 85n);
  assert.equal(removed.follower.amount, 65n);
  assert.equal(P.ledgerTotal(removed), 150n);
});

test('leader proposes, follower countersigns, both agree on the same state', () => {
  let [la, li] = fundedLedger(alice, irene, 100n, 50n);
  const p = add(V, 10n, 10n);
  const r = P.propose(la, p, alice.privateKey);
  la = r.ledger;
  assert.equal(r.signedProposal.turnNum, 2);
  assert.equal(P.consensusIncludes(la, V), false);
  li = P.receiveProposal(li, r.signedProposal);
  assert.equal(P.nextProposal(li)?.turnNum, 2);
  const c = P.signNextProposal(li, p, irene.privateKey);
  li = c.ledger;
  assert.ok(P.consensusIncludes(li, V));
  la = P.receiveCountersignature(la, c.countersignature);
  assert.ok(P.consensusIncludes(la, V));
  assert.deepEqual(la.current, li.current);
  assert.equal(la.queue.length, 0);
  // the agreed state is a valid doubly-signed ConsensusApp state
  const { state, signatures } = P.consensusSignedState(la);
  const ch = P.addSignedState(P.newChannel(state, alice.address), state, signatures);
  assert.equal(P.latestSupportedState(ch)?.state.turnNum, 2);
});

test('proposals are sequenced: pipelined, re-sends ignored, gaps retried later, conflicts rejected', () => {
  let [la, li] = fundedLedger(alice, irene, 100n, 50n);
  const p1 = add(V, 10n, 10n);
  const p2 = add(V2, 20n, 5n);
  const r1 = P.propose(la, p1, alice.privateKey);
  const r2 = P.propose(r1.ledger, p2, alice.privateKey);
  la = r2.ledger;
  assert.equal(r2.signedProposal.turnNum, 3);
  rejects(() => P.receiveProposal(li, r2.signedProposal), 'PROTOCOL_NOT_READY');
  li = P.receiveProposal(li, r1.signedProposal);
  assert.equal(P.receiveProposal(li, r1.signedProposal), li, 're-send is a no-op');
  li = P.receiveProposal(li, r2.signedProposal);
  rejects(() => P.receiveProposal(li, { ...r2.signedProposal, proposal: add(V2, 20n, 6n) }), 'PROTOCOL_CONFLICTING_STATE');
  rejects(() => P.signNextProposal(li, p2, irene.privateKey), 'LEDGER_PROPOSAL_UNEXPECTED');
  const c1 = P.signNextProposal(li, p1, irene.privateKey);
  const c2 = P.signNextProposal(c1.ledger, p2, irene.privateKey);
  li = c2.ledger;
  // the leader may see only the later countersignature: it supports everything before it
  la = P.receiveCountersignature(la, c2.countersignature);
  assert.deepEqual(la.current, li.current);
  assert.equal(P.receiveCountersignature(la, c1.countersignature), la, 'stale countersignature is a no-op');
  assert.equal(P.receiveProposal(li, r1.signedProposal), li, 'already agreed proposal is a no-op');
});

test('bad proposals and countersignatures are rejected with codes', () => {
  const [la, li] = fundedLedger(alice, irene, 100n, 50n);
  const [other] = fundedLedger(alice, irene, 100n, 50n, 2n);
  const r = P.propose(la, add(V, 10n, 10n), alice.privateKey);
  // wrong signer: Mallory signs the proposal state
  const lo = P.applyProposal(li.current.outcome, r.signedProposal.proposal);
  const forged = signState(P.ledgerState(li, 2, lo), mallory.privateKey);
  rejects(() => P.receiveProposal(li, { ...r.signedProposal, signature: forged }), 'PROTOCOL_WRONG_SIGNER');
  // the follower's own signature is not the leader's
  rejects(() => P.receiveProposal(li, { ...r.signedProposal, signature: signState(P.ledgerState(li, 2, lo), irene.privateKey) }), 'PROTOCOL_WRONG_SIGNER');
  // signature over a different proposal (money moved the other way)
  rejects(() => P.receiveProposal(li, { ...r.signedProposal, proposal: add(V, 10n, 0n) }), 'PROTOCOL_WRONG_SIGNER');
  rejects(() => P.receiveProposal(li, { ...r.signedProposal, ledgerId: other.id }), 'PROTOCOL_WRONG_CHANNEL');
  rejects(() => P.receiveProposal(li, { ...r.signedProposal, signature: new Uint8Array(3) as never }), 'SIGNATURE_MALFORMED');
  rejects(() => P.receiveProposal(li, { ...r.signedProposal, proposal: { type: 'steal' } as never }), 'PROTOCOL_MALFORMED');
  rejects(() => P.receiveProposal(li, { ...r.signedProposal, proposal: null as never }), 'PROTOCOL_MALFORMED');
  rejects(() => P.receiveProposal(li, { ...r.signedProposal, turnNum: 'x' as never }), 'PROTOCOL_MALFORMED');
  rejects(() => P.receiveProposal(la, r.signedProposal), 'PROTOCOL_BAD_ROLE_OR_STATUS');
  rejects(() => P.propose(li, add(V, 1n, 1n), irene.privateKey), 'PROTOCOL_BAD_ROLE_OR_STATUS');
  // proposals that do not apply
  rejects(() => P.propose(la, add(V, 200n, 150n), alice.privateKey), 'LEDGER_PROPOSAL_INVALID');
  rejects(() => P.propose(la, add(V, 10n, 11n), alice.privateKey), 'LEDGER_PROPOSAL_INVALID');
  rejects(() => P.propose(la, { type: 'remove', target: V, leftAmount: 0n }, alice.privateKey), 'LEDGER_PROPOSAL_INVALID');
  rejects(
    () => P.propose(la, { type: 'add', guarantee: { target: V, amount: 1n, left: d(bob), right: d(irene) }, leftDeposit: 1n }, alice.privateKey),
    'LEDGER_PROPOSAL_INVALID',
  );
  rejects(() => P.propose(r.ledger, add(V, 1n, 1n), alice.privateKey), 'LEDGER_PROPOSAL_INVALID'); // V already guaranteed (pending)
  rejects(() => P.propose(la, { type: 'topUp', destination: d(bob), amount: 1n }, alice.privateKey), 'LEDGER_PROPOSAL_INVALID');
  rejects(() => P.propose(la, { type: 'topUp', destination: d(alice), amount: 0n }, alice.privateKey), 'LEDGER_PROPOSAL_INVALID');
  // countersignatures
  const li2 = P.receiveProposal(li, r.signedProposal);
  const c = P.signNextProposal(li2, r.signedProposal.proposal, irene.privateKey);
  rejects(() => P.receiveCountersignature(r.ledger, { ...c.countersignature, signature: signState(P.ledgerState(li, 2, lo), mallory.privateKey) }), 'PROTOCOL_WRONG_SIGNER');
  rejects(() => P.receiveCountersignature(r.ledger, { ...c.countersignature, turnNum: 9 }), 'PROTOCOL_WRONG_TURN');
  rejects(() => P.receiveCountersignature(r.ledger, { ...c.countersignature, ledgerId: other.id }), 'PROTOCOL_WRONG_CHANNEL');
  rejects(() => P.receiveCountersignature(li2, c.countersignature), 'PROTOCOL_BAD_ROLE_OR_STATUS');
});

test('a malformed ledger outcome is rejected', () => {
  const [l] = fundedLedger(alice, irene, 100n, 50n);
  const outcome = P.ledgerOutcomeToOutcome(l.current.outcome);
  rejects(() => P.ledgerOutcomeFromOutcome([...outcome, ...outcome], l.fixedPart), 'PROTOCOL_MALFORMED');
  const swapped = [{ ...outcome[0]!, allocations: [outcome[0]!.allocations[1]!, outcome[0]!.allocations[0]!] }];
  rejects(() => P.ledgerOutcomeFromOutcome(swapped, l.fixedPart), 'PROTOCOL_MALFORMED');
});
