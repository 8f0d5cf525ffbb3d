/**
 * Crash safety end to end: Bob (the payee/provider) runs in his own process on a sqlite file
 * and is killed with SIGKILL at exact points of two objectives — right after committing his
 * prefund signature and ledger proposal of a virtual fund (messages only in the outbox), and
 * right after the final state of his ledger close is agreed with the withdraw transaction
 * recorded but not yet submitted. Each time a fresh process on the same file resumes and
 * completes the objective; final on-chain balances are exact and no process is left behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '@sluice/channel-core';
import type { LedgerChannelInfo, VirtualChannelInfo } from '@sluice/channel-core/node';
import { startE2E, until, type E2E } from './lib.ts';
import { spawnNode, type RemoteNode } from './remote-node.ts';

let e: E2E;
const children: RemoteNode[] = [];
before(async () => {
  e = await startE2E();
});
after(async () => {
  for (const c of children) await c.kill();
  await e?.stop();
});

test('a node killed mid-objective (SIGKILL) and restarted completes it', async () => {
  const { alice: A, irene: I, bob: B } = e.chain;
  const start0 = { alice: await e.tokenBalance(A.address), irene: await e.tokenBalance(I.address), bob: await e.tokenBalance(B.address) };
  const irene = await e.start(I, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } });
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  const alice = await e.start(A, { hub });
  const bobInit = e.init(B, { hub });
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
    bob.call<{ channelId: ChannelId }>('createLedgerChannel', { counterparty: I.address, asset: e.token, deposit: 0n, counterpartyDeposit: collateral }),
    alice.createLedgerChannel({ counterparty: I.address, asset: e.token, deposit }),
  ]);
  await until(() => irene.getLedgerChannel(ib)?.status === 'open' && irene.getLedgerChannel(ai)?.status === 'open', 'ledgers open at the hub');
  await bob.call('stop');
  await bob.exited;

  // 1. Bob dies right after committing his prefund signature + `add` proposal for V.
  bob = spawnBob('objectiveProgress:VirtualFund:WaitingForCompleteFunding');
  await bob.ready;
  const opening = alice.createVirtualChannel({ payee: B.address, asset: e.token, amount: 10n ** 17n }, { timeoutMs: 90_000 });
  const died = await bob.exited;
  assert.equal(died.signal, 'SIGKILL');
  assert.ok(bob.events.some((x) => x['type'] === 'objectiveProgress' && x['waitingFor'] === 'WaitingForCompleteFunding'));

  // 2. Restarted on the same file, it completes the virtual fund.
  bob = spawnBob('objectiveProgress:DirectDefunding:WaitingForWithdraw');
  await bob.ready;
  const { channelId: v } = await opening;
  await bob.waitForEvent((x) => x['type'] === 'virtualChannelFunded' || (x['type'] === 'objectiveCompleted' && String(x['objectiveId']).startsWith('VirtualFund')), 30_000).catch(() => undefined);
  await until(async () => (await bob.call<VirtualChannelInfo[]>('getVirtualChannels')).some((x) => x.channelId === v && x.status === 'funded'), 'bob has V funded');

  const price = 10n ** 15n;
  for (let i = 0; i < 10; i++) {
    const r = await bob.call<{ kind: string }>('receiveVoucher', alice.pay(v, price), { price });
    assert.equal(r.kind, 'accepted');
  }
  const paid = 10n * price;
  const closed = await bob.call<{ paid: bigint }>('closeVirtualChannel', v);
  assert.equal(closed.paid, paid);
  await until(() => alice.getVirtualChannel(v)?.status === 'closed', 'alice sees V closed');
  await alice.closeLedgerChannel(ai);

  // 3. Bob dies with his ledger's final state agreed and the withdraw recorded, not yet sent.
  await assert.rejects(bob.call('closeLedgerChannel', ib));
  assert.equal((await bob.exited).signal, 'SIGKILL');
  assert.equal(await e.chain.alice.chain.holdings(e.token, ib), collateral, 'nothing withdrawn yet');

  // 4. Restarted, it reconciles and submits the withdraw exactly once.
  bob = spawnBob();
  await bob.ready;
  await until(async () => (await bob.call<LedgerChannelInfo[]>('getLedgerChannels')).every((l) => l.status === 'closed'), 'bob sees his ledger closed', 60_000);
  assert.equal(await e.chain.alice.chain.holdings(e.token, ib), 0n);
  await until(() => irene.getLedgerChannels().every((l) => l.status === 'closed'), 'the hub sees both ledgers closed');
  await bob.call('stop');
  assert.equal((await bob.exited).code, 0);

  assert.equal(await e.tokenBalance(A.address), start0.alice - paid);
  assert.equal(await e.tokenBalance(B.address), start0.bob + paid);
  assert.equal(await e.tokenBalance(I.address), start0.irene);
});
