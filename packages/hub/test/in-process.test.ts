/**
 * The hub's own policies, in process over the in-memory network and chain (this tests the hub's
 * wiring; the mechanisms are tested in channel-core's engine tests):
 * - history retention: a closed virtual channel's records are deleted by the hub's own timer once
 *   older than `retainHistory.olderThanMs`, counted in /status and the metrics, logged; open
 *   channels stay; `stop()` waits for a pass in progress;
 * - supported assets: a ledger proposed in another asset is refused;
 * - collateral peers: only listed peers get a hub deposit; others open ledgers without one;
 * - on a public chain, a warning at start when the shortest challenge leaves little time to answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Address, type Bytes32, type Hex, type State, ZERO_ADDRESS, addressToDestination, getChannelId, isSluiceError, privateKeyToAddress, protocols, signState, timedNonce } from '@sluice/channel-core';
import { type LedgerData, encodeWireMessage } from '@sluice/channel-core/engine';
import { createMemoryNetwork, MemoryChainService } from '@sluice/channel-core/memory';
import { openMemoryStore } from '@sluice/channel-core/sqlite';
import { createNode, type Node } from '@sluice/channel-core/node';
import { type Logger, pino } from 'pino';
import { createHub, type HubInit, openingCollateral, openingCollateralByAsset, peerCollateral } from '../src/hub.ts';
import { settleHubLedgers } from '../src/commands/settle.ts';

const KEYS = {
  alice: '0xed90100c3784a2d86ff62423f40065a02319dc58bedda16b3158d85e39592228',
  hub: '0xa4ade440a3f357caff796d63d5bf93d94afdf734e978588f6e7a50bda8f64bf2',
  bob: '0x1c821f7627a08bf65826d8421025816e6b26208f9975ac706a0d581ebb08a4e6',
} as const;
const CHAIN = { consensusApp: '0x00000000000000000000000000000000000000C0' as Address, virtualPaymentApp: '0x00000000000000000000000000000000000000D0' as Address, startBlock: 0 };

async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A hub and client nodes on one in-memory network and chain; `stop()` stops them all. */
function inProcess(seed: number, init: Partial<HubInit>, logger: Logger = pino({ level: 'silent' })) {
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 3, seed });
  const chain = new MemoryChainService();
  const hubAddress = privateKeyToAddress(KEYS.hub);
  const hub = createHub({ privateKey: KEYS.hub, chain: CHAIN, http: false, retainHistory: false, ...init }, { store: openMemoryStore(), chain, messaging: net.service(hubAddress), logger, defaultMetrics: false });
  const nodes: Node[] = [];
  return {
    hub,
    hubAddress,
    net,
    /** A client node (not started) that uses the hub. */
    node(key: string): Node {
      const n = createNode({ privateKey: key, chain: CHAIN, hub: { address: hubAddress, multiaddrs: [] }, objectiveTimeoutMs: 5_000, callTimeoutMs: 5_000 }, { store: openMemoryStore(), chain, messaging: net.service(privateKeyToAddress(key)) });
      nodes.push(n);
      return n;
    },
    /** Start the hub and both nodes; the payer deposits 1000 in her ledger, the hub 1000 toward the payee. */
    async startWithLedgers(payer: Node, payee: Node): Promise<void> {
      await hub.start();
      await payer.start();
      await payee.start();
      await Promise.all([
        payer.createLedgerChannel({ counterparty: hubAddress, deposit: 1_000n }),
        payee.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: 1_000n }),
      ]);
    },
    async stop(): Promise<void> {
      for (const n of nodes) await n.stop().catch(() => {});
      await hub.stop();
      net.close();
    },
  };
}

