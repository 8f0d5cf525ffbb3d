/**
 * A ledger peer's top-up proposals against the hub: they never create an objective on their own
 * (the deposit seen on chain does, one per ledger at a time), so a proposal flood leaves nothing
 * behind and one deposit is credited once, however many top-ups are proposed for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressToDestination, protocols as P, type Bytes32, type ChannelId } from '../../src/index.ts';
import { encodeWireMessage, getLedgerData } from '../../src/engine/index.ts';
import { ADDR, ETH, KEYS, until, world } from './harness.ts';

const junkSignature = (): P.SignedProposal['signature'] => {
  const s = new Uint8Array(65).fill(1);
  s[64] = 27;
  return s as never;
};

test('top-up proposals with no deposit create no objective at the hub; its own close still works', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 9 });
  try {
    const { alice, irene } = w.nodes;
    const ai = (await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
    const raw = w.net.service(ADDR.alice); // Alice's own, authenticated, messaging
    const me = addressToDestination(ADDR.alice) as Bytes32;
    const sends: Promise<unknown>[] = [];
    for (let i = 1; i <= 300; i++) {
      const signedProposal = { ledgerId: ai as Bytes32, turnNum: 2, proposal: { type: 'topUp' as const, destination: me, amount: BigInt(i) }, signature: junkSignature() };
      sends.push(raw.send(ADDR.irene, encodeWireMessage({ kind: 'ledgerProposal', objectiveId: `LedgerTopUp-${ai}-${1000 + i}`, signedProposal })).catch(() => undefined));
    }
    await Promise.all(sends);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(irene.engine.activeObjectives().filter((o) => o.type === 'ledgerTopUp').length, 0, 'top-up objectives made from proposals alone');
    await irene.closeLedgerChannel(ai); // refused with LEDGER_NOT_EMPTY while such objectives were held
    assert.equal(irene.getLedgerChannel(ai)?.status, 'closed');
  } finally {
    await w.stop();
  }
});

test('one deposit proposed as two top-ups is credited once: the ledger never allocates more than it holds', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 9 });
  try {
    const { alice, irene } = w.nodes;
    const ai = (await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
    const ledger = getLedgerData(w.stores.alice, ai)!.ledger!;
    const raw = w.net.service(ADDR.alice);
    const me = addressToDestination(ADDR.alice) as Bytes32;
    const send = (objectiveId: string, signedProposal: P.SignedProposal): Promise<unknown> =>
      raw.send(ADDR.irene, encodeWireMessage({ kind: 'ledgerProposal', objectiveId, signedProposal })).catch(() => undefined);
    // two top-ups proposed before the deposit (targets 1100 and 1050; junk signatures: they are
    // only meant to make the hub hold objectives), then one deposit of 100
    for (const amount of [100n, 50n]) {
      await send(`LedgerTopUp-${ai}-${1000n + amount}`, { ledgerId: ai as Bytes32, turnNum: 2, proposal: { type: 'topUp', destination: me, amount }, signature: junkSignature() });
    }
    await new Promise((r) => setTimeout(r, 200));
    await alice.stop(); // Alice runs her own client from here (her node would credit the deposit to the hub)
    await w.chain.submit({ kind: 'deposit', channelId: ai, asset: ETH, expectedHeld: 1000n, amount: 100n });
    await new Promise((r) => setTimeout(r, 300));
    // then both, properly signed: 100, and 50 more on top of it
    const a = P.propose(ledger, { type: 'topUp', destination: me, amount: 100n }, KEYS.alice);
    const b = P.propose(a.ledger, { type: 'topUp', destination: me, amount: 50n }, KEYS.alice);
    await send(`LedgerTopUp-${ai}-1100`, a.signedProposal);
    await until(() => irene.getLedgerChannel(ai)?.counterpartyBalance === 1100n, 'the deposit credited');
    for (const id of [`LedgerTopUp-${ai}-1050`, `LedgerTopUp-${ai}-1150`, `LedgerTopUp-${ai}-1100`]) await send(id, b.signedProposal);
    await new Promise((r) => setTimeout(r, 300));
    const l = irene.getLedgerChannel(ai)!;
    const held = await w.chain.holdings(ETH, ai);
    assert.equal(l.counterpartyBalance + l.myBalance + l.locked, held, `the hub signed a ledger allocating ${l.counterpartyBalance + l.myBalance + l.locked} with ${held} held`);
    assert.equal(l.counterpartyBalance, 1100n);
  } finally {
    await w.stop();
  }
});
