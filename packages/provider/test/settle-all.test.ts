/**
 * settleAll (what `sluice withdraw` and `sluice-provider settle` run) over a stand-in node: which
 * ledgers it asks the node to exit, and how it reports them. The node's exit itself is tested in
 * channel-core (engine/abandon.test.ts, lifecycle.test.ts) and end to end in the CLIs' tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '@sluice/channel-core';
import type { LedgerChannelInfo, Node, SettleResult } from '@sluice/channel-core/node';
import { renderSettleReport } from '../src/fallback/render.ts';
import { settleAll } from '../src/fallback/settle-all.ts';

const HUB = '0x00000000000000000000000000000000000000a1';
const id = (n: number): ChannelId => `0x${n.toString(16).padStart(64, '0')}` as ChannelId;

function ledger(n: number, status: LedgerChannelInfo['status']): LedgerChannelInfo {
  return { channelId: id(n), counterparty: HUB, asset: '0x0000000000000000000000000000000000000000', status, leader: true, turnNum: 0, myBalance: 100n, counterpartyBalance: 0n, locked: 0n, guarantees: 0 } as unknown as LedgerChannelInfo;
}

test('settleAll exits ledger openings too: one with our deposit goes on chain, an empty one is reported as given up', async () => {
  const ledgers = [ledger(1, 'open'), ledger(2, 'funding'), ledger(3, 'funding'), ledger(4, 'failed'), ledger(5, 'closed')];
  const asked: string[] = [];
  const node = {
    getVirtualChannels: () => [],
    getLedgerChannels: () => ledgers,
    async exitLedgerChannel(c: ChannelId): Promise<SettleResult> {
      asked.push(c);
      if (c === id(2)) return { mode: 'onChain', objectiveIds: [`LedgerExit-${c}`] };
      return c === id(3) ? { mode: 'cooperative', openingGivenUp: true } : { mode: 'cooperative' };
    },
  } as unknown as Node;
  const report = await settleAll(node);
  assert.deepEqual(asked, [id(1), id(2), id(3)], 'open and opening ledgers; not failed or closed ones');
  assert.deepEqual(report.ledgers.map((r) => r.mode), ['cooperative', 'onChain', 'cooperative']);
  assert.equal(report.ledgers[0]!.amount, '100');
  assert.equal(report.ledgers[2]!.amount, undefined, 'nothing withdrawn from a given-up opening');
  assert.equal(report.onChain, true);
  const text = renderSettleReport(report);
  assert.match(text, new RegExp(`${id(3)}  opening given up: nothing of ours was deposited in it`));
  assert.match(text, new RegExp(`${id(2)}  settling ON CHAIN`));
});
