/** The engine's pure mappings: chain events, transactions and their reconciliation, wire round trips. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Bytes32, type Hex, getChannelId, signState, protocols as P } from '../../src/index.ts';
import { MemoryChainService } from '../../src/memory/index.ts';
import { decodeWireMessage, encodeWireMessage, reconcileTransaction, toChainTransaction, toProtocolEvent, transactionKey } from '../../src/engine/index.ts';
import { ADDR, CONSENSUS_APP, ETH, KEYS } from './harness.ts';

const C = `0x${'c1'.repeat(32)}` as Bytes32;
const tx = { txHash: '0x00' as Hex, blockNumber: 7, logIndex: 2 };

test('adjudicator events map to protocol events; others are ignored', () => {
  assert.deepEqual(toProtocolEvent({ type: 'Deposited', ...tx, destination: C, asset: ETH, destinationHoldings: 5n }, () => undefined), {
    kind: 'deposited', channelId: C, asset: ETH, holdings: 5n, blockNumber: 7, logIndex: 2,
  });
  assert.deepEqual(toProtocolEvent({ type: 'AllocationUpdated', ...tx, channelId: C, assetIndex: 0n, initialHoldings: 5n, finalHoldings: 0n }, (_c, i) => (i === 0 ? ETH : undefined)), {
    kind: 'allocationUpdated', channelId: C, asset: ETH, holdings: 0n, initialHoldings: 5n, blockNumber: 7, logIndex: 2,
  });
  assert.equal(toProtocolEvent({ type: 'AllocationUpdated', ...tx, channelId: C, assetIndex: 3n, initialHoldings: 5n, finalHoldings: 0n }, () => undefined), undefined);
  assert.deepEqual(toProtocolEvent({ type: 'Concluded', ...tx, channelId: C, finalizesAt: 1 }, () => undefined), { kind: 'concluded', channelId: C, blockNumber: 7, logIndex: 2 });
  assert.equal(toProtocolEvent({ type: 'Checkpointed', ...tx, channelId: C, newTurnNumRecord: 3 }, () => undefined), undefined);
});

test('transactions: keys, port form, and reconciliation against the chain (no double deposit)', async () => {
  const chain = new MemoryChainService();
  const deposit: P.Transaction = { kind: 'deposit', channelId: C, asset: ETH, expectedHeld: 0n, amount: 10n };
  assert.deepEqual(toChainTransaction(deposit), { kind: 'deposit', asset: ETH, channelId: C, amount: 10n, expectedHeld: 0n });
  assert.equal(transactionKey(deposit), transactionKey({ ...deposit }));
  assert.deepEqual(await reconcileTransaction(deposit, chain), deposit, 'nothing held: deposit as planned');
  await chain.submit({ kind: 'deposit', asset: ETH, channelId: C, amount: 4n, expectedHeld: 0n });
  assert.deepEqual(await reconcileTransaction(deposit, chain), { ...deposit, expectedHeld: 4n, amount: 6n }, 'part held: only the rest');
  await chain.submit({ kind: 'deposit', asset: ETH, channelId: C, amount: 6n, expectedHeld: 4n });
  assert.equal(await reconcileTransaction(deposit, chain), null, 'target held: nothing to do');
  // a later depositor whose predecessors are not in yet keeps its plan (the adjudicator refuses it; retried later)
  const later: P.Transaction = { kind: 'deposit', channelId: C, asset: ETH, expectedHeld: 50n, amount: 1n };
  assert.deepEqual(await reconcileTransaction(later, chain), later);
});

test('wire: every protocol message round-trips', () => {
  const pre = {
    participants: [ADDR.alice, ADDR.irene],
    channelNonce: 1n,
    appDefinition: CONSENSUS_APP,
    challengeDuration: 60,
    appData: '0x' as Hex,
    outcome: [{ asset: ETH, assetMetadata: { assetType: 0, metadata: '0x' as Hex }, allocations: [] }],
    turnNum: 0,
    isFinal: false,
  };
  const sig = signState(pre, KEYS.alice);
  const id = getChannelId(pre);
  const msgs: P.ProtocolMessage[] = [
    { kind: 'signedState', objectiveId: P.directFundId(id), state: pre, signatures: [sig] },
    {
      kind: 'ledgerProposal',
      objectiveId: P.virtualFundId(C),
      signedProposal: { ledgerId: id, turnNum: 2, proposal: { type: 'add', guarantee: { target: C, amount: 5n, left: C, right: C }, leftDeposit: 5n }, signature: sig },
    },
    { kind: 'ledgerProposal', objectiveId: P.ledgerTopUpId(id, 99n), signedProposal: { ledgerId: id, turnNum: 3, proposal: { type: 'topUp', destination: C, amount: 1n }, signature: sig } },
    { kind: 'ledgerCountersignature', objectiveId: P.virtualDefundId(C), countersignature: { ledgerId: id, turnNum: 4, signature: sig } },
  ];
  for (const m of msgs) assert.deepEqual(decodeWireMessage(encodeWireMessage(m)), m);
  const rej = { kind: 'rejectObjective', objectiveId: P.virtualFundId(C), code: 'HUB_POLICY_REJECTED', reason: 'no collateral' } as const;
  assert.deepEqual(decodeWireMessage(encodeWireMessage(rej)), rej);
  assert.throws(() => decodeWireMessage(encodeWireMessage({ ...rej, code: 'lower case' })), /rejection code/);
  assert.throws(() => decodeWireMessage(encodeWireMessage({ ...rej, reason: 'x'.repeat(201) })), /rejection reason/);
});
