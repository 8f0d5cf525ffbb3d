/**
 * A tiny harness around the `anvil` binary shipped by the `@foundry-rs/anvil` npm package.
 *
 * ```ts
 * import { after, before } from 'node:test';
 * import { startAnvil } from '../../contracts/test/lib/anvil.ts';
 * let anvil: Anvil;
 * before(async () => { anvil = await startAnvil(); });
 * after(() => anvil.stop());
 * // anvil.rpcUrl, anvil.accounts[0] (a 0x-hex private key with 10,000 ETH)
 * ```
 *
 * - picks a free TCP port on 127.0.0.1 below the ephemeral range (anvil has no `--port 0`),
 *   retrying if it races;
 * - resolves when the node answers `eth_chainId`;
 * - `stop()` kills the process and resolves once it has exited (idempotent); the process is
 *   also killed if the test process exits, so no anvil is ever left behind.
 *
 * Set SLUICE_ANVIL_BIN to use another anvil binary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface AnvilOptions {
  /** Seconds between blocks; default: automine (a block per transaction). */
  blockTime?: number;
  /** Number of funded accounts (default 10). */
  accounts?: number;
  /** Chain id (default 31337). */
  chainId?: number;
  /** Give up if the node does not answer within this many ms (default 20,000). */
  startTimeoutMs?: number;
}

export interface Anvil {
  /** http://127.0.0.1:<port> */
  rpcUrl: string;
  port: number;
  /** OS process id of the anvil child. */
  pid: number;
  /** Private keys (0x-hex) of the funded dev accounts, in anvil's order. */
  accounts: `0x${string}`[];
  /** Kills the node and waits for it to exit. Safe to call more than once. */
  stop(): Promise<void>;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

/** Absolute path of the platform's anvil binary from node_modules. */
export function anvilBinaryPath(): string {
  const fromEnv = process.env['SLUICE_ANVIL_BIN'];
  if (fromEnv) return fromEnv;
  const arch = ARCH[process.arch];
  if (!arch) throw new Error(`anvil: unsupported architecture ${process.arch}`);
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve(`${pkg}/package.json`);
  return join(dirname(pkgJson), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
}

/**
 * A free TCP port on 127.0.0.1 for a listener started later (anvil has no `--port 0`; a node
 * restarted on the same address needs its port known in advance). It is drawn at random below
 * the OS's ephemeral range, so no outgoing connection (of this or a parallel test process, e.g.
 * a peer dialling the port before its listener is up) can be given it meanwhile; a port
 * handed out by `listen(0)` and closed again can be, and a listener then fails with EADDRINUSE
 * (seen once in CI). It is checked bindable before it is returned. Falls back to `listen(0)`
 * when the range is unknown or nothing below it is free.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  if (low !== undefined && low > FIXED_PORTS_FROM + 1024) {
    for (let attempt = 0; attempt < 64; attempt++) {
      const port = FIXED_PORTS_FROM + Math.floor(Math.random() * (low - FIXED_PORTS_FROM));
      if ((await tryListen(port)) === port) return port;
    }
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

/** Ports below this are left alone (well-known and registered services people run locally). */
const FIXED_PORTS_FROM = 20_000;

function ephemeralLow(): number | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 && low < 65_536 ? low : undefined;
  } catch {
    return undefined; // not Linux
  }
}

/** Binds `port` (0: any) on 127.0.0.1 and closes it again; the port bound, or undefined if taken. */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolve(bound));
    });
  });
}

/** Running anvils and their state directories. */
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    // Their 'exit' events (which remove the directories) never come once we are exiting.
    for (const [p, dir] of live) {
      p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function rpcReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

/** Starts anvil on a free port; retries a few times if the port was grabbed meanwhile. */
export async function startAnvil(opts: AnvilOptions = {}): Promise<Anvil> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts, await freePort());
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error('anvil failed to start', { cause: lastError });
}

async function startOnce(opts: AnvilOptions, port: number): Promise<Anvil> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-anvil-'));
  const configOut = join(dir, 'config.json');
  const args = [
    '--host', '127.0.0.1',
    '--port', String(port),
    '--accounts', String(opts.accounts ?? 10),
    '--chain-id', String(opts.chainId ?? 31337),
    '--config-out', configOut,
  ];
  if (opts.blockTime !== undefined) args.push('--block-time', String(opts.blockTime));
  const child = spawn(anvilBinaryPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.set(child, dir);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
  });

  const stop = async (): Promise<void> => {
    if (!hasExited) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  const rpcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  while (!(await rpcReady(rpcUrl))) {
    if (hasExited) throw new Error(`anvil exited during startup: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`anvil did not answer on ${rpcUrl} in time`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  let config: { private_keys?: string[] } = {};
  for (let i = 0; i < 40 && config.private_keys === undefined; i++) {
    try {
      config = JSON.parse(readFileSync(configOut, 'utf8')) as { private_keys?: string[] };
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  if (!config.private_keys) {
    await stop();
    throw new Error('anvil: could not read account keys from --config-out');
  }
  return { rpcUrl, port, pid: child.pid ?? -1, accounts: config.private_keys as `0x${string}`[], stop };
}
