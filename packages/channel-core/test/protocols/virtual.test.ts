import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type State, getChannelId, signState, protocols as P } from '../../src/index.ts';
import { ETH, alice, bob, d, fundedLedger, irene, mallory, messagesTo, rejects, secrets, simpleOutcome, virtualPrefund } from './fixtures.ts';

const feed = <O>(o: O, msgs: readonly P.ProtocolMessage[], update: (o: O, e: P.ObjectiveEvent) => O): O => msgs.reduce(update, o);

function setup(a = 40n) {
  const [aiA, aiI] = fundedLedger(alice, irene, 100n, 100n, 1n); // Alice leads L_AI
  const [ibI, ibB] = fundedLedger(irene, bob, 100n, 10n, 2n); // Irene leads L_IB
  const prefund = virtualPrefund(alice, irene, bob, a);
  return { aiA, aiI, ibI, ibB, prefund, V: getChannelId(prefund) };
}

/** Run a complete virtual fund step by step, asserting every pause point. */
function fundStepByStep(s: ReturnType<typeof setup>) {
  let A = P.newVirtualFund({ prefund: s.prefund, myAddress: alice.address, toMyRight: s.aiA });
  let I = P.newVirtualFund({ prefund: s.prefund, myAddress: irene.address, toMyLeft: s.aiI, toMyRight: s.ibI, hubPolicy: {} });
  let B = P.newVirtualFund({ prefund: s.prefund, myAddress: bob.address, toMyLeft: s.ibB });

  // prefund: payer and payee sign and send to both others; the hub waits until it has theirs
  const ra0 = P.crankVirtualFund(A, secrets(alice));
  const rb0 = P.crankVirtualFund(B, secrets(bob));
  for (const r of [ra0, rb0]) {
    assert.equal(r.waitingFor, 'WaitingForCompletePrefund');
    assert.equal(r.effects.length, 2);
    assert.equal(P.waitsOnLedgers(r.objective, r.waitingFor), false, 'a ledger update cannot complete the prefund');
  }
  const ri00 = P.crankVirtualFund(I, secrets(irene));
  assert.equal(ri00.waitingFor, 'WaitingForCompletePrefund');
  assert.equal(ri00.effects.length, 0, 'the hub signs nothing before the payer and the payee');
  assert.equal(P.virtualFundAbandonable(ri00.objective), true);
  I = feed(ri00.objective, messagesTo(ra0.effects, irene), P.updateVirtualFund);
  const ri01 = P.crankVirtualFund(I, secrets(irene));
  assert.equal(ri01.effects.length, 0, 'the payer\'s signature alone is not enough');
  assert.equal(P.virtualFundAbandonable(ri01.objective), true);
  I = feed(ri01.objective, messagesTo(rb0.effects, irene), P.updateVirtualFund);
  const ri0 = P.crankVirtualFund(I, secrets(irene));
  assert.equal(ri0.waitingFor, 'WaitingForCompleteFunding', 'the hub\'s signature completes the prefund');
  assert.equal(P.virtualFundAbandonable(ri0.objective), false, 'once signed, the hub can no longer give up');
  assert.deepEqual(messagesTo(ri0.effects, alice).map((m) => m.kind), ['signedState'], 'Irene follows in L_AI: nothing to propose');
  // Irene leads L_IB: her proposal there travels with her prefund signature
  assert.deepEqual(messagesTo(ri0.effects, bob).map((m) => m.kind), ['signedState', 'ledgerProposal']);
  const propIB = messagesTo(ri0.effects, bob).filter((m) => m.kind === 'ledgerProposal');
  A = feed(ra0.objective, messagesTo(ri0.effects, alice), P.updateVirtualFund);
  B = feed(rb0.objective, [...messagesTo(ra0.effects, bob), ...messagesTo(ri0.effects, bob).filter((m) => m.kind === 'signedState')], P.updateVirtualFund);
  assert.equal(P.virtualFundAbandonable(A), false, 'only the hub gives up this way');
  I = ri0.objective;

  // ledger funding: leaders propose, followers wait for the proposal
  const ra1 = P.crankVirtualFund(A, secrets(alice));
  assert.equal(ra1.waitingFor, 'WaitingForCompleteFunding');
  const propAI = messagesTo(ra1.effects, irene);
  assert.equal(propAI[0]?.kind, 'ledgerProposal');
  const ri1 = P.crankVirtualFund(I, secrets(irene));
  assert.equal(ri1.waitingFor, 'WaitingForCompleteFunding');
  assert.equal(ri1.effects.length, 0, 'Irene has nothing to countersign in L_AI yet, and proposed in L_IB already');
  assert.equal(propIB[0]?.kind, 'ledgerProposal');
  const rb1 = P.crankVirtualFund(B, secrets(bob));
  assert.equal(rb1.waitingFor, 'WaitingForCompleteFunding');
  assert.equal(rb1.effects.length, 0);
  for (const r of [ra1, ri1, rb1]) assert.equal(P.waitsOnLedgers(r.objective, r.waitingFor), true, 'funding waits on the ledgers');
  A = ra1.objective;
  I = ri1.objective;
  B = rb1.objective;

  // Bob countersigns Irene's proposal: his ledger is done, he signs postfund
  B = feed(B, propIB, P.updateVirtualFund);
  const rb2 = P.crankVirtualFund(B, secrets(bob));
  assert.equal(rb2.waitingFor, 'WaitingForCompletePostFund');
  assert.equal(P.waitsOnLedgers(rb2.objective, rb2.waitingFor), false, 'funded: only the postfund signatures are missing');
  const bobOut = rb2.effects;
  assert.equal(messagesTo(bobOut, irene).map((m) => m.kind).join(), 'ledgerCountersignature,signedState');
  B = rb2.objective;
  assert.ok(P.consensusIncludes(B.toMyLeft!, s.V));

  // Irene countersigns Alice's proposal and gets Bob's countersignature
  I = feed(I, [...propAI, ...messagesTo(bobOut, irene)], P.updateVirtualFund);
  const ri2 = P.crankVirtualFund(I, secrets(irene));
  assert.equal(ri2.waitingFor, 'WaitingForCompletePostFund');
  assert.equal(messagesTo(ri2.effects, alice).map((m) => m.kind).join(), 'ledgerCountersignature,signedState');
  I = ri2.objective;

  // Alice gets the countersignature and both postfunds
  A = feed(A, [...messagesTo(ri2.effects, alice), ...messagesTo(bobOut, alice)], P.updateVirtualFund);
  const ra2 = P.crankVirtualFund(A, secrets(alice));
  assert.equal(ra2.waitingFor, 'WaitingForNothing');
  A = ra2.objective;
  B = feed(B, [...messagesTo(ri2.effects, bob), ...messagesTo(ra2.effects, bob)], P.updateVirtualFund);
  I = feed(I, messagesTo(ra2.effects, irene), P.updateVirtualFund);
  const rb3 = P.crankVirtualFund(B, secrets(bob));
  const ri3 = P.crankVirtualFund(I, secrets(irene));
  assert.equal(rb3.waitingFor, 'WaitingForNothing');
  assert.equal(ri3.waitingFor, 'WaitingForNothing');
  return { A: ra2.objective, I: ri3.objective, B: rb3.objective };
}

