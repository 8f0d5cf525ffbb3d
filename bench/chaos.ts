/**
 * Chaos: SIGKILL the hub, a payee or a payer at random moments under concurrent load, on a real
 * anvil chain with real processes, then let everything converge and check the money to the wei.
 *
 *   npm run bench:chaos                               # 60 s, 1 payee, 4 payers, a kill every ~5 s
 *   CHAOS_SEED=7 CHAOS_DURATION_S=180 CHAOS_PAYERS=8 CHAOS_PAYEES=2 npm run bench:chaos
 *
 * Processes: anvil; `sluice-hub start` (bench/lib/hub-process.ts, sqlite file store); each payee
 * and payer a node process (bench/lib/chaos-node.ts, its own sqlite file and fixed port). Each
 * payer loops: open a virtual channel to a payee, pay 1–5 vouchers (`payAsync`, each handed to the
 * payee's `receiveVoucherAsync`, as the client and the provider do), close it (payer or payee, at
 * random); now and then it tops its ledger up. Meanwhile, every ~CHAOS_KILL_EVERY_MS one process
 * (CHAOS_TARGETS: hub, payee, payer) is SIGKILLed and restarted on the same store after a random
 * delay up to CHAOS_MAX_DOWN_MS; CHAOS_LONG_DOWN_P of outages last CHAOS_LONG_DOWN_MS instead
 * (past the nodes' peer timeout: the automatic on-chain fallback).
 *
 * A node whose ledger with the hub is being closed or gone (exited on chain after a long outage)
 * opens a new one and carries on (CHAOS_RENEW=0: not). With the default challenge durations
 * (600 s / 300 s) and chain time standing still between transactions, the exits themselves
 * finalize only at the end; to have them pay out under the load, chain time must move:
 * CHAOS_LEDGER_CHALLENGE_S=90 CHAOS_VIRTUAL_CHALLENGE_S=60 CHAOS_MINE_MS=1000
 * settles exits on chain *during* the load, under the kills.
 *
 * CHAOS_ASSET=token runs everything in a test ERC20 deployed for the run (every deposit is an
 * approve + deposit, killed between the two as anywhere else); the money checks then count token
 * balances, gas aside.
 *
 * With CHAOS_SELF_KILL_P > 0, payees and payers also SIGKILL themselves at engine events with
 * that probability (bench/lib/chaos-node.ts: right after a step commits, before its fsync, or once
 * it is durable) and are restarted after a random delay up to CHAOS_MAX_DOWN_MS. CHAOS_HUB_SELF_KILL_P
 * does the same to the hub (bench/lib/chaos-hub.ts: the `sluice-hub` CLI with the same hooks).
 *
 * Then: the load stops, every process is up; funded virtual channels are closed, chain time is
 * moved past challenge durations while a dispute is open, until no objective is in progress
 * anywhere (bounded by CHAOS_CONVERGE_S); every ledger is closed (cooperatively, else on chain).
 * Checked exactly:
 *  1. every virtual channel: what the payee was credited is at least the best voucher it
 *     acknowledged and at most the best the payer signed (and one the payer signed); payer, payee
 *     and hub agree on how it ended;
 *  2. conservation: the adjudicator holds nothing (per channel and in all), the sum of every
 *     account's on-chain net change is 0;
 *  3. each payer's on-chain net change (gas added back) is −(what its channels credited), each
 *     payee's is +(what it was credited), the hub's is 0;
 *  4. nothing stuck: no objective in progress, no dispute, within CHAOS_CONVERGE_S.
 * The report (stdout and report.json) also counts the transactions mined reverted, by phase (load,
 * converge, close), sender and call: gas paid for nothing (a revert caught at estimation costs none);
 * and the adjudicator calls that succeeded, by phase (`minedCalls`: what the on-chain paths did; a
 * call on a fixed part names the channel's kind, e.g. `load: challenge (ledger)` is a ledger exit).
 * Exit 0 when every check holds, 1 otherwise; the work dir (stores, logs) is kept on failure.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Contract, JsonRpcProvider, Wallet } from 'ethers';
import { startAnvil, freePort } from '@sluice/contracts/anvil';
import { loadArtifact } from '@sluice/contracts';
import { privateKeyToAddress, type Voucher } from '@sluice/channel-core';
import type { LedgerChannelInfo, NodeInit, VirtualChannelInfo } from '@sluice/channel-core/node';
import type { ChildProcess } from 'node:child_process';
import { deployLocal } from './lib/local-chain.ts';
import { startHubProcess } from './lib/hub-process.ts';
import { ChaosNode } from './lib/chaos-remote.ts';
import { seededRandom as prng } from '@sluice/channel-core/memory';

const CHAOS_HUB = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'chaos-hub.ts');

const env = (k: string, d: number): number => Number(process.env[k] ?? d);
const SEED = env('CHAOS_SEED', Date.now() % 100_000);
const DURATION_S = env('CHAOS_DURATION_S', 60);
const PAYERS = env('CHAOS_PAYERS', 4);
const PAYEES = env('CHAOS_PAYEES', 1);
const LANES = env('CHAOS_LANES', 1); // concurrent channel loops per payer
const KILL_EVERY_MS = env('CHAOS_KILL_EVERY_MS', 5_000);
const MAX_DOWN_MS = env('CHAOS_MAX_DOWN_MS', 3_000);
const LONG_DOWN_P = env('CHAOS_LONG_DOWN_P', 0);
const LONG_DOWN_MS = env('CHAOS_LONG_DOWN_MS', 25_000);
const CONVERGE_S = env('CHAOS_CONVERGE_S', 240);
const PEER_TIMEOUT_MS = env('CHAOS_PEER_TIMEOUT_MS', 20_000);
/** Probability, at each engine event of a payee or payer, that it SIGKILLs itself right there (0: off). */
const SELF_KILL_P = env('CHAOS_SELF_KILL_P', 0);
/** The same for the hub (0: off). The hub sees every client's steps: ~10x a payer's events, so a tenth of a payer's rate kills it about as often. */
const HUB_SELF_KILL_P = env('CHAOS_HUB_SELF_KILL_P', 0);
const TARGETS = (process.env['CHAOS_TARGETS'] ?? 'hub,payee,payer').split(',');
const KEEP = process.env['CHAOS_KEEP'] === '1';
/** `eth` (default) or `token`: the ledgers and virtual channels in the deployment's test ERC20 (approve + deposit under the kills). */
const ASSET_KIND = process.env['CHAOS_ASSET'] ?? 'eth';
if (ASSET_KIND !== 'eth' && ASSET_KIND !== 'token') throw new Error('CHAOS_ASSET must be eth or token');

