/**
 * The payout lines `sluice-provider settle` / `sluice withdraw` print (fallback activity): the
 * amounts of the node's `payout` event, and a part it cannot attribute said as such, never as ours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Address, ChannelId } from '@sluice/channel-core';
import type { NodeEvent } from '@sluice/channel-core/node';
import { activityOf, describeActivity } from '../src/fallback/activity.ts';

const L = `0x${'ab'.repeat(32)}` as ChannelId;
const BOB = '0x90F79bf6EB2c4f870365E785982E1f101E93b906' as Address;
const HUB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as Address;
const ASSET = '0x0000000000000000000000000000000000000000' as Address;

test('payout line: amounts to the wei; an unattributed part is named, not added to ours', () => {
  const base = { type: 'payout', channelId: L, asset: ASSET, amounts: [{ participant: BOB, amount: 7_000_000_000_000_000n }, { participant: HUB, amount: 393_000_000_000_000_000n }], mine: 7_000_000_000_000_000n } as const;
  const a = activityOf(base as NodeEvent)!;
  assert.deepEqual(a, { type: 'payout', payout: { channelId: L, asset: ASSET, amounts: [{ participant: BOB, amount: '7000000000000000' }, { participant: HUB, amount: '393000000000000000' }], mine: '7000000000000000' } });
  assert.equal(describeActivity(a), `payout from ledger ${L}: ${BOB} 7000000000000000, ${HUB} 393000000000000000 (ours 7000000000000000)`);
  const u = activityOf({ ...base, unattributed: 30n } as NodeEvent)!;
  assert.ok(u.type === 'payout' && u.payout.unattributed === '30');
  assert.equal(describeActivity(u), `payout from ledger ${L}: ${BOB} 7000000000000000, ${HUB} 393000000000000000 (ours 7000000000000000); 30 more paid to the parties in a split this node cannot tell`);
});