test('the hub prunes closed channels older than its retention on its own, and reports it', async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } }));
  const w = inProcess(3, { policy: { maxLedgerDeposit: 10n ** 24n }, retainHistory: { olderThanMs: 200, everyMs: 25 } }, logger);
  const { hub } = w;
  const alice = w.node(KEYS.alice);
  const bob = w.node(KEYS.bob);
  try {
    await w.startWithLedgers(alice, bob);
    const { channelId: closed } = await alice.createVirtualChannel({ payee: bob.address, amount: 100n });
    const { channelId: open } = await alice.createVirtualChannel({ payee: bob.address, amount: 50n });
    await until(() => bob.getVirtualChannel(closed)?.status === 'funded', 'funded at bob');
    bob.receiveVoucher(alice.pay(closed, 10n));
    await alice.closeVirtualChannel(closed);
    await until(() => hub.node.getVirtualChannel(closed)?.status === 'closed', 'closed at the hub');
    assert.deepEqual(hub.status().history, { retainMs: 200, prunedChannels: 0, prunedObjectives: 0 }, 'kept while younger than the retention');

    await until(() => hub.status().history.prunedChannels === 1, 'pruned by the hub', 5_000);
    assert.equal(hub.node.getVirtualChannel(closed), undefined);
    assert.equal(hub.node.getVirtualChannel(open)?.status, 'funded', 'the open channel stays');
    assert.deepEqual(hub.status().history, { retainMs: 200, prunedChannels: 1, prunedObjectives: 2 });
    assert.deepEqual(hub.status().virtualChannelCounts, { funded: 1 });
    const metrics = await hub.metrics.registry.metrics();
    assert.match(metrics, /sluice_hub_history_pruned_total\{record="channels"\} 1/);
    assert.match(metrics, /sluice_hub_history_pruned_total\{record="objectives"\} 2/);
    assert.match(metrics, /sluice_hub_history_pruned_total\{record="forgotten_ids"\} 0/, 'its nonce is recent: the id is remembered');
    const logged = lines.find((l) => l['msg'] === 'history pruned');
    assert.ok(logged !== undefined, 'a "history pruned" log line');
    assert.equal(logged['channels'], 1);
    // Alice and Bob keep theirs (they prune only when asked)
    assert.equal(alice.getVirtualChannel(closed)?.status, 'closed');
  } finally {
    await w.stop();
  }
});

test('retainHistory: false keeps everything', async () => {
  const w = inProcess(1, { retainHistory: false });
  try {
    await w.hub.start();
    assert.deepEqual(w.hub.status().history, { retainMs: null, prunedChannels: 0, prunedObjectives: 0 });
  } finally {
    await w.stop();
  }
});

test('policy.assets: a ledger in an asset the hub does not support is refused; ETH is accepted', async () => {
  const w = inProcess(4, { policy: { maxLedgerDeposit: 10n ** 24n, assets: [ZERO_ADDRESS] } });
  const { hub, hubAddress } = w;
  const alice = w.node(KEYS.alice);
  try {
    await hub.start();
    await alice.start();
    const token = '0x00000000000000000000000000000000000000E7' as Address;
    await assert.rejects(alice.createLedgerChannel({ counterparty: hubAddress, asset: token, deposit: 1_000n }), (e: unknown) => isSluiceError(e, 'HUB_POLICY_REJECTED') && /keeps no ledgers in asset/.test(e.message));
    assert.equal(hub.node.getLedgerChannels().length, 0, 'nothing joined');
    const eth = await alice.createLedgerChannel({ counterparty: hubAddress, deposit: 1_000n });
    await until(() => hub.node.getLedgerChannel(eth.channelId)?.status === 'open', 'the ETH ledger opened');
  } finally {
    await w.stop();
  }
});

test('policy.collateralPeers: only listed peers get a hub deposit; others may still open a ledger without one', async () => {
  const w = inProcess(9, { policy: { maxLedgerDeposit: 1_000n, collateralPeers: [privateKeyToAddress(KEYS.bob)] } });
  const { hub, hubAddress } = w;
  const alice = w.node(KEYS.alice);
  const provider = w.node(KEYS.bob);
  try {
    await hub.start();
    await alice.start();
    await provider.start();
    await assert.rejects(alice.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: 500n }), (e: unknown) => isSluiceError(e, 'HUB_POLICY_REJECTED') && /collateral only toward the peers it lists/.test(e.message));
    const plain = await alice.createLedgerChannel({ counterparty: hubAddress, deposit: 100n });
    const listed = await provider.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: 500n });
    await until(() => hub.node.getLedgerChannel(plain.channelId)?.status === 'open' && hub.node.getLedgerChannel(listed.channelId)?.status === 'open', 'both ledgers open');
    assert.equal(hub.node.getLedgerChannel(listed.channelId)?.myBalance, 500n, 'the listed peer got the collateral');
  } finally {
    await w.stop();
  }
});

