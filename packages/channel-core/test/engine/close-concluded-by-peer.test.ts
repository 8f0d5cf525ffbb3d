/**
 * A ledger close whose peer withholds its countersignature, `conclude`s the ledger with the final
 * state and vanishes (audit finding 1c), over the in-memory network and chain: our direct defund
 * reads the chain status and transfers the concluded outcome itself — also when the first status
 * reads fail (they are retried: a direct defund gets no chain time to re-crank it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P, SluiceError, type ChannelId, sameAddress } from '../../src/index.ts';
import type { ChainService } from '../../src/chain.ts';
import { toChainTransaction } from '../../src/engine/index.ts';
import { getObjectiveData } from '../../src/engine/records.ts';
import { ADDR, KEYS, dropSends, until, world } from './harness.ts';

test('the hub concludes our ledger with the final state it never countersigned back: our close transfers it (status reads retried)', async () => {
  let armed = false;
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 9 });
  dropSends(w, 'irene', (to, m) => armed && sameAddress(to, ADDR.bob) && m?.kind === 'signedState');
  try {
    const { alice, irene } = w.nodes;
    // Bob on a chain whose first two status reads fail
    await w.nodes.bob.stop();
    let failures = 2;
    let reads = 0;
    const statusOf = async (id: ChannelId, opts?: { signal?: AbortSignal }) => {
      reads++;
      if (failures-- > 0) throw new SluiceError('CHAIN_RPC', 'status read failed (test)');
      return w.chain.statusOf(id, opts);
    };
    const flaky = new Proxy(w.chain, {
      get(t, p) {
        if (p === 'statusOf') return statusOf;
        const v = Reflect.get(t, p, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    }) as ChainService;
    const bob = w.make('bob', w.stores.bob, {}, flaky);
    const events: { type: string; kind?: string }[] = [];
    bob.onAny((x) => events.push(x as { type: string; kind?: string }));
    await bob.start();
    const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
      alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n }),
      bob.createLedgerChannel({ counterparty: ADDR.irene, deposit: 0n, counterpartyDeposit: 800n }),
    ]);
    await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'ledgers open');
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded');
    for (let i = 0; i < 5; i++) assert.equal(bob.receiveVoucher(alice.pay(v, 10n), { price: 10n }).kind, 'accepted');
    await bob.closeVirtualChannel(v);
    await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === 50n && bob.getLedgerChannel(ib as ChannelId)?.guarantees === 0, 'bob earned 50 in L_IB');

    armed = true;
    const closing = bob.closeLedgerChannel(ib as ChannelId, { timeoutMs: 8_000 }).then(
      () => 'closed',
      (e: { code?: string }) => e.code ?? String(e),
    );
    const finalAtIrene = (): P.Channel | undefined => {
      const ch = (getObjectiveData(w.stores.irene, P.directDefundId(ib as ChannelId))?.objective as { channel?: P.Channel } | undefined)?.channel;
      const s = ch === undefined ? undefined : P.latestSupportedState(ch);
      return s !== undefined && s.state.isFinal ? ch : undefined;
    };
    await until(() => finalAtIrene() !== undefined, 'irene holds the unanimous final state');
    const ch = finalAtIrene()!;
    await irene.stop();
    const move = P.bestExitMove(ch, KEYS.irene)!;
    assert.equal(move.kind, 'conclude');
    await w.chain.submit(toChainTransaction(P.moveTransaction(ib as ChannelId, move, 'challenge', KEYS.irene)));

    assert.equal(await closing, 'closed');
    assert.equal(bob.getLedgerChannel(ib as ChannelId)?.status, 'closed');
    assert.equal(w.payout('bob'), 50n, 'bob: his earnings');
    assert.ok(reads >= 3, `the failed status reads were retried (${reads} reads)`);
    assert.ok(events.some((x) => x.type === 'fallbackTransaction' && x.kind === 'transferAllAssets'));
    assert.ok(!events.some((x) => x.type === 'fallbackStarted'), 'no ledger exit');
  } finally {
    await w.stop();
  }
});
