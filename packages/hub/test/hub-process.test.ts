/**
 * A real `sluice-hub start` process on anvil (contracts deployed by the test): Alice and Bob
 * (in-process nodes over real libp2p) open ledgers with it, a virtual channel through it, pay,
 * close; /healthz, /metrics and `status --json` show it; no key or passphrase in its logs
 * (debug level); SIGTERM exits cleanly; a restart on the same store resumes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ZERO_ADDRESS, privateKeyToAddress, type Address, type ChannelId } from '@sluice/channel-core';
import { createNode, type Node, type NodeInit } from '@sluice/channel-core/node';
import { writeKeyFile } from '@sluice/channel-core/keys';
import { BIN, freePort, metric, spawnHub, startChain, testNodeInit, until, type ChainSetup, type HubProcess } from './helpers.ts';

const PASSPHRASE = 'correct horse battery staple 42';
let chain: ChainSetup;
let hubKey: string;
let hubAddress: Address;
let keyFile: string;
let p2pPort: number;
const nodes: Node[] = [];
let hub: HubProcess | undefined;

function hubArgs(): { args: string[]; env: Record<string, string> } {
  return {
    args: ['--deployment', chain.deploymentFile, '--key-file', keyFile, '--listen', `/ip4/127.0.0.1/tcp/${p2pPort}`, '--http-port', '0'],
    env: {
      SLUICE_HUB_RPC_URL: chain.anvil.rpcUrl,
      SLUICE_HUB_PASSPHRASE: PASSPHRASE,
      SLUICE_HUB_STORE: join(chain.dir, 'hub.db'),
      SLUICE_HUB_LOG_LEVEL: 'debug',
      SLUICE_HUB_MAX_LEDGER_DEPOSIT: String(10n ** 18n),
      SLUICE_HUB_MAX_PER_CHANNEL: String(10n ** 17n),
      SLUICE_HUB_COLLATERAL_CAP: String(15n * 10n ** 16n),
      SLUICE_HUB_CHAIN_POLL_MS: '50',
      SLUICE_HUB_OBJECTIVE_TIMEOUT_MS: '5000',
      SLUICE_HUB_RETAIN_HISTORY: '90m',
    },
  };
}

function nodeInit(key: string, name: string): NodeInit {
  return testNodeInit(chain, key, name, { address: hubAddress, multiaddrs: hub!.started.multiaddrs });
}

async function get(path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(new URL(path, hub!.started.http));
  return { status: r.status, body: await r.text() };
}

function statusJson(url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, 'status', '--json', '--url', url], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    ),
  );
}

before(async () => {
  chain = await startChain();
  hubKey = chain.anvil.accounts[2]!;
  hubAddress = privateKeyToAddress(hubKey);
  keyFile = join(chain.dir, 'hub.key.json');
  await writeKeyFile(keyFile, hubKey, PASSPHRASE, { scryptN: 1024 });
  p2pPort = await freePort();
});

after(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  await hub?.stop('SIGKILL');
  await chain?.stop();
});

test('a hub process serves Alice and Bob; health, metrics, status; no secrets in logs; SIGTERM and restart', async () => {
  const { args, env } = hubArgs();
  hub = await spawnHub(args, env);
  assert.equal(hub.started.peer.toLowerCase(), hubAddress.toLowerCase());

  const health0 = await get('/healthz');
  assert.equal(health0.status, 200);
  const h = JSON.parse(health0.body) as { ok: boolean; address: string; peerId: string; multiaddrs: string[]; chainHead: number; storeOk: boolean; chainId: number; confirmations: number; challengeDurations: unknown };
  assert.equal(h.ok, true);
  assert.equal(h.address.toLowerCase(), hubAddress.toLowerCase());
  assert.equal(h.peerId, hub.started.peerId);
  assert.ok(h.multiaddrs.some((m) => m.includes(`/tcp/${p2pPort}/p2p/`)));
  assert.ok(h.chainHead >= chain.deployment.deployBlock);
  assert.equal(h.storeOk, true);
  assert.equal(h.chainId, 31337);
  assert.equal(h.confirmations, 1); // the local chain's default (no --confirmations given)
  assert.deepEqual(h.challengeDurations, { ledger: [300, 30 * 86_400], virtual: [300, 30 * 86_400] });

  const aliceKey = chain.anvil.accounts[1]!;
  const bobKey = chain.anvil.accounts[3]!;
  const alice = createNode(nodeInit(aliceKey, 'alice'));
  const bob = createNode(nodeInit(bobKey, 'bob'));
  nodes.push(alice, bob);
  await Promise.all([alice.start(), bob.start()]);

  const deposit = 10n ** 18n;
  const collateral = 5n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: hubAddress, deposit }),
    bob.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: collateral }),
  ]);

  const amount = 10n ** 17n;
  const { channelId: v } = await alice.createVirtualChannel({ payee: bob.address, amount });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'bob sees V funded');

  // the policy refuses a channel above --max-per-channel, and one that would pass the total cap
  await assert.rejects(alice.createVirtualChannel({ payee: bob.address, amount: amount + 1n }, { timeoutMs: 10_000 }));
  await assert.rejects(alice.createVirtualChannel({ payee: bob.address, amount: 6n * 10n ** 16n }, { timeoutMs: 10_000 }));
  await until(() => hub!.output.some((l) => l.includes('virtual channel refused: collateral cap')), 'the hub logs the cap refusal', 10_000);

  const price = 10n ** 15n;
  for (let i = 0; i < 10; i++) assert.equal(bob.receiveVoucher(alice.pay(v as ChannelId, price), { price }).kind, 'accepted');

  // while V is open
  let m = (await get('/metrics')).body;
  assert.equal(metric(m, 'sluice_hub_ledger_channels_open', { status: 'open' }), 2);
  assert.equal(metric(m, 'sluice_hub_virtual_channels_open', { status: 'funded' }), 1);
  assert.equal(metric(m, 'sluice_hub_collateral_locked', { asset: ZERO_ADDRESS }), Number(amount));
  assert.ok((metric(m, 'sluice_hub_messages_relayed_total', { mode: 'cut_through' }) ?? 0) + (metric(m, 'sluice_hub_messages_relayed_total', { mode: 'stored' }) ?? 0) > 0, 'messages relayed');
  assert.ok((metric(m, 'sluice_hub_objective_duration_seconds_count', { type: 'virtualFund' }) ?? 0) >= 1);
  assert.ok((metric(m, 'sluice_hub_errors_total', { code: 'HUB_POLICY_REJECTED' }) ?? 0) >= 2, 'the refused channels are counted');

  const st = await statusJson(hub.started.http);
  assert.equal(st.code, 0, st.stderr);
  const s = JSON.parse(st.stdout) as { ledgers: { channelId: string; status: string; hubBalance: string; peerBalance: string }[]; virtualChannels: { channelId: string; amount: string }[]; collateral: { asset: string; locked: string; cap: string | null }[]; history: unknown; ledgerCounts: unknown };
  assert.deepEqual(s.history, { retainMs: 90 * 60_000, prunedChannels: 0, prunedObjectives: 0 }, 'the retention from SLUICE_HUB_RETAIN_HISTORY; nothing that old yet');
  assert.deepEqual(s.ledgerCounts, { open: 2 });
  assert.equal(metric(m, 'sluice_hub_history_pruned_total', { record: 'channels' }), 0, 'a retention pass ran at start');
  assert.deepEqual(s.ledgers.map((l) => l.channelId).sort(), [ai, ib].map((x) => x.toLowerCase()).sort());
  assert.ok(s.ledgers.every((l) => l.status === 'open'));
  assert.equal(s.ledgers.find((l) => l.channelId === ib.toLowerCase())?.hubBalance, String(collateral - amount));
  assert.deepEqual(s.virtualChannels.map((x) => [x.channelId, x.amount]), [[v.toLowerCase(), String(amount)]]);
  assert.equal(s.collateral[0]?.locked, String(amount));
  assert.equal(s.collateral[0]?.cap, String(15n * 10n ** 16n));

  const { paid } = await bob.closeVirtualChannel(v);
  assert.equal(paid, 10n * price);
  await until(() => alice.getVirtualChannel(v)?.status === 'closed', 'alice sees V closed');
  m = (await get('/metrics')).body;
  assert.equal(metric(m, 'sluice_hub_virtual_channels_open', { status: 'funded' }), 0);
  assert.ok((metric(m, 'sluice_hub_objectives_total', { type: 'virtualDefund', outcome: 'completed' }) ?? 0) >= 1);

  // graceful shutdown
  const exit = await hub.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null });
  const logs = hub.output.join('\n');
  assert.match(logs, /"msg":"shutting down"/);
  assert.match(logs, /"msg":"hub stopped"/);
  assert.match(logs, /"channelId":"0x/);
  assert.match(logs, /"objectiveId":"/);
  const hex = hubKey.slice(2).toLowerCase();
  assert.ok(!logs.toLowerCase().includes(hex), 'no private key in logs');
  assert.ok(!logs.includes(PASSPHRASE), 'no passphrase in logs');

  // restart on the same store: same ledgers, and a new virtual channel works
  hub = await spawnHub(args, env);
  const s2 = JSON.parse((await statusJson(hub.started.http)).stdout) as { ledgers: { channelId: string; status: string; peerBalance: string }[]; virtualChannelCounts: Record<string, number> };
  assert.deepEqual(s2.ledgers.map((l) => [l.channelId, l.status]).sort(), [ai, ib].map((x) => [x.toLowerCase(), 'open']).sort());
  assert.equal(s2.virtualChannelCounts['closed'], 1);
  assert.equal(s2.ledgers.find((l) => l.channelId === ai.toLowerCase())?.peerBalance, String(deposit - paid));
  const { channelId: v2 } = await alice.createVirtualChannel({ payee: bob.address, amount });
  await until(() => bob.getVirtualChannel(v2)?.status === 'funded', 'bob sees V2 funded');
  assert.equal(bob.receiveVoucher(alice.pay(v2 as ChannelId, price), { price }).kind, 'accepted');
  await alice.closeVirtualChannel(v2);
  await until(() => bob.getVirtualChannel(v2)?.status === 'closed', 'bob sees V2 closed');
  const exit2 = await hub.stop('SIGINT');
  assert.deepEqual(exit2, { code: 0, signal: null });
  assert.ok(!hub.output.join('\n').toLowerCase().includes(hex), 'no private key in logs after restart');
});
