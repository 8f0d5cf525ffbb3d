/** Parent side of node-process.ts: spawn, call methods, watch events, kill, always clean up. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NodeInit } from '@sluice/channel-core/node';
import { parseJson, stringifyJson } from '../../packages/channel-core/src/json.ts';

const SCRIPT = fileURLToPath(new URL('./node-process.ts', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface RemoteNode {
  readonly pid: number;
  readonly ready: Promise<{ address: string; multiaddrs: string[] }>;
  readonly events: Record<string, unknown>[];
  /** Resolves with the exit signal/code. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  call<T = unknown>(method: string, ...params: unknown[]): Promise<T>;
  waitForEvent(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(): Promise<void>;
}

export function spawnNode(init: NodeInit, env: Record<string, string> = {}): RemoteNode {
  const child = spawn(process.execPath, [SCRIPT], {
    env: { ...process.env, SLUICE_NODE_INIT: stringifyJson(init), ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  live.add(child);
  // a write racing the process's death fails with EPIPE: the call is rejected by `exited` below
  child.stdin!.on('error', () => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  const pending = new Map<number, { resolve: (x: unknown) => void; reject: (e: unknown) => void }>();
  const events: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let readyResolve!: (x: { address: string; multiaddrs: string[] }) => void;
  let readyReject!: (e: unknown) => void;
  const ready = new Promise<{ address: string; multiaddrs: string[] }>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  void exited.then((x) => {
    const err = new Error(`node process exited (${x.signal ?? x.code})`);
    readyReject(err);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    for (const w of [...waiters]) w();
  });
  void (async () => {
    for await (const line of createInterface({ input: child.stdout! })) {
      let msg: Record<string, unknown>;
      try {
        msg = parseJson(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('ready' in msg) readyResolve(msg['ready'] as { address: string; multiaddrs: string[] });
      else if ('event' in msg) {
        events.push(msg['event'] as Record<string, unknown>);
        for (const w of [...waiters]) w();
      } else if (typeof msg['id'] === 'number') {
        const p = pending.get(msg['id']);
        pending.delete(msg['id']);
        if ('error' in msg) p?.reject(Object.assign(new Error(String((msg['error'] as { message: string }).message)), msg['error'] as object));
        else p?.resolve(msg['result']);
      }
    }
  })();
  let seq = 0;
  return {
    pid: child.pid!,
    ready,
    events,
    exited,
    call<T>(method: string, ...params: unknown[]): Promise<T> {
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null || child.stdin!.destroyed) return reject(new Error(`node process exited (${child.signalCode ?? child.exitCode})`));
        pending.set(id, { resolve: resolve as (x: unknown) => void, reject });
        child.stdin!.write(stringifyJson({ id, method, params }) + '\n');
      });
    },
    waitForEvent(pred, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = events.find(pred);
          if (hit !== undefined) {
            cleanup();
            resolve(hit);
            return true;
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error('node process exited'));
            return true;
          }
          return false;
        };
        const t = setTimeout(() => {
          cleanup();
          reject(new Error('event not seen in time'));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(t);
          waiters.delete(check);
        };
        if (!check()) waiters.add(check);
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
