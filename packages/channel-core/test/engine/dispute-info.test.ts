/**
 * `disputeInfo`, the read model behind every "in challenge / settling on chain" table (`sluice
 * withdraw`, `sluice status`, `sluice-provider status|settle`): what each phase says each side
 * gets. Alice (payer) registers V's postfund, which Bob (payee) can still replace with his
 * voucher redemption: until then the payout is not known, and Alice's table must not say she gets
 * her whole deposit back (it did, while her challenge registered and while it ran).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '../../src/index.ts';
import { disputeInfo } from '../../src/engine/fallback.ts';
import { alice, bob, secrets } from '../protocols/fixtures.ts';
import { download } from '../protocols/fallback-chain.ts';

function txOf(effects: readonly P.Effect[]): P.Transaction[] {
  return effects.flatMap((e) => (e.type === 'submitTransaction' ? [e.tx] : []));
}

function feed<O extends P.Objective>(o: O, events: readonly P.ObjectiveEvent[]): O {
  return events.reduce((x, e) => P.update(x, e) as O, o);
}

function share(d: ReturnType<typeof disputeInfo>, who: { address: string }): bigint | undefined {
  return d.amounts.find((a) => a.participant.toLowerCase() === who.address.toLowerCase())?.amount;
}

test("payer's virtual challenge: registering and running its postfund, the amounts are not known (not the payer's whole deposit)", () => {
  const dl = download({ chunks: 4, price: 5n }); // Alice paid Bob 20 of 60
  const chain = dl.chain;
  const r = P.crankVirtualChallenge(P.newVirtualChallenge({ v: dl.vs.get('alice')!, now: chain.time }), secrets(alice));

  // registering: the postfund is submitted, nothing on chain yet
  const registering = disputeInfo(r.objective, r.waitingFor, alice.address);
  assert.equal(registering.phase, 'registering');
  assert.equal(registering.amountsKnown, false, 'the payee can still redeem its vouchers');
  // the figures are the state being registered (documented as such), flagged as not the payout
  assert.equal(share(registering, alice), dl.deposit);

  // registered at the postfund, challenge running: still not known
  let o = feed(r.objective, chain.submit(txOf(r.effects)[0]!, 'alice'));
  const running = disputeInfo(o, 'WaitingForFinalization', alice.address);
  assert.equal(running.phase, 'challenge');
  assert.equal(running.amountsKnown, false);

  // Bob counters with his redemption (turn 2): known now, Alice gets her deposit minus what she paid
  const b = P.crankVirtualChallenge(P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: dl.bestVoucher, now: chain.time }), secrets(bob));
  o = feed(o, chain.submit(txOf(b.effects)[0]!, 'bob'));
  const countered = disputeInfo(o, 'WaitingForFinalization', alice.address);
  assert.equal(countered.amountsKnown, true);
  assert.equal(countered.mine, dl.deposit - dl.paid);
  assert.equal(share(countered, bob), dl.paid);
});

test("payer's postfund finalized unanswered: the amounts are known (the payer's whole deposit)", () => {
  const dl = download({ chunks: 2, price: 5n });
  const chain = dl.chain;
  const r = P.crankVirtualChallenge(P.newVirtualChallenge({ v: dl.vs.get('alice')!, now: chain.time }), secrets(alice));
  let o = feed(r.objective, chain.submit(txOf(r.effects)[0]!, 'alice'));
  chain.time = o.onChain!.finalizesAt;
  o = feed(o, [chain.now()]);
  const d = disputeInfo(o, 'WaitingForNothing', alice.address);
  assert.equal(d.phase, 'finalized');
  assert.equal(d.amountsKnown, true);
  assert.equal(d.mine, dl.deposit);
});

test("payee's virtual challenge while registering: the amounts are its redemption's (it showed the payer at 100 %)", () => {
  const dl = download({ chunks: 4, price: 5n });
  const r = P.crankVirtualChallenge(P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: dl.bestVoucher, now: dl.chain.time }), secrets(bob));
  const d = disputeInfo(r.objective, r.waitingFor, bob.address);
  assert.equal(d.phase, 'registering');
  assert.equal(d.amountsKnown, true);
  assert.equal(d.mine, dl.paid);
  assert.equal(share(d, alice), dl.deposit - dl.paid);
});

test("payer's ledger exit: a guarantee whose V is registered at its postfund stays locked (not paid back to the payer)", () => {
  const dl = download({ chunks: 4, price: 5n });
  const chain = dl.chain;
  const ai = dl.ledgers.get('alice')!.get(dl.AI)!;
  const vA = dl.vs.get('alice')!;
  const exit = P.crankLedgerExit(P.newLedgerExit({ ledger: ai, virtuals: [vA], now: chain.time }), secrets(alice));
  const vc = P.crankVirtualChallenge(P.newVirtualChallenge({ v: vA, now: chain.time }), secrets(alice));
  const vEvents = chain.submit(txOf(vc.effects)[0]!, 'alice');
  const o = feed(exit.objective, vEvents);
  assert.ok(o.targets[dl.V]?.outcome != null, 'the exit knows V registered at its postfund');
  const d = disputeInfo(o, exit.waitingFor, alice.address);
  assert.equal(d.kind, 'ledger');
  assert.equal(d.phase, 'registering');
  assert.equal(d.locked, dl.deposit, "V's deposit stays locked until its payout is settled");
  assert.equal(d.mine, dl.start.aliceInAI - dl.deposit, 'Alice: her free balance only');

  // once Bob's redemption is registered, the guarantee resolves: Alice gets back what she did not pay
  const b = P.crankVirtualChallenge(P.newVirtualChallenge({ v: dl.vs.get('bob')!, bestVoucher: dl.bestVoucher, now: chain.time }), secrets(bob));
  const o2 = feed(o, chain.submit(txOf(b.effects)[0]!, 'bob'));
  const d2 = disputeInfo(o2, exit.waitingFor, alice.address);
  assert.equal(d2.locked, 0n);
  assert.equal(d2.mine, dl.start.aliceInAI - dl.paid);
});
