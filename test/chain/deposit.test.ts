/**
 * Deposits (ETH and ERC20), reads, error mapping (revert reasons, RPC failure, timeout,
 * abort) and ABI parity of the adapter with our artifact.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Contract, ContractFactory, type HDNodeWallet, Interface, JsonRpcProvider, Wallet } from 'ethers';
import { loadArtifact } from '../../contracts/src/index.ts';
import { ADJUDICATOR_ABI, EthersChainService } from '@sluice/channel-core/ethers';
import { ETH, connect, exit, fixedPart, simple, startChain, type ChainFixture } from './lib.ts';
import { SluiceError, isSluiceError, type Address } from './core.ts';

let f: ChainFixture;
before(async () => {
  f = await startChain();
});
after(async () => {
  await f?.stop();
});

function isCode(code: string, reason?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SluiceError, `expected SluiceError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (reason) {
      assert.match(e.message, reason);
      assert.match(String(e.details['reason']), reason);
    }
    return true;
  };
}

/** A fresh account with 1 ETH for gas and `minted` of `token`, and a chain service signing for it. */
async function tokenHolder(token: Contract, minted: bigint, extra: { confirmations?: number } = {}): Promise<{ w: HDNodeWallet; address: Address; svc: EthersChainService }> {
  const w = Wallet.createRandom(f.provider);
  await (await f.deployer.wallet.sendTransaction({ to: w.address, value: 10n ** 18n })).wait();
  await (await token.getFunction('mint')(w.address, minted)).wait();
  const svc = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: f.provider, signer: w, timeoutMs: 30_000, pollIntervalMs: 50, ...extra });
  return { w, address: w.address as Address, svc };
}

/** Run `fn` with anvil mining a block every second instead of one per transaction. */
async function withBlockEverySecond<T>(fn: () => Promise<T>): Promise<T> {
  await f.provider.send('evm_setAutomine', [false]);
  await f.provider.send('evm_setIntervalMining', [1]);
  try {
    return await fn();
  } finally {
    await f.provider.send('evm_setIntervalMining', [0]);
    await f.provider.send('evm_setAutomine', [true]);
  }
}

describe('ABI', () => {
  test('adapter ABI has the selectors and topics of our artifact', () => {
    const ours = new Interface(ADJUDICATOR_ABI as string[]);
    const artifact = new Interface(loadArtifact('NitroAdjudicator').abi as never);
    ours.forEachFunction((fn) => assert.ok(artifact.getFunction(fn.selector), `${fn.format()} missing from artifact`));
    ours.forEachEvent((ev) => assert.equal(artifact.getEvent(ev.name)?.topicHash, ev.topicHash, ev.name));
  });
});

