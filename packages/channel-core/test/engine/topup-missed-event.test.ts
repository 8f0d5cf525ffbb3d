/**
 * The follower joins a top-up only once its view of the ledger's holdings covers it. That view
 * comes from Deposited events, and was read from the chain only when it had none at all: a
 * follower that had seen an earlier deposit and missed the top-up's event (an RPC provider's gap,
 * a log filter's limit) answered "not ready" to the leader's proposal for ever, and the proposal,
 * first in the leader's ledger queue, blocked every later one. Now a view short of the proposal
 * is read again from the chain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChainEventBatch, ChainService, EventStreamOptions } from '../../src/chain.ts';
import type { ChannelId } from '../../src/index.ts';
import { ADDR, ETH, until, world } from './harness.ts';

test("a follower that missed the top-up deposit's event reads the holdings again and joins the top-up", async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 4, seed: 43 });
  try {
    const { alice } = w.nodes;
    // the hub's chain view never shows the Deposited event of the top-up (holdings 1500)
    async function* blindEvents(opts: EventStreamOptions): AsyncIterable<ChainEventBatch> {
      for await (const b of w.chain.events(opts)) {
        yield { ...b, events: b.events.filter((e) => !(e.type === 'Deposited' && e.destinationHoldings === 1500n)) };
      }
    }
    const blind = new Proxy(w.chain, {
      get: (target, prop) => (prop === 'events' ? blindEvents : typeof Reflect.get(target, prop) === 'function' ? (Reflect.get(target, prop) as (...a: unknown[]) => unknown).bind(target) : Reflect.get(target, prop)),
    }) as ChainService;
    await w.nodes.irene.stop();
    const irene = w.make('irene', w.stores.irene, {}, blind);
    await irene.start();

    const ai = (await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
    await alice.topUpLedgerChannel({ channelId: ai, amount: 500n }, { timeoutMs: 10_000 });
    assert.equal(alice.getLedgerChannel(ai)?.myBalance, 1500n);
    await until(() => irene.getLedgerChannel(ai)?.counterpartyBalance === 1500n, 'credited at the hub');
    assert.equal(await w.chain.holdings(ETH, ai), 1500n);
  } finally {
    await w.stop();
  }
});
