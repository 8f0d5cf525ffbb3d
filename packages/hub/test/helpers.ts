/**
 * Test fixture: anvil + Sluice contracts (deployNitro), a deployment file, and a `sluice-hub start`
 * child process whose JSON log lines are collected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonRpcProvider, Wallet } from 'ethers';
import { startAnvil, freePort, type Anvil } from '@sluice/contracts/anvil';
import { loadArtifact } from '@sluice/contracts';
import { deployNitro } from '@sluice/channel-core/ethers';
import type { Address } from '@sluice/channel-core';
import type { NodeInit } from '@sluice/channel-core/node';
import { writeDeployment, type Deployment } from '../src/deployment.ts';

export const BIN = fileURLToPath(new URL('../bin/sluice-hub.js', import.meta.url));

export interface ChainSetup {
  readonly anvil: Anvil;
  readonly deployment: Deployment;
  readonly deploymentFile: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function startChain(options: { accounts?: number } = {}): Promise<ChainSetup> {
  const anvil = await startAnvil(options.accounts === undefined ? {} : { accounts: options.accounts });
  const provider = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-hub-'));
  try {
    const d = await deployNitro(new Wallet(anvil.accounts[0]!, provider), {
      adjudicator: loadArtifact('NitroAdjudicator'),
      consensusApp: loadArtifact('ConsensusApp'),
      virtualPaymentApp: loadArtifact('VirtualPaymentApp'),
    });
    const deployment: Deployment = {
      chainId: 31337,
      adjudicator: d.adjudicator,
      consensusApp: d.consensusApp as Address,
      virtualPaymentApp: d.virtualPaymentApp as Address,
      deployBlock: d.deployBlock,
    };
    const deploymentFile = join(dir, 'deployment.json');
    writeDeployment(deploymentFile, deployment);
    return {
      anvil,
      deployment,
      deploymentFile,
      dir,
      async stop() {
        await anvil.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    provider.destroy();
  }
}

/**
 * A client/provider node's init against `chain` and the hub at `hub` (a sqlite file `<name>.db`
 * in the chain's temp dir), with short timeouts for tests; `overrides` win.
 */
export function testNodeInit(chain: ChainSetup, key: string, name: string, hub: { address: Address; multiaddrs: string[] }, overrides: Partial<NodeInit> = {}): NodeInit {
  return {
    privateKey: key,
    chain: {
      rpcUrl: chain.anvil.rpcUrl,
      adjudicator: chain.deployment.adjudicator,
      consensusApp: chain.deployment.consensusApp,
      virtualPaymentApp: chain.deployment.virtualPaymentApp,
      startBlock: chain.deployment.deployBlock,
      pollIntervalMs: 50,
      timeoutMs: 30_000,
    },
    store: join(chain.dir, `${name}.db`),
    hub,
    callTimeoutMs: 30_000,
    objectiveTimeoutMs: 5_000,
    messagingRetry: { initialBackoffMs: 50, maxBackoffMs: 300 },
    txRetryDelayMs: 200,
    ...overrides,
  };
}

export interface HubProcess {
  readonly child: ChildProcess;
  /** Every stdout/stderr line so far. */
  readonly output: string[];
  readonly started: { http: string; multiaddrs: string[]; peer: Address; peerId: string };
  /** Send a signal and resolve with the exit code (or null + signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Spawn `sluice-hub start <args>` and resolve once it prints its `{"ready":true,…}` line. */
export async function spawnHub(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<HubProcess> {
  const child = spawn(process.execPath, [BIN, 'start', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const output: string[] = [];
  let buf = '';
  let onLine: ((l: string) => void) | undefined;
  const feed = (chunk: Buffer): void => {
    buf += chunk.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      output.push(line);
      onLine?.(line);
    }
  };
  child.stdout!.on('data', feed);
  child.stderr!.on('data', feed);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (buf !== '') output.push(buf);
      resolve({ code, signal });
    }),
  );
  const started = await new Promise<HubProcess['started']>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hub did not start:\n${output.join('\n')}`)), timeoutMs);
    onLine = (line) => {
      try {
        const j = JSON.parse(line) as { ready?: boolean; http?: string; multiaddrs?: string[]; address?: Address; peerId?: string };
        if (j.ready === true) {
          clearTimeout(t);
          resolve({ http: j.http!, multiaddrs: j.multiaddrs!, peer: j.address!, peerId: j.peerId! });
        }
      } catch {
        // not JSON
      }
    };
    void exited.then((r) => {
      clearTimeout(t);
      reject(new Error(`hub exited (${r.code ?? r.signal}) before starting:\n${output.join('\n')}`));
    });
  });
  onLine = undefined;
  return {
    child,
    output,
    started,
    async stop(signal = 'SIGTERM', ms = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      try {
        return await exited;
      } finally {
        clearTimeout(t);
      }
    },
  };
}

export { freePort };

export async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await pred())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The value of a Prometheus sample (first match of `name{labels}`), or undefined. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) return Number(m[3]);
  }
  return undefined;
}