test('virtual fund: every pause point for payer, hub and payee; ledgers lock the right sides', () => {
  const s = setup(40n);
  const { A, I, B } = fundStepByStep(s);
  for (const o of [A, I, B]) {
    assert.equal(o.status, 'completed');
    assert.ok(P.postFundComplete(o.v));
  }
  const ai = A.toMyRight!.current;
  assert.deepEqual(ai, I.toMyLeft!.current);
  assert.equal(ai.outcome.leader.amount, 60n, 'Alice locked 40');
  assert.equal(ai.outcome.follower.amount, 100n, 'Irene locked nothing toward Alice (payee starts at 0)');
  assert.deepEqual(ai.outcome.guarantees, [{ target: s.V, amount: 40n, left: d(alice), right: d(irene) }]);
  const ib = B.toMyLeft!.current;
  assert.deepEqual(ib, I.toMyRight!.current);
  assert.equal(ib.outcome.leader.amount, 60n, 'Irene locked 40 collateral toward Bob');
  assert.equal(ib.outcome.follower.amount, 10n);
  assert.deepEqual(ib.outcome.guarantees, [{ target: s.V, amount: 40n, left: d(irene), right: d(bob) }]);
});

test('virtual fund: hub policy refuses channels it cannot back', () => {
  const s = setup(40n);
  const [poorI] = fundedLedger(irene, bob, 30n, 10n, 3n);
  const join = (prefund: State, toPayee: P.ConsensusChannel, config: P.HubPolicyConfig = {}) =>
    P.evaluateVirtualFundJoin({ prefund, hub: irene.address, toPayer: s.aiI, toPayee }, config);
  assert.deepEqual(join(s.prefund, s.ibI), { ok: true });
  const poor = join(s.prefund, poorI);
  assert.ok(!poor.ok && poor.code === 'HUB_POLICY_REJECTED' && /collateral/.test(poor.reason), JSON.stringify(poor));
  rejects(() => P.newVirtualFund({ prefund: s.prefund, myAddress: irene.address, toMyLeft: s.aiI, toMyRight: poorI, hubPolicy: {} }), 'HUB_POLICY_REJECTED');
  const withPayee = join(virtualPrefund(alice, irene, bob, 40n, 5n), s.ibI);
  assert.ok(!withPayee.ok && /payee/.test(withPayee.reason));
  assert.deepEqual(join(virtualPrefund(alice, irene, bob, 40n, 5n), s.ibI, { allowPayeeBalance: true }), { ok: true });
  const wrongApp = join(s.prefund, s.ibI, { virtualPaymentApp: '0x00000000000000000000000000000000000000E0' as never });
  assert.ok(!wrongApp.ok && /VirtualPaymentApp/.test(wrongApp.reason));
  assert.deepEqual(join(s.prefund, s.ibI, { virtualPaymentApp: s.prefund.appDefinition }), { ok: true });
  const big = join(s.prefund, s.ibI, { maxGuarantee: 39n });
  assert.ok(!big.ok && /limit/.test(big.reason));
  assert.ok(!join(virtualPrefund(alice, irene, bob, 101n), s.ibI).ok, 'payer cannot lock more than she has');
  assert.ok(!join(virtualPrefund(bob, irene, alice, 10n), s.ibI).ok, 'wrong ledgers');
  assert.ok(!P.evaluateVirtualFundJoin({ prefund: s.prefund, hub: bob.address, toPayer: s.aiI, toPayee: s.ibI }).ok, 'not the intermediary');
  // pending proposals count: a second channel that would exceed the collateral is refused
  const other = virtualPrefund(alice, irene, bob, 70n, 0n, 8n);
  const pendingI = P.propose(s.ibI, P.expectedAdd(s.V, s.prefund, { asset: ETH, payer: 40n, payee: 0n }, 1), irene.privateKey).ledger;
  assert.ok(!join(other, pendingI).ok);
  assert.ok(join(other, s.ibI).ok);
  // so do channels joined but not yet proposed, as reported by the engine
  const reservedDecision = P.evaluateVirtualFundJoin({ prefund: other, hub: irene.address, toPayer: s.aiI, toPayee: s.ibI, reserved: { towardPayer: 0n, towardPayee: 40n } });
  assert.ok(!reservedDecision.ok && /collateral/.test(reservedDecision.reason));
  rejects(() => P.newVirtualFund({ prefund: other, myAddress: irene.address, toMyLeft: s.aiI, toMyRight: s.ibI, hubPolicy: {}, hubReserved: { towardPayer: 0n, towardPayee: 40n } }), 'HUB_POLICY_REJECTED');
});