test('policy.maxLedgerGuarantees: the hub refuses a virtual channel past the cap with LEDGER_FULL; a close frees the slot', async () => {
  const w = inProcess(8, { policy: { maxLedgerDeposit: 10n ** 24n, maxLedgerGuarantees: 1 } });
  const { hub } = w;
  const alice = w.node(KEYS.alice);
  const bob = w.node(KEYS.bob);
  try {
    await w.startWithLedgers(alice, bob);
    const { channelId } = await alice.createVirtualChannel({ payee: bob.address, amount: 100n });
    await assert.rejects(alice.createVirtualChannel({ payee: bob.address, amount: 100n }), (e: unknown) => isSluiceError(e, 'LEDGER_FULL') && /limit 1/.test(e.message));
    await until(() => bob.getVirtualChannel(channelId)?.status === 'funded', 'funded at bob');
    await alice.closeVirtualChannel(channelId);
    await until(() => hub.node.getLedgerChannels().every((l) => l.guarantees === 0), 'guarantees removed at the hub');
    await alice.createVirtualChannel({ payee: bob.address, amount: 100n });
  } finally {
    await w.stop();
  }
});

test('policy.challengeDurations: the hub refuses a ledger whose challenge duration is outside its range', async () => {
  const w = inProcess(9, { policy: { challengeDurations: { min: 2 * 86_400, max: 30 * 86_400 } } });
  const alice = w.node(KEYS.alice); // a node's ledgers have a 1-day challenge duration by default
  try {
    await w.hub.start();
    await alice.start();
    await assert.rejects(alice.createLedgerChannel({ counterparty: w.hubAddress, deposit: 100n }), (e: unknown) => isSluiceError(e, 'HUB_POLICY_REJECTED') && /challenge duration 86400 s is outside what we accept \(172800\.\.2592000 s\)/.test(e.message));
    assert.equal(w.hub.node.getLedgerChannels().length, 0);
  } finally {
    await w.stop();
  }
});

const EMPTY = '0x' as Hex;

/** A peer speaking raw protocol messages to the hub: proposes a ledger, signs it, and then says nothing more. */
async function ledgerProposer(net: ReturnType<typeof createMemoryNetwork>, hub: Address, key: string, mine: bigint, hubs: bigint, nonce: bigint) {
  const address = privateKeyToAddress(key);
  const raw = net.service(address);
  const received: Uint8Array[] = [];
  raw.onMessage(async (m) => void received.push(m.payload));
  await raw.start();
  const prefund: State = {
    participants: [address, hub],
    channelNonce: timedNonce(Date.now(), Number(nonce)), // the hub joins only recent nonces
    appDefinition: CHAIN.consensusApp,
    challengeDuration: 86_400,
    appData: EMPTY,
    outcome: [{ asset: ZERO_ADDRESS, assetMetadata: { assetType: 0, metadata: EMPTY }, allocations: ([[address, mine], [hub, hubs]] as const).map(([a, amount]) => ({ destination: addressToDestination(a) as Bytes32, amount, allocationType: 0 as const, metadata: EMPTY })) }],
    turnNum: 0,
    isFinal: false,
  };
  const ledgerId = getChannelId(prefund);
  const objectiveId = protocols.directFundId(ledgerId);
  await raw.send(hub, encodeWireMessage({ kind: 'signedState', objectiveId, state: prefund, signatures: [signState(prefund, key)] }));
  return { ledgerId, objectiveId, received };
}

