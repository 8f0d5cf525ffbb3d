/**
 * A virtual channel concluded on chain by a participant (finalized at once, with a final state the
 * others never got back). The others used to notice only at their peer timeout, or through a
 * challenge of their own: a payee's removal of V's guarantee by proof then timed out on a hub that
 * had not noticed yet, and the payee exited its ledger (a flaky e2e test under CI load). Now the
 * `Concluded` event itself makes every participant follow V on chain, and the guarantees leave
 * both ledgers by proof, long before any peer timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P, type ChannelId, sameAddress } from '../../src/index.ts';
import { getObjectiveData } from '../../src/engine/records.ts';
import { toChainTransaction } from '../../src/engine/transactions.ts';
import { virtualDefundId } from '../../src/protocols/index.ts';
import { ADDR, KEYS, dropSends, openLedgersAtIrene, until, world } from './harness.ts';

test('a V concluded on chain by the payer: the hub and the payee follow it at once and remove its guarantees by proof', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 59 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai: aiRaw, ib: ibRaw } = await openLedgersAtIrene(w, 1000n, 800n);
    const ai = aiRaw as ChannelId;
    const ib = ibRaw as ChannelId;
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded', 'V funded');
    assert.equal(bob.receiveVoucher(alice.pay(v, 70n)).kind, 'accepted');

    // Bob closes; Alice's messages stop leaving, so she ends up alone with the unanimous final state
    dropSends(w, 'alice', (to) => sameAddress(to, ADDR.bob) || sameAddress(to, ADDR.irene));
    void bob.closeVirtualChannel(v, { timeoutMs: 60_000 }).catch(() => {});
    const finalAtAlice = (): P.Channel | undefined => {
      const ch = (getObjectiveData(alice.engine.store, virtualDefundId(v))?.objective as { v?: P.Channel } | undefined)?.v;
      const s = ch === undefined ? undefined : P.latestSupportedState(ch);
      return s?.state.isFinal === true ? ch : undefined;
    };
    await until(() => finalAtAlice() !== undefined, 'Alice holds the final state');
    const vAtAlice = finalAtAlice()!;
    await alice.stop();
    const move = P.bestExitMove(vAtAlice, KEYS.alice)!;
    assert.equal(move.kind, 'conclude');
    await w.chain.submit(toChainTransaction(P.moveTransaction(v, move, 'challenge', KEYS.alice)));

    // the hub and Bob follow V at once (their peer timeouts are 10 minutes), and L_IB drops V's
    // guarantee by proof, crediting Bob what he was paid
    await until(() => ['irene', 'bob'].every((n) => w.events[n as 'irene' | 'bob'].some((x) => x.type === 'fallbackStarted' && x.channelId === v && x.reason === 'virtualOnChain')), 'the hub and Bob follow V on chain');
    await until(() => bob.getLedgerChannel(ib)?.guarantees === 0 && irene.getLedgerChannel(ib)?.guarantees === 0, "V's guarantee removed from L_IB");
    assert.equal(bob.getLedgerChannel(ib)?.myBalance, 70n, 'Bob credited what he was paid');
    assert.equal(bob.getLedgerChannel(ib)?.status, 'open');
    assert.ok(!w.events.bob.some((x) => x.type === 'fallbackStarted' && x.channelId === ib), 'L_IB never went on chain');
    assert.equal(irene.getLedgerChannel(ai)?.guarantees, 1, "L_AI's guarantee waits for Alice (she is away)");
  } finally {
    await w.stop();
  }
});
