/**
 * Crash safety of the on-chain fallback: the provider (Bob, in his own process on a sqlite file)
 * exits his ledger on chain after the hub vanished and is SIGKILLed at each step — with the ledger's
 * challenge recorded but not sent, while waiting for the challenge to finalize (chain time moves
 * while he is dead), and after the reclaim with the payout recorded but not sent. Each restart
 * reconciles against the chain and goes on; he ends with exactly his best voucher, every step
 * done once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '@sluice/channel-core';
import type { LedgerChannelInfo, SettleResult, VirtualChannelInfo } from '@sluice/channel-core/node';
import { startE2E, until, type E2E } from './lib.ts';
import { spawnNode, type RemoteNode } from './remote-node.ts';
import { balanceOf, exitOf, fallbackInit, passChallenges, passChallengesUntil, statusOf } from './fallback-lib.ts';

let e: E2E;
const children: RemoteNode[] = [];
before(async () => {
  e = await startE2E();
});
after(async () => {
  for (const c of children) await c.kill();
  await e?.stop();
});

test('the node doing the fallback crashes after the challenge, during the wait and after the reclaim: it finishes correctly', async () => {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const scenario = 'crash';
  const irene = await e.start(I, fallbackInit(e, I, scenario, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } }));
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  const alice = await e.start(A, fallbackInit(e, A, scenario, { hub }));
  const bobInit = fallbackInit(e, B, scenario, { hub });
  const spawnBob = (killOn?: string): RemoteNode => {
    const c = spawnNode(bobInit, killOn === undefined ? {} : { SLUICE_KILL_ON: killOn });
    children.push(c);
    return c;
  };
  let bob = spawnBob();
  await bob.ready;
  const collateral = 4n * 10n ** 17n;
  const deposit = 10n ** 18n;
  const [{ channelId: ib }, { channelId: ai }] = await Promise.all([
    bob.call<{ channelId: ChannelId }>('createLedgerChannel', { counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit }),
  ]);
  await until(() => irene.getLedgerChannel(ib)?.status === 'open' && irene.getLedgerChannel(ai)?.status === 'open', 'hub sees both ledgers open');
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n });
  await until(async () => (await bob.call<VirtualChannelInfo[]>('getVirtualChannels')).some((x) => x.channelId === v && x.status === 'funded'), 'bob has V funded');
  const price = 10n ** 15n;
  for (let i = 0; i < 13; i++) assert.equal((await bob.call<{ kind: string }>('receiveVoucher', alice.pay(v, price), { price })).kind, 'accepted');
  const paid = 13n * price;
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
