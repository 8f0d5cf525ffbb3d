/**
 * A hub killed (SIGKILL) again and again under load loses nothing.
 *
 * A real `sluice-hub start` process (sqlite file store) on anvil; six payers and one payee are
 * in-process nodes over real libp2p, each with its own sqlite file. Their ledgers with the hub
 * open while the hub is killed once (every deposit, the hub's collateral included, lands on
 * chain exactly once). Then every payer loops: open a
 * virtual channel to the payee, pay it a few vouchers, close it (the payer or the payee asks, in
 * turn). Meanwhile the hub is SIGKILLed at random moments and restarted on the same store and
 * port (one of the outages outlasts the objective timeout, so waits time out and retry). Calls
 * caught by a crash may fail (a timeout, a refusal) or finish late; the loop simply goes on. After the load, every channel a payer still holds open is closed, and then:
 *
 * - no objective is left in progress at any node, the hub's included (its /status);
 * - every virtual channel is closed or failed at both ends, and the payee's final amount of
 *   each closed one is the payer's;
 * - each payer's ledger with the hub: no guarantee left, the payer's balance is its deposit
 *   less what its closed channels paid, and the hub's view of it is the payer's (same turn,
 *   same balances);
 * - the payee's ledger: its balance is the sum of everything paid, the hub's the collateral
 *   less that;
 * - then every ledger closes cooperatively and the chain pays out exactly those balances.
 *
 * CRASH_KILLS (default 4) and CRASH_DOWN_MS (longest short outage, default 600) make it harsher
 * when run by hand, e.g. `CRASH_KILLS=12 node --test packages/hub/test/hub-crash.test.ts`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Contract, JsonRpcProvider } from 'ethers';
import { ZERO_ADDRESS, privateKeyToAddress, type Address, type ChannelId } from '@sluice/channel-core';
import { createNode, type Node, type NodeInit } from '@sluice/channel-core/node';
import { freePort, spawnHub, startChain, testNodeInit, until, type ChainSetup, type HubProcess } from './helpers.ts';

const PAYERS = 6;
const KILLS = Number(process.env['CRASH_KILLS'] ?? 4);
const DOWN_MS = Number(process.env['CRASH_DOWN_MS'] ?? 600);
const DEPOSIT = 10n ** 18n;
const COLLATERAL = 10n ** 18n;
const AMOUNT = 10n ** 16n;
const PRICE = 10n ** 13n;

let chain: ChainSetup;
let hubKey: string;
let hubAddress: Address;
let p2pPort: number;
let hub: HubProcess | undefined;
const nodes: Node[] = [];

function hubArgs(): { args: string[]; env: Record<string, string> } {
  return {
    args: ['--rpc-url', chain.anvil.rpcUrl, '--deployment', chain.deploymentFile, '--listen', `/ip4/127.0.0.1/tcp/${p2pPort}`, '--http-port', '0', '--dev-account', '1'],
    env: {
      SLUICE_HUB_STORE: join(chain.dir, 'hub.db'),
      SLUICE_HUB_LOG_LEVEL: 'warn',
      SLUICE_HUB_MAX_LEDGER_DEPOSIT: String(DEPOSIT),
      SLUICE_HUB_MAX_PER_CHANNEL: String(AMOUNT),
      SLUICE_HUB_CHAIN_POLL_MS: '50',
      SLUICE_HUB_OBJECTIVE_TIMEOUT_MS: '2000',
    },
  };
}

function nodeInit(key: string, name: string): NodeInit {
  return testNodeInit(chain, key, name, { address: hubAddress, multiaddrs: hub!.started.multiaddrs }, { callTimeoutMs: 8_000, objectiveTimeoutMs: 2_000, messagingRetry: { initialBackoffMs: 50, maxBackoffMs: 400 } });
}

/** Gas fees paid per sender (lower-case address) in the blocks after `from`. */
async function feesSince(rpc: JsonRpcProvider, from: number): Promise<Map<string, bigint>> {
  const fees = new Map<string, bigint>();
  const last = await rpc.getBlockNumber();
  for (let n = from + 1; n <= last; n++) {
    for (const tx of (await rpc.getBlock(n, true))?.prefetchedTransactions ?? []) {
      const r = await rpc.getTransactionReceipt(tx.hash);
      const who = tx.from.toLowerCase();
      if (r !== null) fees.set(who, (fees.get(who) ?? 0n) + r.fee);
    }
  }
  return fees;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface HubStatus {
  ledgers: { channelId: string; status: string; turnNum: number; hubBalance: string; peerBalance: string; guarantees: number }[];
  virtualChannelCounts: Record<string, number>;
}

async function hubStatus(): Promise<HubStatus> {
  const r = await fetch(new URL('/status', hub!.started.http));
  assert.equal(r.status, 200);
  return (await r.json()) as HubStatus;
}

before(async () => {
  chain = await startChain({ accounts: PAYERS + 3 });
  hubKey = chain.anvil.accounts[1]!;
  hubAddress = privateKeyToAddress(hubKey);
  p2pPort = await freePort();
});

after(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  await hub?.stop('SIGKILL');
  await chain?.stop();
});

