/**
 * Regression (audit finding 1a, 1b) — a virtual channel V `conclude`d with a final state the
 * honest parties signed but never received with every signature.
 *
 * 1a: honest Alice (payer) and Bob (payee) run the real engine on anvil with the real contracts;
 * the hub Irene runs the honest engine too, but her transport silently drops everything she sends
 * to Alice and Bob once Bob starts the cooperative close of V (she still *receives*). So Irene ends
 * up the only one holding V's unanimous final state (turn 2, isFinal, Bob paid N x price). She then
 * stops her node and calls `conclude(V)` with it from her own account, and does nothing else.
 * 1b: the same hole opened by the payer: Alice withholds her signature on V's final state,
 * concludes V with it and stops.
 *
 * The honest engines must pay everyone out with no manual step: their virtual challenges find V
 * finalized, they learn the concluded outcome from the chain status (its fingerprint is the one of
 * the final state they signed themselves), reclaim V's guarantees and transfer both ledgers.
 * Before the fix they only learnt a `Concluded` channel's outcome from a unanimous final state
 * they held, and a `Concluded` event seen before a fallback objective existed was never fed to it:
 * the ledger exits waited forever in `WaitingForVirtualFinalization`, with Bob's earnings and the
 * hub's collateral (and in 1a Alice's deposit) frozen in the adjudicator.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, protocols as P } from '@sluice/channel-core';
import { toChainTransaction } from '@sluice/channel-core/engine';
import { createNode, type Node, type NodeEvent } from '@sluice/channel-core/node';
import { createMemoryNetwork } from '@sluice/channel-core/memory';
import type { MessageService } from '../../packages/channel-core/src/ports/messaging.ts';
import { getObjectiveData } from '../../packages/channel-core/src/engine/records.ts';
import { virtualDefundId } from '../../packages/channel-core/src/protocols/virtual-defund.ts';
import type { Actor } from '../chain/lib.ts';
import { startE2E, until, type E2E } from './lib.ts';
import { balanceOf, fallbackInit, passChallenges, statusOf } from './fallback-lib.ts';

/** Mine blocks (chain time reaches the objectives) until `cond` holds. */
async function settled(e: E2E, cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
    await e.chain.provider.send('evm_mine', []);
  }
}

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

test('hub concludes V with a final state it withheld, then stays away: Alice and Bob still collect what they are owed', async () => {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const scenario = 'hub-conclude';
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 5, seed: 11 });
  nets.push(net);
  let cut = false;
  let dropped = 0;
  const wrap = (inner: MessageService, filter: boolean): MessageService => ({
    self: inner.self,
    send: (to, payload, opts) => (filter && cut ? Promise.resolve(`dropped-${dropped++}`) : inner.send(to, payload, opts)),
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
  // the hub's own engine is patient (it must not settle on chain by itself before it "goes rogue")
  const irene = await mk(I, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n }, fallback: { peerTimeoutMs: 600_000, cooperativeTimeoutMs: 30_000 } }, true);
  const alice = await mk(A, { hub });
  const bob = await mk(B, { hub });
  const events: NodeEvent[] = [];
  bob.onAny((x) => events.push(x));
  const aliceEvents: NodeEvent[] = [];
  alice.onAny((x) => aliceEvents.push(x));

  const deposit = 10n ** 18n;
  const collateral = 4n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'hub sees both ledgers open');
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded', 'V funded');
  const price = 10n ** 15n;
  const N = 7n;
  for (let i = 0; i < Number(N); i++) assert.equal(bob.receiveVoucher(alice.pay(v, price), { price }).kind, 'accepted');
  const paid = N * price;
  const bal0 = { alice: await balanceOf(e, asset, A.address), bob: await balanceOf(e, asset, B.address), irene: await balanceOf(e, asset, I.address) };

  // Irene goes rogue: from now on she only listens.
  cut = true;
  const closing = bob.closeVirtualChannel(v as ChannelId, { timeoutMs: 120_000 }).then(
    () => 'closed',
    (err: { code?: string }) => err.code ?? String(err),
  );
  // Irene collects Alice's and Bob's signatures on V's final state (she signs it too, but keeps hers).
  const finalAtIrene = (): P.Channel | undefined => {
    const o = getObjectiveData(irene.engine.store, virtualDefundId(v))?.objective as { v?: P.Channel } | undefined;
    const ch = o?.v;
    const s = ch === undefined ? undefined : P.latestSupportedState(ch);
    return s !== undefined && s.state.isFinal ? ch : undefined;
  };
  await until(() => finalAtIrene() !== undefined, 'irene holds the unanimous final state of V');
  const vAtIrene = finalAtIrene()!;
  await irene.stop();
  const move = P.bestExitMove(vAtIrene, I.key)!;
  assert.equal(move.kind, 'conclude');
  await e.chain.irene.chain.submit(toChainTransaction(P.moveTransaction(v, move, 'challenge', I.key)));
  assert.equal(P.allocatedTo(move.candidate.state.outcome, B.dest), paid, 'the concluded outcome pays Bob exactly N x price');

  // Bob's cooperative close cannot finish; his engine goes on chain (peer stalled), as does Alice's.
  assert.equal(await closing, 'CHANNEL_CLOSING');
  await until(() => events.some((x) => x.type === 'fallbackStarted' && x.channelId === ib), 'bob exits L_IB on chain', 60_000);
  await until(async () => (await statusOf(e, ib)).finalizesAt > 0 && (await statusOf(e, ai)).finalizesAt > 0, 'both ledgers challenged', 60_000);
  await passChallenges(e);
  const done = async (): Promise<boolean> =>
    bob.getLedgerChannel(ib)?.status === 'closed' && alice.getLedgerChannel(ai)?.status === 'closed' && bob.getDisputes().length === 0 && alice.getDisputes().length === 0;
  await settled(e, done, 'both ledger exits complete');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n, 'L_IB paid out');
  assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n, 'L_AI paid out');
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob + paid, 'bob: exactly N x price (he signed the concluded state)');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paid, 'alice: deposit - N x price');
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + collateral, 'the hub: its collateral back (paid by the honest transfers)');
  for (const [who, evs] of [['bob', events], ['alice', aliceEvents]] as const) {
    const reclaims = evs.filter((x) => x.type === 'fallbackTransaction' && x.kind === 'reclaim');
    assert.equal(reclaims.length, 1, `${who}: one reclaim (V's guarantee, with the concluded outcome)`);
    const stalled = evs.filter((x) => x.type === 'objectiveStalled' && (x as { reason?: string }).reason === 'transactionFailed');
    assert.equal(stalled.length, 0, `${who}: no fallback step stalled on failed transactions`);
  }
});

