/**
 * Hub benchmark: virtual channel open latency for one client, and hub throughput with 50
 * concurrent clients opening and closing virtual channels — over real libp2p (TCP + Noise +
 * Yamux) on loopback, a real `sluice-hub start` process (sqlite store, synchronous writes), and
 * a local anvil with the contracts deployed and every ledger funded before timing starts.
 *
 *   npm run bench:hub              # prints a markdown table, writes bench/results/hub.json
 *   HUB_BENCH_PROFILE=1 npm run bench:hub   # also CPU-profiles the hub process and breaks its time down
 *   HUB_BENCH_PROFILE_LOAD_DIR=/tmp/p npm run bench:hub   # CPU profiles of the load generator's threads over the throughput window
 *
 * Env: HUB_BENCH_N (sequential opens, default 100), HUB_BENCH_CLIENTS (default 50),
 * HUB_BENCH_WORKERS (worker threads driving the throughput clients, default 2; 0 = all in the
 * bench process's own event loop, which then limits the run),
 * HUB_BENCH_SECONDS (throughput window, default 10), HUB_BENCH_PAYEES (providers the clients
 * pay, default 1), HUB_BENCH_STORES (`file,memory` by default: both scenarios, see below),
 * HUB_BENCH_DIRECT (default 1: clients reach their payee directly, as `sluice get` does when the
 * provider's metadata gives its node's multiaddrs; 0: the hub relays their messages).
 * HUB_BENCH_GROUP_COMMIT=1 is an experiment, labelled as such in the output: the bench-process
 * nodes (clients, payees — not the hub) run every engine transaction as a `'beforeSend'` group
 * commit (made durable by the messaging layer's `store.sync()` before it sends or acks). That
 * estimates what an engine-side group commit would give; it is not a safe production setting
 * as is (the engine would have to restrict it to message-only steps, see ADR 0004).
 *
 * The clients (and their payees) are nodes of this process (throughput clients in its worker threads), each with its own
 * libp2p node and sqlite file; the hub is a separate OS process. Both share the machine's 2
 * cores (and other engineers' jobs): numbers are noisy; the load average is printed.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FundedTracker, countingLogger as countLogs, cycle, driveLoad, epochNow, threadCpuMs, type CycleTiming, type FromWorker, type LoadResult, type ToWorker, type WorkerSetup, windowProfiler } from './lib/hub-load.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAnvil, freePort } from '@sluice/contracts/anvil';
import { deployLocal } from './lib/local-chain.ts';
import { startHubProcess } from './lib/hub-process.ts';
import { privateKeyToAddress } from '@sluice/channel-core';
import { createNode, type Node, type NodeInit } from '@sluice/channel-core/node';
import { openSqliteStore } from '@sluice/channel-core/sqlite';
type Store = ReturnType<typeof openSqliteStore>;

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, 'results', 'hub.json');
const N = Number(process.env['HUB_BENCH_N'] ?? 100);
const CLIENTS = Number(process.env['HUB_BENCH_CLIENTS'] ?? 50);
const SECONDS = Number(process.env['HUB_BENCH_SECONDS'] ?? 10);
const PAYEES = Number(process.env['HUB_BENCH_PAYEES'] ?? 1);
const PROFILE = process.env['HUB_BENCH_PROFILE'] === '1';
const WORKERS = Number(process.env['HUB_BENCH_WORKERS'] ?? 2);
const GROUP_COMMIT = process.env['HUB_BENCH_GROUP_COMMIT'] === '1';
const DIRECT = process.env['HUB_BENCH_DIRECT'] !== '0';
/** Every client may hold a channel to its payee at once: room for them in each payee's ledger (the default cap is 256). */
const MAX_LEDGER_GUARANTEES = Math.min(1024, Math.max(256, Math.ceil((CLIENTS + 1) / Math.max(1, PAYEES)) + 8));
const TARGET_P50_MS = 25;
const TARGET_OPENS_PER_S = 200;
const GO_NITRO_OPEN_MS = 6;
const V_AMOUNT = 1_000n;

