/**
 * No on-chain exit for a ledger whose cooperative close is concluded on chain (audit finding 3):
 * once paid out, the adjudicator deletes `statusOf`, so a challenge of an older state would be
 * accepted — a day's wait and gas for money already paid. Pure: `fallbackContext` and the plan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '../../src/index.ts';
import type { Store } from '../../src/ports/store.ts';
import { closedOnChain, fallbackContext } from '../../src/engine/fallback.ts';
import type { LedgerData } from '../../src/engine/records.ts';
import { ETH, alice, fundedLedger, irene, messagesTo, secrets } from '../protocols/fixtures.ts';

function closing(): { ld: LedgerData; defund: P.DirectDefundObjective } {
  const [la, li] = fundedLedger(alice, irene, 70n, 80n);
  const ra = P.crankDirectDefund(P.newDirectDefund(P.ledgerToChannel(la)), secrets(alice));
  const ri = P.crankDirectDefund(messagesTo(ra.effects, irene).reduce(P.updateDirectDefund, P.newDirectDefund(P.ledgerToChannel(li))), secrets(irene));
  const a = P.crankDirectDefund(messagesTo(ri.effects, alice).reduce(P.updateDirectDefund, ra.objective), secrets(alice)).objective;
  const ld: LedgerData = { ledgerId: la.id, counterparty: irene.address, asset: ETH, myIndex: 0, status: 'closing', ledger: la, myDeposit: 70n, counterpartyDeposit: 80n };
  return { ld, defund: a };
}

const noStore = {} as Store; // not read when the virtual channels are given

test('a ledger whose cooperative close is concluded on chain is not exited on chain, even forced', () => {
  const { ld, defund } = closing();
  const plan = (o: P.DirectDefundObjective) => {
    const active = new Map([[o.id, { objective: o as P.Objective }]]);
    const ctx = fallbackContext(noStore, [ld], active, [...active.keys()], 1_000, []);
    return { ctx, plan: P.fallbackPlan(ctx, { kind: 'userForce', channelId: ld.ledgerId }, secrets(alice)), closed: closedOnChain(ld.ledgerId, active) };
  };
  // signed, submitted, nothing seen on chain: the peer may still be gone, an exit is allowed
  const before = plan(defund);
  assert.equal(before.closed, false);
  assert.deepEqual(before.plan.create.map((o) => o.id), [P.ledgerExitId(ld.ledgerId)]);
  // the conclusion is seen (its payout follows in the same transaction, or a donation left holdings > 0)
  const concluded = P.updateDirectDefund(defund, { kind: 'concluded', channelId: ld.ledgerId, blockNumber: 9, logIndex: 0 });
  const after = plan(concluded);
  assert.equal(after.closed, true);
  assert.deepEqual(after.ctx.ledgers, []);
  assert.deepEqual(after.plan.create, [], 'no challenge of a concluded ledger');
  // a failed close does not count
  assert.equal(plan({ ...concluded, status: 'rejected' }).closed, false);
});
