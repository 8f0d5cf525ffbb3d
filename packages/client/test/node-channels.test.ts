/** NodePayerChannels' own decisions, over a stub node (the engine behind it is tested in channel-core). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Address, SluiceError, isSluiceError } from '@sluice/channel-core';
import type { Node } from '@sluice/channel-core/node';
import { NodePayerChannels } from '../src/index.ts';

const HUB = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address;
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as Address;
const ETH = '0x0000000000000000000000000000000000000000' as Address;

test('a top-up left in progress by an earlier run is reported as "try again later" (exit 5), not as bad usage', async () => {
  let virtualOpened = false;
  const node = {
    address: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
    getVirtualChannels: () => [],
    getLedgerChannels: () => [{ channelId: '0x' + '11'.repeat(32), counterparty: HUB, asset: ETH, status: 'open', myBalance: 10n }],
    peerConnected: () => true,
    topUpLedgerChannel: async () => {
      throw new SluiceError('TOPUP_IN_PROGRESS', 'a top-up of this ledger is in progress');
    },
    createVirtualChannel: async () => {
      virtualOpened = true;
      throw new Error('not reached');
    },
  } as unknown as Node;
  const err = await new NodePayerChannels(node).ensureChannel({ payee: BOB, hub: HUB, asset: ETH, amount: 100n, deposit: 110n }).then(() => undefined, (e: unknown) => e);
  assert.ok(isSluiceError(err, 'OVERLOADED'), String(err));
  assert.match(err.message, /earlier top-up of our ledger with the hub is still in progress .*try again later\. Only the hub's countersignature credits it/);
  assert.equal(virtualOpened, false);
});

test('nothing is deposited while the hub is unreachable: the ledger is neither opened nor topped up, and the error says so', async () => {
  const calls: string[] = [];
  let ledgers: unknown[] = [];
  const node = {
    address: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
    getVirtualChannels: () => [],
    getLedgerChannels: () => ledgers,
    peerConnected: () => false,
    createLedgerChannel: async () => void calls.push('createLedgerChannel'),
    topUpLedgerChannel: async () => void calls.push('topUpLedgerChannel'),
    createVirtualChannel: async () => void calls.push('createVirtualChannel'),
  } as unknown as Node;
  const channels = new NodePayerChannels(node, { hubWaitMs: 200 });
  const req = { payee: BOB, hub: HUB, asset: ETH, amount: 100n, deposit: 110n };
  for (const l of [[], [{ channelId: '0x' + '11'.repeat(32), counterparty: HUB, asset: ETH, status: 'open', myBalance: 10n }]]) {
    ledgers = l;
    const err = await channels.ensureChannel(req).then(() => undefined, (e: unknown) => e);
    assert.ok(isSluiceError(err, 'PEER_TIMEOUT'), String(err));
    assert.match(err.message, /cannot reach the hub 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 .*nothing was deposited/);
  }
  assert.deepEqual(calls, []);
});

test('sluice withdraw refuses while a top-up of ours is uncredited (closing would lose its deposit), and warns with --force', async () => {
  const { checkUncreditedTopUps } = await import('../src/commands/withdraw.ts');
  const topUp = { type: 'ledgerTopUp', amount: 500n, depositor: 0, ledger: { id: '0x' + '22'.repeat(32), myIndex: 0 } };
  const theirs = { ...topUp, depositor: 1 };
  const node = (objectives: unknown[]): Parameters<typeof checkUncreditedTopUps>[0] => ({ engine: { activeObjectives: () => objectives } }) as never;
  const warned: string[] = [];
  checkUncreditedTopUps(node([theirs]), false, (s) => warned.push(s)); // the hub's top-up: not ours to lose
  assert.throws(() => checkUncreditedTopUps(node([topUp]), false, (s) => warned.push(s)), (e: unknown) => isSluiceError(e, 'LEDGER_NOT_EMPTY') && /top-up of 500 .* not credited .*withdraw --force/.test(e.message));
  assert.equal(warned.length, 0);
  checkUncreditedTopUps(node([topUp]), true, (s) => warned.push(s));
  assert.match(warned[0] ?? '', /warning: a top-up of 500/);
});

test('a ledger with the hub still opening (an earlier run left it waiting) is waited for and used, never topped up or opened again', async () => {
  const calls: string[] = [];
  const id = `0x${'33'.repeat(32)}`;
  let status = 'funding';
  const node = {
    address: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
    confirmationWaitMs: 0,
    getVirtualChannels: () => [],
    getLedgerChannels: () => [{ channelId: id, counterparty: HUB, asset: ETH, status, myBalance: status === 'open' ? 500n : 0n }],
    getVirtualChannel: () => ({ channelId: `0x${'44'.repeat(32)}`, role: 'payer', payee: BOB, asset: ETH, amount: 110n, paid: 0n, status: 'funded' }),
    peerConnected: () => true,
    engine: {
      waitForObjective: async (objectiveId: string) => {
        calls.push(`wait ${objectiveId}`);
        status = 'open';
      },
    },
    createLedgerChannel: async () => void calls.push('createLedgerChannel'),
    topUpLedgerChannel: async () => void calls.push('topUpLedgerChannel'),
    createVirtualChannel: async () => {
      calls.push('createVirtualChannel');
      return { channelId: `0x${'44'.repeat(32)}` };
    },
  } as unknown as Node;
  const view = await new NodePayerChannels(node, { timeoutMs: 1_000 }).ensureChannel({ payee: BOB, hub: HUB, asset: ETH, amount: 100n, deposit: 110n });
  assert.equal(view.opened, true);
  assert.deepEqual(calls, [`wait DirectFunding-${id}`, 'createVirtualChannel']);
});