test('policy.maxOpeningCollateral: collateral in ledgers that never opened is capped; past it a collateral request is refused', async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } }));
  const w = inProcess(9, { policy: { maxLedgerDeposit: 500n, maxOpeningCollateral: 800n } }, logger);
  const { hub, hubAddress } = w;
  try {
    await hub.start();
    const net = w.net;
    // an identity asks for 500 of collateral and never signs the postfund: the hub deposits
    const first = await ledgerProposer(net, hubAddress, '0x' + '51'.repeat(32), 0n, 500n, 1n);
    await until(() => hub.node.getLedgerChannel(first.ledgerId)?.status === 'funding', 'hub joined the first opening');
    // a second asks for 500 more: 1000 > 800 in unopened ledgers, refused
    const second = await ledgerProposer(net, hubAddress, '0x' + '52'.repeat(32), 0n, 500n, 2n);
    await until(() => lines.some((l) => l['msg'] === 'ledger refused: collateral in unopened ledgers at its cap'), 'refused');
    assert.equal(hub.node.getLedgerChannel(second.ledgerId), undefined);
    await until(() => second.received.length > 0, 'the refusal reaches the proposer');
    // one asking for 300 fits (800), and one asking for nothing is never limited by it
    const third = await ledgerProposer(net, hubAddress, '0x' + '53'.repeat(32), 0n, 300n, 3n);
    const fourth = await ledgerProposer(net, hubAddress, '0x' + '54'.repeat(32), 10n, 0n, 4n);
    await until(() => hub.node.getLedgerChannel(third.ledgerId)?.status === 'funding' && hub.node.getLedgerChannel(fourth.ledgerId)?.status === 'funding', 'both joined');
    assert.equal(openingCollateral(hub.node.engine.ledgerChannels(), ZERO_ADDRESS), 800n);
    // operators see it: /status and `sluice-hub status`
    const st = hub.status();
    assert.deepEqual(st.collateral.map((c) => [c.asset, c.inOpenings, c.openingCap]), [[ZERO_ADDRESS, '800', '800']]);
    assert.equal(st.maxLedgerGuarantees, 256);
    const { renderStatus } = await import('../src/status.ts');
    assert.match(renderStatus(st), /in unopened ledgers +their cap/);
    assert.match(renderStatus(st), /0\/256/);
    assert.match(await hub.metrics.registry.metrics(), /sluice_hub_collateral_in_openings\{asset="0x0000000000000000000000000000000000000000"\} 800/);
  } finally {
    await w.stop();
  }
});

test('policy.maxPeerCollateral: a peer that exits its ledger on chain and reopens gets the hub\'s collateral again only up to the cap', async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } }));
  // default cap: 2 × maxLedgerDeposit = 1000
  const w = inProcess(14, { policy: { maxLedgerDeposit: 500n } }, logger);
  const { hub, hubAddress } = w;
  const bob = w.node(KEYS.bob);
  try {
    await hub.start();
    await bob.start();
    const openAndExit = async (): Promise<string> => {
      const { channelId } = await bob.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: 500n });
      await until(() => hub.node.getLedgerChannel(channelId)?.status === 'open', 'the ledger open at the hub');
      assert.equal((await bob.exitLedgerChannel(channelId, { force: true })).mode, 'onChain');
      await until(() => hub.node.getLedgerChannel(channelId)?.status === 'closing', 'the exit seen by the hub');
      return channelId;
    };
    // the first ledger, exited on chain; a renewal beside it gets 500 more (1000: at the cap)
    await openAndExit();
    await openAndExit();
    assert.equal(peerCollateral(hub.node.engine.ledgerChannels(), bob.address, ZERO_ADDRESS), 1000n);
    // a third while both exits run: refused, with the way out in the message
    await assert.rejects(
      bob.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: 500n }),
      (e: unknown) => isSluiceError(e, 'HUB_POLICY_REJECTED') && /already has 1000 of collateral in ledgers with you, some being closed \(cap 1000 per peer\)/.test(e.message),
    );
    assert.ok(lines.some((l) => l['msg'] === 'ledger refused: collateral toward this peer at its cap'));
    // a ledger without a hub deposit is never limited by it
    const { channelId: plain } = await bob.createLedgerChannel({ counterparty: hubAddress, deposit: 0n });
    await until(() => hub.node.getLedgerChannel(plain)?.status === 'open', 'the ledger without collateral open at the hub');
  } finally {
    await w.stop();
  }
});

test('policy.maxPeerCollateral below the asked collateral: refused, saying so (nothing is being closed)', async () => {
  const w = inProcess(15, { policy: { maxLedgerDeposit: 500n, maxPeerCollateral: 300n } });
  const { hub, hubAddress } = w;
  const bob = w.node(KEYS.bob);
  try {
    await hub.start();
    await bob.start();
    await assert.rejects(
      bob.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: 400n }),
      (e: unknown) => isSluiceError(e, 'HUB_POLICY_REJECTED') && /asks the hub for 400 of collateral, more than it keeps toward one peer \(300\)/.test(e.message),
    );
    const { channelId } = await bob.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: 300n });
    await until(() => hub.node.getLedgerChannel(channelId)?.status === 'open', 'the ledger open at the hub');
  } finally {
    await w.stop();
  }
});

