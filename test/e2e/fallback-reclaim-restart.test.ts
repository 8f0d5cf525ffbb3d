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
import { test } from 'node:test';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import assert from 'node:assert/strict';
import type { LedgerChannelInfo } from '@sluice/channel-core/node';
import { until } from './lib.ts';
import type { RemoteNode } from './remote-node.ts';
import { balanceOf, passChallenges, e2eSuite, remoteBobWithPaidV, statusOf } from './fallback-lib.ts';

const children: RemoteNode[] = [];
const suite = e2eSuite(children);

interface PendingTx {
  readonly from: string;
  readonly to: string | null;
  readonly hash: string;
}

test("a reclaim sent just before a crash and mined after it is taken for ours after the restart: the ledger pays out without yielding", async () => {
  const { e } = suite;
  const asset = e.token;
  const B = e.chain.bob;
  const w = await remoteBobWithPaidV(e, 'reclaim-restart', 7, children);
  const { irene, alice, spawnBob, ib, v, paid } = w;
  let bob = w.bob;
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
  // The node signs the reclaim itself and records its hash before broadcasting it: by the time it
  // is in the mempool the record is durable (read once, no wait), so a kill right now loses nothing.
  const bobStore = new DatabaseSync(join(e.dir, 'reclaim-restart-bob.db'), { readOnly: true });
  const recorded = (bobStore.prepare("SELECT value FROM meta WHERE key = 'fallback.reclaimsSent'").get() as { value?: string } | undefined)?.value ?? '';
  assert.ok(recorded.includes(reclaim!.hash.toLowerCase()), 'the hash is recorded before the reclaim is broadcast');
  bobStore.close();
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
