/**
 * Both ends of an exited ledger online at its finalization: the ledger's leader makes the payout
 * step and its follower lets it (`fallback.followerHeadStartMs`), instead of both sending it and
 * one paying for a revert. The follower still completes its exit (from the leader's payout) and
 * reports what it got; and when the leader is gone, the follower makes the step itself after one
 * head start. Both ends exiting a ledger at once: only the leader registers it. And the three
 * parties of a virtual channel settling it on chain at once: the payee registers its redemption,
 * the payer and the hub (one and two head starts behind) send nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Address, type ChannelId, protocols as P } from '@sluice/channel-core';
import type { Node, NodeEvent } from '@sluice/channel-core/node';
import { startE2E, until, type E2E } from './lib.ts';
import { VIRTUAL_CHALLENGE, fallbackInit, fundV, openLedgers, passChallenges, payVouchers, startOverLibp2p, statusOf } from './fallback-lib.ts';
import { increaseTime } from '../chain/lib.ts';

const ETH = '0x0000000000000000000000000000000000000000' as Address;

let e: E2E;
before(async () => {
  e = await startE2E();
});
after(async () => {
  await e?.stop();
});

/** Transactions to the adjudicator mined in blocks after `from`: sender (lower case), status. */
async function adjudicatorTxs(from: number): Promise<{ from: string; ok: boolean }[]> {
  const p = e.chain.provider;
  const out: { from: string; ok: boolean }[] = [];
  for (let n = from + 1; n <= (await p.getBlockNumber()); n++) {
    for (const tx of (await p.getBlock(n, true))?.prefetchedTransactions ?? []) {
      if (tx.to?.toLowerCase() !== e.chain.deployment.adjudicator.toLowerCase()) continue;
      const r = await p.getTransactionReceipt(tx.hash);
      out.push({ from: tx.from.toLowerCase(), ok: r?.status === 1 });
    }
  }
  return out;
}

/** Until each of `nodes` has objective `id` waiting for the finalization with no transaction of its own pending (its head start over). */
function waitingForFinalization(nodes: readonly Node[], id: string, what: string): Promise<void> {
  return until(() => nodes.every((n) => n.engine.objective(id)?.waitingFor === 'WaitingForFinalization' && n.engine.objective(id)?.pendingTxs.length === 0), what, 30_000);
}

async function exitedLedger(scenario: string): Promise<{ alice: Node; irene: Node; ai: ChannelId; ireneEvents: NodeEvent[] }> {
  const { alice: A, irene: I } = e.chain;
  const irene = await e.start(I, fallbackInit(e, I, scenario, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n }, fallback: { peerTimeoutMs: 600_000 } }));
  const ireneEvents: NodeEvent[] = [];
  irene.onAny((x) => ireneEvents.push(x));
  const alice = await e.start(A, fallbackInit(e, A, scenario, { hub: { address: I.address, multiaddrs: irene.multiaddrs() }, fallback: { peerTimeoutMs: 600_000 } }));
  const { channelId: ai } = await alice.createLedgerChannel({ counterparty: I.address, asset: ETH, deposit: 10n ** 17n });
  await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
  // Alice (the ledger's leader: she opened it) exits on chain; Irene follows the challenge
  assert.equal((await alice.exitLedgerChannel(ai, { force: true })).mode, 'onChain');
  await until(() => irene.getLedgerChannel(ai)?.status === 'closing' && irene.getDisputes().some((d) => d.channelId === ai), 'the hub follows the exit');
  return { alice, irene, ai, ireneEvents };
}

test('both ends online at the finalization: the leader pays the ledger out, the follower sends nothing and completes', async () => {
  const { alice, irene, ai, ireneEvents } = await exitedLedger('headstart-both');
  const block = await e.chain.provider.getBlockNumber();
  await passChallenges(e);
  await until(() => alice.getLedgerChannel(ai)?.status === 'closed' && irene.getLedgerChannel(ai)?.status === 'closed', 'both ends closed', 30_000);
  const txs = await adjudicatorTxs(block);
  assert.deepEqual(txs, [{ from: e.chain.alice.address.toLowerCase(), ok: true }], 'one payout, by the leader; nothing reverted');
  const payout = ireneEvents.find((x) => x.type === 'payout' && x.channelId === ai);
  assert.ok(payout !== undefined, "the follower reports the leader's payout");
  await Promise.all([alice.stop(), irene.stop()]);
});

