/**
 * NodePayeeChannels over a stub node: notReceiving (only the ledger with our hub, in our asset,
 * counts) and the ledgers `sluice-provider status` shows (a closed one without balances).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Address } from '@sluice/channel-core';
import type { Node } from '@sluice/channel-core/node';
import { NodePayeeChannels } from '../src/service/index.ts';
import { renderProviderStatus } from '../src/commands/status.ts';

const HUB = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as Address;
const OLD_HUB = '0x976EA74026E726554dB657fA54763abd0C3a0aa9' as Address;
const ETH = '0x0000000000000000000000000000000000000000' as Address;
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address;

function stub(ledgers: { counterparty: Address; asset: Address; status: string }[]): Node {
  return { address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', getLedgerChannels: () => ledgers, onAny: () => () => {} } as unknown as Node;
}

test('a provider receives payments only while its ledger with its hub, in its asset, is open or opening', () => {
  const of = (ledgers: Parameters<typeof stub>[0]): string | undefined => new NodePayeeChannels(stub(ledgers), { address: HUB, asset: ETH }).notReceiving();
  assert.equal(of([{ counterparty: HUB, asset: ETH, status: 'open' }]), undefined);
  assert.equal(of([{ counterparty: HUB, asset: ETH, status: 'funding' }]), undefined);
  assert.match(of([{ counterparty: HUB, asset: ETH, status: 'closed' }])!, /closed \(settled or withdrawn\): restart sluice-provider/);
  // a ledger with another hub or in another asset does not count
  assert.match(of([{ counterparty: OLD_HUB, asset: ETH, status: 'open' }, { counterparty: HUB, asset: ETH, status: 'closed' }])!, /closed/);
  assert.match(of([{ counterparty: HUB, asset: TOKEN, status: 'open' }])!, /no ledger channel with the hub/);
  assert.match(of([{ counterparty: HUB, asset: ETH, status: 'failed' }])!, /is failed: restart/);
});

/**
 * `sluice-provider status` after a settle: a closed ledger holds nothing any more. Its last agreed
 * balances were reported as if it were open (an on-chain exit with guarantees pays out something
 * else); now it has no balances, and says what it paid us when that is known.
 */
test('a closed ledger is reported without balances, with what it paid out when known', () => {
  const id = (n: number): `0x${string}` => `0x${n.toString(16).padStart(64, '0')}`;
  const ledger = (n: number, status: string, myBalance: bigint, locked: bigint) => ({
    channelId: id(n), counterparty: HUB, asset: ETH, status, leader: false, turnNum: 7, myBalance, counterpartyBalance: 1000n - myBalance - locked, locked, guarantees: locked > 0n ? 1 : 0,
  });
  const ledgers = [
    ledger(1, 'open', 300n, 50n),
    ledger(2, 'closed', 400n, 0n), // closed cooperatively: the final state is the last agreed one
    ledger(3, 'closed', 100n, 60n), // exited on chain, its payout seen by this process
    ledger(4, 'closed', 200n, 70n), // exited on chain before this process started, by a node that did not record payouts: not known
    { ...ledger(5, 'closed', 200n, 70n), paidOut: 91n }, // what the node recorded when the exit paid out (kept across restarts)
  ];
  let listener: ((e: unknown) => void) | undefined;
  const node = {
    address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
    getLedgerChannels: () => ledgers,
    onAny: (f: (e: unknown) => void) => {
      listener = f;
      return () => {};
    },
  } as unknown as Node;
  const channels = new NodePayeeChannels(node, { address: HUB, asset: ETH });
  listener!({ type: 'payout', channelId: id(3), asset: ETH, amounts: [{ participant: node.address, amount: 142n }, { participant: HUB, amount: 858n }], mine: 142n });
  const views = channels.ledgers();
  assert.deepEqual(views[0], { channelId: id(1), counterparty: HUB, asset: ETH, status: 'open', myBalance: '300', counterpartyBalance: '650', locked: '50', guarantees: 1 });
  for (const v of views.slice(1)) {
    assert.equal(v.status, 'closed');
    assert.deepEqual([v.myBalance, v.counterpartyBalance, v.locked, v.guarantees], [null, null, null, 0], 'no balances on a closed ledger');
  }
  assert.deepEqual(views.slice(1).map((v) => v.paidOut), ['400', '142', null, '91']);

  const text = renderProviderStatus({ payee: node.address, virtualChannels: [], ledgers: views, disputes: [], transactions: [], payouts: [] });
  const rows = text.split('\n');
  const row = (n: number): string => rows.find((r) => r.includes(id(n).slice(0, 8)) && r.includes(id(n).slice(-4)))!;
  assert.match(row(1), /open\s+300\s+650\s+50\s+1/);
  assert.match(row(2), /closed\s+paid out 400\s+-\s+-\s+-/);
  assert.match(row(3), /closed\s+paid out 142\s+-/);
  assert.match(row(4), /closed\s+paid out: not known\s+-/);
  assert.match(row(5), /closed\s+paid out 91\s+-/);
  assert.doesNotMatch(row(3), /\b100\b|\b60\b/, 'not the last agreed state');
  assert.doesNotMatch(row(4), /\b200\b|\b70\b/);
});
