/**
 * The on-chain fallback as users run it, every actor a real CLI on anvil: `sluice-hub start`
 * (Irene), `sluice-provider start` (Bob), `sluice get` (Alice) pays N chunks and keeps her
 * virtual channel open. Then the hub is SIGKILLed. `sluice-provider settle --force` goes on chain;
 * `sluice-provider status --json` shows the disputes (phase, time left, Bob's share) and
 * /metrics the challenge; after the challenge durations (time travel) Bob's node has paid him
 * exactly N × price. Alice's `sluice withdraw --force --wait` gets her deposit − N × price back;
 * the restarted hub counts the challenges it missed. And a stopped hub whose provider is gone takes
 * its collateral back with `sluice-hub settle --force --wait`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { JsonRpcProvider } from 'ethers';
import { startAnvil, type Anvil } from '@sluice/contracts/anvil';
import { devAccount } from '@sluice/channel-core/keys';
import { bytesToHex } from '@sluice/channel-core';
import { CLIENT, HUB, PROVIDER, type Proc, deployTo, live, spawnUntil } from './cli-procs.ts';

const PRICE = 1_000_000_000n;

function run(bin: string, args: string[], onStderr?: (s: string) => void, env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env === undefined ? {} : { env: { ...process.env, ...env } }) });
    live.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    p.on('close', (code) => {
      live.delete(p);
      res({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await pred())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) return Number(m[3]);
  }
  return undefined;
}

interface Dispute { channelId: string; kind: string; phase: string; secondsLeft: number | null; mine: string; amounts: { participant: string; amount: string }[] }
interface ProviderStatus { ledgers: { channelId: string; status: string }[]; virtualChannels: { channelId: string; status: string; earned: string }[]; disputes: Dispute[]; transactions: { kind: string; txHash: string }[]; payouts: { channelId: string; mine: string }[] }

describe('on-chain fallback through the CLIs: hub killed, provider settles, client withdraws', { timeout: 170_000 }, () => {
  let anvil: Anvil;
  let rpc: JsonRpcProvider;
  let dir: string;
  let deploymentFile: string;
  const procs: Proc[] = [];
  before(async () => {
    anvil = await startAnvil();
    dir = await mkdtemp(join(tmpdir(), 'sluice-fallback-cli-'));
    rpc = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
    deploymentFile = await deployTo(anvil, dir);
  });
  after(async () => {
    for (const p of procs.reverse()) await p.stop('SIGKILL');
    rpc?.destroy();
    await anvil?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** ETH balance change of `who` since block `from` with the gas it paid added back. */
  async function netChange(who: string, before: bigint, from: number): Promise<bigint> {
    const now = await rpc.getBalance(who);
    let fees = 0n;
    const last = await rpc.getBlockNumber();
    for (let n = from + 1; n <= last; n++) {
      const b = await rpc.getBlock(n, true);
      for (const tx of b?.prefetchedTransactions ?? []) {
        if (tx.from.toLowerCase() !== who.toLowerCase()) continue;
        const r = await rpc.getTransactionReceipt(tx.hash);
        if (r !== null) fees += r.fee;
      }
    }
    return now - before + fees;
  }

  async function timeTravel(seconds: number): Promise<void> {
    await rpc.send('evm_increaseTime', [seconds]);
    await rpc.send('evm_mine', []);
  }

  it('settles on chain and pays Bob exactly N x price, Alice the rest', async () => {
    const chain = ['--rpc-url', anvil.rpcUrl, '--deployment', deploymentFile, '--chain-poll-ms', '100'];
    const hub = await spawnUntil(HUB, ['start', ...chain, '--dev-account', '1', '--listen', '/ip4/127.0.0.1/tcp/0', '--store', join(dir, 'hub.db'), '--max-ledger-deposit', (10n ** 19n).toString(), '--http-port', '0', '--log-level', 'warn'], (j) => j['ready'] === true);
    procs.push(hub);
    const hubAddress = hub.ready['address'] as string;
    const hubMultiaddr = (hub.ready['multiaddrs'] as string[])[0]!;

    const src = join(dir, 'movie.bin');
    await writeFile(src, randomBytes(3 * 262_144 + 17));
    const add = await run(PROVIDER, ['add', src, '--data', join(dir, 'bob'), '--json']);
    assert.equal(add.code, 0, add.stderr);
    const [entry] = JSON.parse(add.stdout) as { cid: string; chunks: number }[];
    const bob = await spawnUntil(PROVIDER, ['start', ...chain, '--dev-account', '2', '--data', join(dir, 'bob'), '--port', '0', '--price', PRICE.toString(), '--hub-address', hubAddress, '--hub-multiaddr', hubMultiaddr, '--hub-collateral', (10n ** 17n).toString(), '--admin-token', 't', '--log-level', 'info'], (j) => typeof j['listening'] === 'string');
    procs.push(bob);
    const base = bob.ready['listening'] as string;
    const admin = ['--url', base, '--admin-token', 't'];

    // Alice downloads and keeps her virtual channel open (no --close).
    const got = await run(CLIENT, ['get', `${base}/files/${entry!.cid}`, '-o', join(dir, 'got.bin'), '--json', '--window', '2', '--budget', (10n ** 16n).toString(), ...chain, '--dev-account', '3', '--home', join(dir, 'alice')]);
    assert.equal(got.code, 0, `${got.stdout}\n${got.stderr}`);
    const paid = BigInt((JSON.parse(got.stdout) as { paid: string }).paid);
    assert.equal(paid, BigInt(entry!.chunks) * PRICE);
    const bobAddress = devAccount(2, 31337n).address;
    const aliceAddress = devAccount(3, 31337n).address;

    const block0 = await rpc.getBlockNumber();
    const bal0 = { bob: await rpc.getBalance(bobAddress), alice: await rpc.getBalance(aliceAddress) };

    // The hub dies.
    await hub.stop('SIGKILL');

    // Bob settles on chain at once.
    const settle = await run(PROVIDER, ['settle', '--force', '--json', ...admin]);
    assert.equal(settle.code, 0, `${settle.stdout}\n${settle.stderr}`);
    const report = JSON.parse(settle.stdout) as { onChain: boolean; virtualChannels: { channelId: string; mode: string }[]; ledgers: { channelId: string; mode: string }[] };
    assert.equal(report.onChain, true);
    assert.deepEqual(report.virtualChannels.map((v) => v.mode), ['onChain']);
    assert.deepEqual(report.ledgers.map((l) => l.mode), ['onChain']);
    const v = report.virtualChannels[0]!.channelId;
    const ib = report.ledgers[0]!.channelId;

    // While the challenges run: status shows them with time left and Bob's share; metrics count them.
    let st: ProviderStatus | undefined;
    await until(async () => {
      const r = await run(PROVIDER, ['status', '--json', ...admin]);
      st = JSON.parse(r.stdout) as ProviderStatus;
      const dv = st.disputes.find((d) => d.channelId === v);
      const dl = st.disputes.find((d) => d.channelId === ib);
      return dv?.phase === 'challenge' && dl?.phase === 'challenge';
    }, 'V and the ledger in challenge', 60_000);
    const dv = st!.disputes.find((d) => d.channelId === v)!;
    assert.equal(dv.kind, 'virtual');
    assert.ok(dv.secondsLeft !== null && dv.secondsLeft > 0, 'time left');
    assert.equal(BigInt(dv.mine), paid, "Bob's share of V is his best voucher");
    assert.ok(st!.transactions.some((t) => t.kind === 'challenge' && /^0x[0-9a-f]{64}$/.test(t.txHash)), 'tx hashes shown');
    const human = await run(PROVIDER, ['status', ...admin]);
    assert.match(human.stdout, /in challenge \/ settling on chain \(2\)/);
    assert.match(human.stdout, /virtual\s+challenge/);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.ok((metric(metrics, 'sluice_challenges_total', { kind: 'virtual', role: 'us' }) ?? 0) >= 1, 'the challenge of V is counted');
    assert.ok((metric(metrics, 'sluice_fallback_transactions_total', { kind: 'challenge' }) ?? 0) >= 2);
    assert.ok((metric(metrics, 'sluice_fallback_gas_total') ?? 0) > 0);
    assert.ok((metric(metrics, 'sluice_disputes_open', { kind: 'virtual', phase: 'challenge' }) ?? 0) >= 1);
    assert.ok(bob.lines.some((l) => l.includes('fallback transaction mined') && l.includes('"txHash"')), 'a log line per fallback transaction');

    // The challenge durations pass (real-network defaults: 1 day for ledgers, 1 hour for V).
    await timeTravel(86_400 + 3_600 + 60);
    await until(async () => {
      const r = await run(PROVIDER, ['status', '--json', ...admin]);
      st = JSON.parse(r.stdout) as ProviderStatus;
      return st.disputes.length === 0 && st.ledgers.find((l) => l.channelId === ib)?.status === 'closed';
    }, "Bob's ledger paid out", 60_000);
    assert.equal(BigInt(st!.payouts.find((p) => p.channelId === ib)?.mine ?? '-1'), paid);
    assert.equal(await netChange(bobAddress, bal0.bob, block0), paid, 'Bob: exactly N x price');
    const m2 = await (await fetch(`${base}/metrics`)).text();
    assert.equal(metric(m2, 'sluice_payouts_total'), 1);
    assert.equal(metric(m2, 'sluice_disputes_open', { kind: 'virtual', phase: 'challenge' }), 0);

    // Alice: her node was not running; `sluice status` shows her ledger and V, `withdraw` gets her rest.
    // Her key the ways a user gives it: SLUICE_KEY for status, and for withdraw the key file
    // `sluice keys new|import` wrote in her home directory (no key flag at all)
    const aliceKey = bytesToHex(devAccount(3, 31337n).privateKey);
    const home = ['--home', join(dir, 'alice'), ...chain];
    const as = await run(CLIENT, ['status', '--json', ...home], undefined, { SLUICE_KEY: aliceKey });
    assert.equal(as.code, 0, as.stderr);
    const userHome = join(dir, 'alice-user');
    const imported = await run(CLIENT, ['keys', 'import', '--json'], undefined, { HOME: userHome, SLUICE_KEY: aliceKey, SLUICE_PASSPHRASE: 'alice-passphrase' });
    assert.equal(imported.code, 0, imported.stderr);
    const keyFileEnv = { HOME: userHome, SLUICE_PASSPHRASE: 'alice-passphrase' };
    const aliceStatus = JSON.parse(as.stdout) as { ledgers: { myBalance: string; status: string }[]; virtualChannels: { amount: string; paid: string; status: string }[] };
    // read after catching up with the chain: Bob's on-chain settlement of V happened while her node was off
    assert.equal(aliceStatus.virtualChannels[0]?.status, 'closed', as.stdout);
    const owed = BigInt(aliceStatus.ledgers[0]!.myBalance) + BigInt(aliceStatus.virtualChannels[0]!.amount) - paid;
    // without --wait it returns once the challenges are on chain (not while still registering)
    const started = await run(CLIENT, ['withdraw', '--force', ...home], undefined, keyFileEnv);
    assert.equal(started.code, 0, `${started.stdout}\n${started.stderr}`);
    assert.match(started.stdout, /in challenge \/ settling on chain/);
    assert.doesNotMatch(started.stdout, /registering|about -|not mined yet/, started.stdout);
    let travelled = false;
    const w = await run(CLIENT, ['withdraw', '--force', '--wait', '--json', '--poll-ms', '200', '--timeout', '60000', ...home], (err) => {
      // once her ledger challenge is registered, let the challenge duration pass
      if (!travelled && /waiting: .*ledger \S+ challenge/.test(err)) {
        travelled = true;
        void timeTravel(86_400 + 60);
      }
    }, keyFileEnv);
    assert.equal(w.code, 0, `${w.stdout}\n${w.stderr}`);
    const wr = JSON.parse(w.stdout) as { done: boolean; onChain: boolean };
    assert.equal(wr.onChain, true);
    assert.equal(wr.done, true);
    assert.match(w.stderr, /tx (challenge|reclaim|transferAllAssets) 0x[0-9a-f]{64}/);
    assert.equal(await netChange(aliceAddress, bal0.alice, block0), owed, 'Alice: her deposit minus N x price');

    // The hub, restarted on its store, catches up: it counts the challenges it missed, shows no
    // dispute left and its ledgers closed; stopped again, `sluice-hub settle` finds nothing to do.
    const hubArgs = [...chain, '--dev-account', '1', '--listen', '/ip4/127.0.0.1/tcp/0', '--store', join(dir, 'hub.db'), '--max-ledger-deposit', (10n ** 19n).toString(), '--log-level', 'warn'];
    const hub2 = await spawnUntil(HUB, ['start', ...hubArgs, '--http-port', '0'], (j) => j['ready'] === true);
    procs.push(hub2);
    const hubHttp = hub2.ready['http'] as string;
    await until(async () => (metric(await (await fetch(`${hubHttp}/metrics`)).text(), 'sluice_challenges_total', { kind: 'virtual', role: 'peer' }) ?? 0) >= 1, 'the hub counts the challenge of V', 40_000);
    await until(async () => {
      const r = await run(HUB, ['status', '--json', '--url', hubHttp]);
      const j = JSON.parse(r.stdout) as { ledgers: { status: string }[]; disputes: unknown[] };
      return j.disputes.length === 0 && j.ledgers.every((l) => l.status === 'closed');
    }, 'the restarted hub sees its ledgers closed', 30_000);
    assert.ok(hub2.lines.some((l) => l.includes('challenge registered on chain') && l.includes('"txHash"')), 'the hub logs each challenge');
    await hub2.stop();
    const hs = await run(HUB, ['settle', '--json', ...hubArgs, '--http-port', '1']);
    assert.equal(hs.code, 0, hs.stderr);
    assert.deepEqual((JSON.parse(hs.stdout) as { ledgers: unknown[] }).ledgers, []);
  });
  it('sluice-hub settle --force --wait: the stopped hub takes its collateral back on chain from a provider that is gone', async () => {
    const chain = ['--rpc-url', anvil.rpcUrl, '--deployment', deploymentFile, '--chain-poll-ms', '100'];
    const hubArgs = [...chain, '--dev-account', '4', '--listen', '/ip4/127.0.0.1/tcp/0', '--store', join(dir, 'hub-b.db'), '--max-ledger-deposit', (10n ** 19n).toString(), '--log-level', 'warn'];
    const hub = await spawnUntil(HUB, ['start', ...hubArgs, '--http-port', '0'], (j) => j['ready'] === true);
    procs.push(hub);
    const collateral = 10n ** 17n;
    const bob = await spawnUntil(PROVIDER, ['start', ...chain, '--dev-account', '5', '--data', join(dir, 'bob-b'), '--port', '0', '--hub-address', hub.ready['address'] as string, '--hub-multiaddr', (hub.ready['multiaddrs'] as string[])[0]!, '--hub-collateral', collateral.toString(), '--admin-token', 't', '--log-level', 'warn'], (j) => typeof j['listening'] === 'string');
    procs.push(bob);
    await until(async () => {
      const r = await run(PROVIDER, ['status', '--json', '--url', bob.ready['listening'] as string, '--admin-token', 't']);
      return (JSON.parse(r.stdout) as ProviderStatus).ledgers.some((l) => l.status === 'open');
    }, "Bob's ledger with the hub open", 30_000);
    const hubAddress = hub.ready['address'] as string;
    const block0 = await rpc.getBlockNumber();
    const bal0 = await rpc.getBalance(hubAddress);
    await bob.stop('SIGKILL'); // the provider is gone
    await hub.stop(); // the hub winds down

    let travelled = false;
    const r = await run(HUB, ['settle', '--force', '--wait', '--json', '--poll-ms', '200', '--timeout', '60000', ...hubArgs, '--http-port', '0'], (err) => {
      if (!travelled && /waiting: ledger \S+ challenge/.test(err)) {
        travelled = true;
        void timeTravel(86_400 + 60);
      }
    });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const j = JSON.parse(r.stdout) as { onChain: boolean; ledgers: { mode: string; hubBalance: string }[]; events: string[] };
    assert.equal(j.onChain, true);
    assert.deepEqual(j.ledgers.map((l) => l.mode), ['onChain']);
    assert.ok(j.events.some((e) => /^tx challenge 0x[0-9a-f]{64}/.test(e)), 'the challenge tx hash is reported');
    assert.ok(j.events.some((e) => /^payout from ledger/.test(e)), 'the payout is reported');
    assert.equal(await netChange(hubAddress, bal0, block0), collateral, 'the hub gets its collateral back');
  });
});