test('virtual fund: bad proposals and states from peers are rejected', () => {
  const s = setup(40n);
  let I = P.newVirtualFund({ prefund: s.prefund, myAddress: irene.address, toMyLeft: s.aiI, toMyRight: s.ibI, hubPolicy: {} });
  let B = P.newVirtualFund({ prefund: s.prefund, myAddress: bob.address, toMyLeft: s.ibB });
  const amounts = { asset: ETH, payer: 40n, payee: 0n };
  const proposal = (p: P.Proposal, ledger = s.aiA, key = alice.privateKey): P.LedgerProposalMessage => ({
    kind: 'ledgerProposal',
    objectiveId: I.id,
    signedProposal: P.propose(ledger, p, key).signedProposal,
  });
  const good = P.expectedAdd(s.V, s.prefund, amounts, 0);
  assert.ok(P.updateVirtualFund(I, proposal(good)).toMyLeft!.queue.length === 1, 'the agreed proposal is queued');
  // Alice tries to make Irene lock funds: leftDeposit 0 moves money the wrong way
  const e1 = rejects(() => P.updateVirtualFund(I, proposal({ ...good, leftDeposit: 0n } as P.Proposal)), 'LEDGER_PROPOSAL_UNEXPECTED');
  assert.match(e1.message, /worse off/);
  // a bigger guarantee than agreed (Alice locks more: not worse for Irene, but not what was agreed)
  rejects(() => P.updateVirtualFund(I, proposal({ type: 'add', guarantee: { target: s.V, amount: 50n, left: d(alice), right: d(irene) }, leftDeposit: 50n })), 'LEDGER_PROPOSAL_UNEXPECTED');
  // a guarantee for another channel
  const W = getChannelId(virtualPrefund(alice, irene, bob, 40n, 0n, 99n));
  rejects(() => P.updateVirtualFund(I, proposal({ type: 'add', guarantee: { ...(good as { guarantee: P.Guarantee }).guarantee, target: W }, leftDeposit: 40n })), 'PROTOCOL_WRONG_CHANNEL');
  // removal during funding
  rejects(() => P.updateVirtualFund(I, proposal({ type: 'topUp', destination: d(alice), amount: 1n })), 'LEDGER_PROPOSAL_UNEXPECTED');
  // on a ledger the objective does not use
  const [strange] = fundedLedger(alice, irene, 100n, 100n, 77n);
  rejects(() => P.updateVirtualFund(I, proposal(good, strange)), 'PROTOCOL_WRONG_CHANNEL');
  // the payee gets a proposal where he would lock funds
  const toBob = (p: P.Proposal): P.LedgerProposalMessage => ({ kind: 'ledgerProposal', objectiveId: B.id, signedProposal: P.propose(s.ibI, p, irene.privateKey).signedProposal });
  const goodB = P.expectedAdd(s.V, s.prefund, amounts, 1);
  rejects(() => P.updateVirtualFund(B, toBob({ ...goodB, leftDeposit: 30n } as P.Proposal)), 'LEDGER_PROPOSAL_UNEXPECTED');
  B = P.updateVirtualFund(B, toBob(goodB));
  rejects(() => P.updateVirtualFund(B, { ...toBob(goodB), objectiveId: 'x' }), 'PROTOCOL_WRONG_CHANNEL');
  // a countersignature for a ledger Bob leads nothing in
  rejects(() => P.updateVirtualFund(B, { kind: 'ledgerCountersignature', objectiveId: B.id, countersignature: { ledgerId: s.ibB.id, turnNum: 2, signature: signState(s.prefund, bob.privateKey) } }), 'PROTOCOL_BAD_ROLE_OR_STATUS');
  // states
  const msg = (state: State, key: string): P.SignedStateMessage => ({ kind: 'signedState', objectiveId: I.id, state, signatures: [signState(state, key)] });
  rejects(() => P.updateVirtualFund(I, msg(s.prefund, mallory.privateKey)), 'PROTOCOL_WRONG_SIGNER');
  rejects(() => P.updateVirtualFund(I, msg({ ...s.prefund, turnNum: 2 }, alice.privateKey)), 'PROTOCOL_WRONG_TURN');
  rejects(() => P.updateVirtualFund(I, msg({ ...s.prefund, turnNum: 1, outcome: simpleOutcome(ETH, [[alice, 0n], [bob, 40n]]) }, alice.privateKey)), 'PROTOCOL_UNACCEPTABLE_STATE');
  rejects(() => P.updateVirtualFund(I, msg({ ...s.prefund, outcome: simpleOutcome(ETH, [[alice, 41n], [bob, 0n]]) }, alice.privateKey)), 'PROTOCOL_CONFLICTING_STATE');
  I = P.updateVirtualFund(I, msg(s.prefund, alice.privateKey));
  assert.equal(P.crankVirtualFund(I, secrets(irene)).waitingFor, 'WaitingForCompletePrefund');
  // construction errors
  rejects(() => P.newVirtualFund({ prefund: s.prefund, myAddress: irene.address, toMyLeft: s.aiI }), 'INVALID_ARGUMENT');
  rejects(() => P.newVirtualFund({ prefund: s.prefund, myAddress: alice.address, toMyRight: s.ibI }), 'INVALID_ARGUMENT');
  rejects(() => P.newVirtualFund({ prefund: { ...s.prefund, outcome: simpleOutcome(ETH, [[bob, 1n], [alice, 0n]]) }, myAddress: alice.address, toMyRight: s.aiA }), 'PROTOCOL_MALFORMED');
});

