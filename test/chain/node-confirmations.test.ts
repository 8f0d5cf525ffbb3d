/**
 * A node's confirmations default by chain id (on real anvils: the dev chain id 31337, and 10 as
 * a public chain would have): 1 on a local chain, 12 elsewhere, and the engine waits for that
 * depth before it processes a block; the calls that wait for chain events get the time those
 * extra blocks take (`confirmationWaitMs`, from the chain's block time). Given confirmations or a
 * chain id are used as given.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonRpcProvider } from 'ethers';
import { isSluiceError, type Address } from '@sluice/channel-core';
import { createNode, type Node } from '@sluice/channel-core/node';
import { openMemoryStore } from '@sluice/channel-core/sqlite';
import { startAnvil, type Anvil } from '../../contracts/test/lib/anvil.ts';

const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const SOME = '0x00000000000000000000000000000000000000C0' as Address;
const anvils: Anvil[] = [];
const nodes: Node[] = [];
after(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
  await Promise.allSettled(anvils.map((a) => a.stop()));
});

async function nodeOn(rpcUrl: string, chain: { confirmations?: number; chainId?: number } = {}): Promise<{ node: Node; lastBlock: () => number }> {
  const store = openMemoryStore();
  const node = createNode({
    privateKey: KEY,
    store,
    chain: { rpcUrl, adjudicator: SOME, consensusApp: SOME, virtualPaymentApp: SOME, startBlock: 0, pollIntervalMs: 50, ...chain },
    listen: ['/ip4/127.0.0.1/tcp/0'],
  });
  nodes.push(node);
  await node.start();
  return { node, lastBlock: () => Number(store.getMeta('chain.lastBlock') ?? '-1') };
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a node on a local dev chain (31337) acts on an event 1 block deep; on chain 10, 12 blocks deep', async () => {
  const [dev, pub] = await Promise.all([startAnvil(), startAnvil({ chainId: 10 })]);
  anvils.push(dev, pub);
  const local = await nodeOn(dev.rpcUrl);
  assert.equal(local.node.confirmations, 1);
  assert.equal(local.node.confirmationWaitMs, 0);
  assert.equal(local.node.blockTimeS, undefined, 'one confirmation: no block time read');
  const remote = await nodeOn(pub.rpcUrl);
  assert.equal(remote.node.confirmations, 12);
  // a chain of one block tells no block time: Ethereum's 12 s is assumed; 11 blocks after the first
  assert.equal(remote.node.confirmationWaitMs, 11 * 12_000);
  // and joins challenges of at least twice (12 + 2) x 12 s, rounded up to a minute
  assert.deepEqual(remote.node.challengeDurations.ledger, [360, 30 * 86_400]);
  assert.deepEqual(local.node.challengeDurations.virtual, [300, 30 * 86_400]);

  const mine = async (a: Anvil, n: number): Promise<number> => {
    const p = new JsonRpcProvider(a.rpcUrl, undefined, { staticNetwork: true });
    await p.send('anvil_mine', [`0x${n.toString(16)}`]);
    const head = await p.getBlockNumber();
    p.destroy();
    return head;
  };
  const devHead = await mine(dev, 5);
  await until('the dev node processes its head', () => local.lastBlock() === devHead);
  const head = await mine(pub, 20);
  await until('chain 10: processed up to 12 blocks deep', () => remote.lastBlock() === head - 11);
  await new Promise((r) => setTimeout(r, 300)); // several polls: it does not go further
  assert.equal(remote.lastBlock(), head - 11);
});

test('given confirmations (an integer ≥ 1) or a given chain id are used as given (no chain id read); an RPC without a chain id fails the start with CHAIN_RPC, its secret not shown', async () => {
  const dev = await startAnvil();
  anvils.push(dev);
  assert.equal((await nodeOn(dev.rpcUrl, { confirmations: 3 })).node.confirmations, 3);
  assert.equal((await nodeOn(dev.rpcUrl, { chainId: 10 })).node.confirmations, 12);
  assert.equal((await nodeOn(dev.rpcUrl, { chainId: 31337, confirmations: 2 })).node.confirmations, 2);
  // the block time is read from the chain (the last 100 intervals): 101 blocks 2 s apart, so that
  // the gap between genesis and the first of them (wall time, 3 s on a slow CI run) is not read
  const p = new JsonRpcProvider(dev.rpcUrl, undefined, { staticNetwork: true });
  await p.send('anvil_mine', ['0x65', '0x2']);
  p.destroy();
  const three = (await nodeOn(dev.rpcUrl, { confirmations: 3 })).node;
  assert.equal(three.confirmationWaitMs, 2 * 2_000);
  assert.equal(three.blockTimeS, 2);
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => createNode({ privateKey: KEY, chain: { rpcUrl: dev.rpcUrl, adjudicator: SOME, consensusApp: SOME, virtualPaymentApp: SOME, confirmations: bad } }), (e) => isSluiceError(e, 'INVALID_ARGUMENT') && /confirmations/.test(e.message));
  }

  const node = createNode({
    privateKey: KEY,
    store: openMemoryStore(),
    chain: { rpcUrl: 'http://127.0.0.1:9/v3/s3cret', adjudicator: SOME, consensusApp: SOME, virtualPaymentApp: SOME, startBlock: 0 },
    listen: ['/ip4/127.0.0.1/tcp/0'],
  });
  await assert.rejects(node.start(), (e) => {
    assert.ok(isSluiceError(e, 'CHAIN_RPC'), String(e));
    assert.match(e.message, /cannot reach the chain at http:\/\/127\.0\.0\.1:9\/…/);
    assert.doesNotMatch(e.message, /s3cret/);
    return true;
  });
  assert.throws(() => node.confirmations, /not started/);
});
