/**
 * The adjudicator event stream: bounded-range catch-up, resume after a restart from the
 * persisted last processed block (each event exactly once, in order), mid-block resume with
 * a cursor, channel filters, confirmations, and a clean stop on abort.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Interface } from 'ethers';
import { EthersChainService } from '@sluice/channel-core/ethers';
import { ETH, connect, exit, fixedPart, signed, simple, startChain, state, type ChainFixture } from './lib.ts';
import { compareCursor, type ChainEvent, type ChainEventBatch, type ChainService, type EventStreamOptions } from './core.ts';

let f: ChainFixture;
before(async () => {
  f = await startChain();
});
after(async () => {
  await f?.stop();
});

const key = (e: ChainEvent): string => `${e.blockNumber}:${e.logIndex}`;

/** Iterate until the stream has processed `untilBlock`; returns the batches. */
async function drain(chain: ChainService, opts: EventStreamOptions, untilBlock: number): Promise<ChainEventBatch[]> {
  const out: ChainEventBatch[] = [];
  for await (const b of chain.events(opts)) {
    out.push(b);
    if (b.toBlock >= untilBlock) break;
  }
  return out;
}

async function someActivity(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
    await f.alice.chain.deposit({ asset: ETH, channelId: L.id, amount: 10n, expectedHeld: 0n });
    await f.provider.send('evm_mine', []); // an empty block between
    await f.irene.chain.deposit({ asset: ETH, channelId: L.id, amount: 5n });
    const fin = state(L, [exit(ETH, [simple(f.alice.dest, 9n), simple(f.irene.dest, 6n)])], 3, true);
    await f.bob.chain.concludeAndTransferAllAssets({ candidate: signed(fin, [f.alice, f.irene]) });
  }
}

function assertOrderedUnique(events: readonly ChainEvent[]): void {
  for (let i = 1; i < events.length; i++) assert.ok(compareCursor(events[i - 1]!, events[i]!) < 0, `out of order or duplicate at ${key(events[i]!)}`);
}

test('catch-up in bounded ranges, restart from the persisted block: every event exactly once, in order', async () => {
  const from = f.deployment.deployBlock;
  await someActivity(3);
  const head1 = await f.provider.getBlockNumber();

  // first run: small ranges; stop after a few batches, persisting toBlock after each
  const ctl = new AbortController();
  const svc1 = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: f.provider, pollIntervalMs: 50 });
  let persisted = from - 1;
  const delivered: ChainEvent[] = [];
  let batches = 0;
  for await (const b of svc1.events({ fromBlock: persisted + 1, maxBlockRange: 3, signal: ctl.signal })) {
    assert.equal(b.fromBlock, persisted + 1, 'batches are contiguous');
    assert.ok(b.toBlock - b.fromBlock + 1 <= 3, 'bounded range');
    assert.ok(b.events.every((e) => e.blockNumber >= b.fromBlock && e.blockNumber <= b.toBlock));
    delivered.push(...b.events);
    persisted = b.toBlock;
    if (++batches === 4) ctl.abort(); // the loop ends cleanly on the next iteration
  }
  assert.equal(batches, 4);
  assert.ok(persisted < head1, 'stopped before catching up');

  // more activity while "down"
  await someActivity(2);
  const head2 = await f.provider.getBlockNumber();

  // restart: a new service (new provider) resumes from the persisted block
  const p2 = connect(f.anvil.rpcUrl);
  const svc2 = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: p2, pollIntervalMs: 50 });
  for (const b of await drain(svc2, { fromBlock: persisted + 1, maxBlockRange: 5 }, head2)) {
    assert.equal(b.fromBlock, persisted + 1);
    delivered.push(...b.events);
    persisted = b.toBlock;
  }
  p2.destroy();

  // ground truth: one pass over everything
  const all = (await drain(svc1, { fromBlock: from, maxBlockRange: 10_000 }, head2)).flatMap((b) => b.events);
  assert.equal(all.length, 5 * 4, 'each round: 2 Deposited, Concluded, AllocationUpdated');
  assertOrderedUnique(all);
  assertOrderedUnique(delivered);
  assert.deepEqual(delivered.map(key), all.map(key));
  assert.deepEqual(delivered, all);
  const types = all.slice(0, 4).map((e) => e.type);
  assert.deepEqual(types, ['Deposited', 'Deposited', 'Concluded', 'AllocationUpdated']);
  const [d1, d2] = all as [ChainEvent, ChainEvent];
  assert.ok(d1.type === 'Deposited' && d1.destinationHoldings === 10n && typeof d1.destinationHoldings === 'bigint');
  assert.ok(d2.type === 'Deposited' && d2.destinationHoldings === 15n);
  assert.ok(all.every((e) => /^0x[0-9a-f]{64}$/.test(e.txHash)));
});

