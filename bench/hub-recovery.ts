/**
 * Hub crash recovery: how long clients wait when the hub process dies under load.
 *
 *   npm run bench:recovery     # prints a markdown table, writes bench/results/hub-recovery.json
 *
 * A real `sluice-hub start` process (sqlite file store) on a local anvil; one payee and
 * HUB_RECOVERY_CLIENTS (default 60) clients, all in this process over real libp2p with sqlite
 * files, loop open → close of a virtual channel (the clients' messages to the payee relayed by
 * the hub). After HUB_RECOVERY_WARMUP_S (5) seconds the hub is SIGKILLed and restarted at once on
 * the same store and port; the load goes on for HUB_RECOVERY_AFTER_S (20) seconds.
 *
 * Reported: the hub's restart time (kill → ready), when each client completes its first
 * open+close after the hub is ready (first, median, last), and throughput in windows after the
 * restart against the throughput just before the kill (the baseline, same run). The machine's 2
 * cores are shared by the hub, the clients and other jobs: compare the ratios.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAnvil, freePort } from '@sluice/contracts/anvil';
import { deployLocal } from './lib/local-chain.ts';
import { startHubProcess } from './lib/hub-process.ts';
import { privateKeyToAddress } from '@sluice/channel-core';
import { createNode, type Node, type NodeInit } from '@sluice/channel-core/node';

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, 'results', 'hub-recovery.json');
const CLIENTS = Number(process.env['HUB_RECOVERY_CLIENTS'] ?? 60);
const WARMUP_S = Number(process.env['HUB_RECOVERY_WARMUP_S'] ?? 5);
const AFTER_S = Number(process.env['HUB_RECOVERY_AFTER_S'] ?? 20);
const WINDOWS: readonly [number, number][] = [[0, 1], [1, 2], [2, 3], [3, 5], [5, 10], [10, AFTER_S]];

const t0 = performance.now();
const log = (s: string): void => void process.stderr.write(`[bench:recovery ${((performance.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');

async function main(): Promise<void> {
  const load0 = loadavg();
  const anvil = await startAnvil({ accounts: CLIENTS + 3 });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-recovery-'));
  let hub: ChildProcess | undefined;
  const nodes: Node[] = [];
  try {
    const { d, deploymentFile } = await deployLocal(anvil, dir);
    const hubArgs = ['--rpc-url', anvil.rpcUrl, '--deployment', deploymentFile, '--dev-account', '1', '--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`, '--http-port', '0'];
    const hubEnv = {
      SLUICE_HUB_STORE: join(dir, 'hub.db'),
      SLUICE_HUB_LOG_LEVEL: 'warn',
      SLUICE_HUB_MAX_LEDGER_DEPOSIT: String(10n ** 20n),
      SLUICE_HUB_CHAIN_POLL_MS: '100',
      // every client is on this host: lift libp2p's per-host rate of new connections
      SLUICE_HUB_INBOUND_PER_HOST: '1000',
    };
    let started = await startHubProcess(hubArgs, hubEnv);
    hub = started.child;
    const hubAddress = privateKeyToAddress(anvil.accounts[1]!);
    const init = (key: string, name: string): NodeInit => ({
      privateKey: key,
      chain: { rpcUrl: anvil.rpcUrl, adjudicator: d.adjudicator, consensusApp: d.consensusApp!, virtualPaymentApp: d.virtualPaymentApp!, startBlock: d.deployBlock, timeoutMs: 60_000 },
      store: join(dir, `${name}.db`),
      hub: { address: hubAddress, multiaddrs: started.multiaddrs },
      callTimeoutMs: 60_000,
    });
    const payee = createNode(init(anvil.accounts[2]!, 'payee'));
    const clients = Array.from({ length: CLIENTS }, (_, i) => createNode(init(anvil.accounts[3 + i]!, `client${i}`)));
    nodes.push(payee, ...clients);
    await Promise.all(nodes.map((n) => n.start()));
    await Promise.all([
      payee.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: 10n ** 19n }),
      ...clients.map((c) => c.createLedgerChannel({ counterparty: hubAddress, deposit: 10n ** 18n })),
    ]);
    log(`hub, payee and ${CLIENTS} clients up, ledgers funded; load for ${WARMUP_S} s, then the hub is SIGKILLed and restarted`);

    // ---- load: every client loops open → close; completion times per client
    const done: number[][] = clients.map(() => []);
    let stop = false;
    let errors = 0;
    const loads = clients.map(async (c, i) => {
      while (!stop) {
        try {
          const { channelId } = await c.createVirtualChannel({ payee: payee.address, amount: 1_000n });
          await c.closeVirtualChannel(channelId);
          done[i]!.push(performance.now());
        } catch {
          errors++;
          await sleep(100);
        }
      }
    });
    await sleep(WARMUP_S * 1000);
    const tKill = performance.now();
    hub.kill('SIGKILL');
    await new Promise((r) => hub!.once('exit', r));
    started = await startHubProcess(hubArgs, hubEnv);
    hub = started.child;
    const tReady = performance.now();
    log(`hub killed and back in ${fmt(tReady - tKill, 0)} ms; load for ${AFTER_S} s more`);
    await sleep(AFTER_S * 1000);
    stop = true;
    await Promise.all(loads);

    // ---- figures
    const all = done.flat();
    const BASE_S = Math.min(3, WARMUP_S - 1);
    const baseline = all.filter((t) => t < tKill && t >= tKill - BASE_S * 1000).length / BASE_S;
    const firstAfter = done.map((xs) => (xs.find((t) => t > tReady) ?? Number.POSITIVE_INFINITY) - tReady).sort((a, b) => a - b);
    const windows = WINDOWS.filter(([a, b]) => b > a).map(([a, b]) => ({ from: a, to: b, perS: all.filter((t) => t >= tReady + a * 1000 && t < tReady + b * 1000).length / (b - a) }));
    const result = {
      at: new Date().toISOString(),
      clients: CLIENTS,
      loadavg: { before: load0, after: loadavg() },
      restartMs: tReady - tKill,
      baselinePerS: baseline,
      firstCycleAfterReadyMs: { first: firstAfter[0]!, p50: firstAfter[Math.floor(CLIENTS / 2)]!, last: firstAfter[CLIENTS - 1]! },
      windows,
      errors,
    };
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, JSON.stringify(result, null, 2) + '\n');

    const lines = [
      `## Hub crash recovery: ${CLIENTS} clients looping open+close, hub SIGKILLed and restarted (sqlite files; load avg ${load0.map((x) => x.toFixed(2)).join(' ')})`,
      '',
      '| metric | value | baseline (same run) | ratio |',
      '|---|---|---|---|',
      `| hub restart (SIGKILL → ready on the same store and port) | ${fmt(result.restartMs, 0)} ms | — | |`,
      `| first open+close completed after the hub is ready: first / median / last client | ${fmt(result.firstCycleAfterReadyMs.first, 0)} / ${fmt(result.firstCycleAfterReadyMs.p50, 0)} / ${fmt(result.firstCycleAfterReadyMs.last, 0)} ms | — | |`,
      ...windows.map((w) => `| throughput ${w.from}–${w.to} s after the hub is ready | ${fmt(w.perS)} open+close/s | ${fmt(baseline)} open+close/s in the ${BASE_S} s before the kill | ${fmt(w.perS / baseline, 2)}× |`),
      `| calls that failed during the run | ${errors} | — | |`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    log(`wrote ${RESULTS}`);
  } finally {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    hub?.kill('SIGKILL');
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
