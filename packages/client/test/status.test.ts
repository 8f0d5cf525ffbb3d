/**
 * `sluice status`: a closed ledger holds nothing any more, so its last agreed balances are not
 * shown as if it were open; what closing it paid us is, when the node can know it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Address, ChannelId } from '@sluice/channel-core';
import type { LedgerChannelInfo, Node } from '@sluice/channel-core/node';
import { clientStatus, renderClientStatus } from '../src/commands/status.ts';

const HUB = `0x${'1e'.repeat(20)}` as Address;
const ETH = `0x${'00'.repeat(20)}` as Address;

function ledger(n: number, status: LedgerChannelInfo['status'], myBalance: bigint, counterpartyBalance: bigint, locked: bigint, guarantees: number): LedgerChannelInfo {
  return { channelId: `0x${n.toString(16).padStart(64, '0')}` as ChannelId, counterparty: HUB, asset: ETH, status, leader: true, turnNum: 5, myBalance, counterpartyBalance, locked, guarantees };
}

test('status: a closed ledger shows what it paid out (or that it is not known), never its last balances as held', () => {
  const ledgers = [ledger(1, 'open', 400n, 600n, 50n, 1), ledger(2, 'closed', 700n, 300n, 0n, 0), ledger(3, 'closed', 100n, 800n, 100n, 1), { ...ledger(4, 'closed', 100n, 800n, 100n, 1), paidOut: 37n }];
  const node = { address: `0x${'a1'.repeat(20)}`, getLedgerChannels: () => ledgers, getVirtualChannels: () => [], getDisputes: () => [] } as unknown as Node;
  const s = clientStatus(node);
  assert.deepEqual(
    s.ledgers.map((l) => [l.status, l.myBalance, l.hubBalance, l.locked, l.paidOut]),
    [
      ['open', '400', '600', '50', undefined],
      ['closed', null, null, null, '700'], // cooperative close (nothing locked): paid its last balance
      ['closed', null, null, null, null], // closed with a channel in it (an on-chain exit) before nodes recorded payouts: not known
      ['closed', null, null, null, '37'], // the payout the node recorded when the close completed
    ],
  );
  const text = renderClientStatus(s);
  assert.match(text, /closed\s+paid out 700\s+-\s+-/);
  assert.match(text, /closed\s+paid out: not known\s+-\s+-/);
  assert.match(text, /closed\s+paid out 37\s+-\s+-/);
  assert.doesNotMatch(text, /\b800\b/, 'a closed ledger\'s last hub balance is not shown');
});
