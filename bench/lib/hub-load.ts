/**
 * The load of `bench:hub`'s throughput run: clients that loop open → payee sees it funded →
 * close until a deadline, with their timings, errors, per-step latencies and event-loop delay.
 * Used in the bench process itself (HUB_BENCH_WORKERS=0) and in its load worker threads.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Address, ChannelId } from '@sluice/channel-core';
import type { Node, NodeInit } from '@sluice/channel-core/node';

/** Wall-clock milliseconds comparable across threads (each thread has its own `performance` origin). */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** Which channels a payee has seen funded (fed by the payees' `virtualChannelFunded` events). */
export class FundedTracker {
  readonly #seen = new Set<string>();
  readonly #waiters = new Map<string, () => void>();

  funded(id: string): void {
    const k = id.toLowerCase();
    const w = this.#waiters.get(k);
    if (w) {
      this.#waiters.delete(k);
      w();
    } else this.#seen.add(k);
  }

  wait(id: ChannelId): Promise<void> {
    const k = id.toLowerCase();
    if (this.#seen.delete(k)) return Promise.resolve();
    return new Promise((r) => this.#waiters.set(k, r));
  }
}

export interface CycleTiming {
  open: number[];
  close: number[];
  payee: number[];
}

/** One open → payee sees it funded → close. */
export async function cycle(a: Node, payee: Address, funded: FundedTracker, amount: bigint, timing?: CycleTiming): Promise<void> {
  const s = performance.now();
  const { channelId } = await a.createVirtualChannel({ payee, amount });
  const opened = performance.now();
  timing?.open.push(opened - s);
  await funded.wait(channelId);
  const payeeSees = performance.now();
  await a.closeVirtualChannel(channelId);
  const closed = performance.now();
  timing?.payee.push(payeeSees - s);
  timing?.close.push(closed - payeeSees);
}

export interface LoadResult extends CycleTiming {
  errors: number;
  errorCodes: Record<string, number>;
  /** Per objective type and step: ms from the objective's creation at the client. */
  phases: Record<string, number[]>;
  /** Event-loop delay of the thread that ran these clients, ms. */
  lag: { p50: number; p99: number; max: number };
  /** CPU time of the thread that ran these clients during the run, ms (process.threadCpuUsage). */
  threadCpuMs: number;
}

/** CPU time of the calling thread so far, ms. */
export function threadCpuMs(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
}

/** Run every client's loop until `deadline` (see {@link epochNow}); client `i` pays `payeeOf(i)`. */
export async function driveLoad(clients: readonly Node[], payeeOf: (i: number) => Address, funded: FundedTracker, amount: bigint, deadline: number): Promise<LoadResult> {
  const out: LoadResult = { open: [], close: [], payee: [], errors: 0, errorCodes: {}, phases: {}, lag: { p50: 0, p99: 0, max: 0 }, threadCpuMs: 0 };
  const created = new Map<string, number>();
  const mark = (id: string, phase: string): void => {
    const t0 = created.get(id);
    if (t0 === undefined) return;
    (out.phases[phase] ??= []).push(performance.now() - t0);
  };
  const offs = clients.flatMap((a) => [
    a.on('objectiveCreated', (e) => void created.set(e.objectiveId, performance.now())),
    a.on('objectiveProgress', (e) => mark(e.objectiveId, `${e.objectiveType} waiting for ${e.waitingFor}`)),
    a.on('objectiveCompleted', (e) => {
      mark(e.objectiveId, `${e.objectiveType} completed`);
      created.delete(e.objectiveId);
    }),
  ]);
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  const cpu0 = threadCpuMs();
  await Promise.all(
    clients.map(async (a, i) => {
      while (epochNow() < deadline) {
        try {
          await cycle(a, payeeOf(i), funded, amount, out);
        } catch (e) {
          out.errors++;
          const code = (e as { code?: string }).code ?? 'unknown';
          out.errorCodes[code] = (out.errorCodes[code] ?? 0) + 1;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }),
  );
  out.threadCpuMs = threadCpuMs() - cpu0;
  lag.disable();
  for (const off of offs) off();
  out.lag = { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 };
  return out;
}

/**
 * A logger for bench nodes that counts, while `counting()` is true, warnings and errors — and
 * debug lines that report trouble (a failed delivery attempt, a retry answer) — by who, level,
 * message and code, into `counts`.
 */
export function countingLogger(who: string, counts: Map<string, number>, counting: () => boolean) {
  const count = (level: string) => (obj: object, msg: string): void => {
    if (!counting()) return;
    const code = (obj as { code?: unknown }).code;
    const k = `${who}\t${level}: ${msg}${typeof code === 'string' ? ` (${code})` : ''}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  const debug = count('debug');
  return { debug: (obj: object, msg: string) => void (/fail|retry|timeout/i.test(msg) && debug(obj, msg)), info() {}, warn: count('warn'), error: count('error') };
}

/**
 * CPU profile of this thread over the throughput window only (set-up excluded), when
 * `HUB_BENCH_PROFILE_LOAD_DIR` is set: `start()` when the window opens, `stop()` writes
 * `<dir>/<label>.cpuprofile` (read with any .cpuprofile viewer, e.g. Chrome DevTools).
 */
export function windowProfiler(label: string): { start(): Promise<void>; stop(): Promise<void> } {
  const dir = process.env['HUB_BENCH_PROFILE_LOAD_DIR'];
  if (dir === undefined || dir === '') return { start: async () => {}, stop: async () => {} };
  let session: import('node:inspector/promises').Session | undefined;
  return {
    async start() {
      const { Session } = await import('node:inspector/promises');
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    },
    async stop() {
      if (session === undefined) return;
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      session = undefined;
      const { mkdirSync, writeFileSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${dir}/${label}.cpuprofile`, JSON.stringify(profile));
    },
  };
}

/** What a load worker needs to build its client nodes (structured-clone friendly). */
export interface WorkerSetup {
  readonly clients: readonly { key: string; storePath: string; payee: Address; peers?: NodeInit['peers'] }[];
  readonly node: Omit<NodeInit, 'privateKey' | 'store'>;
  readonly hubAddress: Address;
  readonly deposit: string;
  readonly amount: string;
}

export type ToWorker = { type: 'run'; deadline: number } | { type: 'funded'; channelId: string } | { type: 'stop' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; result: LoadResult; warnings: [string, number][] }
  | { type: 'stopped' }
  | { type: 'failed'; message: string };
