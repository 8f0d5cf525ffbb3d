/**
 * The demo's child processes: spawned, watched, and always stopped. `stopAll()` sends SIGTERM
 * newest first (client, provider, hub, chain), waits for each to exit and SIGKILLs whatever is
 * still alive after a grace period; it is idempotent. If this process exits anyway, a last
 * synchronous hook SIGKILLs every child still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** Last lines of stdout+stderr (for error reports). */
  readonly tail: string[];
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Resolves with the first stdout line that parses as JSON and satisfies `pred`. */
  waitForJson(pred: (j: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
}

export interface SpawnOptions {
  /** Called with each complete stdout/stderr line. */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Inherit stderr (a progress bar on a TTY) instead of piping it. */
  readonly inheritStderr?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export class Supervisor {
  readonly #children: Child[] = [];
  #stopping: Promise<void> | undefined;

  constructor() {
    process.on('exit', () => {
      for (const c of this.#children) if (alive(c.process)) c.process.kill('SIGKILL');
    });
  }

  /** Pids of the children still running. */
  pids(): number[] {
    return this.#children.filter((c) => alive(c.process)).map((c) => c.process.pid ?? -1);
  }

  /** Spawn `node <script> ...args` (the pinned Node running this script). */
  spawnNode(name: string, script: string, args: string[], opts: SpawnOptions = {}): Child {
    if (this.#stopping !== undefined) throw new Error('shutting down');
    const child = spawn(process.execPath, [script, ...args], {
      stdio: ['ignore', 'pipe', opts.inheritStderr === true ? 'inherit' : 'pipe'],
      env: opts.env ?? process.env,
    });
    const tail: string[] = [];
    const waiters: { pred: (j: Record<string, unknown>) => boolean; resolve: (j: Record<string, unknown>) => void }[] = [];
    const feed = (stream: 'stdout' | 'stderr'): ((d: Buffer) => void) => {
      let buf = '';
      return (d) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          tail.push(line);
          if (tail.length > 40) tail.shift();
          opts.onLine?.(line, stream);
          if (stream === 'stdout' && line.startsWith('{')) {
            try {
              const j = JSON.parse(line) as Record<string, unknown>;
              for (const w of [...waiters]) {
                if (w.pred(j)) {
                  waiters.splice(waiters.indexOf(w), 1);
                  w.resolve(j);
                }
              }
            } catch {
              // not JSON after all
            }
          }
        }
      };
    };
    child.stdout?.on('data', feed('stdout'));
    child.stderr?.on('data', feed('stderr'));
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
      child.once('error', (e) => {
        tail.push(String(e));
        resolve(-1);
      });
    });
    const c: Child = {
      name,
      process: child,
      tail,
      exited,
      waitForJson(pred, timeoutMs) {
        return new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`${name} was not ready within ${timeoutMs / 1000} s:\n${tail.join('\n')}`)), timeoutMs);
          waiters.push({
            pred,
            resolve: (j) => {
              clearTimeout(t);
              resolve(j);
            },
          });
          void exited.then((code) => {
            clearTimeout(t);
            reject(new Error(`${name} exited (${code}) before it was ready:\n${tail.join('\n')}`));
          });
        });
      },
    };
    this.#children.push(c);
    return c;
  }

  /** Track a process started elsewhere (anvil) so that it is stopped in order with the rest. */
  adopt(name: string, pid: number, stop: () => Promise<void>): void {
    this.#adopted.push({ name, pid, stop });
  }
  readonly #adopted: { name: string; pid: number; stop: () => Promise<void> }[] = [];

  /** Stop everything, newest first. Idempotent; safe to call concurrently. */
  stopAll(graceMs = 10_000): Promise<void> {
    this.#stopping ??= (async () => {
      for (const c of [...this.#children].reverse()) {
        if (!alive(c.process)) continue;
        c.process.kill('SIGTERM');
        const t = setTimeout(() => c.process.kill('SIGKILL'), graceMs);
        await c.exited;
        clearTimeout(t);
      }
      for (const a of [...this.#adopted].reverse()) await a.stop();
    })();
    return this.#stopping;
  }

  /** Last resort (second Ctrl-C): SIGKILL every child now. */
  killAll(): void {
    for (const c of this.#children) if (alive(c.process)) c.process.kill('SIGKILL');
    for (const a of this.#adopted) {
      try {
        process.kill(a.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

function alive(p: ChildProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}
