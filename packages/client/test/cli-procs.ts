/** The real CLIs as child processes, for the end-to-end tests on anvil. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonRpcProvider, Wallet } from 'ethers';
import type { Anvil } from '@sluice/contracts/anvil';
import { loadArtifact } from '@sluice/contracts';
import { deployNitro } from '@sluice/channel-core/ethers';

export const HUB = fileURLToPath(new URL('../../hub/bin/sluice-hub.js', import.meta.url));
export const PROVIDER = fileURLToPath(new URL('../../provider/bin/sluice-provider.js', import.meta.url));
export const CLIENT = fileURLToPath(new URL('../bin/sluice.js', import.meta.url));

export interface Proc {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly ready: Record<string, unknown>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Child processes still running, SIGKILLed when the test process exits. */
export const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Spawn a CLI and resolve with the first stdout JSON line satisfying `ready`; `stop` sends SIGTERM (or `signal`), SIGKILL after 10 s. */
export function spawnUntil(bin: string, args: string[], ready: (j: Record<string, unknown>) => boolean, timeoutMs = 60_000): Promise<Proc> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => {
    live.delete(child);
    r();
  }));
  const lines: string[] = [];
  let buf = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${bin} did not start:\n${lines.join('\n')}`)), timeoutMs);
    const feed = (d: Buffer): void => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        try {
          const j = JSON.parse(line) as Record<string, unknown>;
          if (ready(j)) {
            clearTimeout(t);
            resolve({
              child,
              lines,
              ready: j,
              async stop(signal = 'SIGTERM') {
                if (child.exitCode === null && child.signalCode === null) {
                  child.kill(signal);
                  const k = setTimeout(() => child.kill('SIGKILL'), 10_000);
                  await exited;
                  clearTimeout(k);
                }
              },
            });
          }
        } catch {
          // a log line
        }
      }
    };
    child.stdout!.on('data', feed);
    child.stderr!.on('data', feed);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${bin} exited (${code}):\n${lines.join('\n')}`));
    });
  });
}

/** Run to exit; a process still running after `timeoutMs` is killed (code -1, SIGKILL). */
export function run(bin: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', () => clearTimeout(t));
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

/** Deploy Nitro's contracts on `anvil` and write the deployment file the CLIs take (`--deployment`). */
export async function deployTo(anvil: Anvil, dir: string): Promise<string> {
  const provider = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  try {
    const d = await deployNitro(new Wallet(anvil.accounts[0]!, provider), {
      adjudicator: loadArtifact('NitroAdjudicator'),
      consensusApp: loadArtifact('ConsensusApp'),
      virtualPaymentApp: loadArtifact('VirtualPaymentApp'),
    });
    const file = join(dir, 'deployment.json');
    await writeFile(file, JSON.stringify({ chainId: 31337, adjudicator: d.adjudicator, consensusApp: d.consensusApp, virtualPaymentApp: d.virtualPaymentApp, deployBlock: d.deployBlock }));
    return file;
  } finally {
    provider.destroy();
  }
}
