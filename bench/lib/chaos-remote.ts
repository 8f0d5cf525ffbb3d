/**
 * Parent side of chaos-node.ts: a killable, restartable node process on one store file and port.
 * Every call has a deadline (a call to a process that hangs must not hang the harness); calls in
 * flight when the process dies are rejected. The child's stderr is appended to `logFile`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NodeInit } from '@sluice/channel-core/node';
import { parseJson, stringifyJson } from '../../packages/channel-core/src/json.ts';

const SCRIPT = fileURLToPath(new URL('./chaos-node.ts', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class CallError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

export class ChaosNode {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #pending = new Map<number, { resolve: (x: unknown) => void; reject: (e: unknown) => void; t: NodeJS.Timeout }>();
  #seq = 0;
  /** Number of times the process was started. */
  starts = 0;
  /** Deaths the harness did not cause (self-kills, crashes). */
  deaths = 0;
  /** Arm the child's CHAOS_SELF_KILL after every start. */
  armed = false;
  /** Extra environment of each start (given the start number). */
  env: (start: number) => Record<string, string> = () => ({});
  /** Called when the process dies without `kill`/`stop` (after `deaths` is counted). */
  onDeath: (() => void) | undefined;
  #expectExit = false;

  readonly name: string;
  readonly address: string;
  readonly init: NodeInit;
  readonly logFile: string;
  constructor(name: string, address: string, init: NodeInit, logFile: string) {
    this.name = name;
    this.address = address;
    this.init = init;
    this.logFile = logFile;
  }

  get up(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  #starting: Promise<void> | undefined;

  /** Start the process (one start at a time: a second caller waits for the first). */
  start(): Promise<void> {
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.up) return;
    this.starts++;
    appendFileSync(this.logFile, `--- ${new Date().toISOString()} start #${this.starts}\n`);
    this.#expectExit = false;
    const child = spawn(process.execPath, [SCRIPT], { env: { ...process.env, SLUICE_NODE_INIT: stringifyJson(this.init), ...this.env(this.starts) }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child = child;
    live.add(child);
    child.stdin!.on('error', () => {});
    child.stderr!.pipe(createWriteStream(this.logFile, { flags: 'a' }));
    let readyResolve!: () => void;
    let readyReject!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.#exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        const err = new CallError(`${this.name} exited (${signal ?? code})`, 'PROCESS_EXITED');
        readyReject(err);
        for (const p of this.#pending.values()) {
          clearTimeout(p.t);
          p.reject(err);
        }
        this.#pending.clear();
        resolve();
        if (!this.#expectExit) {
          this.deaths++;
          this.onDeath?.();
        }
      }),
    );
    void (async () => {
      for await (const line of createInterface({ input: child.stdout! })) {
        let msg: Record<string, unknown>;
        try {
          msg = parseJson(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if ('ready' in msg) readyResolve();
        else if (typeof msg['id'] === 'number') {
          const p = this.#pending.get(msg['id']);
          if (p === undefined) continue;
          this.#pending.delete(msg['id']);
          clearTimeout(p.t);
          if ('error' in msg) {
            const e = msg['error'] as { code: string; message: string };
            p.reject(new CallError(e.message, e.code));
          } else p.resolve(msg['result']);
        }
      }
    })();
    await ready;
    if (this.armed) await this.call('arm', [true], 10_000).catch(() => {}); // died already: onDeath restarts it
  }

  async arm(on: boolean): Promise<void> {
    this.armed = on;
    if (this.up) await this.call('arm', [on], 10_000).catch(() => {});
  }

  /** SIGKILL, and wait for the exit. */
  async kill(): Promise<void> {
    if (this.up) {
      this.#expectExit = true;
      this.#child!.kill('SIGKILL');
    }
    await this.#exited;
  }

  /** Graceful stop (the node's `stop`), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (!this.up) return;
    this.#expectExit = true;
    await this.call('stop', [], 10_000).catch(() => {});
    const t = setTimeout(() => this.#child?.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(t);
  }

  call<T = unknown>(method: string, params: unknown[] = [], timeoutMs = 60_000): Promise<T> {
    const child = this.#child;
    if (child === undefined || !this.up || child.stdin!.destroyed) return Promise.reject(new CallError(`${this.name} is down`, 'PROCESS_DOWN'));
    const id = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#pending.delete(id);
        reject(new CallError(`${this.name}.${method}: no answer in ${timeoutMs} ms`, 'HARNESS_TIMEOUT'));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (x: unknown) => void, reject, t });
      child.stdin!.write(stringifyJson({ id, method, params }) + '\n');
    });
  }
}