test('resume mid-block with a cursor; filter by channel id', async () => {
  const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
  const other = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
  const start = (await f.provider.getBlockNumber()) + 1;
  await f.alice.chain.deposit({ asset: ETH, channelId: other.id, amount: 1n, expectedHeld: 0n });
  await f.alice.chain.deposit({ asset: ETH, channelId: L.id, amount: 4n, expectedHeld: 0n });
  const fin = state(L, [exit(ETH, [simple(f.alice.dest, 4n)])], 1, true);
  const r = await f.bob.chain.concludeAndTransferAllAssets({ candidate: signed(fin, [f.alice, f.irene]) });
  const onlyL = (await drain(f.bob.chain, { fromBlock: start, channelIds: [L.id] }, r.blockNumber)).flatMap((b) => b.events);
  assert.deepEqual(onlyL.map((e) => e.type), ['Deposited', 'Concluded', 'AllocationUpdated']);
  const concluded = onlyL[1]!;
  // the consumer persisted the Concluded event's cursor, then crashed: resume after it
  const rest = (await drain(f.bob.chain, { fromBlock: concluded.blockNumber, after: concluded, channelIds: [L.id] }, r.blockNumber)).flatMap((b) => b.events);
  assert.deepEqual(rest.map((e) => e.type), ['AllocationUpdated']);
  assert.equal(rest[0]!.blockNumber, concluded.blockNumber);
});

test('confirmations: an event is delivered only once it is deep enough', async () => {
  const ctl = new AbortController();
  const start = (await f.provider.getBlockNumber()) + 1;
  const seen: ChainEvent[] = [];
  const tops: number[] = [];
  const svc = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: f.provider, pollIntervalMs: 30 });
  const running = (async () => {
    for await (const b of svc.events({ fromBlock: start, confirmations: 3, signal: ctl.signal })) {
      tops.push(b.toBlock);
      seen.push(...b.events);
    }
  })();
  const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
  const r = await f.alice.chain.deposit({ asset: ETH, channelId: L.id, amount: 1n, expectedHeld: 0n });
  await f.provider.send('evm_mine', []); // 2 deep
  // give the stream several polls: still nothing may be delivered
  await new Promise((res) => setTimeout(res, 400));
  assert.ok(!seen.some((e) => e.blockNumber === r.blockNumber), 'delivered before 3 confirmations');
  assert.ok(tops.every((t) => t < r.blockNumber));
  await f.provider.send('evm_mine', []); // 3 deep
  const deadline = Date.now() + 20_000;
  while (!seen.some((e) => e.blockNumber === r.blockNumber) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  assert.ok(seen.some((e) => e.type === 'Deposited' && e.destination === L.id));
  ctl.abort();
  await running; // ends without throwing
});

test('abort while waiting for new blocks ends the iterator cleanly; an aborted signal yields nothing', async () => {
  const ctl = new AbortController();
  const head = await f.provider.getBlockNumber();
  const it = f.bob.chain.events({ fromBlock: head + 1000, signal: ctl.signal })[Symbol.asyncIterator]();
  const pending = it.next();
  setTimeout(() => ctl.abort(), 100);
  assert.deepEqual(await pending, { done: true, value: undefined });
  const none = await f.bob.chain.events({ fromBlock: 0, signal: AbortSignal.abort() })[Symbol.asyncIterator]().next();
  assert.equal(none.done, true);
});

