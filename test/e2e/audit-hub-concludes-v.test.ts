/**
 * AUDIT (on-chain paths) — a malicious hub concludes V with a final state it withheld from the
 * others, and never reclaims.
 *
 * Honest Alice (payer) and Bob (payee) run the real engine on anvil with the real contracts; the
 * hub Irene runs the honest engine too, but her transport silently drops everything she sends to
 * Alice and Bob once Bob starts the cooperative close of V (she still *receives*). So Irene ends
 * up the only one holding V's unanimous final state (turn 2, isFinal, Bob paid N x price). She then
 * stops her node and calls `conclude(V)` with it from her own account, and does nothing else.
 *
 * What an honest Bob must get: N x price (he signed that very final state himself) from L_IB, and
 * Alice must get her deposit - N x price from L_AI. Both are entitled to it; the contracts allow
 * it (the final outcome is in the conclude calldata, and Bob signed the state himself).
 *
 * What happens: both engines go on chain (peer stalled), their virtual challenges revert (V is
 * already finalized by the conclude), their ledger exits register and finalize the ledgers, and
 * then wait forever in `WaitingForVirtualFinalization`: the engine only learns a `Concluded`
 * channel's outcome from a unanimous final state it holds itself (`heldFinalOutcome`), and a
 * `Concluded` event seen before the fallback objective existed is never fed to it. Both ledgers'
 * holdings stay in the adjudicator — all of Bob's earnings in L_IB, all of Alice's deposit in
 * L_AI — until the hub chooses to reclaim (extortion lever; Irene's own locked stake can be small).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, protocols as P } from '@sluice/channel-core';
import { toChainTransaction } from '@sluice/channel-core/engine';
import { ledgerExitId } from '../../packages/channel-core/src/protocols/ledger-exit.ts';
import { createNode, type Node, type NodeEvent } from '@sluice/channel-core/node';
import { createMemoryNetwork } from '@sluice/channel-core/memory';
import type { MessageService } from '../../packages/channel-core/src/ports/messaging.ts';
import { getObjectiveData } from '../../packages/channel-core/src/engine/records.ts';
import { virtualDefundId } from '../../packages/channel-core/src/protocols/virtual-defund.ts';
import type { Actor } from '../chain/lib.ts';
import { startE2E, until, type E2E } from './lib.ts';
import { balanceOf, fallbackInit, passChallenges, statusOf } from './fallback-lib.ts';

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
  const bal0 = { alice: await balanceOf(e, asset, A.address), bob: await balanceOf(e, asset, B.address) };

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
  await until(async () => (await e.chain.alice.chain.statusOf(ib)).finalizesAt > 0, 'L_IB challenged');
  await passChallenges(e);
  // Plenty of time (and blocks) for reclaim + transfer.
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline && bob.getLedgerChannel(ib)?.status !== 'closed') {
    await new Promise((r) => setTimeout(r, 500));
    await e.chain.provider.send('evm_mine', []);
  }
  const stuckIb = await e.chain.alice.chain.holdings(asset, ib);
  const stuckAi = await e.chain.alice.chain.holdings(asset, ai);
  const d = bob.getDisputes().find((x) => x.channelId === ib);
  console.log('L_IB holdings', stuckIb, 'L_AI holdings', stuckAi, 'bob L_IB dispute', d?.phase, d?.waitingFor, 'mine', d?.mine, 'locked', d?.locked);
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob + paid, 'bob: exactly N x price (he signed the concluded state)');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paid, 'alice: deposit - N x price');
  assert.equal(stuckIb, 0n);
  assert.equal(stuckAi, 0n);
});

/**
 * The same hole, opened by the payer at no cost to herself: Alice withholds her signature on V's
 * final state from Bob and the hub, concludes V with it, and later takes her own L_AI money back
 * with a reclaim + transfer of her own (the conclude's outcome is hers to use). The hub's
 * collateral and Bob's earnings in L_IB stay frozen: neither engine can reclaim V's guarantee.
 */
test('payer concludes V with a final state she withheld: Bob and the hub still collect L_IB', async () => {
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
  await e.chain.provider.send('evm_mine', []);
  await new Promise((r) => setTimeout(r, 3_000));

  // Alice takes her own money back: reclaim V's guarantee in L_AI with the conclude's outcome, transfer.
  const hubExit = getObjectiveData(irene.engine.store, ledgerExitId(ai))!.objective as P.LedgerExitObjective;
  const head = await e.chain.provider.getBlock('latest');
  let mine: P.LedgerExitObjective = {
    ...hubExit,
    virtuals: hubExit.virtuals.map((x) => (x.id === v ? { ...x, finalOutcome } : x)),
    targets: { ...hubExit.targets, [v]: { ...P.OPEN_RECORD, concluded: true, outcome: finalOutcome, cursor: { blockNumber: 0, logIndex: 0 } } },
    now: head!.timestamp,
    pending: null,
  };
  const c1 = P.crankLedgerExit(mine, { privateKey: A.key });
  const reclaim = c1.effects.find((x) => x.type === 'submitTransaction') as { tx: P.Transaction } | undefined;
  assert.equal(reclaim?.tx.kind, 'reclaim');
  await e.chain.alice.chain.submit(toChainTransaction(reclaim!.tx));
  mine = P.updateLedgerExit(c1.objective, { kind: 'reclaimed', channelId: ai, assetIndex: 0, target: v, blockNumber: 10 ** 9, logIndex: 0 } as P.ObjectiveEvent);
  const c2 = P.crankLedgerExit(mine, { privateKey: A.key });
  const transfer = c2.effects.find((x) => x.type === 'submitTransaction') as { tx: P.Transaction } | undefined;
  assert.equal(transfer?.tx.kind, 'transferAllAssets');
  await e.chain.alice.chain.submit(toChainTransaction(transfer!.tx));
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paid, 'the attacker got all her money back');

  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && (await e.chain.alice.chain.holdings(asset, ib)) !== 0n) {
    await new Promise((r) => setTimeout(r, 1_000));
    await e.chain.provider.send('evm_mine', []);
  }
  const d = bob.getDisputes().find((x) => x.channelId === ib);
  console.log('L_IB holdings', await e.chain.alice.chain.holdings(asset, ib), 'bob L_IB dispute', d?.phase, d?.waitingFor, 'irene disputes', irene.getDisputes().map((x) => [x.kind, x.phase, x.waitingFor]));
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n, 'L_IB paid out');
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob + paid, 'bob: N x price');
});