function defundSetup(paidBy: 'payee' | 'payer', paid: bigint) {
  const s = setup(40n);
  const f = fundStepByStep(s);
  const A = P.newVirtualDefund({ v: f.A.v, toMyRight: f.A.toMyRight!, bound: { role: 'payer', maxPaid: 30n }, ...(paidBy === 'payer' ? { paid } : {}) });
  const I = P.newVirtualDefund({ v: f.I.v, toMyLeft: f.I.toMyLeft!, toMyRight: f.I.toMyRight!, bound: { role: 'intermediary' } });
  const B = P.newVirtualDefund({ v: f.B.v, toMyLeft: f.B.toMyLeft!, bound: { role: 'payee', minPaid: 30n }, ...(paidBy === 'payee' ? { paid } : {}) });
  return { s, A, I, B };
}

test('virtual defund: every pause point; Alice pays Irene, Irene pays Bob', () => {
  let { s, A, I, B } = defundSetup('payee', 30n);
  // Bob (initiator) signs the final state; the others wait for it
  const rb0 = P.crankVirtualDefund(B, secrets(bob));
  assert.equal(rb0.waitingFor, 'WaitingForSupportedFinalState');
  assert.equal(rb0.effects.length, 2);
  assert.equal(P.crankVirtualDefund(A, secrets(alice)).waitingFor, 'WaitingForFinalStateProposal');
  assert.equal(P.crankVirtualDefund(I, secrets(irene)).waitingFor, 'WaitingForFinalStateProposal');
  B = rb0.objective;
  assert.equal(P.paidAmount(B), 30n);

  A = feed(A, messagesTo(rb0.effects, alice), P.updateVirtualDefund);
  I = feed(I, messagesTo(rb0.effects, irene), P.updateVirtualDefund);
  const ra1 = P.crankVirtualDefund(A, secrets(alice));
  const ri1 = P.crankVirtualDefund(I, secrets(irene));
  assert.equal(ra1.waitingFor, 'WaitingForSupportedFinalState');
  assert.equal(ri1.waitingFor, 'WaitingForSupportedFinalState');
  for (const r of [rb0, ra1, ri1]) assert.equal(P.waitsOnLedgers(r.objective, r.waitingFor), false, 'a ledger update cannot support the final state');
  // a removal proposal before the final state is supported cannot be checked yet: retry later
  const early = P.propose(ri1.objective.toMyRight!, P.expectedRemove(s.V, 10n), irene.privateKey).signedProposal;
  rejects(() => P.updateVirtualDefund(B, { kind: 'ledgerProposal', objectiveId: B.id, signedProposal: early }), 'PROTOCOL_NOT_READY');

  A = feed(ra1.objective, messagesTo(ri1.effects, alice), P.updateVirtualDefund);
  I = feed(ri1.objective, messagesTo(ra1.effects, irene), P.updateVirtualDefund);
  B = feed(B, [...messagesTo(ra1.effects, bob), ...messagesTo(ri1.effects, bob)], P.updateVirtualDefund);

  // final supported everywhere: leaders propose removals
  const ra2 = P.crankVirtualDefund(A, secrets(alice));
  const ri2 = P.crankVirtualDefund(I, secrets(irene));
  const rb2 = P.crankVirtualDefund(B, secrets(bob));
  for (const r of [ra2, ri2, rb2]) {
    assert.equal(r.waitingFor, 'WaitingForLedgerDefunding');
    assert.equal(P.waitsOnLedgers(r.objective, r.waitingFor), true);
  }
  assert.equal(rb2.effects.length, 0, 'Bob follows in L_IB: nothing to send before the proposal');
  const toIrene = messagesTo(ra2.effects, irene);
  const toBob = messagesTo(ri2.effects, bob);
  assert.equal(toIrene[0]?.kind, 'ledgerProposal');
  assert.equal(toBob[0]?.kind, 'ledgerProposal');

  B = feed(rb2.objective, toBob, P.updateVirtualDefund);
  const rb3 = P.crankVirtualDefund(B, secrets(bob));
  assert.equal(rb3.waitingFor, 'WaitingForNothing');
  I = feed(ri2.objective, [...toIrene, ...messagesTo(rb3.effects, irene)], P.updateVirtualDefund);
  const ri3 = P.crankVirtualDefund(I, secrets(irene));
  assert.equal(ri3.waitingFor, 'WaitingForNothing');
  A = feed(ra2.objective, messagesTo(ri3.effects, alice), P.updateVirtualDefund);
  const ra3 = P.crankVirtualDefund(A, secrets(alice));
  assert.equal(ra3.waitingFor, 'WaitingForNothing');

  const ai = ra3.objective.toMyRight!.current;
  const ib = rb3.objective.toMyLeft!.current;
  assert.deepEqual(ai, ri3.objective.toMyLeft!.current);
  assert.deepEqual(ib, ri3.objective.toMyRight!.current);
  assert.equal(ai.outcome.guarantees.length, 0);
  assert.equal(ib.outcome.guarantees.length, 0);
  assert.equal(ai.outcome.leader.amount, 70n, 'Alice: 100 - 30 paid');
  assert.equal(ai.outcome.follower.amount, 130n, 'Irene: +30 from Alice');
  assert.equal(ib.outcome.leader.amount, 70n, 'Irene: -30 to Bob');
  assert.equal(ib.outcome.follower.amount, 40n, 'Bob: 10 + 30');
});