test('peerCollateral counts the hub deposit in one peer\'s ledgers until they are closed', () => {
  const peer = '0x00000000000000000000000000000000000000b0' as Address;
  const other = '0x00000000000000000000000000000000000000b1' as Address;
  const token = '0x00000000000000000000000000000000000000e1' as Address;
  const ld = (n: number, counterparty: Address, status: LedgerData['status'], myDeposit: bigint, asset: Address = ZERO_ADDRESS): LedgerData =>
    ({ ledgerId: `0x${n.toString(16).padStart(64, '0')}`, counterparty, asset, myIndex: 1, counterpartyDeposit: 0n, status, ledger: null, myDeposit }) as LedgerData;
  const all = [ld(1, peer, 'funding', 1n), ld(2, peer, 'open', 10n), ld(3, peer, 'closing', 100n), ld(4, peer, 'closed', 1000n), ld(5, peer, 'failed', 10_000n), ld(6, other, 'open', 7n), ld(7, peer, 'closing', 50n, token)];
  assert.equal(peerCollateral(all, peer, ZERO_ADDRESS), 111n);
  assert.equal(peerCollateral(all, peer, token), 50n);
  assert.equal(peerCollateral(all, other, ZERO_ADDRESS), 7n);
});

test('openingCollateral counts the hub deposit of ledgers not open yet, also while they are exited on chain', () => {
  const base = { counterparty: ZERO_ADDRESS, myIndex: 1, counterpartyDeposit: 0n } as const;
  const token = '0x00000000000000000000000000000000000000e1' as Address;
  const ld = (n: number, status: LedgerData['status'], opened: boolean, myDeposit: bigint, asset: Address = ZERO_ADDRESS): LedgerData =>
    ({ ...base, ledgerId: `0x${n.toString(16).padStart(64, '0')}`, asset, status, ledger: opened ? ({} as LedgerData['ledger']) : null, myDeposit }) as LedgerData;
  const all = [ld(1, 'funding', false, 100n), ld(2, 'closing', false, 20n), ld(3, 'closing', true, 1000n), ld(4, 'open', true, 1000n), ld(5, 'failed', false, 7n), ld(6, 'closed', false, 9n), ld(7, 'funding', false, 50n, token)];
  assert.equal(openingCollateral(all, ZERO_ADDRESS), 120n);
  assert.equal(openingCollateral(all, token), 50n);
  assert.deepEqual(openingCollateralByAsset(all), new Map([[ZERO_ADDRESS, 120n], [token, 50n]]));
});

test('prefundTimeoutMs: the hub gives up a channel whose payee never signs; the payer is told', async () => {
  const w = inProcess(10, { policy: { maxLedgerDeposit: 10n ** 24n }, prefundTimeoutMs: 300 });
  const { hub } = w;
  const alice = w.node(KEYS.alice);
  const bob = w.node(KEYS.bob);
  try {
    await w.startWithLedgers(alice, bob);
    await until(() => hub.node.getLedgerChannels().filter((l) => l.status === 'open').length === 2, 'both ledgers open at the hub');
    await w.net.service(bob.address).stop(); // the payee's transport goes down: it never sees the prefund
    const t0 = Date.now();
    await assert.rejects(alice.createVirtualChannel({ payee: bob.address, amount: 100n }), (e: unknown) => isSluiceError(e, 'PEER_TIMEOUT') && /did not sign the prefund/.test(e.message));
    assert.ok(Date.now() - t0 < 4_000, 'given up after the prefund timeout, not the call timeout');
    assert.equal(hub.node.engine.activeObjectives().length, 0);
    assert.equal(hub.status().virtualChannelCounts['failed'], 1);
  } finally {
    await w.stop();
  }
});

test('settleHubLedgers (sluice-hub settle) also leaves openings: the one the hub deposited into goes on chain, an empty one is given up', async () => {
  const w = inProcess(11, { policy: { maxLedgerDeposit: 500n } });
  const { hub, hubAddress } = w;
  try {
    await hub.start();
    const deposited = await ledgerProposer(w.net, hubAddress, '0x' + '61'.repeat(32), 0n, 500n, 1n);
    const empty = await ledgerProposer(w.net, hubAddress, '0x' + '62'.repeat(32), 10n, 0n, 2n);
    await until(() => hub.node.getLedgerChannel(deposited.ledgerId)?.status === 'funding' && hub.node.getLedgerChannel(empty.ledgerId)?.status === 'funding', 'both openings joined');
    await until(() => hub.node.engine.objective(protocols.directFundId(deposited.ledgerId))?.waitingFor === 'WaitingForCompletePostFund', "the hub's deposit is in");
    const results = await settleHubLedgers(hub.node, { force: false, cooperativeTimeout: 200 });
    const by = new Map(results.map((r) => [r.channelId, r]));
    assert.equal(by.get(deposited.ledgerId)?.mode, 'onChain');
    assert.deepEqual(by.get(deposited.ledgerId)?.objectiveIds, [protocols.ledgerExitId(deposited.ledgerId)]);
    assert.equal(by.get(empty.ledgerId)?.mode, 'cooperative');
    assert.match(by.get(empty.ledgerId)?.note ?? '', /opening given up/);
    assert.equal(hub.node.getLedgerChannel(empty.ledgerId)?.status, 'failed');
  } finally {
    await w.stop();
  }
});

