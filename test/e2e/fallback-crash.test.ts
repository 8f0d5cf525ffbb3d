/**
 * Crash safety of the on-chain fallback: the provider (Bob, in his own process on a sqlite file)
 * exits his ledger on chain after the hub vanished and is SIGKILLed at each step — with the ledger's
 * challenge recorded but not sent, while waiting for the challenge to finalize (chain time moves
 * while he is dead), and after the reclaim with the payout recorded but not sent. Each restart
 * reconciles against the chain and goes on; he ends with exactly his best voucher, every step
 * done once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '@sluice/channel-core';
import type { LedgerChannelInfo, SettleResult } from '@sluice/channel-core/node';
import { until } from './lib.ts';
import type { RemoteNode } from './remote-node.ts';
import { balanceOf, exitOf, passChallenges, passChallengesUntil, e2eSuite, remoteBobWithPaidV, statusOf } from './fallback-lib.ts';

const children: RemoteNode[] = [];
const suite = e2eSuite(children);

test('the node doing the fallback crashes after the challenge, during the wait and after the reclaim: it finishes correctly', async () => {
  const { e } = suite;
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const w = await remoteBobWithPaidV(e, 'crash', 13, children);
  const { irene, alice, spawnBob, ai, ib, v, deposit, collateral, paid } = w;
  let bob = w.bob;
  const bal0 = { alice: await balanceOf(e, asset, A.address), bob: await balanceOf(e, asset, B.address), irene: await balanceOf(e, asset, I.address) };
  await irene.stop(); // the hub vanishes
  await bob.call('stop');
  await bob.exited;

  // 1. Killed right after committing the ledger's challenge (journaled, not yet sent).
  bob = spawnBob('objectiveProgress:LedgerExit:WaitingForChallengeRegistered');
  await bob.ready;
  // (the call may resolve first: fallback objectives are cranked once the chain events are caught up)
  // Bob leaves L_IB on chain (a ledger exit settles the V it guarantees; settling V alone would leave
  // L_IB open until V finalizes and the removal with the dead hub times out)
  const settling = bob.call<SettleResult>('exitLedgerChannel', ib, { force: true }).catch(() => undefined);
  assert.equal((await exitOf(bob)).signal, 'SIGKILL');
  await settling;
  assert.equal((await statusOf(e, ib)).finalizesAt, 0, 'the ledger challenge was not sent');

  // 2. Restarted: it re-decides the step from the chain, sends it, and is killed while waiting for finalization.
  bob = spawnBob('objectiveProgress:LedgerExit:WaitingForFinalization');
  assert.equal((await exitOf(bob)).signal, 'SIGKILL');
  assert.ok((await statusOf(e, ib)).finalizesAt > 0, 'the ledger challenge is registered');
  if ((await statusOf(e, v)).turnNumRecord !== 2) {
    // V's redemption may still have been in flight: a plain restart registers it
    bob = spawnBob();
    await bob.ready;
    await until(async () => (await statusOf(e, v)).turnNumRecord === 2, 'V redeemed');
    await bob.call('stop');
    await bob.exited;
  }
  assert.equal((await statusOf(e, v)).turnNumRecord, 2);

  // chain time passes while Bob is down
  await passChallenges(e);

  // 3. Restarted: it reclaims, and is killed with the payout recorded, not sent.
  bob = spawnBob('objectiveProgress:LedgerExit:WaitingForTransfer');
  assert.equal((await exitOf(bob)).signal, 'SIGKILL');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), collateral, 'nothing paid out yet');

  // 4. Restarted: it pays out once.
  bob = spawnBob();
  await bob.ready;
  await until(async () => (await bob.call<LedgerChannelInfo[]>('getLedgerChannels')).every((l) => l.status === 'closed'), 'bob ledger paid out', 60_000);
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n);
  const disputes = await bob.call<unknown[]>('getDisputes');
  assert.deepEqual(disputes, []);
  await bob.call('stop');
  assert.equal((await bob.exited).code, 0);
  // what the exit paid him is kept with the ledger: a later process (`sluice-provider status`) still knows it
  bob = spawnBob();
  await bob.ready;
  const closed = (await bob.call<LedgerChannelInfo[]>('getLedgerChannels')).find((l) => l.channelId === ib);
  assert.equal(closed?.paidOut, paid, 'paidOut after a restart: his best voucher');
  await bob.call('stop');
  await bob.exited;

  // Alice's watchtower settled V with her; V finalized, her removal of its guarantee from L_AI
  // times out on the dead hub and she exits L_AI on chain (its challenge needs chain time too)
  await passChallengesUntil(e, () => alice.getLedgerChannel(ai)?.status === 'closed', 660);
  await until(() => alice.getLedgerChannel(ai)?.status === 'closed', 'alice exits her ledger', 60_000);
  assert.equal(await balanceOf(e, asset, B.address), bal0.bob + paid, 'bob: exactly his best voucher');
  assert.equal(await balanceOf(e, asset, A.address), bal0.alice + deposit - paid, 'alice: the rest');
  assert.equal(await balanceOf(e, asset, I.address), bal0.irene + collateral, 'the hub nets zero');
});