test('virtual defund: each role refuses a final state outside its bound; bad removals rejected', () => {
  const { s, A, I, B } = defundSetup('payer', 30n);
  const ra = P.crankVirtualDefund(A, secrets(alice));
  const finalMsg = messagesTo(ra.effects, irene)[0] as P.SignedStateMessage;
  const fin = finalMsg.state;
  const forged = (outcome: P.SignedStateMessage['state']['outcome'], to: P.VirtualDefundObjective, extra: Partial<State> = {}): P.SignedStateMessage => {
    const state = { ...fin, outcome, ...extra };
    return { kind: 'signedState', objectiveId: to.id, state, signatures: [signState(state, alice.privateKey)] };
  };
  const pay = (p: bigint) => simpleOutcome(ETH, [[alice, 40n - p], [bob, p]]);
  // Alice never signs more than she paid in vouchers
  rejects(() => P.newVirtualDefund({ v: A.v, toMyRight: A.toMyRight!, bound: { role: 'payer', maxPaid: 30n }, paid: 31n }), 'PROTOCOL_UNACCEPTABLE_STATE');
  rejects(() => P.updateVirtualDefund(A, forged(pay(35n), A)), 'PROTOCOL_UNACCEPTABLE_STATE');
  // Bob never signs less than his best voucher
  rejects(() => P.updateVirtualDefund(B, forged(pay(20n), B)), 'PROTOCOL_UNACCEPTABLE_STATE');
  // the hub only signs a plain payer -> payee move that conserves the total
  rejects(() => P.updateVirtualDefund(I, forged(simpleOutcome(ETH, [[alice, 10n], [bob, 40n]]), I)), 'PROTOCOL_UNACCEPTABLE_STATE');
  rejects(() => P.updateVirtualDefund(I, forged(simpleOutcome(ETH, [[alice, 45n], [bob, 0n]]), I)), 'PROTOCOL_UNACCEPTABLE_STATE');
  rejects(() => P.updateVirtualDefund(I, forged(simpleOutcome(ETH, [[alice, 10n], [irene, 30n]]), I)), 'PROTOCOL_UNACCEPTABLE_STATE');
  rejects(() => P.updateVirtualDefund(I, forged(pay(30n), I, { isFinal: false })), 'PROTOCOL_WRONG_TURN');
  rejects(() => P.updateVirtualDefund(I, forged(pay(30n), I, { turnNum: 3 })), 'PROTOCOL_WRONG_TURN');
  rejects(() => P.updateVirtualDefund(I, forged(pay(30n), I, { appData: '0x01' as never })), 'PROTOCOL_UNACCEPTABLE_STATE');
  // the honest one goes through for everyone
  const I1 = P.updateVirtualDefund(I, { ...finalMsg, objectiveId: I.id });
  assert.equal(P.paidAmount(I1), 30n);
  // removal with the wrong split, once the final state is supported: Irene is refused more than agreed
  let A1 = ra.objective;
  const ri = P.crankVirtualDefund(I1, secrets(irene));
  const B1 = P.updateVirtualDefund(P.updateVirtualDefund(B, { ...finalMsg, objectiveId: B.id }), messagesTo(ri.effects, bob)[0]!);
  const rb = P.crankVirtualDefund(B1, secrets(bob));
  A1 = feed(A1, [...messagesTo(ri.effects, alice), ...messagesTo(rb.effects, alice)], P.updateVirtualDefund);
  let I2 = feed(ri.objective, messagesTo(rb.effects, irene), P.updateVirtualDefund);
  assert.ok(P.supportedAtLeast(I2.v, 2));
  const bad = P.propose(A1.toMyRight!, P.expectedRemove(s.V, 20n), alice.privateKey).signedProposal; // Alice takes back 20, Irene gets only 20
  const e = rejects(() => P.updateVirtualDefund(I2, { kind: 'ledgerProposal', objectiveId: I2.id, signedProposal: bad }), 'LEDGER_PROPOSAL_UNEXPECTED');
  assert.match(e.message, /worse off/);
  const good = P.propose(A1.toMyRight!, P.expectedRemove(s.V, 10n), alice.privateKey).signedProposal;
  I2 = P.updateVirtualDefund(I2, { kind: 'ledgerProposal', objectiveId: I2.id, signedProposal: good });
  assert.equal(I2.toMyLeft!.queue.length, 1);
  // construction errors
  rejects(() => P.newVirtualDefund({ v: A.v, toMyRight: A.toMyRight!, bound: { role: 'payee', minPaid: 0n } }), 'INVALID_ARGUMENT');
  rejects(() => P.newVirtualFund({ prefund: { ...s.prefund, turnNum: 1 }, myAddress: alice.address, toMyRight: A.toMyRight! }), 'INVALID_ARGUMENT');
});

