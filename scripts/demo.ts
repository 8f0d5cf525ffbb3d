/**
 * `npm run demo` — Sluice's main job, end to end, on this machine, with no network:
 *
 *  1. start a local chain (anvil, from npm) that this script owns;
 *  2. deploy the contracts with `sluice deploy`;
 *  3. use three of anvil's funded dev accounts: Alice (client), Irene (hub), Bob (provider);
 *  4. generate a sample file and import it with `sluice-provider add`;
 *  5. start `sluice-hub start` (Irene) and `sluice-provider start` (Bob, who opens a ledger
 *     channel with Irene, on chain);
 *  6. download the file with `sluice get --close` (Alice opens a ledger with Irene on chain, a
 *     virtual channel to Bob off chain, pays per chunk with vouchers, verifies every chunk,
 *     and closes the virtual channel);
 *  7. have Bob withdraw his earnings on chain (`sluice-provider settle`: close his ledger);
 *  8. check the downloaded bytes, and print a summary from what the chain and the processes report.
 *
 * Every process and temporary file it creates is removed at the end, also on Ctrl-C (exit 130)
 * or on failure (exit 1, with the reason and the failing process's last lines).
 *
 * Usage: node scripts/demo.ts [--size-mib N] [--price WEI] [--window N] [--json] [--help]
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { once } from 'node:events';
import { JsonRpcProvider, formatEther } from 'ethers';
import { startAnvil } from '@sluice/contracts/anvil';
import { devAccount } from '@sluice/channel-core/keys';
import { Supervisor, type Child } from './lib/supervisor.ts';
import { bySender, transactionsIn } from './lib/chain-report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = {
  sluice: join(ROOT, 'packages/client/bin/sluice.js'),
  hub: join(ROOT, 'packages/hub/bin/sluice-hub.js'),
  provider: join(ROOT, 'packages/provider/bin/sluice-provider.js'),
};
const CHUNK = 262_144;
const CHAIN_ID = 31337n;
const ACCOUNTS = { deployer: 0, irene: 1, bob: 2, alice: 3 } as const;

const HELP = `npm run demo [-- options]

Runs Sluice's main job on a local chain it starts and stops itself: deploy the contracts,
start a hub (Irene) and a provider (Bob) hosting a generated file, download it with the
client (Alice) paying per chunk through a virtual channel, close the channel, withdraw
Bob's earnings on chain, verify the bytes and print a summary. Needs no network.

Options (env in brackets):
  --size-mib <n>   sample file size in MiB, 1..1024 [SLUICE_DEMO_SIZE_MIB] (default 16)
  --price <wei>    price per 256 KiB chunk in wei, at least 1 [SLUICE_DEMO_PRICE] (default 1000000000000)
  --window <n>     prepaid window of the client, in chunks [SLUICE_DEMO_WINDOW] (default 16)
  --json           human-readable progress on stderr, the summary as one JSON line on stdout
  -h, --help       this text

Exit codes: 0 done; 1 failed (the reason is printed); 2 bad option; 130 interrupted.
Every process and temporary file the demo starts is removed on exit, Ctrl-C included.`;

interface Options {
  sizeMib: number;
  price: bigint;
  window: number;
  json: boolean;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      'size-mib': { type: 'string' },
      price: { type: 'string' },
      window: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const size = Number(values['size-mib'] ?? process.env['SLUICE_DEMO_SIZE_MIB'] ?? 16);
  if (!Number.isInteger(size) || size < 1 || size > 1024) throw new UsageError('--size-mib must be an integer 1..1024');
  const priceText = values.price ?? process.env['SLUICE_DEMO_PRICE'] ?? '1000000000000';
  if (!/^[0-9]{1,30}$/.test(priceText) || BigInt(priceText) === 0n) throw new UsageError('--price must be a positive integer (wei): the download is paid on a virtual channel');
  const window = Number(values.window ?? process.env['SLUICE_DEMO_WINDOW'] ?? 16);
  if (!Number.isInteger(window) || window < 1 || window > 4096) throw new UsageError('--window must be an integer 1..4096');
  return { sizeMib: size, price: BigInt(priceText), window, json: values.json === true };
}

function mib(n: number): string {
  return `${(n / 1_048_576).toFixed(1)} MiB`;
}
function eth(wei: bigint): string {
  return `${formatEther(wei)} ETH`;
}
function group(n: bigint | number): string {
  return n.toLocaleString('en-US');
}

/** Write `size` random bytes to `path`; resolves to their sha256 (hex). */
async function writeSample(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = size; left > 0; ) {
    const piece = randomBytes(Math.min(left, 4 * 1_048_576));
    hash.update(piece);
    if (!out.write(piece)) await once(out, 'drain');
    left -= piece.length;
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const c of createReadStream(path)) hash.update(c as Buffer);
  return hash.digest('hex');
}

