/**
 * On-chain paths (from an adversarial audit, 2026-11-26) — defending the hub: the payer refuses the ledger update after V's final
 * state, then registers V's postfund on chain (which would give her back everything she paid).
 *
 * Bob closes V cooperatively; L_IB is updated (the hub paid Bob N x price). Alice, who leads L_AI,
 * never sends her proposal to drop V's guarantee (so the hub is not paid back), stops, and
 * registers V's postfund (turn 1: payer keeps everything) with `challenge`. The honest hub must
 * conclude V with the final state it holds and collect N x price from L_AI.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, protocols as P } from '@sluice/channel-core';
import { decodeWireMessage, toChainTransaction } from '@sluice/channel-core/engine';
import { createNode, type Node, type NodeEvent } from '@sluice/channel-core/node';
import { createMemoryNetwork } from '@sluice/channel-core/memory';
import type { MessageService } from '../../packages/channel-core/src/ports/messaging.ts';
import { getVirtualData } from '../../packages/channel-core/src/engine/records.ts';
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

test('payer refuses the L_AI update and challenges V with its postfund: the hub concludes V and is paid back', async () => {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const scenario = 'payer-postfund';
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 5, seed: 19 });
  nets.push(net);
  let armed = false;
  let dropped = 0;
  const drop = (to: string, payload: Uint8Array): boolean => {
    if (!armed || to.toLowerCase() !== I.address.toLowerCase()) return false;
    try {
      const k = decodeWireMessage(payload).kind;
      return k === 'ledgerProposal' || k === 'ledgerCountersignature';
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
  // the hub is patient: it relies on its watchtower, not on a peer timeout
  const irene = await mk(I, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n }, fallback: { peerTimeoutMs: 600_000, cooperativeTimeoutMs: 30_000 } });
  const alice = await mk(A, { hub, fallback: { peerTimeoutMs: 600_000, cooperativeTimeoutMs: 30_000 } }, true);
  const bob = await mk(B, { hub });
  const events: NodeEvent[] = [];
  irene.onAny((x) => events.push(x));
  const deposit = 10n ** 18n;
  const collateral = 4n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'ledgers open');
  assert.equal(alice.getLedgerChannel(ai)?.leader, true);
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded' && alice.getVirtualChannel(v)?.status === 'funded', 'V funded');
  const postfund = getVirtualData(alice.engine.store, v)!.v!;
  assert.equal(P.latestSupportedState(postfund)?.state.turnNum, 1);
  const price = 10n ** 15n;
  const N = 8n;
  for (let i = 0; i < Number(N); i++) assert.equal(bob.receiveVoucher(alice.pay(v, price), { price }).kind, 'accepted');
  const paid = N * price;
  const bal0 = { irene: await balanceOf(e, asset, I.address), alice: await balanceOf(e, asset, A.address) };

  armed = true;
  await bob.closeVirtualChannel(v);
  await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === paid && irene.getLedgerChannel(ib)?.guarantees === 0, 'L_IB: the hub paid bob');
  assert.equal(irene.getLedgerChannel(ai)?.guarantees, 1, 'L_AI still holds the guarantee at the hub');
  await alice.stop();
  const move = P.bestExitMove(postfund, A.key)!;
  assert.equal(move.turnNum, 1);
  await e.chain.alice.chain.submit(toChainTransaction(P.moveTransaction(v, move, 'challenge', A.key)));

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && irene.getLedgerChannel(ai)?.status !== 'closed') {
    await new Promise((r) => setTimeout(r, 1_000));
    await passChallenges(e, 700);
  }
  console.log('hub', events.flatMap((x) => (x.type === 'fallbackStarted' ? [`started:${x.channelId.slice(0, 8)}:${x.reason}`] : x.type === 'fallbackTransaction' ? [x.kind] : [])));
  console.log('V on chain', await e.chain.alice.chain.statusOf(v));
  assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n, 'L_AI paid out');
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + paid, 'hub: paid back N x price from L_AI');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paid, 'alice: deposit - N x price, not more');
});