test('virtual fund: a challenge on V while our prefund lacks signatures supplies the supported state, only when it is valid', () => {
  const s = setup();
  const A = P.crankVirtualFund(P.newVirtualFund({ prefund: s.prefund, myAddress: alice.address, toMyRight: s.aiA }), secrets(alice)).objective;
  assert.equal(P.latestSupportedState(A.v), undefined, 'only her own signature so far');
  const sigs = [alice, irene, bob].map((p) => signState(s.prefund, p.privateKey));
  const vp = { outcome: s.prefund.outcome, appData: s.prefund.appData, turnNum: 0, isFinal: false };
  const challenge = (candidate: { variablePart: typeof vp; signatures: typeof sigs }): P.ChallengeRegisteredEvent => ({ kind: 'challengeRegistered', channelId: s.V, finalizesAt: 1000, proof: [], candidate, blockNumber: 1, logIndex: 0 });
  const learnt = P.withChallengedState(A, challenge({ variablePart: vp, signatures: sigs }));
  assert.equal(P.latestSupportedState(learnt.v)?.state.turnNum, 0, 'the prefund is supported now');
  assert.equal(P.withChallengedState(learnt, challenge({ variablePart: vp, signatures: sigs })), learnt, 'nothing more to learn');
  // a forged signature, another outcome, a later turn or another channel teach nothing
  const forged = [sigs[0]!, signState(s.prefund, mallory.privateKey), sigs[2]!];
  assert.equal(P.withChallengedState(A, challenge({ variablePart: vp, signatures: forged })), A);
  const other = { ...vp, outcome: simpleOutcome(ETH, [[alice, 1n], [bob, 39n]]) };
  assert.equal(P.withChallengedState(A, challenge({ variablePart: other, signatures: sigs })), A);
  assert.equal(P.withChallengedState(A, challenge({ variablePart: { ...vp, turnNum: 2 }, signatures: sigs })), A);
  assert.equal(P.withChallengedState(A, { ...challenge({ variablePart: vp, signatures: sigs }), channelId: s.aiA.id }), A);
});