describe('deposit', () => {
  for (const kind of ['ETH', 'ERC20'] as const) {
    test(`${kind}: reads expectedHeld, deposits (onSent gives its hash), tops up, rejects a stale expectedHeld`, async () => {
      const asset = (kind === 'ETH' ? ETH : f.deployment.testToken) as Address;
      const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
      const before = await f.alice.chain.balanceOf(asset, f.alice.address);
      const sent: string[] = [];
      const r1 = await f.alice.chain.deposit({ asset, channelId: L.id, amount: 100n }, { onSent: (h) => sent.push(h) });
      assert.match(r1.txHash, /^0x[0-9a-f]{64}$/);
      assert.deepEqual(sent, [r1.txHash], 'onSent names the deposit (not the approval) once');
      assert.ok(r1.blockNumber > 0);
      if (kind === 'ERC20') assert.match(r1.approveTxHash ?? '', /^0x[0-9a-f]{64}$/);
      else assert.equal(r1.approveTxHash, undefined);
      assert.equal(await f.alice.chain.holdings(asset, L.id), 100n);
      // Irene tops up with an explicit expectedHeld
      await f.irene.chain.deposit({ asset, channelId: L.id, amount: 50n, expectedHeld: 100n });
      assert.equal(await f.irene.chain.holdings(asset, L.id), 150n);
      // stale expectedHeld → CHAIN_REVERT with the contract's reason
      await assert.rejects(f.alice.chain.deposit({ asset, channelId: L.id, amount: 1n, expectedHeld: 100n }), isCode('CHAIN_REVERT', /held != expectedHeld/));
      assert.equal(await f.alice.chain.holdings(asset, L.id), 150n);
      if (kind === 'ERC20') assert.equal(await f.alice.chain.balanceOf(asset, f.alice.address), before - 100n);
    });
  }

  test('a wallet signs here and onSent has the hash before the broadcast; a node-held account still works (onSent once the node accepted it)', async () => {
    const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 101);
    const provider = connect(f.anvil.rpcUrl);
    const order: string[] = [];
    const broadcast = provider.broadcastTransaction.bind(provider);
    provider.broadcastTransaction = async (raw: string) => {
      order.push('broadcast');
      return broadcast(raw);
    };
    try {
      const wallet = new Wallet(f.alice.key, provider);
      const svc = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider, signer: wallet, pollIntervalMs: 50 });
      const r = await svc.deposit({ asset: ETH, channelId: L.id, amount: 7n }, { onSent: (h) => order.push(`sent ${h}`) });
      assert.deepEqual(order, [`sent ${r.txHash}`, 'broadcast'], 'the hash is told before the transaction leaves');
      // an account the node signs for (anvil's unlocked accounts): sent through eth_sendTransaction
      order.length = 0;
      const nodeSigner = await provider.getSigner(f.irene.address);
      const viaNode = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider, signer: nodeSigner, pollIntervalMs: 50 });
      const r2 = await viaNode.deposit({ asset: ETH, channelId: L.id, amount: 5n }, { onSent: (h) => order.push(`sent ${h}`) });
      assert.deepEqual(order, [`sent ${r2.txHash}`]);
      assert.equal(await f.alice.chain.holdings(ETH, L.id), 12n);
    } finally {
      provider.destroy();
    }
  });

  test('ERC20: insufficient balance reverts with the reason', async () => {
    const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
    const poor = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: f.provider, signer: Wallet.createRandom(f.provider) });
    await assert.rejects(
      poor.deposit({ asset: f.deployment.testToken, channelId: L.id, amount: 5n, expectedHeld: 0n }),
      (e: unknown) => isSluiceError(e) && (e.code === 'CHAIN_REVERT' || e.code === 'CHAIN_RPC'),
    );
    // a funded account with allowance but no tokens: the adjudicator's token call fails
    const w = Wallet.createRandom(f.provider);
    await (await f.deployer.wallet.sendTransaction({ to: w.address, value: 10n ** 18n })).wait();
    const svc = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: f.provider, signer: w });
    await assert.rejects(svc.deposit({ asset: f.deployment.testToken, channelId: L.id, amount: 5n, expectedHeld: 0n }), isCode('CHAIN_REVERT', /token transfer failed|insufficient balance/));
  });

  test('deposit to an external destination reverts; bad arguments are INVALID_ARGUMENT', async () => {
    await assert.rejects(
      f.alice.chain.deposit({ asset: ETH, channelId: f.bob.dest, amount: 1n, expectedHeld: 0n }),
      isCode('CHAIN_REVERT', /Deposit to external destination/),
    );
    await assert.rejects(f.alice.chain.deposit({ asset: ETH, channelId: '0x12' as never, amount: 1n }), isCode('INVALID_ARGUMENT'));
    await assert.rejects(f.alice.chain.deposit({ asset: ETH, channelId: f.bob.dest, amount: -1n }), isCode('INVALID_ARGUMENT'));
  });

  test('read-only service refuses to submit', async () => {
    const ro = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: f.provider });
    await assert.rejects(ro.deposit({ asset: ETH, channelId: f.bob.dest, amount: 1n }), isCode('INVALID_ARGUMENT'));
    const s = await ro.statusOf(fixedPart([f.alice, f.bob], f.deployment.consensusApp, 10).id);
    assert.deepEqual([s.turnNumRecord, s.finalizesAt, s.fingerprint], [0, 0, 0n]);
  });

  test('concurrent submissions from one service get distinct nonces', async () => {
    const ids = [0, 1, 2, 3].map(() => fixedPart([f.alice, f.bob], f.deployment.consensusApp, 10).id);
    const rs = await Promise.all(ids.map((id) => f.alice.chain.deposit({ asset: ETH, channelId: id, amount: 7n, expectedHeld: 0n })));
    assert.equal(new Set(rs.map((r) => r.txHash)).size, 4);
    for (const id of ids) assert.equal(await f.alice.chain.holdings(ETH, id), 7n);
  });

  test('ERC20: concurrent deposits from one account share the allowance without a revert', async () => {
    // each deposit reads the allowance, approves what it lacks and deposits: run unserialized,
    // one's approval overwrote another's, or one deposit spent the allowance another counted on
    const { address, svc } = await tokenHolder(f.token, 10n ** 20n);
    const amounts = [100n, 300n, 200n, 50n, 300n];
    const ids = amounts.map(() => fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100).id);
    // one more, given up while it waits for its turn: it fails alone, and lets the others through
    const ctl = new AbortController();
    const given = svc.deposit({ asset: f.deployment.testToken, channelId: fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100).id, amount: 1n, expectedHeld: 0n }, { signal: ctl.signal });
    const givenUp = assert.rejects(given, isCode('ABORTED'));
    ctl.abort();
    await Promise.all(ids.map((id, i) => svc.deposit({ asset: f.deployment.testToken, channelId: id, amount: amounts[i]!, expectedHeld: 0n })));
    await givenUp;
    for (const [i, id] of ids.entries()) assert.equal(await svc.holdings(f.deployment.testToken, id), amounts[i]);
    assert.equal(await svc.balanceOf(f.deployment.testToken, address), 10n ** 20n - 950n);
    const allowance = (await f.token.getFunction('allowance').staticCall(address, f.deployment.adjudicator)) as bigint;
    assert.equal(allowance, 0n, 'each approval is exactly what the deposits still needed: nothing is left approved');
  });

  test('ERC20: deposits still pending count against the allowance (blocks mined every second)', async () => {
    const { w, address, svc } = await tokenHolder(f.token, 10n ** 20n);
    await (await (f.token.connect(w) as typeof f.token).getFunction('approve')(f.deployment.adjudicator, 1000n)).wait();
    const amounts = [100n, 300n, 200n, 500n];
    const ids = amounts.map(() => fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100).id);
    const rs = await withBlockEverySecond(() => Promise.all(ids.map((id, i) => svc.deposit({ asset: f.deployment.testToken, channelId: id, amount: amounts[i]!, expectedHeld: 0n }))));
    for (const [i, id] of ids.entries()) assert.equal(await svc.holdings(f.deployment.testToken, id), amounts[i]);
    // 100 + 300 + 200 fit in the 1,000 approved (while the earlier ones are still pending); 500 does not
    assert.deepEqual(rs.map((r) => r.approveTxHash !== undefined), [false, false, false, true]);
    assert.equal(await svc.balanceOf(f.deployment.testToken, address), 10n ** 20n - 1100n);
  });

  test('ERC20 that refuses to change a non-zero allowance (USDT): a left-over allowance is zeroed first', async () => {
    const art = loadArtifact('StrictApproveToken');
    const strict = (await (await new ContractFactory(art.abi as never, art.bytecode, f.deployer.wallet).deploy()).waitForDeployment()) as Contract;
    const asset = (await strict.getAddress()) as Address;
    const { w, address, svc } = await tokenHolder(strict, 10n ** 9n);
    // an allowance left over (approved by hand, or by a deposit that then lost a race)
    await (await (strict.connect(w) as Contract).getFunction('approve')(f.deployment.adjudicator, 10n)).wait();
    const allowance = async (): Promise<bigint> => (await strict.getFunction('allowance').staticCall(address, f.deployment.adjudicator)) as bigint;
    const L1 = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
    const r1 = await svc.deposit({ asset, channelId: L1.id, amount: 100n, expectedHeld: 0n });
    assert.match(r1.approveTxHash ?? '', /^0x[0-9a-f]{64}$/);
    assert.equal(await svc.holdings(asset, L1.id), 100n);
    assert.equal(await allowance(), 0n);
    // what the left-over allowance covers needs no approval at all; then the usual path
    await (await (strict.connect(w) as Contract).getFunction('approve')(f.deployment.adjudicator, 10n)).wait();
    const L2 = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
    assert.equal((await svc.deposit({ asset, channelId: L2.id, amount: 10n, expectedHeld: 0n })).approveTxHash, undefined);
    assert.match((await svc.deposit({ asset, channelId: L2.id, amount: 5n, expectedHeld: 10n })).approveTxHash ?? '', /^0x[0-9a-f]{64}$/);
    assert.equal(await svc.holdings(asset, L2.id), 15n);
    assert.equal(await svc.balanceOf(asset, address), 10n ** 9n - 115n);
  });

  test('ERC20: the approval is waited for until mined, not for the confirmations (the deposit is)', async () => {
    const { svc } = await tokenHolder(f.token, 10n ** 20n, { confirmations: 3 });
    const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
    const r = await withBlockEverySecond(() => svc.deposit({ asset: f.deployment.testToken, channelId: L.id, amount: 100n, expectedHeld: 0n }));
    const approved = (await f.provider.getTransactionReceipt(r.approveTxHash!))!.blockNumber;
    // waiting 3 confirmations for the approval first would have put the deposit 3 blocks after it
    assert.ok(r.blockNumber - approved <= 2, `deposit ${r.blockNumber - approved} block(s) after its approval`);
    assert.ok((await f.provider.getBlockNumber()) >= r.blockNumber + 2, 'the deposit itself waited its 3 confirmations');
    assert.equal(await svc.holdings(f.deployment.testToken, L.id), 100n);
  });

  test('a deposit that loses a race reverts when mined; the reason is recovered by replay', async () => {
    const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, 100);
    await f.provider.send('evm_setAutomine', [false]);
    try {
      const first = f.alice.chain.deposit({ asset: ETH, channelId: L.id, amount: 1n, expectedHeld: 0n });
      // wait until Alice's transaction is pending, then Irene estimates against the same holdings
      for (let i = 0; i < 400 && Number((await f.provider.send('txpool_status', [])).pending) < 1; i++) await new Promise((r) => setTimeout(r, 10));
      // anvil estimates against the pending block, so the race is only lost on chain if Irene's
      // wallet skips estimation (as a wallet with a fixed gas limit, or a busy node, would)
      class NoEstimate extends JsonRpcProvider {
        override async estimateGas(): Promise<bigint> {
          return 300_000n;
        }
      }
      const p = new NoEstimate(f.anvil.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
      const irene = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: p, signer: new Wallet(f.irene.key, p) });
      const second = irene.deposit({ asset: ETH, channelId: L.id, amount: 2n, expectedHeld: 0n }).finally(() => p.destroy());
      for (let i = 0; i < 400 && Number((await f.provider.send('txpool_status', [])).pending) < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const secondResult = second.then(
        () => undefined,
        (e: unknown) => e,
      );
      await f.provider.send('evm_mine', []);
      await first;
      const err = await secondResult;
      assert.ok(isSluiceError(err, 'CHAIN_REVERT'), String(err));
      assert.equal(err.details['reason'], 'held != expectedHeld');
      assert.match(String(err.details['txHash']), /^0x[0-9a-f]{64}$/, 'reverted on chain, not at estimation');
    } finally {
      await f.provider.send('evm_setAutomine', [true]);
    }
    assert.equal(await f.alice.chain.holdings(ETH, L.id), 1n);
  });

  test('outcome shapes are validated before anything is sent', async () => {
    await assert.rejects(
      f.alice.chain.transferAllAssets({
        channelId: f.bob.dest,
        outcome: [exit(ETH, [{ ...simple(f.bob.dest, 1n), allocationType: 7 as never }])],
        stateHash: f.bob.dest,
      }),
      isCode('INVALID_ARGUMENT'),
    );
  });
});

