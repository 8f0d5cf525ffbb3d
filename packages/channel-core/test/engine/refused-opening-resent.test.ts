/**
 * A ledger opening the proposer gave up must not come back to life at the hub (found by
 * bench:chaos, run 14). The hub refused a client's ledger (another ledger with the client was
 * still closing there); the client honoured the refusal. Its outbox still held a re-sent copy of
 * the prefund, delivered once the cause was gone: the hub joined, signed, and waited an hour (its
 * opening timeout) for the client's deposit, refusing the client's next ledger meanwhile ("a
 * ledger with this peer already exists"). Now the client answers the hub's late signature with a
 * refusal, and the hub gives the opening up at once, since nothing is deposited in it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Address, isSluiceError, protocols as P } from '../../src/index.ts';
import type { Node } from '../../src/node/index.ts';
import { ADDR, ETH, until, world } from './harness.ts';

/**
 * The race both cases share: the hub (Irene) refuses `who`'s ledger and `who` honours the refusal;
 * then the hub takes ledgers again and receives the prefund `who`'s outbox re-sent (recorded here
 * from its sends), and joins it. Returns the world (the caller stops it) and the opening's ids.
 */
async function refusedThenJoined(seed: number, who: 'alice' | 'bob', args: Parameters<Node['createLedgerChannel']>[0]) {
  let open = false;
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed }, {
    irene: { policy: { hub: {}, maxLedgerDeposit: 10n ** 24n, acceptLedger: () => (open ? true : 'not taking new ledgers right now') } },
  });
  try {
    // what the proposer's outbox would re-send: its signed prefund
    const prefunds: { to: Address; payload: Uint8Array }[] = [];
    const svc = w.net.service(ADDR[who]);
    const send = svc.send.bind(svc);
    (svc as { send: typeof svc.send }).send = async (to, payload, o) => {
      prefunds.push({ to, payload });
      return send(to, payload, o);
    };

    // Irene refuses; the proposer honours it
    const refused = await w.nodes[who].createLedgerChannel(args).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isSluiceError(refused), `refused: ${String(refused)}`);
    const failed = w.events[who].find((e) => e.type === 'objectiveFailed' && e.objectiveType === 'directFund');
    assert.ok(failed !== undefined && failed.type === 'objectiveFailed');
    const id = failed.objectiveId;
    const ledgerId = failed.channelId!;
    assert.equal(id, P.directFundId(ledgerId));
    assert.equal(w.nodes[who].getLedgerChannel(ledgerId)?.status, 'failed');

    // the cause goes away, then the re-sent prefund arrives: Irene joins and signs it
    open = true;
    const copy = prefunds.find((m) => m.to === ADDR.irene)!;
    await svc.send(ADDR.irene, copy.payload);
    await until(() => w.events.irene.some((e) => e.type === 'objectiveCreated' && e.objectiveId === id), 'Irene joined the given-up opening');
    return { w, id, ledgerId };
  } catch (e) {
    await w.stop();
    throw e;
  }
}

test('a ledger prefund re-sent after the proposer honoured a refusal is given up by the hub as soon as it joins', async () => {
  const { w, id, ledgerId } = await refusedThenJoined(11, 'alice', { counterparty: ADDR.irene, deposit: 100n });
  try {
    const { alice, irene } = w.nodes;
    // Alice, who deposited nothing, answers "given up"; Irene, with nothing deposited, gives it up
    await until(() => irene.getLedgerChannel(ledgerId)?.status === 'failed', 'Irene gave the opening up', 5_000);
    assert.equal(irene.engine.activeObjectives().some((o) => o.id === id), false);
    assert.equal(irene.engine.objective(id)?.abandoned, true, 'abandoned: a deposit would resume it');
    assert.equal(await w.chain.holdings(ETH, ledgerId), 0n);

    // and Alice's next ledger is not refused as a second one
    const { channelId } = await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 100n });
    await until(() => irene.getLedgerChannel(channelId)?.status === 'open', 'the new ledger is open at Irene');
  } finally {
    await w.stop();
  }
});

/**
 * The same race for an opening the peer funds alone (a provider's ledger, the hub's collateral in
 * it; found by bench:chaos with hub self-kills). The hub joined the re-sent prefund and, with
 * nothing to deposit first, deposited its collateral at once: the provider's refusal then came too
 * late for the hub to give up, and the hub waited for a postfund the provider would never sign
 * (its peer timeout, then an on-chain exit with the prefund, its collateral locked for the
 * challenge duration), refusing the provider's next ledger all that time. The provider, which
 * deposits nothing, now takes the late join instead: its opening resumes and the ledger opens.
 */
test('a ledger prefund re-sent after the proposer honoured a refusal opens the ledger when the peer funds it alone', async () => {
  // Bob deposits nothing, Irene would put 100 in; she joins the re-sent prefund and deposits her 100
  const { w, id, ledgerId } = await refusedThenJoined(12, 'bob', { counterparty: ADDR.irene, deposit: 0n, counterpartyDeposit: 100n });
  try {
    const { bob, irene } = w.nodes;
    // Bob takes the late join: the ledger opens at both ends, with Irene's 100 in it
    await until(() => bob.getLedgerChannel(ledgerId)?.status === 'open' && irene.getLedgerChannel(ledgerId)?.status === 'open', 'the ledger open at both', 10_000);
    assert.equal(await w.chain.holdings(ETH, ledgerId), 100n);
    assert.equal(irene.engine.activeObjectives().some((o) => o.id === id), false);
    assert.equal(bob.engine.activeObjectives().some((o) => o.id === id), false);
  } finally {
    await w.stop();
  }
});
