/**
 * A malicious hub (follower of L_IB) starts a cooperative close of L_IB while the provider's
 * virtual fund waits for the hub's prefund signature. Before, the provider's node joined the
 * close and signed the final state (no guarantee, no queued proposal yet), concluded L_IB at once
 * as its designated submitter, and then, once the hub released its prefund signature, still
 * proposed `add(V)` at the same turn: V was "funded" on a ledger already paid out, the provider
 * served for vouchers backed by nothing, and the payer's guarantee paid the hub. Now the close is
 * not joined while an objective works on the ledger.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P, type ChannelId } from '../../src/index.ts';
import { decodeWireMessage, encodeWireMessage, getLedgerData } from '../../src/engine/index.ts';
import type { InboundMessage } from '../../src/ports/messaging.ts';
import { ADDR, ETH, KEYS, openLedgersAtIrene, until, world } from './harness.ts';

test('hub closes L_IB under a virtual fund: the provider is paid for what it served', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 21 });
  try {
    const { alice, bob } = w.nodes;
    const { ib } = await openLedgersAtIrene(w, 1000n, 800n);

    // Irene's node runs on, behind a shim: her prefund signature to Bob is held back, and Bob's
    // answers to the close (which her node knows nothing of) come to the attacker.
    await w.nodes.irene.stop();
    const svc = w.net.service(ADDR.irene);
    const send = svc.send.bind(svc);
    const held: (() => Promise<string>)[] = [];
    (svc as { send: typeof svc.send }).send = async (to, payload, o) => {
      const m = decodeWireMessage(payload);
      if (m.kind === 'signedState' && m.objectiveId.startsWith('VirtualFund-') && m.state.turnNum === 0 && to === ADDR.bob) {
        held.push(() => send(to, payload, o));
        return 'held';
      }
      return send(to, payload, o);
    };
    const fromBob: P.ProtocolMessage[] = [];
    const onMessage = svc.onMessage.bind(svc);
    (svc as { onMessage: typeof svc.onMessage }).onMessage = (h) =>
      onMessage(async (m: InboundMessage) => {
        const d = decodeWireMessage(m.payload);
        if (d.kind !== 'rejectObjective' && d.objectiveId.startsWith('DirectDefunding-')) {
          fromBob.push(d);
          return;
        }
        return h(m);
      });
    const irene = w.make('irene', w.stores.irene);
    await irene.start();

    const opened = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => held.length > 0, "the hub's prefund signature (Bob has signed the prefund)");

    // the hub proposes to close L_IB; Bob's node joins and signs the final state
    const ledger = getLedgerData(w.stores.irene, ib as ChannelId)!.ledger!;
    const r = P.crank(P.newDirectDefund(P.ledgerToChannel(ledger)), { privateKey: KEYS.irene });
    for (const e of r.effects) if (e.type === 'sendMessage') await send(e.to, encodeWireMessage(e.payload));
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!fromBob.some((m) => m.kind === 'signedState'), "Bob signed L_IB's final state while a virtual fund works on it");

    // the hub lets V be funded: it is, on a ledger that still holds the hub's collateral
    for (const f of held.splice(0)) await f();
    const { channelId: v } = await opened;
    await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded at Bob');
    for (let i = 0; i < 3; i++) assert.equal(bob.receiveVoucher(alice.pay(v, 100n), { price: 100n }).kind, 'accepted');
    assert.equal(await w.chain.holdings(ETH, ib as ChannelId), 800n, 'L_IB not paid out');
    const lb = bob.getLedgerChannel(ib as ChannelId)!;
    assert.equal(lb.status, 'open');
    assert.equal(lb.locked, 300n, "V's guarantee is in L_IB");
  } finally {
    await w.stop();
  }
});