/**
 * The same hole, opened by the payer: Alice withholds her signature on V's final state from Bob
 * and the hub, concludes V with it and stops. Bob's and the hub's engines still reclaim V's
 * guarantees with the concluded outcome: L_IB pays Bob and the hub, and the hub's exit of L_AI
 * even pays Alice her change.
 */
test('payer concludes V with a final state she withheld: Bob and the hub still collect, Alice gets her change', async () => {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const scenario = 'payer-conclude';
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 5, seed: 23 });
  nets.push(net);
  let cut = false;
  let dropped = 0;
  const wrap = (inner: MessageService, filter: boolean): MessageService => ({
    self: inner.self,
    send: (to, payload, opts) => (filter && cut ? Promise.resolve(`dropped-${dropped++}`) : inner.send(to, payload, opts)),
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
  const irene = await mk(I, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } });
  const alice = await mk(A, { hub, fallback: { peerTimeoutMs: 600_000, cooperativeTimeoutMs: 30_000 } }, true);
  const bob = await mk(B, { hub });
  const deposit = 10n ** 18n;
  const collateral = 4n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'ledgers open');
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded', 'V funded');
  const price = 10n ** 15n;
  const N = 5n;
  for (let i = 0; i < Number(N); i++) assert.equal(bob.receiveVoucher(alice.pay(v, price), { price }).kind, 'accepted');
  const paid = N * price;
  const bal0 = { alice: await balanceOf(e, asset, A.address), bob: await balanceOf(e, asset, B.address), irene: await balanceOf(e, asset, I.address) };

  cut = true;
  void bob.closeVirtualChannel(v as ChannelId, { timeoutMs: 120_000 }).catch(() => {});
  const finalAtAlice = (): P.Channel | undefined => {
    const ch = (getObjectiveData(alice.engine.store, virtualDefundId(v))?.objective as { v?: P.Channel } | undefined)?.v;
    const st = ch === undefined ? undefined : P.latestSupportedState(ch);
    return st !== undefined && st.state.isFinal ? ch : undefined;
  };
  await until(() => finalAtAlice() !== undefined, 'alice holds the unanimous final state of V');
  const vAtAlice = finalAtAlice()!;
  await alice.stop();
  const move = P.bestExitMove(vAtAlice, A.key)!;
  assert.equal(move.kind, 'conclude');
  await e.chain.alice.chain.submit(toChainTransaction(P.moveTransaction(v, move, 'challenge', A.key)));
  const finalOutcome = move.candidate.state.outcome;

  // Bob and the hub go on chain (peer stalled); the ledgers get registered and finalize.
  await until(async () => (await statusOf(e, ib)).finalizesAt > 0 && (await statusOf(e, ai)).finalizesAt > 0, 'both ledgers challenged', 60_000);
  await passChallenges(e);
  const done = async (): Promise<boolean> =>
    bob.getLedgerChannel(ib)?.status === 'closed' && irene.getLedgerChannel(ib)?.status === 'closed' && irene.getLedgerChannel(ai)?.status === 'closed' && bob.getDisputes().length === 0 && irene.getDisputes().length === 0;
  await settled(e, done, 'the ledger exits complete');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n, 'L_IB paid out');
  assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n, 'L_AI paid out');
  assert.equal(P.allocatedTo(finalOutcome, B.dest), paid);
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob + paid, 'bob: N x price');
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + collateral, 'the hub: its collateral back');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paid, 'alice: deposit - N x price (the hub transferred L_AI)');
});
