/** NodePayeeChannels.notReceiving over a stub node: only the ledger with our hub, in our asset, counts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Address } from '@sluice/channel-core';
import type { Node } from '@sluice/channel-core/node';
import { NodePayeeChannels } from '../src/service/index.ts';

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