test('a stream pointed at a dead node reports errors and keeps trying until aborted', async () => {
  const p = connect('http://127.0.0.1:9'); // discard port: refused
  const svc = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: p, pollIntervalMs: 20 });
  const ctl = new AbortController();
  const errors: Error[] = [];
  const run = (async () => {
    for await (const _b of svc.events({ fromBlock: 0, signal: ctl.signal, onError: (e) => { errors.push(e); if (errors.length >= 2) ctl.abort(); } })) {
      assert.fail('no batch expected');
    }
  })();
  await run;
  assert.ok(errors.length >= 2);
  assert.ok(errors.every((e) => (e as { code?: string }).code === 'CHAIN_RPC'), errors.map((e) => String(e)).join());
  p.destroy();
});

/**
 * A reorg deeper than the confirmations (anvil_reorg): the stream notices that the last block it
 * delivered is no longer on the chain, reports `CHAIN_REORG`, goes back to the newest block it
 * delivered that still is, and delivers the new chain's events from there (handlers are
 * idempotent). Before, it went on from its cursor: the events of the replacing blocks were never
 * seen, and nothing said the ones it had delivered were gone.
 */
test('a reorg deeper than the confirmations is reported and the new chain\'s events are delivered', async () => {
  const ctl = new AbortController();
  const start = (await f.provider.getBlockNumber()) + 1;
  const seen: ChainEvent[] = [];
  const errors: Error[] = [];
  const svc = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: f.provider, pollIntervalMs: 20 });
  const running = (async () => {
    for await (const b of svc.events({ fromBlock: start, signal: ctl.signal, onError: (e) => errors.push(e) })) seen.push(...b.events);
  })();
  const waitFor = async (what: string, cond: () => boolean): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  try {
    await reorgStory(seen, errors, waitFor);
  } finally {
    ctl.abort(); // a failed wait must not leave the stream polling (the run would never end)
    await running;
  }
});

async function reorgStory(seen: ChainEvent[], errors: Error[], waitFor: (what: string, cond: () => boolean) => Promise<void>): Promise<void> {
  const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 101);
  const r = await f.alice.chain.deposit({ asset: ETH, channelId: L.id, amount: 3n, expectedHeld: 0n });
  await f.provider.send('evm_mine', []);
  await f.provider.send('evm_mine', []);
  await waitFor('the deposit delivered', () => seen.some((e) => e.type === 'Deposited' && e.destination === L.id));
  await new Promise((res) => setTimeout(res, 200)); // the stream reaches the head
  const head = await f.provider.getBlockNumber();
  const depth = head - r.blockNumber + 1; // the deposit's block and the two after it
  // the replacing chain: Irene deposits 5 into L in the block where Alice's deposit was
  const tx = { from: f.irene.address, to: f.deployment.adjudicator, value: '0x5', data: depositCalldata(L.id, 0n, 5n) };
  await f.provider.send('anvil_reorg', [depth, [[tx, 0]]]);
  await f.provider.send('evm_mine', []);
  await waitFor('the reorg reported', () => errors.some((e) => (e as { code?: string }).code === 'CHAIN_REORG'));
  await waitFor('the new chain\'s deposit delivered', () => seen.some((e) => e.type === 'Deposited' && e.destination === L.id && e.destinationHoldings === 5n));
  const reorg = errors.find((e) => (e as { code?: string }).code === 'CHAIN_REORG') as Error & { details: { fromBlock: number; toBlock: number } };
  assert.ok(reorg.details.fromBlock <= r.blockNumber, `delivered again from block ${reorg.details.fromBlock} (the fork is at ${r.blockNumber})`);
  assert.equal(await f.alice.chain.holdings(ETH, L.id), 5n, 'the chain now holds only the replacing deposit');
}

function depositCalldata(channelId: string, expectedHeld: bigint, amount: bigint): string {
  return new Interface(['function deposit(address asset, bytes32 channelId, uint256 expectedHeld, uint256 amount) payable']).encodeFunctionData('deposit', [ETH, channelId, expectedHeld, amount]);
}
