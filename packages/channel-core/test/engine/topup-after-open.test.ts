/**
 * the client tops up right after its ledger opened while the hub has not yet received the
 * client's postfund signature (a message delayed or re-sent; on a real chain a re-send backoff of
 * a few seconds is enough). The hub sees the top-up deposit while its ledger record is still
 * 'funding'; #maybeTopUp drops it, and since 75b6650 nothing else ever creates the hub's top-up
 * objective: Alice's proposal is PROTOCOL_NOT_READY for good, her deposit never credited.
 * Now the hub follows Alice's proposal once it sees (or reads) holdings that cover it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { decodeWireMessage } from '../../src/engine/index.ts';
import { ADDR, ETH, until, world } from './harness.ts';

test('a top-up whose deposit the hub sees just before the ledger opens at the hub is credited', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 9 });
  try {
    await w.nodes.alice.stop();
    const svc = w.net.service(ADDR.alice);
    const send = svc.send.bind(svc);
    const held: (() => Promise<string>)[] = [];
    (svc as { send: typeof svc.send }).send = async (to, payload, o) => {
      const m = decodeWireMessage(payload);
      if (held.length === 0 && m.kind === 'signedState' && m.objectiveId.startsWith('DirectFund') && m.state.turnNum === 1) {
        held.push(() => send(to, payload, o)); // Alice's postfund to the hub: delayed
        return 'held';
      }
      return send(to, payload, o);
    };
    const alice = w.make('alice', w.stores.alice);
    await alice.start();
    const { irene } = w.nodes;
    const ai = (await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
    const topUp = alice.topUpLedgerChannel({ channelId: ai, amount: 500n }, { timeoutMs: 15_000 }).then(() => 'ok', (e) => `${e.code}: ${e.message}`);
    await until(() => w.chain.allEvents.some((e) => e.type === 'Deposited' && e.destinationHoldings === 1500n), 'top-up deposit mined');
    await new Promise((r) => setTimeout(r, 200));
    for (const f of held.splice(0)) await f(); // the postfund arrives: the ledger opens at the hub
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'open at the hub');
    const r = await topUp;
    if (r !== 'ok') { // does a hub restart recover it?
      await irene.stop();
      const back = w.make('irene', w.stores.irene);
      await back.start();
      await new Promise((res) => setTimeout(res, 6_000));
    }
    assert.equal(r, 'ok');
    assert.equal(irene.getLedgerChannel(ai)?.counterpartyBalance, 1500n);
    assert.equal(await w.chain.holdings(ETH, ai), 1500n);
  } finally {
    await w.stop();
  }
});
