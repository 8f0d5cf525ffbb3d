/**
 * On-chain paths (from an adversarial audit, 2026-11-26) — the hub goes on chain in the middle of a virtual fund.
 *
 * Alice leads L_AI, so she proposes the guarantee for V and the hub countersigns. A malicious hub
 * keeps its countersignature (its transport drops it), so it alone holds L_AI's newest supported
 * state: Alice's funds locked in a guarantee for V, whose postfund never happens. It stops and
 * registers that state with `challenge`. Alice's engine must get her whole deposit back: exit L_AI
 * from the registered state, register V's prefund (which returns the guaranteed amount to her),
 * reclaim and transfer. ADR 0008 says this ("a virtual fund abandoned mid-way ... settled only
 * through the ledger exit's guarantee-target resolution") is tested in the pure suite only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, protocols as P } from '@sluice/channel-core';
import { decodeWireMessage, getLedgerData, toChainTransaction } from '@sluice/channel-core/engine';
import { createNode, type Node, type NodeEvent } from '@sluice/channel-core/node';
import { createMemoryNetwork } from '@sluice/channel-core/memory';
import type { MessageService } from '../../packages/channel-core/src/ports/messaging.ts';
import { getObjectiveData } from '../../packages/channel-core/src/engine/records.ts';
import { virtualDefundId } from '../../packages/channel-core/src/protocols/virtual-defund.ts';
import type { Actor } from '../chain/lib.ts';
import { startE2E, until, type E2E } from './lib.ts';
import { balanceOf, fallbackInit, passChallenges } from './fallback-lib.ts';

let e: E2E;
const nodes: Node[] = [];
const nets: { close(): void }[] = [];
const bounded = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 5_000).unref())]);
before(async () => {
  e = await startE2E();
});
after(async () => {
  for (const n of nodes) await bounded(n.stop());
  for (const n of nets) n.close();
  await bounded(e?.stop());
});

test('hub registers the L_AI state with a guarantee it never countersigned back: Alice still recovers her whole deposit', async () => {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const scenario = 'hub-midfund';
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 5, seed: 13 });
  nets.push(net);
  let armed = false;
  let dropped = 0;
  const drop = (to: string, payload: Uint8Array): boolean => {
    if (!armed || to.toLowerCase() !== A.address.toLowerCase()) return false;
    try {
      return decodeWireMessage(payload).kind === 'ledgerCountersignature';
    } catch {
      return false;
    }
  };
  const wrap = (inner: MessageService, filter: boolean): MessageService => ({
    self: inner.self,
    send: (to, payload, opts) => (filter && drop(to, payload) ? Promise.resolve(`dropped-${dropped++}`) : inner.send(to, payload, opts)),
    onMessage: (h) => inner.onMessage(h),
    onUndeliverable: (h) => inner.onUndeliverable(h),
    start: () => inner.start(),
    stop: () => inner.stop(),
  });
  const hub = { address: I.address, multiaddrs: [] as string[] };
  const mk = async (actor: Actor, extra: object, filter = false): Promise<Node> => {
    const init = fallbackInit(e, actor, scenario, { ...extra, listen: [] });
    const n = createNode(init, { messaging: wrap(net.service(actor.address), filter) });
    await n.start();
    nodes.push(n);
    return n;
  };
  const irene = await mk(I, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n }, fallback: { peerTimeoutMs: 600_000, cooperativeTimeoutMs: 30_000 } }, true);
  const alice = await mk(A, { hub, fallback: { peerTimeoutMs: 600_000, cooperativeTimeoutMs: 30_000 } });
  const bob = await mk(B, { hub });
  const events: NodeEvent[] = [];
  alice.onAny((x) => events.push(x));

  const deposit = 10n ** 18n;
  const collateral = 4n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'hub sees both ledgers open');
  assert.equal(alice.getLedgerChannel(ai)?.leader, true, 'alice leads L_AI');
  const bal0 = await balanceOf(e, asset, A.address);
  const turnBefore = alice.getLedgerChannel(ai)!.turnNum;

  armed = true;
  const funding = alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n }).then(
    (r) => r.channelId,
    (err: { code?: string }) => err.code ?? String(err),
  );
  await until(() => (getLedgerData(irene.engine.store, ai)?.ledger?.current.turnNum ?? 0) > turnBefore, 'the hub holds the guarantee state of L_AI');
  const held = getLedgerData(irene.engine.store, ai)!.ledger!;
  assert.equal(held.current.outcome.guarantees.length, 1, 'the state the hub holds locks Alice funds for V');
  assert.equal(alice.getLedgerChannel(ai)!.turnNum, turnBefore, 'alice never got the countersignature');
  await irene.stop();
  await e.chain.irene.chain.submit(toChainTransaction(P.moveTransaction(ai, P.bestExitMove(P.ledgerToChannel(held), I.key)!, 'challenge', I.key)));
  console.log('virtual fund at alice:', await funding);

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && alice.getLedgerChannel(ai)?.status !== 'closed') {
    await new Promise((r) => setTimeout(r, 1_000));
    await passChallenges(e, 400);
  }
  const d = alice.getDisputes();
  console.log('alice disputes', d.map((x) => [x.kind, x.phase, x.waitingFor, x.mine, x.locked]));
  console.log('fallback txs', events.flatMap((x) => (x.type === 'fallbackTransaction' ? [x.kind] : [])));
  assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n, 'L_AI paid out');
  assert.equal(await balanceOf(e, asset, A.address), bal0 + deposit, 'alice: her whole deposit back');
});
