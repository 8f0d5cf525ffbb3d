/**
 * Audit finding 2 (liveness): one payer registering its own V's postfund on chain used to push the
 * payee's ledger L_IB — and with it every other payer's virtual channel in L_IB — on chain, though
 * everyone else was online and honest (the planner's closure rule: settling V exited every ledger
 * guaranteeing it).
 *
 * Hub Irene, payee Bob, payers Alice and Carol. Alice and Carol each open a V to Bob and pay
 * vouchers. Alice stops her node and registers V_A's postfund with `challenge`. Bob counter-challenges
 * with his voucher redemption and V_A finalizes. Then:
 * - L_IB stays open: Bob and the hub remove V_A's guarantee cooperatively by on-chain proof, Bob
 *   credited his vouchers;
 * - Carol's V_C is untouched: she keeps paying and closes it cooperatively;
 * - L_AI is exited by the hub (Alice is gone: the removal there times out), and the hub collects
 *   from Alice's side what it paid Bob;
 * - no exit of L_IB or of Carol's ledger is ever started.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '@sluice/channel-core';
import { toChainTransaction } from '@sluice/channel-core/engine';
import { createNode, type Node, type NodeEvent } from '@sluice/channel-core/node';
import { createMemoryNetwork } from '@sluice/channel-core/memory';
import { getObjectiveData, getVirtualData } from '../../packages/channel-core/src/engine/records.ts';
import { type Actor, increaseTime, makeActor } from '../chain/lib.ts';
import { startE2E, until, type E2E } from './lib.ts';
import { VIRTUAL_CHALLENGE, balanceOf, fallbackInit, passChallenges, statusOf } from './fallback-lib.ts';

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

test("a payer's challenge of its own V does not exit the payee's ledger nor touch another payer's channel", async () => {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  // a fourth funded actor: anvil's account 4, minted test tokens like the others
  const carolKey = (e.chain.anvil.accounts as string[])[4]! as Actor['key'];
  const C = makeActor('carol', carolKey, e.chain.provider, e.chain.deployment.adjudicator);
  await (await e.chain.token.getFunction('mint')(C.address, 10n ** 24n)).wait();

  const scenario = 'no-cascade';
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 5, seed: 23 });
  nets.push(net);
  const hub = { address: I.address, multiaddrs: [] as string[] };
  const mk = async (actor: Actor, extra: object): Promise<Node> => {
    const n = createNode(fallbackInit(e, actor, scenario, { ...extra, listen: [] }), { messaging: net.service(actor.address) });
    await n.start();
    nodes.push(n);
    return n;
  };
  const irene = await mk(I, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } });
  const alice = await mk(A, { hub });
  const carol = await mk(C, { hub });
  const bob = await mk(B, { hub });
  const started: { node: string; channelId: string; reason: string }[] = [];
  const watch = (name: string, n: Node): void => {
    n.onAny((x: NodeEvent) => {
      if (x.type === 'fallbackStarted') started.push({ node: name, channelId: x.channelId.toLowerCase(), reason: x.reason });
    });
  };
  watch('irene', irene);
  watch('bob', bob);
  watch('carol', carol);

  const deposit = 10n ** 18n;
  const collateral = 5n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ci }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit }),
    carol.createLedgerChannel({ counterparty: I.address, asset, deposit }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  await until(() => [ai, ci, ib].every((l) => irene.getLedgerChannel(l)?.status === 'open'), 'ledgers open');
  const amount = 2n * 10n ** 17n;
  const { channelId: va } = await alice.createVirtualChannel({ payee: B.address, asset, amount });
  const { channelId: vc } = await carol.createVirtualChannel({ payee: B.address, asset, amount });
  await until(() => [va, vc].every((v) => bob.getVirtualChannel(v)?.status === 'funded'), 'V_A and V_C funded');
  await until(() => alice.getVirtualChannel(va)?.status === 'funded' && carol.getVirtualChannel(vc)?.status === 'funded', 'payers see V funded');
  await until(() => irene.getLedgerChannel(ib)?.guarantees === 2, 'L_IB guarantees both');

  const price = 10n ** 15n;
  const NA = 7n;
  const NC = 3n;
  for (let i = 0; i < Number(NA); i++) assert.equal(bob.receiveVoucher(alice.pay(va, price), { price }).kind, 'accepted');
  for (let i = 0; i < Number(NC); i++) assert.equal(bob.receiveVoucher(carol.pay(vc, price), { price }).kind, 'accepted');
  const paidA = NA * price;
  const bal0 = { irene: await balanceOf(e, asset, I.address), alice: await balanceOf(e, asset, A.address) };
  const ibHeld0 = await e.chain.alice.chain.holdings(asset, ib);
  const ciHeld0 = await e.chain.alice.chain.holdings(asset, ci);

  // Alice leaves and registers V_A's postfund (turn 1: she keeps everything)
  const postfund = getVirtualData(alice.engine.store, va)!.v!;
  await alice.stop();
  const move = P.bestExitMove(postfund, A.key)!;
  assert.equal(move.turnNum, 1);
  await e.chain.alice.chain.submit(toChainTransaction(P.moveTransaction(va, move, 'challenge', A.key)));

  // Bob answers with his redemption (turn 2)
  await until(async () => (await statusOf(e, va)).turnNumRecord === 2, "Bob's redemption registered", 30_000);
  // before V_A finalizes nothing is removed: a running challenge can still change the split
  assert.equal(irene.getLedgerChannel(ib)?.guarantees, 2, 'no removal while the challenge runs');
  await increaseTime(e.chain.provider, VIRTUAL_CHALLENGE + 30);

  // L_IB: V_A's guarantee removed cooperatively with V_A's on-chain outcome; Bob credited his vouchers
  await until(() => bob.getLedgerChannel(ib)?.guarantees === 1 && irene.getLedgerChannel(ib)?.guarantees === 1, 'L_IB: V_A guarantee removed', 30_000);
  assert.equal(bob.getLedgerChannel(ib)?.status, 'open');
  assert.equal(bob.getLedgerChannel(ib)?.myBalance, paidA, 'bob credited his vouchers in L_IB');
  assert.equal(irene.getLedgerChannel(ib)?.counterpartyBalance, paidA);

  // Carol goes on: pays more and closes V_C cooperatively
  const NC2 = 4n;
  for (let i = 0; i < Number(NC2); i++) assert.equal(bob.receiveVoucher(carol.pay(vc, price), { price }).kind, 'accepted');
  const paidC = (NC + NC2) * price;
  await carol.closeVirtualChannel(vc);
  await until(() => bob.getVirtualChannel(vc)?.status === 'closed' && bob.getLedgerChannel(ib)?.guarantees === 0, 'V_C closed cooperatively', 30_000);
  assert.equal(bob.getLedgerChannel(ib)?.myBalance, paidA + paidC);
  await until(() => carol.getLedgerChannel(ci)?.guarantees === 0, "Carol's ledger updated");
  assert.equal(carol.getLedgerChannel(ci)?.status, 'open');
  assert.equal(carol.getLedgerChannel(ci)?.myBalance, deposit - paidC);

  // L_AI: Alice is gone, so the hub exits it (the removal there times out) and reclaims V_A's guarantee
  await until(() => started.some((s) => s.node === 'irene' && s.channelId === ai.toLowerCase()), 'hub exits L_AI', 30_000);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && irene.getLedgerChannel(ai)?.status !== 'closed') {
    await new Promise((r) => setTimeout(r, 1_000));
    await passChallenges(e, 700);
  }
  assert.equal(irene.getLedgerChannel(ai)?.status, 'closed', 'L_AI paid out');
  assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n);
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + paidA, 'hub: collected from L_AI what it paid Bob');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paidA, 'alice: deposit - her vouchers');

  // nothing else went on chain
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), ibHeld0, 'L_IB holdings untouched');
  assert.equal(await e.chain.alice.chain.holdings(asset, ci), ciHeld0, "Carol's ledger holdings untouched");
  assert.deepEqual((await statusOf(e, ib)).finalizesAt, 0, 'L_IB never challenged');
  assert.deepEqual((await statusOf(e, ci)).finalizesAt, 0, "Carol's ledger never challenged");
  const bad = started.filter((s) => s.channelId === ib.toLowerCase() || s.channelId === ci.toLowerCase() || s.channelId === vc.toLowerCase());
  assert.deepEqual(bad, [], 'no fallback on L_IB, L_CI or V_C');
  assert.equal(irene.getLedgerChannel(ib)?.status, 'open');
  assert.equal(irene.getLedgerChannel(ci)?.status, 'open');

  // history retention: the finished removal on L_IB (which stays open) goes with V_A's records
  const removal = P.guaranteeRemovalId(ib, va);
  assert.equal(getObjectiveData(bob.engine.store, removal)?.objective.status, 'completed');
  const pruned = await bob.pruneHistory({ olderThanMs: 0 });
  assert.ok(pruned.channels >= 2, `V_A and V_C pruned: ${JSON.stringify(pruned)}`);
  assert.equal(getObjectiveData(bob.engine.store, removal), undefined, 'the removal record is pruned with V_A');
  assert.equal(bob.getLedgerChannel(ib)?.status, 'open');
});
