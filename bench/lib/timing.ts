/**
 * Fixed-time throughput measurement for the benchmarks.
 *
 * Each measurement warms up, then runs `rounds` rounds of `roundMs` each and keeps the
 * best round (highest rate): the machines are shared, so interference only ever slows a
 * round down and the best round is the closest to the code's own cost. All rounds are kept
 * in the result for the JSON report.
 */
import { performance } from 'node:perf_hooks';

export interface Rate {
  readonly opsPerSec: number;
  readonly usPerOp: number;
  /** ops/s of every round, in order */
  readonly rounds: readonly number[];
  readonly totalOps: number;
}

export interface TimingOptions {
  readonly warmupMs?: number;
  readonly roundMs?: number;
  readonly rounds?: number;
}

const DEFAULTS = { warmupMs: 200, roundMs: 500, rounds: 3 } as const;

function summarise(rates: number[], totalOps: number): Rate {
  const best = Math.max(...rates);
  return { opsPerSec: best, usPerOp: 1e6 / best, rounds: rates, totalOps };
}

/**
 * Measure a synchronous operation; `op(i)` is called with a running index (use it to pick
 * distinct inputs). Calls are made in inner loops of `inner` to keep clock reads cheap.
 */
export function measureSync(op: (i: number) => void, options: TimingOptions = {}, inner = 64): Rate {
  const { warmupMs, roundMs, rounds } = { ...DEFAULTS, ...options };
  let i = 0;
  const until = performance.now() + warmupMs;
  while (performance.now() < until) for (let k = 0; k < inner; k++) op(i++);
  const rates: number[] = [];
  let total = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = performance.now();
    const end = t0 + roundMs;
    let t = t0;
    do {
      for (let k = 0; k < inner; k++) op(i++);
      n += inner;
      t = performance.now();
    } while (t < end);
    rates.push((n * 1000) / (t - t0));
    total += n;
  }
  return summarise(rates, total);
}

/**
 * Measure an asynchronous, internally parallel operation: `lanes` concurrent loops each
 * awaiting `step(i)`, which must resolve to the number of operations it completed.
 */
export async function measureAsync(
  step: (i: number) => Promise<number>,
  lanes: number,
  options: TimingOptions = {},
): Promise<Rate> {
  const { warmupMs, roundMs, rounds } = { ...DEFAULTS, ...options };
  let i = 0;
  async function run(ms: number): Promise<number> {
    let n = 0;
    const t0 = performance.now();
    const end = t0 + ms;
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (performance.now() < end) {
          const done = await step(i++); // not `n += await …`: that reads n before the await and loses other lanes' counts
          n += done;
        }
      }),
    );
    return (n * 1000) / (performance.now() - t0);
  }
  await run(warmupMs);
  const rates: number[] = [];
  let total = 0;
  for (let r = 0; r < rounds; r++) {
    const rate = await run(roundMs);
    rates.push(rate);
    total += Math.round((rate * roundMs) / 1000);
  }
  return summarise(rates, total);
}