test('on a public chain, the hub joins only challenges it has time to answer by default, and warns at start when its explicit minimum is short', async () => {
  // a JSON-RPC stand-in for chain 10 with 12 s blocks (the hub reads the chain id and the block time from it)
  const rpc = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { method, params } = JSON.parse(body) as { method: string; params: string[] };
      const result = method === 'eth_chainId' ? '0xa' : method === 'eth_blockNumber' ? '0x3e8' : { timestamp: `0x${(1_700_000_000 + Number(BigInt(params[0]!)) * 12).toString(16)}` };
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result }));
    });
  });
  await new Promise<void>((resolve) => rpc.listen(0, '127.0.0.1', resolve));
  const rpcUrl = `http://127.0.0.1:${(rpc.address() as AddressInfo).port}`;
  const started = async (init: Partial<HubInit>, confirmations?: number): Promise<{ warnings: Record<string, unknown>[]; ready: Record<string, unknown> | undefined; durations: unknown }> => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } }));
    const chain = { ...CHAIN, rpcUrl, chainId: 10, ...(confirmations === undefined ? {} : { confirmations }) };
    const hub = createHub({ privateKey: KEYS.hub, chain, http: false, retainHistory: false, ...init }, { store: openMemoryStore(), chain: new MemoryChainService(), messaging: createMemoryNetwork({ seed: 1 }).service(privateKeyToAddress(KEYS.hub)), logger, defaultMetrics: false });
    await hub.start();
    const durations = (await hub.health()).challengeDurations;
    await hub.stop();
    return { warnings: lines.filter((l) => l['level'] === 40 && /little time to answer/.test(String(l['msg']))), ready: lines.find((l) => l['msg'] === 'hub started'), durations };
  };
  const month = 30 * 86_400;
  try {
    // 12 confirmations (chain 10's default) x 12 s, plus 2 blocks to be mined: 168 s to answer. By
    // default the hub joins challenges of twice that, rounded up to a minute
    const byDefault = await started({});
    assert.deepEqual(byDefault.warnings, []);
    assert.deepEqual(byDefault.durations, { ledger: [360, month], virtual: [360, month] });
    assert.equal(byDefault.ready?.['minChallengeDurationS'], 360);
    assert.deepEqual((await started({ policy: { challengeDurations: { max: 86_400 } } })).durations, { ledger: [360, 86_400], virtual: [360, 86_400] });
    // an explicit 5 min minimum is kept, with a warning: 168 s is over half of it
    const explicit = await started({ policy: { challengeDurations: { min: 300, max: month } } });
    assert.deepEqual(explicit.durations, { ledger: [300, month], virtual: [300, month] });
    const [w] = explicit.warnings;
    assert.deepEqual({ confirmations: w?.['confirmations'], blockTimeS: w?.['blockTimeS'], answerS: w?.['answerS'], minChallengeDurationS: w?.['minChallengeDurationS'] }, { confirmations: 12, blockTimeS: 12, answerS: 168, minChallengeDurationS: 300 });
    assert.deepEqual((await started({ policy: { challengeDurations: { min: 3_600, max: 86_400 } } })).warnings, [], 'an hour leaves time');
    const three = await started({}, 3);
    assert.deepEqual(three.warnings, [], '3 confirmations: 60 s');
    assert.deepEqual(three.durations, { ledger: [300, month], virtual: [300, month] }, 'never below 5 min by default');
    // a maximum under the minimum this chain needs: the hub would join nothing, so it does not start
    await assert.rejects(started({ policy: { challengeDurations: { max: 300 } } }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && /default minimum challenge duration, 360 s \(5 min, or twice the time to answer a challenge at 12 confirmations when longer\), is over --max-challenge-duration \(300 s\)/.test(e.message));
  } finally {
    rpc.close();
  }
});