const DEPOSIT = 10n ** 18n;
const COLLATERAL = 10n ** 19n;
const AMOUNT = 10n ** 16n;
const PRICE = 10n ** 13n;
const TOPUP = 10n ** 15n;
/** Challenge durations, seconds (the hub is told to accept them; it refuses under 1 minute). */
const LEDGER_CHALLENGE = env('CHAOS_LEDGER_CHALLENGE_S', 600);
const VIRTUAL_CHALLENGE = env('CHAOS_VIRTUAL_CHALLENGE_S', 300);
/** Mine an empty block every this many ms while the load runs (0: off), so chain time follows the clock and challenges finalize during the run. */
const MINE_MS = env('CHAOS_MINE_MS', 0);
/** 1: a payer or payee whose ledger with the hub is gone (closed, failed) opens a new one during the run. */
const RENEW = env('CHAOS_RENEW', 1) === 1;
const ZERO = '0x0000000000000000000000000000000000000000';

const t0 = Date.now();
const log = (s: string): void => void process.stderr.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const rnd = prng(SEED);
const randInt = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));

/**
 * The hub process: killable, restartable on the same store, port and HTTP port. With `selfKill`, it
 * runs `bench/lib/chaos-hub.ts` (the CLI plus self-kills at exact engine steps, armed over stdin)
 * and `onDeath` hears of exits nobody asked for.
 */
class HubProc {
  #child: ChildProcess | undefined;
  #starting: Promise<void> | undefined;
  #expectExit = false;
  #armed = false;
  starts = 0;
  deaths = 0;
  multiaddrs: string[] = [];
  http = '';
  onDeath: (() => void) | undefined;
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly logFile: string;
  readonly selfKill: ((start: number) => Record<string, string>) | undefined;
  constructor(args: string[], env: Record<string, string>, logFile: string, selfKill?: (start: number) => Record<string, string>) {
    this.args = args;
    this.env = env;
    this.logFile = logFile;
    this.selfKill = selfKill;
  }
  get up(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }
  /** Start it unless it is up or starting (a self-kill's restart and the kill loop's may meet). */
  start(): Promise<void> {
    if (this.up) return Promise.resolve();
    this.#starting ??= this.#start().finally(() => (this.#starting = undefined));
    return this.#starting;
  }
  async #start(): Promise<void> {
    this.starts++;
    this.#expectExit = false;
    appendFileSync(this.logFile, `--- ${new Date().toISOString()} start #${this.starts}\n`);
    const sk = this.selfKill?.(this.starts);
    const h = await startHubProcess(this.args, { ...this.env, ...(sk ?? {}) }, {
      onLine: (l) => appendFileSync(this.logFile, l + '\n'),
      ...(sk !== undefined ? { script: CHAOS_HUB, stdin: true } : {}),
    });
    this.#child = h.child;
    this.multiaddrs = h.multiaddrs;
    this.http = h.http;
    h.child.stdin?.on('error', () => {}); // an arm line to a hub that just died
    h.child.once('exit', () => {
      if (this.#expectExit) return;
      this.deaths++;
      this.onDeath?.();
    });
    if (this.#armed) this.#send('arm');
  }
  /** Arm or disarm its self-kills (again at each start while armed). */
  arm(on: boolean): void {
    this.#armed = on;
    if (this.up) this.#send(on ? 'arm' : 'disarm');
  }
  #send(line: string): void {
    const stdin = this.#child?.stdin;
    if (stdin != null && !stdin.destroyed) stdin.write(line + '\n', () => {});
  }
  async kill(): Promise<void> {
    const c = this.#child;
    if (c === undefined || !this.up) return;
    this.#expectExit = true;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
  async stop(): Promise<void> {
    const c = this.#child;
    if (c === undefined || !this.up) return;
    this.#expectExit = true;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  /** The hub's /status; a hub busy settling dozens of channels on chain may take a while: 3 tries of 10 s. */
  async status(): Promise<HubStatus> {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await fetch(`${this.http}/status`, { signal: AbortSignal.timeout(10_000) });
        return (await r.json()) as HubStatus;
      } catch (e) {
        if (attempt >= 3) throw e;
        log(`hub status: no answer (${e instanceof Error ? e.name : String(e)}), asking again`);
      }
    }
  }
}
interface HubStatus {
  ledgers: { channelId: string; counterparty: string; status: string; turnNum: number; hubBalance: string; peerBalance: string; guarantees: number }[];
  virtualChannels: { channelId: string; status: string }[];
  objectivesInFlight: number;
  disputes: unknown[];
}