describe('failures map to codes', () => {
  let hang: Server;
  let url = '';
  const sockets = new Set<Socket>();
  before(async () => {
    // accepts connections and never answers
    hang = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const a = hang.address();
    url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => hang.close(() => r()));
  });

  test('an unresponsive node → CHAIN_TIMEOUT', async () => {
    const p = connect(url);
    const svc = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: p });
    await assert.rejects(svc.holdings(ETH, f.bob.dest, { timeoutMs: 200 }), isCode('CHAIN_TIMEOUT'));
    p.destroy();
  });

  test('abort before and during a call → ABORTED', async () => {
    const p = connect(url);
    const svc = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: p, signer: new Wallet(f.alice.key, p) });
    await assert.rejects(svc.holdings(ETH, f.bob.dest, { signal: AbortSignal.abort() }), isCode('ABORTED'));
    const ctl = new AbortController();
    const pending = svc.deposit({ asset: ETH, channelId: fixedPart([f.alice, f.bob], f.deployment.consensusApp, 10).id, amount: 1n }, { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    await assert.rejects(pending, isCode('ABORTED'));
    p.destroy();
  });

  test('a node that refuses connections → CHAIN_RPC; the key never appears', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const a = srv.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    await new Promise<void>((r) => srv.close(() => r()));
    const p = connect(`http://127.0.0.1:${port}`);
    const svc = new EthersChainService({ adjudicator: f.deployment.adjudicator, provider: p, signer: new Wallet(f.alice.key, p), timeoutMs: 10_000 });
    const err = await svc.deposit({ asset: ETH, channelId: fixedPart([f.alice, f.bob], f.deployment.consensusApp, 10).id, amount: 1n, expectedHeld: 0n }).then(
      () => assert.fail('should fail'),
      (e: unknown) => e,
    );
    assert.ok(isSluiceError(err, 'CHAIN_RPC'), String(err));
    const dump = JSON.stringify({ m: err.message, d: err.details, c: String(err.cause), s: err.stack });
    assert.ok(!dump.toLowerCase().includes(f.alice.key.slice(2).toLowerCase()));
    p.destroy();
  });
});