test('virtual fund: a late add (the fund ended here) is countersigned only when it is the agreed guarantee, next in turn', () => {
  const s = setup();
  const A = P.newVirtualFund({ prefund: s.prefund, myAddress: alice.address, toMyRight: s.aiA });
  const B = P.newVirtualFund({ prefund: s.prefund, myAddress: bob.address, toMyLeft: s.ibB });
  const ra0 = P.crankVirtualFund(A, secrets(alice));
  const rb0 = P.crankVirtualFund(B, secrets(bob));
  const I0 = P.newVirtualFund({ prefund: s.prefund, myAddress: irene.address, toMyLeft: s.aiI, toMyRight: s.ibI, hubPolicy: {} });
  const before = feed(I0, [...messagesTo(ra0.effects, irene), ...messagesTo(rb0.effects, irene)], P.updateVirtualFund);
  const ri0 = P.crankVirtualFund(before, secrets(irene));
  const ra1 = P.crankVirtualFund(feed(ra0.objective, messagesTo(ri0.effects, alice), P.updateVirtualFund), secrets(alice));
  const prop = messagesTo(ra1.effects, irene).find((m) => m.kind === 'ledgerProposal');
  assert.ok(prop?.kind === 'ledgerProposal');
  const sp = prop.signedProposal;

  // the hub's fund of V ended (V went on chain) before the add reached it
  const ended: P.VirtualFundObjective = { ...ri0.objective, status: 'rejected' };
  assert.throws(() => P.countersignLateAdd(ri0.objective, s.aiI, sp, irene.privateKey), /still running/);
  const r = P.countersignLateAdd(ended, s.aiI, sp, irene.privateKey);
  assert.ok(r !== null);
  assert.equal(r.ledger.current.outcome.guarantees.length, 1);
  // Alice takes the countersignature: the agreed state now holds the guarantee
  const aliceLedger = P.receiveCountersignature(ra1.objective.toMyRight!, r.countersignature);
  assert.equal(aliceLedger.current.turnNum, r.ledger.current.turnNum);
  assert.equal(aliceLedger.queue.length, 0);
  // a re-send is a no-op
  assert.equal(P.countersignLateAdd(ended, r.ledger, sp, irene.privateKey), null);

  // never signed by us: the hub had not signed the prefund
  rejects(() => P.countersignLateAdd({ ...before, status: 'rejected' }, s.aiI, sp, irene.privateKey), 'LEDGER_PROPOSAL_UNEXPECTED');
  // another guarantee than agreed (more of the hub's money), or one ahead of an earlier turn
  const bigger = P.propose(s.aiA, { ...(sp.proposal as Extract<P.Proposal, { type: 'add' }>), leftDeposit: 0n }, alice.privateKey).signedProposal;
  rejects(() => P.countersignLateAdd(ended, s.aiI, bigger, irene.privateKey), 'LEDGER_PROPOSAL_UNEXPECTED');
  rejects(() => P.countersignLateAdd(ended, s.aiI, { ...sp, turnNum: sp.turnNum + 1 }, irene.privateKey), 'PROTOCOL_NOT_READY');
});