test('the leader gone at the finalization: the follower pays the ledger out after one head start', async () => {
  const { alice, irene, ai } = await exitedLedger('headstart-alone');
  await alice.stop();
  const block = await e.chain.provider.getBlockNumber();
  await passChallenges(e);
  await until(() => irene.getLedgerChannel(ai)?.status === 'closed', 'the follower closed it alone', 30_000);
  assert.deepEqual(await adjudicatorTxs(block), [{ from: e.chain.irene.address.toLowerCase(), ok: true }]);
  assert.equal(await e.chain.alice.chain.holdings(ETH, ai), 0n);
  await irene.stop();
});

test('both ends exit one ledger at once: only the leader registers it, nobody pays for a revert', async () => {
  const { alice: A, irene: I } = e.chain;
  const scenario = 'headstart-exit-both';
  const irene = await e.start(I, fallbackInit(e, I, scenario, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n }, fallback: { peerTimeoutMs: 600_000 } }));
  const alice = await e.start(A, fallbackInit(e, A, scenario, { hub: { address: I.address, multiaddrs: irene.multiaddrs() }, fallback: { peerTimeoutMs: 600_000 } }));
  const { channelId: ai } = await alice.createLedgerChannel({ counterparty: I.address, asset: ETH, deposit: 10n ** 17n });
  await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
  const block = await e.chain.provider.getBlockNumber();
  // each gives up on the other at the same moment (a partition between them, say)
  const started = await Promise.all([alice, irene].map((n) => n.exitLedgerChannel(ai, { force: true })));
  assert.ok(started.every((r) => r.mode === 'onChain'));
  await waitingForFinalization([alice, irene], P.ledgerExitId(ai), 'both follow one registration');
  assert.deepEqual(await adjudicatorTxs(block), [{ from: e.chain.alice.address.toLowerCase(), ok: true }], 'one challenge, by the leader; nothing reverted');
  await passChallenges(e);
  await until(() => alice.getLedgerChannel(ai)?.status === 'closed' && irene.getLedgerChannel(ai)?.status === 'closed', 'both ends closed', 30_000);
  assert.equal(await e.chain.alice.chain.holdings(ETH, ai), 0n);
  assert.ok((await adjudicatorTxs(block)).every((t) => t.ok), 'no revert in the whole exit');
  await Promise.all([alice.stop(), irene.stop()]);
});

test('payer, hub and payee settle a virtual channel on chain at once: only the payee registers, nobody pays for a revert', async () => {
  const { irene, alice, bob } = await startOverLibp2p(e, 'headstart-v', { peerTimeoutMs: 600_000 });
  const { ai, ib } = await openLedgers(e, { alice, bob, irene });
  const v = await fundV(e, alice, bob, { also: [alice, irene] });
  const paid = payVouchers(alice, bob, v, 5n);
  const block = await e.chain.provider.getBlockNumber();
  // everyone decides at once (e.g. each gave up on the cooperative close): the payer and the hub
  // would register V's postfund (turn 1), the payee its redemption (turn 2); of the two turn-1
  // challenges the second reverts, and the payee's makes both unnecessary
  const settled = await Promise.all([alice, irene, bob].map((n) => n.settleVirtualChannel(v, { force: true })));
  assert.ok(settled.every((r) => r.mode === 'onChain'));
  await until(async () => (await statusOf(e, v)).turnNumRecord === 2, "the payee's redemption registered", 30_000);
  // the payer and the hub looked after their head starts (their moves left pending until then)
  // and now wait for the finalization
  await waitingForFinalization([alice, irene], P.virtualChallengeId(v), 'payer and hub follow the redemption');
  assert.deepEqual(await adjudicatorTxs(block), [{ from: e.chain.bob.address.toLowerCase(), ok: true }], 'one move, by the payee; nothing reverted');
  // V finalizes; its guarantees leave both ledgers cooperatively, the payee credited its vouchers
  await increaseTime(e.chain.provider, VIRTUAL_CHALLENGE + 30);
  await until(() => bob.getLedgerChannel(ib)?.guarantees === 0 && alice.getLedgerChannel(ai)?.guarantees === 0, 'guarantees removed', 30_000);
  assert.equal(bob.getLedgerChannel(ib)?.myBalance, paid);
  assert.equal(bob.getLedgerChannel(ib)?.status, 'open');
  assert.equal(alice.getLedgerChannel(ai)?.status, 'open');
  await Promise.all([alice.stop(), irene.stop(), bob.stop()]);
});