const load0 = loadavg();
const t0 = performance.now();
const log = (s: string): void => void process.stderr.write(`[bench:hub ${((performance.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');

// ---------------------------------------------------------------- one scenario
type StoreMode = 'file' | 'memory';

interface Result {
  readonly stores: StoreMode;
  readonly sequential: { open: number[]; close: number[]; payee: number[] };
  readonly throughput: { opens: number; closes: number; wall: number; errors: number; errorCodes: Record<string, number>; open: number[]; hubCores: number; benchCores: number; mainCpuMs: number; workersCpuMs: number; hubSystemShare: number; benchSystemShare: number };
  readonly hub: { vfMeanMs: number; vdMeanMs: number; cpuSeconds: number; exitCode: number | null };
  readonly benchCpuSeconds: number;
  /** Sequential opens: median ms from the call to each waitingFor step of Alice's virtualFund objective (and Bob's first sight of it). */
  readonly phases: { phase: string; p50: number; n: number }[];
  /** Warnings/errors logged during the timed runs (bench-process nodes, and the hub's own log), by message (and code), per open+close cycle. */
  readonly warnings: { who: string; msg: string; perCycle: number }[];
  readonly profile?: { categories: { category: string; ms: number; share: number }[]; top: { fn: string; ms: number }[] };
}

async function scenario(stores: StoreMode): Promise<Result> {
  const cpu0 = process.cpuUsage();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-hub-'));
  const anvil = await startAnvil({ accounts: 3 + CLIENTS + PAYEES });
  const children = new Set<ChildProcess>();
  const nodes: Node[] = [];
  const workers = new Set<Worker>();
  const storePath = (name: string): string => (stores === 'file' ? join(dir, `${name}.db`) : ':memory:');
  const openedStores: Store[] = [];
  /** A bench-process node's store: a path, or (group-commit experiment) a wrapped open store. */
  const nodeStore = (name: string): string | Store => {
    if (!GROUP_COMMIT) return storePath(name);
    const inner = openSqliteStore({ path: storePath(name) });
    openedStores.push(inner);
    return { ...inner, transaction: <T>(fn: () => T): T => inner.transaction(fn, { durability: 'beforeSend' }) };
  };
  try {
    const { d, deploymentFile } = await deployLocal(anvil, dir);
    const hubAddress = privateKeyToAddress(anvil.accounts[1]!);
    const profDir = process.env['HUB_BENCH_PROFILE_DIR'] ?? join(dir, 'prof');

    // The hub: anvil account 1 (`--dev-account` is refused on non-local chains), its own OS process.
    const hubWarnLines = { n: 0 };
    // Log lines counted during the timed runs (see countingLogger below), by who and message.
    const warnCounts = new Map<string, number>();
    let counting = false;
    const countHubLine = (line: string): void => {
      if (!counting) return;
      try {
        const j = JSON.parse(line) as { msg?: string; code?: string; reason?: string; level?: number };
        if (typeof j.msg === 'string') {
          const k = `hub\t${j.msg}${typeof j.code === 'string' ? ` (${j.code}${typeof j.reason === 'string' ? `: ${j.reason}` : ''})` : ''}`;
          warnCounts.set(k, (warnCounts.get(k) ?? 0) + 1);
          hubWarnLines.n++;
        }
      } catch {
        // not JSON
      }
    };
    const started = await startHubProcess(
      ['--deployment', deploymentFile, '--dev-account', '1', '--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`, '--http-port', '0'],
      {
        SLUICE_HUB_RPC_URL: anvil.rpcUrl,
        SLUICE_HUB_STORE: storePath('hub'),
        SLUICE_HUB_LOG_LEVEL: 'warn',
        SLUICE_HUB_MAX_LEDGER_DEPOSIT: String(10n ** 20n),
        SLUICE_HUB_MAX_LEDGER_GUARANTEES: String(MAX_LEDGER_GUARANTEES),
        SLUICE_HUB_CHAIN_POLL_MS: '100',
      },
      { nodeArgs: PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [], onLine: countHubLine },
    );
    const hubChild = started.child;
    children.add(hubChild);
    log(`[${stores} stores] hub ${hubAddress} up at ${started.multiaddrs[0]}`);

    const init = (key: string, name: string, peers?: NodeInit['peers']): NodeInit => ({
      privateKey: key,
      chain: { rpcUrl: anvil.rpcUrl, adjudicator: d.adjudicator, consensusApp: d.consensusApp!, virtualPaymentApp: d.virtualPaymentApp!, startBlock: d.deployBlock, timeoutMs: 60_000 },
      store: nodeStore(name),
      hub: { address: hubAddress, multiaddrs: started.multiaddrs },
      ...(peers === undefined ? {} : { peers }),
      callTimeoutMs: 120_000,
      objectiveTimeoutMs: 15_000,
      policy: { maxLedgerGuarantees: MAX_LEDGER_GUARANTEES },
      // messaging retry policy: the defaults (a PROTOCOL_NOT_READY answer is retried after 5 ms, doubling)
    });

    // Warnings of the bench-process nodes (e.g. a handler refusing with PROTOCOL_NOT_READY, which
    // makes the sender retry after a backoff), counted by message and code.
    const countingLogger = (who: string) => countLogs(who, warnCounts, () => counting);

    // ------------------------------------------------------------ actors and ledgers (not timed)
    // Payees and the sequential client live in this process; the CLIENTS of the throughput run
    // too with HUB_BENCH_WORKERS=0, else in that many worker threads (one event loop cannot
    // drive 50 nodes without becoming the bottleneck itself).
    const payees: Node[] = [];
    for (let i = 0; i < PAYEES; i++) payees.push(createNode(init(anvil.accounts[2 + i]!, `bob${i}`), { logger: countingLogger('payee') }));
    nodes.push(...payees);
    await Promise.all(payees.map((n) => n.start()));
    // A client reaches its payee directly (as the client CLI does when the provider's metadata
    // gives its node's multiaddrs) unless HUB_BENCH_DIRECT=0: then the hub relays their messages.
    const payeePeers = (i: number): NodeInit['peers'] => (DIRECT ? [{ address: payees[i % PAYEES]!.address, multiaddrs: payees[i % PAYEES]!.multiaddrs() }] : undefined);
    const seqClient = createNode(init(anvil.accounts[2 + PAYEES]!, 'alice-seq', payeePeers(0)), { logger: countingLogger('client') });
    const clientKey = (i: number): string => anvil.accounts[3 + PAYEES + i]!;
    const clients: Node[] = [];
    if (WORKERS === 0) for (let i = 0; i < CLIENTS; i++) clients.push(createNode(init(clientKey(i), `alice${i}`, payeePeers(i)), { logger: countingLogger('client') }));
    nodes.push(seqClient, ...clients);
    await Promise.all([seqClient, ...clients].map((n) => n.start()));
    const loadWorkers: Worker[] = [];
    const workerReady: Promise<void>[] = [];
    const workerMessages = new Map<Worker, (m: FromWorker) => void>();
    for (let w = 0; w < WORKERS; w++) {
      const mine = [...Array(CLIENTS).keys()].filter((i) => i % WORKERS === w);
      const { store: _store, privateKey: _key, ...node } = init(clientKey(0), 'unused');
      const setup: WorkerSetup = {
        clients: mine.map((i) => ({ key: clientKey(i), storePath: storePath(`alice${i}`), payee: payees[i % PAYEES]!.address, ...(DIRECT ? { peers: payeePeers(i) } : {}) })),
        node,
        hubAddress,
        deposit: String(10n ** 18n),
        amount: String(V_AMOUNT),
      };
      const worker = new Worker(new URL('./lib/hub-load-worker.ts', import.meta.url), { workerData: setup });
      loadWorkers.push(worker);
      workers.add(worker);
      worker.on('message', (m: FromWorker) => workerMessages.get(worker)?.(m));
      workerReady.push(
        new Promise<void>((resolve, reject) => {
          worker.once('error', reject);
          workerMessages.set(worker, (m) => (m.type === 'ready' ? resolve() : m.type === 'failed' ? reject(new Error(`load worker: ${m.message}`)) : undefined));
        }),
      );
    }
    const collateral = V_AMOUNT * BigInt(CLIENTS) * 4n;
    await Promise.all([
      ...payees.map((b) => b.createLedgerChannel({ counterparty: hubAddress, deposit: 0n, counterpartyDeposit: collateral })),
      ...[seqClient, ...clients].map((a) => a.createLedgerChannel({ counterparty: hubAddress, deposit: 10n ** 18n })),
      ...workerReady,
    ]);
    log(`[${stores} stores] ${nodes.length} nodes here${WORKERS > 0 ? ` + ${CLIENTS} clients in ${WORKERS} worker threads` : ''}, ledgers funded`);

    // Closes wait until the payee sees the channel funded (so they never race the payee's funding).
    const funded = new FundedTracker();
    for (const b of payees) {
      b.on('virtualChannelFunded', (e) => {
        funded.funded(e.channelId);
        for (const w of loadWorkers) w.postMessage({ type: 'funded', channelId: e.channelId } satisfies ToWorker);
      });
    }
    const seqCycle = (timing?: CycleTiming): Promise<void> => cycle(seqClient, payees[0]!.address, funded, V_AMOUNT, timing);

    // ------------------------------------------------------------ 1. sequential latency, one client
    const seq = { open: [] as number[], close: [] as number[], payee: [] as number[] };
    for (let i = 0; i < 5; i++) await seqCycle(); // warm-up
    // Per-phase breakdown of the sequential opens: when Alice's virtualFund objective reaches each
    // waitingFor step, and when Bob first hears of it (all relative to the createVirtualChannel call).
    const phaseTimes = new Map<string, number[]>();
    let cycleStart = 0;
    const mark = (phase: string): void => {
      const xs = phaseTimes.get(phase) ?? [];
      xs.push(performance.now() - cycleStart);
      phaseTimes.set(phase, xs);
    };
    const offA = seqClient.on('objectiveProgress', (e) => {
      if (e.objectiveType === 'virtualFund') mark(`Alice waiting for ${e.waitingFor}`);
    });
    const offB = payees[0]!.on('objectiveCreated', (e) => {
      if (e.objectiveType === 'virtualFund') mark('Bob has the objective');
    });
    const offA2 = seqClient.on('objectiveCompleted', (e) => {
      if (e.objectiveType === 'virtualFund') mark('Alice objective completed');
    });
    counting = true;
    for (let i = 0; i < N; i++) {
      cycleStart = performance.now();
      await seqCycle(seq);
    }
    offA();
    offB();
    offA2();
    log(`[${stores} stores] sequential: open p50 ${fmt(pct(sorted(seq.open), 50))} ms`);

    // ------------------------------------------------------------ 2. throughput, CLIENTS concurrent
    // Who is busy during the window: CPU seconds per wall second of the hub (from its metrics)
    // and of this process (all its threads: the clients and payees, i.e. the load generator).
    const hubCpuNow = async (): Promise<{ total: number; system: number }> => {
      const text = await (await fetch(new URL('/metrics', started.http))).text();
      const m = /^sluice_hub_process_cpu_seconds_total (\S+)$/m.exec(text);
      const sys = /^sluice_hub_process_cpu_system_seconds_total (\S+)$/m.exec(text);
      return { total: m ? Number(m[1]) : NaN, system: sys ? Number(sys[1]) : NaN };
    };
    const hubCpuBefore = await hubCpuNow();
    const benchCpuBefore = process.cpuUsage();
    const mainCpuBefore = threadCpuMs();
    const deadline = epochNow() + SECONDS * 1000;
    const mainProf = windowProfiler(`payee-thread-${stores}`);
    await mainProf.start();
    const tStart = performance.now();
    const here = driveLoad(clients, (i) => payees[i % PAYEES]!.address, funded, V_AMOUNT, deadline);
    const fromWorkers = loadWorkers.map(
      (w) =>
        new Promise<{ result: LoadResult; warnings: [string, number][] }>((resolve, reject) => {
          workerMessages.set(w, (m) => (m.type === 'done' ? resolve(m) : m.type === 'failed' ? reject(new Error(`load worker: ${m.message}`)) : undefined));
          w.postMessage({ type: 'run', deadline } satisfies ToWorker);
        }),
    );
    const parts = [await here, ...(await Promise.all(fromWorkers)).map((x) => {
      for (const [k, n] of x.warnings) warnCounts.set(k, (warnCounts.get(k) ?? 0) + n);
      return x.result;
    })].filter((r, i) => i > 0 || WORKERS === 0);
    const wall = (performance.now() - tStart) / 1000;
    await mainProf.stop();
    counting = false;
    const conc = { open: parts.flatMap((r) => r.open), close: parts.flatMap((r) => r.close), payee: parts.flatMap((r) => r.payee) };
    const errors = parts.reduce((n, r) => n + r.errors, 0);
    const errorCodes: Record<string, number> = {};
    for (const r of parts) for (const [k, n] of Object.entries(r.errorCodes)) errorCodes[k] = (errorCodes[k] ?? 0) + n;
    for (const [i, r] of parts.entries()) log(`[${stores} stores] ${WORKERS === 0 ? 'bench process' : `load worker ${i}`} event loop delay under load: p50 ${fmt(r.lag.p50)} ms, p99 ${fmt(r.lag.p99)} ms, max ${fmt(r.lag.max)} ms`);
    const loadPhases = new Map<string, number[]>();
    for (const r of parts) for (const [k, xs] of Object.entries(r.phases)) loadPhases.set(k, [...(loadPhases.get(k) ?? []), ...xs]);
    for (const [phase, xs] of [...loadPhases].sort((a, b) => pct(sorted(a[1]), 50) - pct(sorted(b[1]), 50))) log(`[${stores} stores] under load: ${phase}: p50 ${fmt(pct(sorted(xs), 50))} ms (n ${xs.length})`);
    const hubCpuAfter = await hubCpuNow();
    const hubCores = (hubCpuAfter.total - hubCpuBefore.total) / wall;
    // kernel share (system CPU: fsync, socket writes and reads, futexes) of each process's CPU
    const hubSystemShare = (hubCpuAfter.system - hubCpuBefore.system) / (hubCpuAfter.total - hubCpuBefore.total);
    const benchCpuWindow = process.cpuUsage(benchCpuBefore);
    const benchSystemShare = benchCpuWindow.system / (benchCpuWindow.user + benchCpuWindow.system);
    // this thread runs the payee(s) (and, with HUB_BENCH_WORKERS=0, the clients too)
    const mainCpuMs = threadCpuMs() - mainCpuBefore;
    const workersCpuMs = WORKERS === 0 ? 0 : parts.reduce((s, r) => s + r.threadCpuMs, 0);
    const benchCores = (benchCpuWindow.user + benchCpuWindow.system) / 1e6 / wall;
    log(`[${stores} stores] throughput: ${conc.open.length} opens in ${fmt(wall, 2)} s, errors ${errors}`);

    // hub-side view
    const metricsText = await (await fetch(new URL('/metrics', started.http))).text();
    const hubMetric = (name: string, type: string): number => {
      const m = new RegExp(`^${name}\\{type="${type}"\\} (\\S+)$`, 'm').exec(metricsText);
      return m ? Number(m[1]) : NaN;
    };
    const meanMs = (type: string): number => (hubMetric('sluice_hub_objective_duration_seconds_sum', type) / hubMetric('sluice_hub_objective_duration_seconds_count', type)) * 1000;
    const hubCpu = /^sluice_hub_process_cpu_seconds_total (\S+)$/m.exec(metricsText);
    const relayedBy = (mode: string): number => Number(new RegExp(`^sluice_hub_messages_relayed_total\\{mode="${mode}"\\} (\\S+)$`, 'm').exec(metricsText)?.[1] ?? 0);
    log(`[${stores} stores] hub relayed (whole run): ${relayedBy('cut_through')} cut-through, ${relayedBy('stored')} stored and forwarded`);

    // stop the hub (graceful: flushes the profile)
    const exitCode = await new Promise<number | null>((resolve) => {
      hubChild.once('exit', (code) => resolve(code));
      hubChild.kill('SIGTERM');
    });
    children.delete(hubChild);
    let profile: Result['profile'];
    if (PROFILE) {
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) profile = summariseProfile(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile);
    }
    const cpu = process.cpuUsage(cpu0);
    return {
      stores,
      sequential: seq,
      throughput: { opens: conc.open.length, closes: conc.close.length, wall, errors, errorCodes, open: conc.open, hubCores, benchCores, mainCpuMs, workersCpuMs, hubSystemShare, benchSystemShare },
      hub: { vfMeanMs: meanMs('virtualFund'), vdMeanMs: meanMs('virtualDefund'), cpuSeconds: hubCpu ? Number(hubCpu[1]) : NaN, exitCode },
      benchCpuSeconds: (cpu.user + cpu.system) / 1e6,
      phases: [...phaseTimes].map(([phase, xs]) => ({ phase, p50: pct(sorted(xs), 50), n: xs.length })).sort((a, b) => a.p50 - b.p50),
      warnings: [...warnCounts].map(([k, n]) => {
        const [who, msg] = k.split('\t') as [string, string];
        return { who, msg, perCycle: n / (N + conc.close.length) };
      }).sort((a, b) => b.perCycle - a.perCycle),
      ...(profile === undefined ? {} : { profile }),
    };
  } finally {
    await Promise.allSettled([
      ...nodes.map((n) => n.stop()),
      ...[...workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 10_000);
            w.once('message', () => (clearTimeout(t), resolve()));
            w.once('exit', () => (clearTimeout(t), resolve()));
            w.postMessage({ type: 'stop' } satisfies ToWorker);
          }),
      ),
    ]);
    await Promise.allSettled([...workers].map((w) => w.terminate()));
    for (const st of openedStores) st.close();
    for (const c of children) c.kill('SIGKILL');
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU milliseconds per open+close cycle in the throughput window, hub and load generator. */
function cpuPerCycle(r: Result): { hub: number; bench: number } {
  const cycles = r.throughput.closes;
  return { hub: (r.throughput.hubCores * r.throughput.wall * 1000) / cycles, bench: (r.throughput.benchCores * r.throughput.wall * 1000) / cycles };
}