test('a hub SIGKILLed and restarted again and again under load: every channel ends, every balance adds up, on chain too', { timeout: 240_000 }, async () => {
  const { args, env } = hubArgs();
  hub = await spawnHub(args, env);

  const bob = createNode(nodeInit(chain.anvil.accounts[2]!, 'bob'));
  const payers = Array.from({ length: PAYERS }, (_, i) => createNode(nodeInit(chain.anvil.accounts[3 + i]!, `payer${i}`)));
  nodes.push(bob, ...payers);
  await Promise.all(nodes.map((n) => n.start()));
  // ---- the ledgers open (on chain: the payers' deposits, the hub's collateral for Bob) while the
  // hub is killed once
  const ledgerOf = new Map<Node, ChannelId>();
  const opening = Promise.all([
    bob.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: COLLATERAL }, { timeoutMs: 60_000 }),
    ...payers.map((p) => p.createLedgerChannel({ counterparty: hubAddress, deposit: DEPOSIT }, { timeoutMs: 60_000 })),
  ]);
  await sleep(100 + Math.floor(Math.random() * 400));
  const openAtKill = [bob, ...payers].map((n) => n.getLedgerChannels().map((l) => l.status).join('') || 'none');
  await hub.stop('SIGKILL');
  await sleep(Math.floor(Math.random() * 300));
  hub = await spawnHub(args, env);
  const opened = await opening;
  [bob, ...payers].forEach((n, i) => ledgerOf.set(n, opened[i]!.channelId));
  const reader = new JsonRpcProvider(chain.anvil.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  try {
    const adjudicator = new Contract(chain.deployment.adjudicator, ['function holdings(address, bytes32) view returns (uint256)'], reader);
    for (const n of [bob, ...payers]) {
      assert.equal(await adjudicator.getFunction('holdings').staticCall(ZERO_ADDRESS, ledgerOf.get(n)!), n === bob ? COLLATERAL : DEPOSIT, 'each deposit made exactly once');
    }
  } finally {
    reader.destroy();
  }

  // ---- load, with the hub killed under it
  let stop = false;
  const errors = new Map<string, number>();
  let cycles = 0;
  const fail = (e: unknown): void => {
    const code = (e as { code?: string }).code ?? String(e).slice(0, 80);
    errors.set(code, (errors.get(code) ?? 0) + 1);
  };
  const loads = payers.map(async (a, i) => {
    for (let k = 0; !stop; k++) {
      try {
        const { channelId } = await a.createVirtualChannel({ payee: bob.address, amount: AMOUNT });
        await until(() => bob.getVirtualChannel(channelId)?.status === 'funded', 'the payee sees it funded', 8_000);
        const n = 1 + ((i + k) % 5);
        for (let j = 0; j < n; j++) assert.equal(bob.receiveVoucher(a.pay(channelId, PRICE), { price: PRICE }).kind, 'accepted');
        await ((i + k) % 2 === 0 ? a : bob).closeVirtualChannel(channelId);
        cycles++;
      } catch (e) {
        fail(e);
        await sleep(100);
      }
    }
  });
  const restarts: number[] = [];
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      await sleep(700 + Math.floor(Math.random() * 1500));
      const before = cycles;
      const exit: { signal: NodeJS.Signals | null } = await hub.stop('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      await sleep(kill === 1 ? 2_500 + Math.floor(Math.random() * 1_000) : Math.floor(Math.random() * DOWN_MS));
      const t = Date.now();
      hub = await spawnHub(args, env);
      restarts.push(Date.now() - t);
      await until(() => cycles > before, 'the load going on after the restart', 30_000);
    }
    await sleep(1_000);
  } finally {
    stop = true;
    await Promise.all(loads);
  }
  assert.ok(cycles >= PAYERS, `cycles completed: ${cycles}`);
  assert.equal(errors.get('ERR_ASSERTION'), undefined, 'a voucher refused during the load');

  // ---- drain: close whatever a late call left open, then wait for every objective to end
  const allNodes = [bob, ...payers];
  const idle = (): boolean => allNodes.every((n) => n.engine.activeObjectives().length === 0);
  for (let round = 0; round < 5; round++) {
    const open = payers.flatMap((a) => a.getVirtualChannels().filter((v) => v.status === 'funded').map((v) => ({ a, v })));
    await Promise.all(open.map(({ a, v }) => a.closeVirtualChannel(v.channelId).catch(fail)));
    await until(idle, 'no objective in progress at the payers and the payee', 60_000).catch(() => {});
    if (idle() && payers.every((a) => a.getVirtualChannels().every((v) => v.status === 'closed' || v.status === 'failed'))) break;
  }
  const hanging = allNodes.flatMap((n) => n.engine.activeObjectives().map((o) => `${n.address.slice(0, 8)} ${o.type} ${o.id}`));
  assert.deepEqual(hanging, [], 'objectives still in progress');

  // ---- every channel ended at both ends, with the same amount
  let paidTotal = 0n;
  for (const a of payers) {
    let paidByA = 0n;
    for (const v of a.getVirtualChannels()) {
      assert.ok(v.status === 'closed' || v.status === 'failed', `${v.channelId} at its payer: ${v.status}`);
      const atBob = bob.getVirtualChannel(v.channelId);
      if (v.status === 'closed') {
        assert.equal(atBob?.status, 'closed', `${v.channelId} closed at the payer, at the payee: ${atBob?.status}`);
        assert.equal(atBob.paid, v.paid, `${v.channelId}: paid`);
        paidByA += v.paid;
      } else {
        assert.ok(atBob === undefined || atBob.status === 'failed', `${v.channelId} failed at the payer, at the payee: ${atBob?.status}`);
        assert.equal(v.paid, 0n, 'a failed channel was never paid on');
      }
    }
    const l = a.getLedgerChannel(ledgerOf.get(a)!)!;
    assert.equal(l.status, 'open');
    assert.equal(l.guarantees, 0, 'no guarantee left');
    assert.equal(l.myBalance, DEPOSIT - paidByA);
    assert.equal(l.counterpartyBalance, paidByA);
    paidTotal += paidByA;
  }
  for (const v of bob.getVirtualChannels()) assert.ok(v.status === 'closed' || v.status === 'failed', `${v.channelId} at the payee: ${v.status}`);
  const lb = bob.getLedgerChannel(ledgerOf.get(bob)!)!;
  assert.equal(lb.guarantees, 0);
  assert.equal(lb.myBalance, paidTotal, 'the payee earned everything paid');
  assert.equal(lb.counterpartyBalance, COLLATERAL - paidTotal);

  // ---- the hub agrees
  await until(async () => {
    const s = await hubStatus();
    return (s.virtualChannelCounts['funding'] ?? 0) + (s.virtualChannelCounts['funded'] ?? 0) + (s.virtualChannelCounts['closing'] ?? 0) === 0;
  }, 'the hub to have no virtual channel in progress', 30_000);
  const s = await hubStatus();
  for (const n of allNodes) {
    const mine = n.getLedgerChannel(ledgerOf.get(n)!)!;
    const its = s.ledgers.find((l) => l.channelId === mine.channelId.toLowerCase());
    assert.ok(its, `the hub has ledger ${mine.channelId}`);
    assert.equal(its.status, 'open');
    assert.equal(its.turnNum, mine.turnNum, `the hub's turn of ${mine.channelId}`);
    assert.equal(its.guarantees, 0);
    assert.equal(BigInt(its.peerBalance), mine.myBalance, `the hub's view of ${mine.channelId}`);
    assert.equal(BigInt(its.hubBalance), mine.counterpartyBalance, `the hub's view of ${mine.channelId}`);
  }

  // ---- and the chain pays exactly those balances out
  const payouts = allNodes.map((n) => n.getLedgerChannel(ledgerOf.get(n)!)!.myBalance);
  const rpc = new JsonRpcProvider(chain.anvil.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  try {
    const from = await rpc.getBlockNumber();
    const before = await Promise.all(allNodes.map((n) => rpc.getBalance(n.address)));
    await Promise.all(allNodes.map((n) => n.closeLedgerChannel(ledgerOf.get(n)!, { timeoutMs: 60_000 })));
    const fees = await feesSince(rpc, from);
    for (const [i, n] of allNodes.entries()) {
      const gain = (await rpc.getBalance(n.address)) - before[i]! + (fees.get(n.address.toLowerCase()) ?? 0n);
      assert.equal(gain, payouts[i], `${n.address}: paid out on chain`);
    }
  } finally {
    rpc.destroy();
  }
  const summary = { openAtKill, cycles, paidTotal: paidTotal.toString(), restartsMs: restarts, errors: Object.fromEntries(errors) };
  console.log(`# hub crash test: ${JSON.stringify(summary)}`);
});
