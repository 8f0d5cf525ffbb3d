/**
 * The hub benchmarks' hub: `sluice-hub start` as a child process, ready once it prints its JSON
 * ready line. Every stdout/stderr line goes to `onLine` (if given) and to a bounded tail that
 * the error carries when the hub exits before it is ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HUB_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages', 'hub', 'bin', 'sluice-hub.js');
const TAIL = 2000;

export interface HubProcess {
  readonly child: ChildProcess;
  /** From the ready line. */
  readonly multiaddrs: string[];
  readonly http: string;
}

/**
 * @param args - arguments after `sluice-hub start`
 * @param env - added to this process's environment
 * @param nodeArgs - Node options before the script (e.g. `--cpu-prof`)
 * @param script - the entry run with `start …` (default: the `sluice-hub` bin); `stdin`: a pipe to it
 */
export function startHubProcess(
  args: readonly string[],
  env: Record<string, string>,
  options: { nodeArgs?: readonly string[]; onLine?: (line: string) => void; script?: string; stdin?: boolean } = {},
): Promise<HubProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script ?? HUB_BIN, 'start', ...args], {
    env: { ...process.env, ...env },
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (tail.push(line) > TAIL) tail.shift();
        options.onLine?.(line);
        try {
          const j = JSON.parse(line) as { ready?: boolean; multiaddrs?: string[]; http?: string };
          if (j.ready === true) resolve({ child, multiaddrs: j.multiaddrs!, http: j.http! });
        } catch {
          // not JSON
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`hub exited (${code ?? signal}) before it was ready:\n${tail.join('\n')}`)));
  });
}
