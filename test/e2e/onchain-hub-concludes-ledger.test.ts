/**
 * Regression (audit finding 1c) — a malicious hub `conclude`s a ledger with the final state it
 * withheld, and never transfers.
 *
 * Bob (provider) has earned N x price in L_IB (a virtual channel closed cooperatively). He
 * withdraws: he signs L_IB's final state and sends it; the hub countersigns but its transport
 * drops the countersignature on its way to Bob. The hub stops and calls `conclude(L_IB)` with the
 * unanimous final state (not `concludeAndTransferAllAssets`), then does nothing.
 *
 * Bob's engine pays out by itself: the outcome is the one of the only final state he signed,
 * which the chain status confirms (`statusOf` fingerprint = keccak(stateHash 0, outcomeHash)), and
 * `transferAllAssets(L_IB, outcome, stateHash 0)` needs no signature. Before the fix his direct
 * defund waited for the countersignature forever, the automatic fallback's ledger exit `challenge`
 * reverted (the channel is finalized) and never learnt the conclusion, and the ledger's holdings
 * (his earnings and the hub's remaining collateral) stayed in the adjudicator.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, protocols as P } from '@sluice/channel-core';
import { decodeWireMessage, toChainTransaction } from '@sluice/channel-core/engine';
import { createNode, type Node, type NodeEvent } from '@sluice/channel-core/node';
import { createMemoryNetwork } from '@sluice/channel-core/memory';
import type { MessageService } from '../../packages/channel-core/src/ports/messaging.ts';
import { getObjectiveData } from '../../packages/channel-core/src/engine/records.ts';
import { virtualDefundId } from '../../packages/channel-core/src/protocols/virtual-defund.ts';
import type { Actor } from '../chain/lib.ts';
import { startE2E, until, type E2E } from './lib.ts';
import { balanceOf, fallbackInit } from './fallback-lib.ts';

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

/**
 * @param exitFirst - Bob's automatic fallback starts first (his ledger exit registers L_IB's last
 *   agreed state) and the hub concludes during that challenge; else the hub concludes while Bob's
 *   close still waits for the countersignature.
 */
async function hubConcludesLedger(scenario: string, exitFirst: boolean): Promise<void> {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 5, seed: 17 });
  nets.push(net);
  let armed = false;
  let dropped = 0;
  const drop = (to: string, payload: Uint8Array): boolean => {
    if (!armed || to.toLowerCase() !== B.address.toLowerCase()) return false;
    try {
      return decodeWireMessage(payload).kind === 'signedState';
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
  const alice = await mk(A, { hub });
  const bob = await mk(B, { hub, fallback: { peerTimeoutMs: exitFirst ? 2_000 : 600_000, cooperativeTimeoutMs: 3_000 } });
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
  await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded');
  const price = 10n ** 15n;
  const N = 9n;
  for (let i = 0; i < Number(N); i++) assert.equal(bob.receiveVoucher(alice.pay(v, price), { price }).kind, 'accepted');
  const paid = N * price;
  await bob.closeVirtualChannel(v);
  await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === paid && bob.getLedgerChannel(ib)?.guarantees === 0, 'L_IB: bob has earned N x price');
  const bal0 = await balanceOf(e, asset, B.address);
  const iBal0 = await balanceOf(e, asset, I.address);

  armed = true;
  const closing = bob.closeLedgerChannel(ib, { timeoutMs: 20_000 }).then(
    () => 'closed',
    (err: { code?: string }) => err.code ?? String(err),
  );
  const finalAtIrene = (): P.Channel | undefined => {
    const ch = (getObjectiveData(irene.engine.store, P.directDefundId(ib))?.objective as { channel?: P.Channel } | undefined)?.channel;
    const s = ch === undefined ? undefined : P.latestSupportedState(ch);
    return s !== undefined && s.state.isFinal ? ch : undefined;
  };
  await until(() => finalAtIrene() !== undefined, 'the hub holds the unanimous final state of L_IB');
  const ch = finalAtIrene()!;
  await irene.stop();
  if (exitFirst) await until(async () => (await e.chain.alice.chain.statusOf(ib)).finalizesAt > 0, 'bob exits L_IB: his challenge runs', 30_000);
  const move = P.bestExitMove(ch, I.key)!;
  assert.equal(move.kind, 'conclude');
  assert.equal(P.allocatedTo(move.candidate.state.outcome, B.dest), paid);
  await e.chain.irene.chain.submit(toChainTransaction(P.moveTransaction(ib, move, 'challenge', I.key)));
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), collateral, 'concluded, nothing transferred');

  // no manual step, no time travel: Bob's node pays out and ends
  assert.equal(await closing, exitFirst ? 'CHANNEL_CLOSING' : 'closed', exitFirst ? 'the close gave way to the ledger exit' : 'the cooperative close ends with the payout');
  if (exitFirst) await until(() => bob.getDisputes().length === 0 && bob.getLedgerChannel(ib)?.status === 'closed', 'the ledger exit completes', 30_000);
  assert.equal(bob.getLedgerChannel(ib)?.status, 'closed');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n, 'L_IB paid out');
  assert.equal(await balanceOf(e, asset, B.address), bal0 + paid, 'bob: his earnings, to the wei');
  assert.equal(await balanceOf(e, asset, I.address), iBal0 + collateral - paid, "the hub: its remaining collateral (paid by Bob's transfer)");
  const txs = events.flatMap((x) => (x.type === 'fallbackTransaction' ? [x.kind] : []));
  assert.deepEqual(txs, exitFirst ? ['challenge', 'transferAllAssets'] : ['transferAllAssets'], 'the transfer of the concluded outcome, nothing else');
  assert.equal(events.some((x) => x.type === 'fallbackStarted'), exitFirst);
  if (exitFirst) {
    const payout = events.find((x) => x.type === 'payout' && x.channelId === ib) as { amounts?: readonly { participant: string; amount: bigint }[] } | undefined;
    const got = new Map(payout?.amounts?.map((x) => [x.participant.toLowerCase(), x.amount]));
    assert.equal(got.get(B.address.toLowerCase()), paid, 'payout event: bob');
    assert.equal(got.get(I.address.toLowerCase()), collateral - paid, 'payout event: the hub');
  }
}

test('hub concludes L_IB with a withheld final state and never transfers: Bob\'s close pays out by itself', () => hubConcludesLedger('hub-conclude-ledger', false));

test('hub concludes L_IB during Bob\'s ledger exit: the exit pays out the concluded outcome', () => hubConcludesLedger('hub-conclude-ledger-exit', true));
