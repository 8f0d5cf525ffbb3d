/**
 * The in-memory ChainService (for engine unit tests) behaves like the adjudicator on the
 * paths it models: deposits with expectedHeld, cooperative close, events from a block.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { MemoryChainService } from '@sluice/channel-core/memory';
import {
  AllocationType,
  ZERO_ADDRESS,
  addressToDestination,
  getChannelId,
  isSluiceError,
  parseAddress,
  signState,
  type Bytes32,
  type ChainEvent,
  type FixedPart,
  type Hex,
  type State,
} from './core.ts';
import { consumeChainEvents } from '@sluice/channel-core/chain';

const alice = Wallet.createRandom();
const irene = Wallet.createRandom();
const dest = (w: { address: string }) => addressToDestination(parseAddress(w.address, 'a')) as Bytes32;
const fp: FixedPart = {
  participants: [parseAddress(alice.address, 'a'), parseAddress(irene.address, 'i')],
  channelNonce: 1n,
  appDefinition: parseAddress('0x00000000000000000000000000000000000000aa', 'app'),
  challengeDuration: 100,
};
const id = getChannelId(fp);

test('memory chain: deposit, concludeAndTransferAllAssets, events from a block', async () => {
  const chain = new MemoryChainService();
  await chain.submit({ kind: 'deposit', asset: ZERO_ADDRESS, channelId: id, amount: 6n, expectedHeld: 0n });
  await chain.submit({ kind: 'deposit', asset: ZERO_ADDRESS, channelId: id, amount: 4n });
  await assert.rejects(chain.submit({ kind: 'deposit', asset: ZERO_ADDRESS, channelId: id, amount: 1n, expectedHeld: 0n }), (e: unknown) => isSluiceError(e, 'CHAIN_REVERT'));
  assert.equal(await chain.holdings(ZERO_ADDRESS, id), 10n);
  const final: State = {
    ...fp,
    outcome: [{ asset: ZERO_ADDRESS, assetMetadata: { assetType: 0, metadata: '0x' as Hex }, allocations: [
      { destination: dest(alice), amount: 3n, allocationType: AllocationType.simple, metadata: '0x' as Hex },
      { destination: dest(irene), amount: 7n, allocationType: AllocationType.simple, metadata: '0x' as Hex },
    ] }],
    appData: '0x' as Hex,
    turnNum: 5,
    isFinal: true,
  };
  await assert.rejects(
    chain.submit({ kind: 'concludeAndTransferAllAssets', candidate: { state: final, signatures: [signState(final, alice.privateKey)] } }),
    (e: unknown) => isSluiceError(e, 'CHAIN_REVERT') && /unanimous/.test(e.message),
  );
  const r = await chain.submit({ kind: 'concludeAndTransferAllAssets', candidate: { state: final, signatures: [signState(final, alice.privateKey), signState(final, irene.privateKey)] } });
  assert.equal(await chain.holdings(ZERO_ADDRESS, id), 0n);
  assert.equal(chain.payouts(ZERO_ADDRESS, dest(alice)), 3n);
  assert.equal(chain.payouts(ZERO_ADDRESS, dest(irene)), 7n);
  const st = await chain.statusOf(id);
  assert.ok(st.finalizesAt > 0);

  const ctl = new AbortController();
  const seen: ChainEvent[] = [];
  let last = 0;
  const run = consumeChainEvents(chain, { fromBlock: 2, signal: ctl.signal }, (b) => {
    seen.push(...b.events);
    last = b.toBlock;
    if (b.toBlock >= r.blockNumber) ctl.abort();
  });
  await run;
  assert.equal(last, r.blockNumber);
  assert.deepEqual(seen.map((e) => e.type), ['Deposited', 'Concluded', 'AllocationUpdated']);
  const upd = seen[2]!;
  assert.ok(upd.type === 'AllocationUpdated' && upd.initialHoldings === 10n && upd.finalHoldings === 0n);
});

test('memory chain: a waiting stream wakes on new blocks and stops on abort', async () => {
  const chain = new MemoryChainService();
  const ctl = new AbortController();
  const got: ChainEvent[] = [];
  const run = consumeChainEvents(chain, { fromBlock: 1, signal: ctl.signal }, (b) => {
    got.push(...b.events);
    if (got.length > 0) ctl.abort();
  });
  await new Promise((r) => setTimeout(r, 20));
  await chain.submit({ kind: 'deposit', asset: ZERO_ADDRESS, channelId: id, amount: 1n });
  await run;
  assert.equal(got.length, 1);
  assert.equal(got[0]!.type, 'Deposited');
});
