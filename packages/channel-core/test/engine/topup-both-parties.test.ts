/**
 * Both parties of one ledger call `topUpLedgerChannel` at the same moment: the leader (Alice in
 * L_AI) and the follower (the hub). Each deposits with `expectedHeld` = the ledger's total, so one
 * deposit lands and the other reverts on chain.
 *
 * Before: the reverted one was "reconciled" against the other's deposit (dropped as if ours had
 * landed, or reduced to the difference), the depositor's objective counted the counterparty's
 * deposit as its own (holdings alone), each side's top-up made the other's PROTOCOL_NOT_READY for
 * good: both calls timed out, one deposit never credited, and the leader had proposed crediting
 * itself out of the follower's deposit. Now the beaten top-up is given up (TOPUP_CONFLICT, nothing
 * of it deposited), the other completes, and the call tries again on top of it: both deposits
 * are credited exactly once, each to its depositor, and the ledger total equals the holdings.
 *
 * And one party calling twice: the second call, while the first top-up is in progress, is refused
 * with its own code (TOPUP_IN_PROGRESS, "try again later"; it was INVALID_ARGUMENT, which a CLI
 * reports as bad usage), and the first completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, isSluiceError } from '../../src/index.ts';
import { ADDR, ETH, until, world } from './harness.ts';

const cases = [
  { leader: 500n, follower: 200n, seed: 1 },
  { leader: 200n, follower: 500n, seed: 2 },
  { leader: 300n, follower: 300n, seed: 3 },
  { leader: 200n, follower: 500n, seed: 4, followerFirst: true },
  { leader: 500n, follower: 200n, seed: 5, followerFirst: true },
  { leader: 300n, follower: 300n, seed: 6, followerFirst: true },
];

for (const c of cases) {
  test(`leader tops up ${c.leader} and follower ${c.follower} at once${c.followerFirst ? ' (follower first)' : ''}`, async () => {
    const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: c.seed });
    try {
      const { alice, irene } = w.nodes;
      const ai = (await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
      await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'ledger open at the hub');
      const call = (p: Promise<void>): Promise<string> => p.then(() => 'ok', (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`);
      const order = c.followerFirst ? [irene, alice] : [alice, irene];
      const results = await Promise.all(order.map((n) => call(n.topUpLedgerChannel({ channelId: ai, amount: n === alice ? c.leader : c.follower }, { timeoutMs: 8_000 }))));
      const [leaderResult, followerResult] = c.followerFirst ? [results[1]!, results[0]!] : [results[0]!, results[1]!];
      assert.deepEqual({ leaderResult, followerResult }, { leaderResult: 'ok', followerResult: 'ok' });
      // one of them was beaten once: its deposit reverted and nothing of it landed (no partial deposit)
      const deposits = w.chain.allEvents.filter((e) => e.type === 'Deposited' && e.destination.toLowerCase() === ai.toLowerCase());
      assert.equal(deposits.length, 3, 'the opening and one deposit per top-up');
      const held = await w.chain.holdings(ETH, ai);
      assert.equal(held, 1000n + c.leader + c.follower);
      await until(
        () =>
          alice.engine.activeObjectives().length === 0 &&
          irene.engine.activeObjectives().length === 0 &&
          alice.getLedgerChannel(ai)?.counterpartyBalance === c.follower &&
          irene.getLedgerChannel(ai)?.counterpartyBalance === 1000n + c.leader,
        'both credited at both, nothing in flight',
      );
      const la = alice.getLedgerChannel(ai)!;
      const li = irene.getLedgerChannel(ai)!;
      assert.equal(la.myBalance + la.counterpartyBalance + la.locked, held, 'the ledger total is what is held on chain');
      assert.deepEqual([la.myBalance, la.counterpartyBalance], [1000n + c.leader, c.follower]);
      assert.deepEqual([li.myBalance, li.counterpartyBalance], [c.follower, 1000n + c.leader]);
    } finally {
      await w.stop();
    }
  });
}

test('a second top-up of a ledger while ours is in progress is refused (TOPUP_IN_PROGRESS), the first completes', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 11 });
  try {
    const { alice, irene } = w.nodes;
    const ai = (await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n })).channelId as ChannelId;
    await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'open at the hub');
    const first = alice.topUpLedgerChannel({ channelId: ai, amount: 500n }, { timeoutMs: 15_000 });
    const second = await alice.topUpLedgerChannel({ channelId: ai, amount: 100n }, { timeoutMs: 15_000 }).then(() => undefined, (e: unknown) => e);
    assert.ok(isSluiceError(second, 'TOPUP_IN_PROGRESS'), String(second));
    await first;
    assert.equal(irene.getLedgerChannel(ai)?.counterpartyBalance, 1500n);
    assert.equal(await w.chain.holdings(ETH, ai), 1500n);
  } finally {
    await w.stop();
  }
});
