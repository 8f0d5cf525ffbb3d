/**
 * History retention on a timer, for services that run a node for a long time (the hub, a
 * provider): `Node.pruneHistory` now and every `everyMs`, one pass at a time, stopped before the
 * node. (The duration syntax their CLIs share, `90m` / `12h` / `7d` / `forever`, is in `./text.ts`.)
 */
import { isSluiceError } from '../errors.ts';
import type { Node } from './node.ts';

export interface HistoryRetentionOptions {
  /** Delete what closed (or failed) longer ago than this. */
  readonly olderThanMs: number;
  /** Pass interval (default a tenth of `olderThanMs`, between 1 s and 10 min). */
  readonly everyMs?: number;
  /** Logs `history pruned` (info: channels, objectives, kept, ms) when a pass deleted or kept something, and failed passes (warn). */
  readonly logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** After each pass (also when it deleted nothing). */
  readonly onPass?: (pass: { channels: number; objectives: number; kept: number; forgotten: number; ms: number }) => void;
  /** A pass failed (it is retried at the next one). */
  readonly onError?: (code: string, reason: string) => void;
}

export interface HistoryRetention {
  /** Stop the timer and wait for a pass in progress. Idempotent. */
  stop(): Promise<void>;
}

/** Prune now and every `everyMs`. The node must be started (and stopped only after `stop()`). */
export function startHistoryRetention(node: Node, options: HistoryRetentionOptions): HistoryRetention {
  const { olderThanMs } = options;
  const every = options.everyMs ?? Math.min(10 * 60_000, Math.max(1_000, Math.floor(olderThanMs / 10)));
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  const pass = (): void => {
    if (running !== undefined || abort.signal.aborted) return;
    const t0 = performance.now();
    running = node
      .pruneHistory({ olderThanMs, signal: abort.signal })
      .then((r) => {
        const p = { ...r, ms: Math.round(performance.now() - t0) };
        if (p.channels > 0 || p.kept > 0 || p.forgotten > 0) options.logger?.info({ channels: p.channels, objectives: p.objectives, kept: p.kept, forgotten: p.forgotten, ms: p.ms }, 'history pruned');
        options.onPass?.(p);
      })
      .catch((e: unknown) => {
        if (abort.signal.aborted) return;
        const code = isSluiceError(e) ? e.code : 'unknown';
        const reason = e instanceof Error ? e.message : String(e);
        options.logger?.warn({ code, reason }, 'history pruning failed (retrying at the next pass)');
        options.onError?.(code, reason);
      })
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(pass, every);
  timer.unref();
  pass();
  return {
    async stop() {
      clearInterval(timer);
      abort.abort();
      await running;
    },
  };
}