/** What the harness knows of one virtual channel. */
interface Track {
  payer: string;
  payee: string;
  /** Amounts of the vouchers the payer signed and returned (all were sent to the payee). */
  signed: bigint[];
  /** Best voucher the payee acknowledged (receiveVoucherAsync resolved `accepted`). */
  acked: bigint;
}

async function main(): Promise<number> {
  log(`seed ${SEED}: ${DURATION_S} s, ${PAYEES} payee(s), ${PAYERS} payer(s) x ${LANES} lane(s), a kill every ~${KILL_EVERY_MS} ms of ${TARGETS.join('/')}, down up to ${MAX_DOWN_MS} ms (long ${LONG_DOWN_MS} ms with p=${LONG_DOWN_P})`);
  const anvil = await startAnvil({ accounts: 3 + PAYEES + PAYERS });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-chaos-'));
  log(`work dir ${dir}`);
  const rpc = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  let hub: HubProc | undefined;
  const nodes: ChaosNode[] = [];
  let ok = false;
  let stopChaos = false;
  const selfKills: { at: number; who: string }[] = [];
  try {
    const { d, deploymentFile } = await deployLocal(anvil, dir, { testToken: ASSET_KIND === 'token' });
    const ASSET = ASSET_KIND === 'token' ? d.testToken! : ZERO;
    const token = ASSET_KIND === 'token' ? new Contract(ASSET, loadArtifact('TestToken').abi as never, new Wallet(anvil.accounts[0]!, rpc)) : undefined;
    /** What `who` holds of the asset at `block`. */
    const balanceAt = async (who: string, block: number): Promise<bigint> =>
      token === undefined ? rpc.getBalance(who, block) : ((await token.getFunction('balanceOf')(who, { blockTag: block })) as bigint);
    const adjudicator = new Contract(d.adjudicator, loadArtifact('NitroAdjudicator').abi as never, rpc);
    const hubAddress = privateKeyToAddress(anvil.accounts[1]!);
    hub = new HubProc(
      ['--rpc-url', anvil.rpcUrl, '--deployment', deploymentFile, '--dev-account', '1', '--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`, '--http-port', String(await freePort())],
      {
        SLUICE_HUB_STORE: join(dir, 'hub.db'),
        SLUICE_HUB_LOG_LEVEL: 'warn',
        SLUICE_HUB_MAX_LEDGER_DEPOSIT: String(10n ** 20n),
        SLUICE_HUB_CHAIN_POLL_MS: '100',
        SLUICE_HUB_INBOUND_PER_HOST: '1000',
        SLUICE_HUB_OBJECTIVE_TIMEOUT_MS: '2000',
        SLUICE_HUB_PREFUND_TIMEOUT_MS: '20000',
        SLUICE_HUB_MIN_CHALLENGE_DURATION: `${Math.floor(Math.min(LEDGER_CHALLENGE, VIRTUAL_CHALLENGE) / 60)}m`,
      },
      join(dir, 'hub.log'),
      HUB_SELF_KILL_P > 0 ? (start) => ({ CHAOS_SELF_KILL: `${HUB_SELF_KILL_P}:${SEED * 6007 + start}` }) : undefined,
    );
    /** A process that died by itself (a self-kill): count it and restart it after a random delay. */
    const restartOnDeath = (name: string, p: { deaths: number; onDeath: (() => void) | undefined; start(): Promise<void> }): void => {
      p.onDeath = () => {
        if (stopChaos) return;
        selfKills.push({ at: (Date.now() - t0) / 1000, who: name });
        const down = randInt(0, MAX_DOWN_MS);
        log(`${name} died by itself (${p.deaths}), restarting in ${down} ms`);
        void sleep(down).then(() => (stopChaos ? undefined : p.start().catch((e: unknown) => log(`${name} restart failed: ${String(e)}`))));
      };
    };
    restartOnDeath('hub', hub);
    await hub.start();
    const hubPeer = { address: hubAddress, multiaddrs: hub.multiaddrs };
    const mkNode = async (name: string, key: string): Promise<ChaosNode> => {
      const init: NodeInit = {
        privateKey: key,
        chain: { rpcUrl: anvil.rpcUrl, adjudicator: d.adjudicator, consensusApp: d.consensusApp!, virtualPaymentApp: d.virtualPaymentApp!, startBlock: d.deployBlock, pollIntervalMs: 100, timeoutMs: 30_000 },
        store: join(dir, `${name}.db`),
        listen: [`/ip4/127.0.0.1/tcp/${await freePort()}`],
        hub: hubPeer,
        callTimeoutMs: 15_000,
        objectiveTimeoutMs: 2_000,
        ledgerChallengeDuration: LEDGER_CHALLENGE,
        virtualChallengeDuration: VIRTUAL_CHALLENGE,
        messagingRetry: { initialBackoffMs: 50, maxBackoffMs: 1_000 },
        txRetryDelayMs: 200,
        fallback: { peerTimeoutMs: PEER_TIMEOUT_MS, cooperativeTimeoutMs: 5_000 },
        policy: { challengeDurations: { ledger: [LEDGER_CHALLENGE, LEDGER_CHALLENGE], virtual: [VIRTUAL_CHALLENGE, VIRTUAL_CHALLENGE] } },
      };
      const n = new ChaosNode(name, privateKeyToAddress(key), init, join(dir, `${name}.log`));
      const seed = SEED * 7919 + nodes.length * 104_729;
      if (SELF_KILL_P > 0) n.env = (start) => ({ CHAOS_SELF_KILL: `${SELF_KILL_P}:${seed + start}` });
      restartOnDeath(name, n);
      nodes.push(n);
      await n.start();
      return n;
    };
    const payees = await Promise.all(Array.from({ length: PAYEES }, (_, i) => mkNode(`payee${i}`, anvil.accounts[2 + i]!)));
    const payers = await Promise.all(Array.from({ length: PAYERS }, (_, i) => mkNode(`payer${i}`, anvil.accounts[2 + PAYEES + i]!)));
    const accounts = [hubAddress, ...nodes.map((n) => n.address)];
    if (token !== undefined) {
      // every payer and the hub get tokens (gas stays ETH, which anvil's dev accounts have plenty of)
      for (const a of [hubAddress, ...payers.map((p) => p.address)]) await (await token.getFunction('mint')(a, 10n ** 22n)).wait();
    }
    const block0 = await rpc.getBlockNumber();
    const balance0 = new Map(await Promise.all(accounts.map(async (a) => [a, await balanceAt(a, block0)] as const)));

    // every ledger each node opened with the hub, the current one last
    const ledgersOf = new Map<ChaosNode, string[]>(nodes.map((n) => [n, []]));
    const ledgerOf = (n: ChaosNode): string => ledgersOf.get(n)!.at(-1)!;
    const openLedger = async (n: ChaosNode): Promise<void> => {
      const args = payees.includes(n) ? { counterparty: hubAddress, asset: ASSET, deposit: 0n, counterpartyDeposit: COLLATERAL } : { counterparty: hubAddress, asset: ASSET, deposit: DEPOSIT };
      ledgersOf.get(n)!.push((await n.call<{ channelId: string }>('createLedgerChannel', [args], 20_000)).channelId);
    };
    await Promise.all(nodes.map(openLedger));
    for (let i = 0; ; i++) {
      const s = await hub.status();
      if (nodes.every((n) => s.ledgers.some((l) => l.channelId === ledgerOf(n) && l.status === 'open'))) break;
      if (i > 300) throw new Error('ledgers not open at the hub');
      await sleep(100);
    }
    if (SELF_KILL_P > 0) for (const n of nodes) await n.arm(true);
    if (HUB_SELF_KILL_P > 0) hub.arm(true);
    log(`hub, ${PAYEES} payee(s), ${PAYERS} payer(s) up, ledgers open; chaos for ${DURATION_S} s`);

    // ---------------------------------------------------------------- load
    const tracks = new Map<string, Track>();
    const errors = new Map<string, number>();
    const fail = (where: string, x: unknown): void => {
      const code = `${where}: ${(x as { code?: string }).code ?? String(x).slice(0, 60)}`;
      errors.set(code, (errors.get(code) ?? 0) + 1);
    };
    let stop = false;
    let cycles = 0;
    let topUps = 0;
    let vouchers = 0;
    const loads = payers.flatMap((a, i) =>
      Array.from({ length: LANES }, async (_, lane) => {
        const r = prng(SEED * 1000 + i * 10 + lane);
        for (let k = 0; !stop; k++) {
          const payee = payees[(i + k) % payees.length]!;
          let step = 'open';
          try {
            if (lane === 0 && r() < 0.1) {
              step = 'topUp';
              await a.call('topUpLedgerChannel', [{ channelId: ledgerOf(a), amount: TOPUP }, { timeoutMs: 15_000 }], 20_000);
              topUps++;
            }
            step = 'open';
            const { channelId } = await a.call<{ channelId: string }>('createVirtualChannel', [{ payee: payee.address, asset: ASSET, amount: AMOUNT }, { timeoutMs: 15_000 }], 20_000);
            const t: Track = { payer: a.name, payee: payee.name, signed: [], acked: 0n };
            tracks.set(channelId, t);
            step = 'funded';
            for (let w = 0; ; w++) {
              const v = await payee.call<VirtualChannelInfo | undefined>('getVirtualChannel', [channelId], 5_000);
              if (v?.status === 'funded') break;
              if (w > 100 || stop) throw Object.assign(new Error('payee does not see it funded'), { code: `payee sees ${v?.status}` });
              await sleep(100);
            }
            const n = 1 + Math.floor(r() * 5);
            for (let j = 0; j < n; j++) {
              step = 'pay';
              const v = await a.call<Voucher>('payAsync', [channelId, PRICE], 10_000);
              t.signed.push(v.amount);
              vouchers++;
              step = 'receive';
              const res = await payee.call<{ kind: string; code?: string }>('receiveVoucherAsync', [v, { price: PRICE }], 10_000);
              if (res.kind === 'accepted') {
                if (v.amount > t.acked) t.acked = v.amount;
              } else throw Object.assign(new Error(`voucher ${res.kind}`), { code: `voucher ${res.kind} ${res.code ?? ''}` });
            }
            step = 'close';
            await (r() < 0.5 ? a : payee).call('closeVirtualChannel', [channelId, { timeoutMs: 15_000 }], 20_000);
            cycles++;
          } catch (x) {
            fail(step, x);
            await sleep(200 + Math.floor(r() * 300));
          }
        }
      }),
    );

    // A node whose ledger with the hub is closing or gone opens a new one (a node killed mid-call may have
    // opened one we were not told of: the node's own list is the truth).
    let renewals = 0;
    const renewLoops = !RENEW
      ? []
      : nodes.map(async (n) => {
          while (!stop) {
            await sleep(1_000);
            try {
              const mine = (await n.call<LedgerChannelInfo[]>('getLedgerChannels', [], 5_000)).filter((l) => l.counterparty.toLowerCase() === hubAddress.toLowerCase());
              for (const l of mine) if (!ledgersOf.get(n)!.includes(l.channelId)) ledgersOf.get(n)!.push(l.channelId);
              // one being closed (an exit on chain runs its challenge duration) does not stop a new one
              if (stop || mine.some((l) => l.status === 'funding' || l.status === 'open')) continue;
              await openLedger(n);
              renewals++;
              log(`${n.name} opened a new ledger with the hub (renewal ${renewals})`);
            } catch (x) {
              fail('renew ledger', x);
            }
          }
        });
    const mining = (async () => {
      while (MINE_MS > 0 && !stop) {
        await sleep(MINE_MS);
        await rpc.send('evm_mine', []).catch(() => {});
      }
    })();

    // ---------------------------------------------------------------- chaos
    const kills: { at: number; who: string; downMs: number; cyclesBefore: number }[] = [];
    const victims = [...(TARGETS.includes('hub') ? ['hub'] : []), ...(TARGETS.includes('payee') ? payees.map((p) => p.name) : []), ...(TARGETS.includes('payer') ? payers.map((p) => p.name) : [])];
    const deadline = Date.now() + DURATION_S * 1000;
    while (Date.now() < deadline) {
      await sleep(Math.max(200, Math.round(KILL_EVERY_MS * (0.4 + 1.2 * rnd()))));
      if (Date.now() >= deadline || victims.length === 0) break;
      // the hub one time in three, else a payee or payer
      const who = TARGETS.includes('hub') && rnd() < 1 / 3 ? 'hub' : victims.filter((v) => v !== 'hub')[randInt(0, victims.filter((v) => v !== 'hub').length - 1)] ?? 'hub';
      const downMs = rnd() < LONG_DOWN_P ? LONG_DOWN_MS : randInt(0, MAX_DOWN_MS);
      kills.push({ at: (Date.now() - t0) / 1000, who, downMs, cyclesBefore: cycles });
      const target = who === 'hub' ? hub : nodes.find((n) => n.name === who)!;
      await target.kill();
      log(`killed ${who} (kill ${kills.length}, ${cycles} cycles so far), down ${downMs} ms`);
      await sleep(downMs);
      await target.start().catch((e: unknown) => log(`${who} restart failed: ${String(e)}`));
    }
    stop = true;
    stopChaos = true;
    for (const n of nodes) await n.arm(false);
    hub.arm(false);
    log(`chaos over: ${kills.length} kills, ${cycles} cycles; waiting for the loads to stop`);
    await Promise.all([...loads, ...renewLoops, mining]);
    await hub.start();
    for (const n of nodes) {
      await n.start();
      await n.arm(false);
    }

    // ---------------------------------------------------------------- converge
    const tConverge = Date.now();
    const blockLoadEnd = await rpc.getBlockNumber();
    const inProgress = async (): Promise<string[]> => {
      const out: string[] = [];
      const s = await hub!.status();
      if (s.objectivesInFlight > 0) out.push(`hub: ${s.objectivesInFlight} objective(s) in flight`);
      if (s.disputes.length > 0) out.push(`hub: ${s.disputes.length} dispute(s)`);
      for (const v of s.virtualChannels) if (v.status !== 'closed' && v.status !== 'failed') out.push(`hub: virtual ${v.channelId} ${v.status}`);
      for (const n of nodes) {
        for (const o of await n.call<string[]>('activeObjectives', [], 10_000)) out.push(`${n.name}: ${o}`);
        const ds = await n.call<unknown[]>('getDisputes', [], 10_000);
        if (ds.length > 0) out.push(`${n.name}: ${ds.length} dispute(s)`);
      }
      return out;
    };
    let stuck: string[] = [];
    let timeMoved = 0;
    let lastReport = Date.now();
    for (;;) {
      for (const n of nodes) {
        for (const v of await n.call<VirtualChannelInfo[]>('getVirtualChannels', [], 10_000)) {
          if (v.status === 'funded') await n.call('closeVirtualChannel', [v.channelId, { timeoutMs: 10_000 }], 15_000).catch((x) => fail('converge close', x));
        }
      }
      stuck = await inProgress();
      const open = (await Promise.all(nodes.map(async (n) => (await n.call<VirtualChannelInfo[]>('getVirtualChannels', [], 10_000)).filter((v) => v.status !== 'closed' && v.status !== 'failed').map((v) => `${n.name}: virtual ${v.channelId} ${v.status}`)))).flat();
      stuck.push(...open);
      if (stuck.length === 0) break;
      if (Date.now() - tConverge > CONVERGE_S * 1000) break;
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        log(`converging: ${stuck.length} thing(s) in progress: ${stuck.slice(0, 4).join('; ')}${stuck.length > 4 ? '; …' : ''}`);
      }
      if (stuck.some((s) => s.includes('dispute') || s.includes('allenge') || s.includes('Finaliz') || s.includes('Reclaim'))) {
        await rpc.send('evm_increaseTime', [LEDGER_CHALLENGE + 60]);
        await rpc.send('evm_mine', []);
        timeMoved++;
      }
      await sleep(1_000);
    }
    const convergeS = (Date.now() - tConverge) / 1000;
    const blockConverged = await rpc.getBlockNumber();
    log(stuck.length === 0 ? `converged in ${convergeS.toFixed(1)} s (chain time moved ${timeMoved} times)` : `NOT converged after ${convergeS.toFixed(1)} s: ${stuck.join('; ')}`);

    // ---------------------------------------------------------------- close every ledger
    const tClose = Date.now();
    const ledgerErrors: string[] = [];
    for (let round = 0; round < 60; round++) {
      let pending = 0;
      for (const n of nodes) {
        for (const l of await n.call<LedgerChannelInfo[]>('getLedgerChannels', [], 10_000)) {
          if (l.counterparty.toLowerCase() !== hubAddress.toLowerCase()) continue;
          if (!ledgersOf.get(n)!.includes(l.channelId)) ledgersOf.get(n)!.push(l.channelId);
          if (l.status === 'closed' || l.status === 'failed') continue;
          pending++;
          if (l.status === 'open') {
            await n.call('closeLedgerChannel', [l.channelId, { timeoutMs: 10_000 }], 15_000).catch((x) => {
              if (round >= 5) void n.call('exitLedgerChannel', [l.channelId, {}], 15_000).catch(() => {});
              ledgerErrors.push(`${n.name} round ${round}: ${(x as { code?: string }).code}`);
            });
          }
        }
      }
      const anyDispute = (await Promise.all(nodes.map((n) => n.call<unknown[]>('getDisputes', [], 10_000)))).some((x) => x.length > 0) || (await hub.status()).disputes.length > 0;
      if (pending === 0 && !anyDispute && (await hub.status()).objectivesInFlight === 0) break;
      if (anyDispute) {
        await rpc.send('evm_increaseTime', [LEDGER_CHALLENGE + 60]);
        await rpc.send('evm_mine', []);
      }
      await sleep(1_000);
    }
    log(`ledgers closed in ${((Date.now() - tClose) / 1000).toFixed(1)} s${ledgerErrors.length > 0 ? ` (errors: ${ledgerErrors.slice(0, 5).join(', ')}${ledgerErrors.length > 5 ? ', …' : ''})` : ''}`);

    // ---------------------------------------------------------------- checks
    const problems: string[] = [];
    const notes: string[] = [];
    const check = (cond: boolean, what: string): void => void (cond || problems.push(what));
    const views = new Map<ChaosNode, Map<string, VirtualChannelInfo>>();
    for (const n of nodes) views.set(n, new Map((await n.call<VirtualChannelInfo[]>('getVirtualChannels', [], 10_000)).map((v) => [v.channelId, v])));
    const hubStatus = await hub.status();
    const channelIds = new Set<string>([...tracks.keys(), ...[...views.values()].flatMap((m) => [...m.keys()])]);
    const credited = new Map<string, bigint>(); // by node name: + for payees, − for payers
    let closed = 0;
    let failed = 0;
    let totalPaid = 0n;
    for (const id of channelIds) {
      const t = tracks.get(id);
      const payerNode = payers.find((p) => views.get(p)!.has(id));
      const payeeNode = payees.find((p) => views.get(p)!.has(id));
      const atPayer = payerNode === undefined ? undefined : views.get(payerNode)!.get(id);
      const atPayee = payeeNode === undefined ? undefined : views.get(payeeNode)!.get(id);
      const maxSigned = t === undefined || t.signed.length === 0 ? 0n : t.signed.reduce((a, b) => (a > b ? a : b));
      const acked = t?.acked ?? 0n;
      if (atPayer === undefined) {
        problems.push(`${id}: unknown to its payer`);
        continue;
      }
      if (atPayer.status === 'closed') {
        closed++;
        // The mirror of the note below: an open the payee's side cut short (the payee failed its
        // virtual fund when its ledger went on chain) that the payer's side settled on chain at its
        // prefund — nothing was ever paid on it.
        if (atPayee?.status === 'failed' && atPayer.paid === 0n && acked === 0n && maxSigned === 0n) {
          notes.push(`${id}: closed (paid 0, settled on chain before it was funded) at the payer, failed at the payee`);
          continue;
        }
        check(atPayee?.status === 'closed', `(1) ${id}: closed at the payer, ${atPayee?.status ?? 'unknown'} at the payee`);
        const paid = atPayee?.paid ?? atPayer.paid;
        check(atPayer.paid === paid, `(1) ${id}: payer says ${atPayer.paid} paid, payee ${paid}`);
        check(paid >= acked, `(1) ${id}: payee credited ${paid} < the voucher of ${acked} it acknowledged`);
        check(paid <= maxSigned, `(1) ${id}: payee credited ${paid} > the best voucher the payer signed, ${maxSigned}`);
        check(paid === 0n || (t?.signed.includes(paid) ?? false), `(1) ${id}: payee credited ${paid}, not an amount the payer signed`);
        credited.set(payerNode!.name, (credited.get(payerNode!.name) ?? 0n) - paid);
        credited.set(payeeNode!.name, (credited.get(payeeNode!.name) ?? 0n) + paid);
        totalPaid += paid;
      } else if (atPayer.status === 'failed') {
        failed++;
        // A payer's open that its own fallback cut short (its ledger went on chain while it waited for
        // the last postfund signature) is `failed` at the payer though the hub and payee completed it
        // and settle it on chain: harmless when nothing was paid on it (the payer can pay on a funded
        // channel only), noted; anything paid would be a problem.
        if (atPayee?.status === 'closed' && atPayee.paid === 0n) notes.push(`${id}: failed at the payer, closed (paid 0) at the payee`);
        else check(atPayee === undefined || atPayee.status === 'failed', `(1) ${id}: failed at the payer, ${atPayee?.status} (paid ${atPayee?.paid}) at the payee`);
        check(acked === 0n, `(1) ${id}: failed, yet the payee acknowledged a voucher of ${acked}`);
      } else problems.push(`(4) ${id}: ${atPayer.status} at the payer`);
    }
    for (const v of hubStatus.virtualChannels) check(v.status === 'closed' || v.status === 'failed', `(4) hub: virtual ${v.channelId} ${v.status}`);
    for (const l of hubStatus.ledgers) check(l.status === 'closed', `(4) hub: ledger ${l.channelId} ${l.status}`);
    check(stuck.length === 0, `(4) not converged within ${CONVERGE_S} s: ${stuck.slice(0, 10).join('; ')}`);
    check(hubStatus.objectivesInFlight === 0 && hubStatus.disputes.length === 0, `(4) hub: ${hubStatus.objectivesInFlight} objectives, ${hubStatus.disputes.length} disputes at the end`);
    for (const n of nodes) {
      const a = await n.call<string[]>('activeObjectives', [], 10_000);
      check(a.length === 0, `(4) ${n.name}: objectives in progress at the end: ${a.join('; ')}`);
    }

    // on chain
    const holdingIds = new Set<string>([...channelIds, ...hubStatus.ledgers.map((l) => l.channelId), ...[...ledgersOf.values()].flat()]);
    for (const id of holdingIds) {
      const h = (await adjudicator.getFunction('holdings')(ASSET, id)) as bigint;
      check(h === 0n, `(2) ${id}: the adjudicator still holds ${h}`);
    }
    const adjBalance = await balanceAt(d.adjudicator, await rpc.getBlockNumber());
    check(adjBalance === 0n, `(2) the adjudicator still holds ${adjBalance} wei in all`);
    const block1 = await rpc.getBlockNumber();
    const fees = new Map<string, bigint>();
    // transactions mined reverted (gas paid for nothing), by phase, sender and call; those caught
    // at gas estimation never reach the chain and are not counted here (see the nodes' logs)
    const reverted = new Map<string, number>();
    // and the adjudicator calls that succeeded, by phase: what the on-chain paths did at all
    const minedCalls = new Map<string, number>();
    // calls taking a fixed part first (challenge, checkpoint, conclude…) name the channel's kind:
    // a ledger exit and a virtual channel settled on chain read differently
    const channelKind = (fixedPart: unknown): string => {
      const app = (fixedPart as { appDefinition?: unknown } | undefined)?.appDefinition;
      if (typeof app !== 'string') return '';
      return app.toLowerCase() === d.consensusApp!.toLowerCase() ? ' (ledger)' : app.toLowerCase() === d.virtualPaymentApp!.toLowerCase() ? ' (virtual)' : '';
    };
    const nameOf = (a: string): string => (a.toLowerCase() === hubAddress.toLowerCase() ? 'hub' : (nodes.find((n) => n.address.toLowerCase() === a.toLowerCase())?.name ?? a));
    for (let b = block0 + 1; b <= block1; b++) {
      for (const tx of (await rpc.getBlock(b, true))?.prefetchedTransactions ?? []) {
        const r = await rpc.getTransactionReceipt(tx.hash);
        if (r !== null) fees.set(tx.from.toLowerCase(), (fees.get(tx.from.toLowerCase()) ?? 0n) + r.fee);
        if (r === null) continue;
        const phase = b <= blockLoadEnd ? 'load' : b <= blockConverged ? 'converge' : 'close';
        const parsed = tx.to?.toLowerCase() === d.adjudicator.toLowerCase() ? adjudicator.interface.parseTransaction({ data: tx.data, value: tx.value }) : 'token';
        const call = parsed === 'token' ? parsed : parsed === null ? 'adjudicator?' : `${parsed.name}${channelKind(parsed.args[0])}`;
        if (r.status === 0) {
          const k = `${phase}: ${nameOf(tx.from)} ${call}`;
          reverted.set(k, (reverted.get(k) ?? 0) + 1);
        } else if (call !== 'token') {
          const k = `${phase}: ${call}`;
          minedCalls.set(k, (minedCalls.get(k) ?? 0) + 1);
        }
      }
    }
    const net = new Map<string, bigint>();
    // (gas is paid in ETH: added back only when the asset is ETH)
    for (const a of accounts) net.set(a, (await balanceAt(a, block1)) - balance0.get(a)! + (token === undefined ? (fees.get(a.toLowerCase()) ?? 0n) : 0n));
    const sum = [...net.values()].reduce((a, b) => a + b, 0n);
    check(sum === 0n, `(2) conservation: the accounts' net changes sum to ${sum}, not 0`);
    check(net.get(hubAddress) === 0n, `(3) the hub nets ${net.get(hubAddress)}, not 0`);
    for (const n of nodes) check(net.get(n.address) === (credited.get(n.name) ?? 0n), `(3) ${n.name}: on-chain net ${net.get(n.address)}, expected ${credited.get(n.name) ?? 0n}`);

    // ---------------------------------------------------------------- report
    const restarts = Object.fromEntries([['hub', hub.starts - 1], ...nodes.map((n) => [n.name, n.starts - 1])]);
    const report = {
      seed: SEED,
      params: { durationS: DURATION_S, payees: PAYEES, payers: PAYERS, lanes: LANES, killEveryMs: KILL_EVERY_MS, maxDownMs: MAX_DOWN_MS, longDownP: LONG_DOWN_P, longDownMs: LONG_DOWN_MS, peerTimeoutMs: PEER_TIMEOUT_MS, selfKillP: SELF_KILL_P, hubSelfKillP: HUB_SELF_KILL_P, targets: TARGETS, ledgerChallengeS: LEDGER_CHALLENGE, virtualChallengeS: VIRTUAL_CHALLENGE, mineMs: MINE_MS, renew: RENEW, asset: ASSET_KIND },
      kills: kills.length,
      selfKills: selfKills.length,
      restarts,
      cycles,
      vouchers,
      topUps,
      ledgerRenewals: renewals,
      channels: { total: channelIds.size, closed, failed },
      totalPaid: totalPaid.toString(),
      convergeS,
      chainTimeMoves: timeMoved,
      onChainNet: Object.fromEntries([...net].map(([a, v]) => [nameOf(a), v.toString()])),
      loadErrors: Object.fromEntries([...errors].sort((a, b) => b[1] - a[1])),
      minedReverts: Object.fromEntries([...reverted].sort((a, b) => a[0].localeCompare(b[0]))),
      minedCalls: Object.fromEntries([...minedCalls].sort((a, b) => a[0].localeCompare(b[0]))),
      notes,
      problems,
    };
    writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2));
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(
      problems.length === 0
        ? `\nCHAOS OK (seed ${SEED}): ${kills.length} kills, ${selfKills.length} self-kills, ${cycles} cycles, ${channelIds.size} channels (${closed} closed, ${failed} failed), ${totalPaid} wei paid; every invariant holds to the wei\n`
        : `\nCHAOS FAILED (seed ${SEED}): ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}\nwork dir kept: ${dir}\n`,
    );
    ok = problems.length === 0;
    await Promise.allSettled([hub.stop(), ...nodes.map((n) => n.stop())]);
  } finally {
    await Promise.allSettled([hub?.kill(), ...nodes.map((n) => n.kill())]);
    rpc.destroy();
    await anvil.stop();
    if (ok && !KEEP) rmSync(dir, { recursive: true, force: true });
    else log(`work dir kept: ${dir}`);
  }
  return ok ? 0 : 1;
}

process.exitCode = await main().catch((e: unknown) => {
  log(`harness error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return 2;
});