/** Run a CLI to completion; rejects with its output if it fails. */
async function runToEnd(sup: Supervisor, name: string, script: string, args: string[]): Promise<string> {
  let stdout = '';
  const c = sup.spawnNode(name, script, args, { onLine: (l, s) => { if (s === 'stdout') stdout += `${l}\n`; } });
  const code = await c.exited;
  if (code !== 0) throw new StepError(name, `exited with ${code}`, c);
  return stdout;
}

class StepError extends Error {
  readonly child: Child | undefined;
  constructor(step: string, message: string, child?: Child) {
    super(`${step}: ${message}`);
    this.child = child;
  }
}

/** Parse a Prometheus text exposition into name → summed value (labels dropped). */
function promTotals(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    m.set(match[1]!, (m.get(match[1]!) ?? 0) + Number(match[3]));
  }
  return m;
}

async function main(): Promise<number> {
  let opts: Options | 'help';
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n\n${HELP}\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const o = opts;
  const say = (s: string): void => {
    (o.json ? process.stderr : process.stdout).write(`${s}\n`);
  };
  const sup = new Supervisor();
  let workdir: string | undefined;
  let interrupted = false;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      await sup.stopAll();
      if (workdir !== undefined) await rm(workdir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) {
      // Second Ctrl-C: no more waiting.
      sup.killAll();
      process.exit(130);
    }
    interrupted = true;
    process.stderr.write(`\ndemo: ${sig === 'SIGINT' ? 'interrupted' : sig}; stopping ${sup.pids().length} process(es) and removing ${workdir ?? 'nothing'}...\n`);
    void cleanup().then(
      () => {
        process.stderr.write('demo: stopped, nothing left behind\n');
        process.exit(130);
      },
      () => process.exit(130),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // Our output went away (e.g. `npm run demo | head -1`, EPIPE): stop and clean up as for a
  // signal, instead of dying on the unhandled stream error with everything left behind.
  const onOutputError = (): void => {
    if (interrupted) return;
    interrupted = true;
    void cleanup().finally(() => process.exit(1));
  };
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);

  const t0 = performance.now();
  const step = (n: number, what: string, text: string): void => say(`[${n}/8] ${what.padEnd(10)} ${text}`);
  try {
    workdir = await mkdtemp(join(tmpdir(), 'sluice-demo-'));
    say('Sluice demo: a paid download through a Nitro virtual channel, on a local chain');
    say(`       work dir   ${workdir} (removed at exit)`);

    // 1. chain
    const anvil = await startAnvil({ chainId: Number(CHAIN_ID) });
    sup.adopt('anvil', anvil.pid, anvil.stop);
    step(1, 'chain', `anvil (pid ${anvil.pid}) on ${anvil.rpcUrl}, chain id ${CHAIN_ID}, a block per transaction`);
    const rpc = new JsonRpcProvider(anvil.rpcUrl, Number(CHAIN_ID), { staticNetwork: true, cacheTimeout: -1, pollingInterval: 100 });
    try {
      // 2. contracts
      const deploymentFile = join(workdir, 'deployment.json');
      const dOut = await runToEnd(sup, 'sluice deploy', BIN.sluice, ['deploy', '--rpc-url', anvil.rpcUrl, '--chain-id', String(CHAIN_ID), '--dev-account', String(ACCOUNTS.deployer), '--out', deploymentFile, '--json']);
      const deployment = (JSON.parse(dOut.trim().split('\n').pop()!) as { deployment: { adjudicator: string; consensusApp: string; virtualPaymentApp: string; deployBlock: number } }).deployment;
      step(2, 'contracts', `sluice deploy: NitroAdjudicator ${deployment.adjudicator}, ConsensusApp ${deployment.consensusApp}, VirtualPaymentApp ${deployment.virtualPaymentApp}`);

      // 3. accounts
      const who = {
        deployer: devAccount(ACCOUNTS.deployer, CHAIN_ID).address,
        alice: devAccount(ACCOUNTS.alice, CHAIN_ID).address,
        irene: devAccount(ACCOUNTS.irene, CHAIN_ID).address,
        bob: devAccount(ACCOUNTS.bob, CHAIN_ID).address,
      };
      const balance = async (a: string): Promise<bigint> => rpc.getBalance(a);
      const startBalances = { alice: await balance(who.alice), irene: await balance(who.irene), bob: await balance(who.bob) };
      step(3, 'accounts', `anvil dev accounts, funded at genesis: Alice (client) ${who.alice}, Irene (hub) ${who.irene}, Bob (provider) ${who.bob}; ${eth(startBalances.alice)} each`);

      // 4. content
      const size = o.sizeMib * 1_048_576;
      const sample = join(workdir, 'sample.bin');
      const sampleHash = await writeSample(sample, size);
      const bobData = join(workdir, 'bob');
      const added = JSON.parse(await runToEnd(sup, 'sluice-provider add', BIN.provider, ['add', sample, '--data', bobData, '--json'])) as { cid: string; chunks: number }[];
      const entry = added[0];
      if (entry === undefined) throw new StepError('sluice-provider add', 'imported nothing');
      step(4, 'content', `${mib(size)} of random bytes -> ${entry.cid} (${entry.chunks} chunks of 256 KiB)`);

      // 5. hub
      const chainFlags = ['--rpc-url', anvil.rpcUrl, '--deployment', deploymentFile, '--chain-poll-ms', '100'];
      const hub = sup.spawnNode('sluice-hub', BIN.hub, ['start', ...chainFlags, '--dev-account', String(ACCOUNTS.irene), '--listen', '/ip4/127.0.0.1/tcp/0', '--store', join(workdir, 'hub.db'), '--max-ledger-deposit', (10n ** 19n).toString(), '--http-port', '0', '--log-level', 'warn']);
      const hubReady = await hub.waitForJson((j) => j['ready'] === true, 60_000);
      const hubMultiaddr = (hubReady['multiaddrs'] as string[])[0]!;
      step(5, 'hub', `sluice-hub start (pid ${hub.process.pid}): Irene at ${hubMultiaddr}`);

      // 6. provider
      const adminToken = randomBytes(16).toString('hex');
      const collateral = 10n ** 17n;
      const bob = sup.spawnNode('sluice-provider', BIN.provider, ['start', ...chainFlags, '--dev-account', String(ACCOUNTS.bob), '--data', bobData, '--port', '0', '--price', o.price.toString(), '--hub-address', String(hubReady['address']), '--hub-multiaddr', hubMultiaddr, '--hub-collateral', collateral.toString(), '--log-level', 'warn'], { env: { ...process.env, SLUICE_ADMIN_TOKEN: adminToken } });
      const bobReady = await bob.waitForJson((j) => typeof j['listening'] === 'string', 90_000);
      const base = String(bobReady['listening']);
      const url = `${base}/files/${entry.cid}`;
      step(6, 'provider', `sluice-provider start (pid ${bob.process.pid}): Bob serves ${base} at ${group(o.price)} wei per chunk; Irene backs him with ${eth(collateral)} of collateral`);

      // 7. download
      const budget = o.price * BigInt(entry.chunks) * 2n;
      const output = join(workdir, 'downloaded.bin');
      const tty = !o.json && process.stderr.isTTY === true;
      step(7, 'download', `sluice get ${url} --close (Alice: ledger with Irene, virtual channel to Bob, ${o.window}-chunk prepaid window, budget ${eth(budget)})`);
      let streamMBps: number | undefined;
      let paidByAlice: bigint | undefined;
      const getStart = performance.now();
      const get = sup.spawnNode(
        'sluice get',
        BIN.sluice,
        ['get', url, '-o', output, '--close', '--window', String(o.window), '--budget', budget.toString(), ...chainFlags, '--dev-account', String(ACCOUNTS.alice), '--home', join(workdir, 'alice')],
        {
          inheritStderr: tty,
          onLine: (line) => {
            const saved = /([0-9.]+) MB\/s\), paid ([0-9]+)/.exec(line);
            if (saved !== null) {
              streamMBps = Number(saved[1]);
              paidByAlice = BigInt(saved[2]!);
            }
            say(`       | ${line}`);
          },
        },
      );
      const getCode = await get.exited;
      const getSeconds = (performance.now() - getStart) / 1000;
      if (getCode !== 0) throw new StepError('sluice get', `exited with ${getCode}`, get);

      const verified = (await sha256File(output)) === sampleHash;
      if (!verified) throw new StepError('verify', 'the downloaded file differs from the sample');

      const metrics = promTotals(await (await fetch(`${base}/metrics`)).text());
      const auth = { authorization: `Bearer ${adminToken}` };
      const earnings = (await (await fetch(`${base}/admin/earnings`, { headers: auth })).json()) as { total: string; channels: { status: string; chunks: number }[] };
      const earned = BigInt(earnings.total);
      paidByAlice ??= earned;
      if (earned !== o.price * BigInt(entry.chunks)) throw new StepError('earnings', `Bob earned ${earned} wei, expected ${o.price * BigInt(entry.chunks)}`);

      // 8. withdraw: the provider's own CLI asks the running provider to settle (admin API):
      // Alice already closed the virtual channel, so this closes Bob's ledger with Irene on chain.
      const blockBefore = await rpc.getBlockNumber();
      const bobBefore = await balance(who.bob);
      step(8, 'withdraw', `sluice-provider settle --url ${base} (Bob closes his ledger with Irene and withdraws on chain)`);
      const settle = sup.spawnNode('sluice-provider settle', BIN.provider, ['settle', '--url', base], {
        env: { ...process.env, SLUICE_ADMIN_TOKEN: adminToken },
        onLine: (line) => say(`       | ${line}`),
      });
      const settleCode = await settle.exited;
      if (settleCode !== 0) throw new StepError('sluice-provider settle', `exited with ${settleCode}`, settle);
      const blockAfter = await rpc.getBlockNumber();
      const bobAfter = await balance(who.bob);
      const withdrawTxs = await transactionsIn(rpc, blockBefore + 1, blockAfter);
      const bobFees = withdrawTxs.filter((t) => t.from === who.bob.toLowerCase()).reduce((s, t) => s + t.fee, 0n);
      const bobReceived = bobAfter - bobBefore + bobFees;
      if (bobReceived !== earned) throw new StepError('withdraw', `Bob's account received ${bobReceived} wei on chain, his earnings are ${earned} wei`, bob);
      say(`       ${eth(bobReceived)} arrived in Bob's account on chain (${withdrawTxs.length} transaction(s))`);

      // What the chain saw, from block 1 to now.
      const all = await transactionsIn(rpc, 1, blockAfter);
      const names: Record<string, string> = { [who.deployer.toLowerCase()]: 'deploy', [who.alice.toLowerCase()]: 'Alice', [who.irene.toLowerCase()]: 'Irene', [who.bob.toLowerCase()]: 'Bob' };
      const groups = bySender(all, names);
      const totalGas = all.reduce((s, t) => s + t.gasUsed, 0n);
      const channelTxs = all.filter((t) => names[t.from] !== 'deploy');
      const vouchers = (metrics.get('sluice_provider_vouchers_accepted_total') ?? 0);
      const coalesced = (metrics.get('sluice_provider_vouchers_coalesced_total') ?? 0);
      const e2eMBps = size / 1e6 / getSeconds;

      const summary = {
        ok: true,
        fileBytes: size,
        cid: entry.cid,
        chunks: entry.chunks,
        pricePerChunkWei: o.price.toString(),
        vouchersAccepted: vouchers,
        vouchersCoalesced: coalesced,
        paidWei: paidByAlice.toString(),
        earnedWei: earned.toString(),
        withdrawnWei: bobReceived.toString(),
        verified,
        transactions: { count: all.length, gas: totalGas.toString(), channelCount: channelTxs.length, channelGas: channelTxs.reduce((s, t) => s + t.gasUsed, 0n).toString(), bySender: groups.map((g) => ({ ...g, gas: g.gas.toString() })) },
        getSeconds: Number(getSeconds.toFixed(2)),
        streamMBps: streamMBps ?? null,
        endToEndMBps: Number(e2eMBps.toFixed(2)),
        totalSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
      };
      say('');
      say('Summary');
      say(`  file                ${mib(size)} (${group(size)} bytes), ${entry.chunks} chunks of ${CHUNK / 1024} KiB, sha256 verified: ${verified ? 'yes' : 'NO'}`);
      say(`  vouchers            ${vouchers} accepted by Bob${coalesced > 0 ? ` (+${coalesced} superseded by a newer one before checking)` : ''}, window ${o.window}`);
      say(`  paid                ${eth(paidByAlice)} (${entry.chunks} x ${group(o.price)} wei), off chain`);
      say(`  withdrawn           ${eth(bobReceived)} to Bob on chain (his earnings: ${eth(earned)})`);
      say(`  on-chain txs        ${all.length}, ${group(totalGas)} gas: ${groups.map((g) => `${g.name} ${g.count} (${group(g.gas)} gas)`).join(', ')}`);
      say(`                      none per chunk: ${channelTxs.length} channel transaction(s) for ${entry.chunks} paid chunks`);
      say(`  throughput          ${e2eMBps.toFixed(1)} MB/s end to end (sluice get ran ${getSeconds.toFixed(1)} s, incl. node start, channel open and close)${streamMBps === undefined ? '' : `; sluice get reported ${streamMBps.toFixed(1)} MB/s`}`);
      say(`  total               ${summary.totalSeconds} s`);
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    } finally {
      rpc.destroy();
    }
    await cleanup();
    return 0;
  } catch (e) {
    if (interrupted) return await new Promise<number>(() => {}); // the signal handler exits
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`\ndemo FAILED: ${msg}\n`);
    if (e instanceof StepError && e.child !== undefined && e.child.tail.length > 0 && !msg.includes(e.child.tail.at(-1)!)) {
      process.stderr.write(`last output of ${e.child.name}:\n${e.child.tail.map((l) => `  ${l}`).join('\n')}\n`);
    }
    if (o.json) process.stdout.write(`${JSON.stringify({ ok: false, error: msg })}\n`);
    await cleanup();
    return 1;
  }
}

process.exitCode = await main();