function sorted(xs: number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

// ---------------------------------------------------------------- run and report
const modes: StoreMode[] = (process.env['HUB_BENCH_STORES'] ?? 'file,memory').split(',').map((m) => (m.trim() === 'memory' ? 'memory' : 'file'));
const results: Result[] = [];
for (const m of modes) results.push(await scenario(m));

const load1 = loadavg();
const pass = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
const lines = [
  `## bench:hub — ${new Date().toISOString()}`,
  '',
  `Node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length} (availableParallelism ${availableParallelism()}); load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')}.`,
  `Real libp2p (TCP+Noise+Yamux) on loopback; hub = a \`sluice-hub start\` process; ${PAYEES} payee(s) and the sequential client as nodes of the bench process, the ${CLIENTS} throughput clients ${WORKERS === 0 ? 'there too' : `in ${WORKERS} worker threads of it`} (each node with its own libp2p node and sqlite file); anvil; ledgers funded before timing. Sequential: ${N} open+close cycles of one client after 5 warm-up. Throughput: every client loops open → payee sees it funded → close for ${SECONDS} s.`,
  DIRECT
    ? 'Clients send their payee the virtual channel\'s messages directly (its node\'s multiaddrs, as a provider\'s file metadata gives them to `sluice get`); the hub relays nothing. HUB_BENCH_DIRECT=0: the hub relays them.'
    : '**HUB_BENCH_DIRECT=0: the hub relays every client↔payee message** (clients do not know the payee\'s multiaddrs).',
  '"file" = sqlite files with synchronous=FULL (the production setting: every commit fsync\'d; messaging bookkeeping relaxed, see ADR 0004); "memory" = `:memory:` sqlite for hub and clients (not durable: shows what the fsyncs cost).',
  ...(GROUP_COMMIT ? ['**EXPERIMENT (HUB_BENCH_GROUP_COMMIT=1): the bench-process nodes (clients, payees; not the hub) commit every engine transaction as a group commit made durable by the messaging layer before it sends/acks. Not a production setting.**'] : []),
  '',
  '| measurement | stores | result | target | |',
  '|---|---|---|---|---|',
];
for (const r of results) {
  const open = sorted(r.sequential.open);
  const p50 = pct(open, 50);
  const ops = r.throughput.opens / r.throughput.wall;
  const cyc = r.throughput.closes / r.throughput.wall;
  const copen = sorted(r.throughput.open);
  lines.push(
    `| virtual channel open, 1 client, sequential — p50 | ${r.stores} | ${fmt(p50)} ms | ≤ ${TARGET_P50_MS} ms | ${pass(p50 <= TARGET_P50_MS)} |`,
    `| virtual channel open, 1 client, sequential — p99 | ${r.stores} | ${fmt(pct(open, 99))} ms | — | |`,
    `| … payee sees it funded, p50 / p99 | ${r.stores} | ${fmt(pct(sorted(r.sequential.payee), 50))} / ${fmt(pct(sorted(r.sequential.payee), 99))} ms | — | |`,
    `| virtual channel close, 1 client, p50 / p99 | ${r.stores} | ${fmt(pct(sorted(r.sequential.close), 50))} / ${fmt(pct(sorted(r.sequential.close), 99))} ms | — | |`,
    `| hub throughput, ${CLIENTS} concurrent clients → ${PAYEES} payee(s) | ${r.stores} | ${fmt(ops)} opens/s (${fmt(cyc)} open+close cycles/s) | ≥ ${TARGET_OPENS_PER_S} opens/s | ${pass(ops >= TARGET_OPENS_PER_S)} |`,
    `| … open latency under that load, p50 / p99 | ${r.stores} | ${fmt(pct(copen, 50))} / ${fmt(pct(copen, 99))} ms | — | |`,
    `| … hub-side objective duration, mean virtualFund / virtualDefund | ${r.stores} | ${fmt(r.hub.vfMeanMs)} / ${fmt(r.hub.vdMeanMs)} ms | — | |`,
    `| … CPU seconds: hub process / bench process (clients + payees) | ${r.stores} | ${fmt(r.hub.cpuSeconds)} / ${fmt(r.benchCpuSeconds)} s | — | |`,
    `| … CPU in use during the throughput window (cores of ${cpus().length}): hub / bench process (load generator) | ${r.stores} | ${fmt(r.throughput.hubCores, 2)} / ${fmt(r.throughput.benchCores, 2)} | — | |`,
    `| … CPU per open+close cycle: hub / load generator (50 payers + payee) | ${r.stores} | ${fmt(cpuPerCycle(r).hub, 1)} / ${fmt(cpuPerCycle(r).bench, 1)} ms | — | |`,
    `| … of that CPU, the kernel's share (system time: fsync, sockets): hub / load generator | ${r.stores} | ${fmt(100 * r.throughput.hubSystemShare, 0)} / ${fmt(100 * r.throughput.benchSystemShare, 0)} % | — | |`,
    ...(WORKERS === 0 ? [] : [`| … of which: the ${PAYEES > 1 ? "payees'" : "payee's"} thread / the ${CLIENTS} payers' ${WORKERS} threads (the rest: GC, fsync and I/O threads) | ${r.stores} | ${fmt(r.throughput.mainCpuMs / r.throughput.closes, 1)} / ${fmt(r.throughput.workersCpuMs / r.throughput.closes, 1)} ms | — | |`]),
    `| … hub capacity if the hub had one core to itself (1000 ms / hub CPU per cycle) | ${r.stores} | ${fmt(1000 / cpuPerCycle(r).hub, 0)} open+close cycles/s | — | |`,
  );
}
lines.push(`| go-nitro in-process open, zero network delay (quoted, not measured) | — | ≈ ${GO_NITRO_OPEN_MS} ms (~5 sequential message latencies) | reference | |`, '');
for (const r of results) {
  const p50 = pct(sorted(r.sequential.open), 50);
  const ops = r.throughput.opens / r.throughput.wall;
  lines.push(
    `- ${r.stores}: p50 open / go-nitro in-process open = ${fmt(p50 / GO_NITRO_OPEN_MS, 2)}×; throughput / target = ${fmt(ops / TARGET_OPENS_PER_S, 2)}×; errors in the throughput run: ${r.throughput.errors}${r.throughput.errors > 0 ? ` ${JSON.stringify(r.throughput.errorCodes)}` : ''}; hub exit code on SIGTERM: ${r.hub.exitCode}.`,
  );
}
if (results.length === 2) {
  const [f, m] = results as [Result, Result];
  lines.push(
    `- memory vs file: sequential open p50 ${fmt(pct(sorted(f.sequential.open), 50) / pct(sorted(m.sequential.open), 50), 2)}× faster, throughput ${fmt(m.throughput.opens / m.throughput.wall / (f.throughput.opens / f.throughput.wall), 2)}× higher without fsync.`,
  );
}
for (const r of results) {
  lines.push('', `### sequential open, ${r.stores} stores: median time from the call to each step`, '', '| step | p50 ms | n |', '|---|---|---|');
  for (const ph of r.phases) lines.push(`| ${ph.phase} | ${fmt(ph.p50)} | ${ph.n} |`);
  lines.push('', `warnings/errors logged during the timed runs, per open+close cycle (${r.stores} stores):`, '');
  if (r.warnings.length === 0) lines.push('- none');
  for (const w of r.warnings.slice(0, 10)) lines.push(`- ${w.who}: ${w.msg}: ${fmt(w.perCycle, 2)}`);
}
for (const r of results) {
  if (!r.profile) continue;
  lines.push('', `### hub process CPU profile, ${r.stores} stores (self time over the whole run, idle excluded)`, '', '| category | ms | share |', '|---|---|---|');
  for (const c of r.profile.categories) lines.push(`| ${c.category} | ${fmt(c.ms, 0)} | ${fmt(c.share * 100)} % |`);
  lines.push('', 'top functions (self time):', '', ...r.profile.top.slice(0, 12).map((x) => `- ${x.fn}: ${fmt(x.ms, 0)} ms`));
}
process.stdout.write(`${lines.join('\n')}\n`);
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, availableParallelism: availableParallelism(), node: process.version, loadavgBefore: load0, loadavgAfter: load1 },
      config: { sequentialCycles: N, clients: CLIENTS, payees: PAYEES, seconds: SECONDS, vAmount: V_AMOUNT.toString(), clientPayeeRoute: DIRECT ? 'direct' : 'relayed by the hub' },
      targets: { openP50Ms: TARGET_P50_MS, opensPerSec: TARGET_OPENS_PER_S },
      baseline: { goNitroInProcessOpenMs: GO_NITRO_OPEN_MS, note: 'quoted from go-nitro (in-process, zero network delay, ~5 sequential message latencies); not measured here' },
      results: results.map((r) => {
        const open = sorted(r.sequential.open);
        const ops = r.throughput.opens / r.throughput.wall;
        return {
          stores: r.stores,
          sequential: {
            openMs: { p50: pct(open, 50), p90: pct(open, 90), p99: pct(open, 99), min: open[0], max: open.at(-1) },
            payeeFundedMs: { p50: pct(sorted(r.sequential.payee), 50), p99: pct(sorted(r.sequential.payee), 99) },
            closeMs: { p50: pct(sorted(r.sequential.close), 50), p99: pct(sorted(r.sequential.close), 99) },
            openP50Target: pct(open, 50) <= TARGET_P50_MS ? 'PASS' : 'MISS',
          },
          throughput: {
            opens: r.throughput.opens,
            closes: r.throughput.closes,
            wallSeconds: r.throughput.wall,
            opensPerSec: ops,
            cyclesPerSec: r.throughput.closes / r.throughput.wall,
            openMs: { p50: pct(sorted(r.throughput.open), 50), p99: pct(sorted(r.throughput.open), 99) },
            errors: r.throughput.errors,
            hubCores: r.throughput.hubCores,
            hubCpuMsPerCycle: cpuPerCycle(r).hub,
            loadGeneratorCpuMsPerCycle: cpuPerCycle(r).bench,
            benchProcessCores: r.throughput.benchCores,
            hubSystemShare: r.throughput.hubSystemShare,
            loadGeneratorSystemShare: r.throughput.benchSystemShare,
            payeeThreadCpuMsPerCycle: r.throughput.mainCpuMs / r.throughput.closes,
            payerThreadsCpuMsPerCycle: r.throughput.workersCpuMs / r.throughput.closes,
            errorCodes: r.throughput.errorCodes,
            target: ops >= TARGET_OPENS_PER_S ? 'PASS' : 'MISS',
          },
          hub: r.hub,
          benchProcessCpuSeconds: r.benchCpuSeconds,
          sequentialOpenPhases: r.phases,
          warningsPerCycle: r.warnings,
          ...(r.profile ? { hubProfile: r.profile.categories, hubTopFunctions: r.profile.top.slice(0, 25) } : {}),
        };
      }),
    },
    null,
    2,
  )}\n`,
);
log(`wrote ${RESULTS}`);

// ---------------------------------------------------------------- CPU profile summary
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

function categorise(fn: string, url: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'V8/native (program)';
  if (/DatabaseSync|StatementSync|sqlite/i.test(fn) || /sqlite/.test(url)) return 'sqlite (store)';
  if (/libp2p-noise|@noble\/ciphers|chacha|poly1305|x25519/.test(url)) return 'libp2p noise (encryption)';
  if (/yamux/.test(url)) return 'libp2p yamux';
  if (/libp2p|multiaddr|it-|uint8arraylist|protons|@libp2p|multiformats|p-queue|race-signal|abortable/.test(url)) return 'libp2p (other)';
  if (/secp256k1|@noble\/curves|elliptic/.test(url)) return 'secp256k1 (sign/recover)';
  if (/keccak|@noble\/hashes|hash-wasm/.test(url)) return 'keccak/hashes';
  if (/ethers/.test(url)) return 'ethers (chain/ABI)';
  if (/channel-core\/src\/engine/.test(url)) return 'engine';
  if (/channel-core\/src\/protocols/.test(url)) return 'protocols';
  if (/channel-core\/src\/sqlite/.test(url)) return 'sqlite (store)';
  if (/channel-core\/src\/libp2p/.test(url)) return 'messaging adapter';
  if (/channel-core\/src/.test(url)) return 'channel-core (encoding/other)';
  if (/packages\/hub|prom-client|pino/.test(url)) return 'hub service/metrics/logs';
  if (url.startsWith('node:') || url === '') return 'node internals (streams, net, timers)';
  return 'other';
}

function summariseProfile(p: CpuProfile): { categories: { category: string; ms: number; share: number }[]; top: { fn: string; ms: number }[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const cat = categorise(n.callFrame.functionName, n.callFrame.url);
    if (cat === 'idle') continue;
    total += us;
    cats.set(cat, (cats.get(cat) ?? 0) + us);
    const short = n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/work\/main\//, '');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${short}${short ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  return {
    categories: [...cats].sort((a, b) => b[1] - a[1]).map(([category, us]) => ({ category, ms: us / 1000, share: us / total })),
    top: [...fns].sort((a, b) => b[1] - a[1]).map(([fn, us]) => ({ fn, ms: us / 1000 })),
  };
}
