/**
 * Our reclaim, sent just before a crash and mined after it, is still ours after the restart.
 *
 * The provider (Bob, in his own process) exits his ledger on chain after the hub vanished. The
 * chain stops mining on its own while his reclaim is in the mempool; he is SIGKILLed there, the
 * reclaim is mined, and he restarts. His node reads the `Reclaimed` event with the hash it had
 * recorded before the crash (ADR 0008: the reclaims sent are kept in the store), takes it for
 * its own and pays the ledger out at once. Had it forgotten the hash, it would take the reclaim
 * for the hub's and leave the payout to the hub for 30 s of chain time, and chain time does not
 * move here: the test would time out.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '@sluice/channel-core';
import type { LedgerChannelInfo, VirtualChannelInfo } from '@sluice/channel-core/node';
import { startE2E, until, type E2E } from './lib.ts';
import { spawnNode, type RemoteNode } from './remote-node.ts';
import { balanceOf, fallbackInit, passChallenges, statusOf } from './fallback-lib.ts';

let e: E2E;
const children: RemoteNode[] = [];
before(async () => {
  e = await startE2E();
});
after(async () => {
  for (const c of children) await c.kill();
  await e.chain.provider.send('evm_setAutomine', [true]).catch(() => undefined);
  await e?.stop();
});

interface PendingTx {
  readonly from: string;
  readonly to: string | null;
  readonly hash: string;
}

test("a reclaim sent just before a crash and mined after it is taken for ours after the restart: the ledger pays out without yielding", async () => {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const scenario = 'reclaim-restart';
  const irene = await e.start(I, fallbackInit(e, I, scenario, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } }));
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  const alice = await e.start(A, fallbackInit(e, A, scenario, { hub }));
  const bobInit = fallbackInit(e, B, scenario, { hub });
  const spawnBob = (): RemoteNode => {
    const c = spawnNode(bobInit);
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
  for (let i = 0; i < 7; i++) assert.equal((await bob.call<{ kind: string }>('receiveVoucher', alice.pay(v, price), { price })).kind, 'accepted');
  const paid = 7n * price;
  const bobBefore = await balanceOf(e, asset, B.address);
  await irene.stop(); // the hub vanishes
  await alice.stop(); // and Alice is not around to settle anything either

  // Bob exits the ledger on chain: its challenge, and V's redemption, registered
  void bob.call('exitLedgerChannel', ib, { force: true }).catch(() => undefined);
  await until(async () => (await statusOf(e, ib)).finalizesAt > 0 && (await statusOf(e, v)).turnNumRecord === 2, 'the ledger challenged and V redeemed on chain', 60_000);

  // The chain stops mining on its own; the challenges finalize; Bob sends his reclaim.
  const provider = e.chain.provider;
  await provider.send('evm_setAutomine', [false]);
  await passChallenges(e); // (mines one block, with the time moved on)
  let reclaim: PendingTx | undefined;
  await until(async () => {
    const block = (await provider.send('eth_getBlockByNumber', ['pending', true])) as { transactions: PendingTx[] };
    reclaim = block.transactions.find((t) => t.from.toLowerCase() === B.address.toLowerCase());
    return reclaim !== undefined;
  }, "bob's reclaim in the mempool", 60_000);
  assert.equal(reclaim!.to?.toLowerCase(), e.chain.deployment.adjudicator.toLowerCase());
  await bob.kill(); // he dies with the transaction sent, its receipt never seen
  await provider.send('evm_mine', []); // mined after his death (no chain time moved: the block gets a second)
  const receipt = (await provider.send('eth_getTransactionReceipt', [reclaim!.hash])) as { status: string } | null;
  assert.equal(receipt?.status, '0x1', 'the reclaim is mined');
  await provider.send('evm_setAutomine', [true]);
  const time0 = (await provider.getBlock('latest'))!.timestamp;

  // Restarted, Bob knows the reclaim for his own and transfers the ledger's assets at once.
  bob = spawnBob();
  await bob.ready;
  await until(async () => (await bob.call<LedgerChannelInfo[]>('getLedgerChannels')).find((l) => l.channelId === ib)?.status === 'closed', 'bob pays his ledger out', 30_000);
  const waits = bob.events.filter((x) => x['type'] === 'objectiveProgress').map((x) => x['waitingFor']);
  assert.ok(!waits.includes('WaitingForCounterpartyReclaims'), `he did not yield to the hub: ${JSON.stringify(waits)}`);
  assert.ok((await provider.getBlock('latest'))!.timestamp - time0 < 30, 'no 30 s of chain time passed');
  assert.equal(await e.chain.alice.chain.holdings(asset, ib), 0n);
  assert.equal(await balanceOf(e, asset, B.address), bobBefore + paid, 'bob: exactly his best voucher');
  await bob.call('stop');
  assert.equal((await bob.exited).code, 0);
});
