/**
 * `sluice-hub` — run the Sluice hub and inspect it.
 *
 *   sluice-hub start  [--deployment FILE] [--rpc-url URL] [--key-file FILE | --dev-account N] ...
 *   sluice-hub status [--url http://127.0.0.1:9464] [--json]
 *
 * Every option of `start` can also be set by an environment variable (`SLUICE_HUB_*`) or in a
 * JSON config file (`--config`); precedence flag > env > file > default. The key's passphrase
 * is never a flag: $SLUICE_HUB_PASSPHRASE, $SLUICE_PASSPHRASE, or a TTY prompt.
 */
import { Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { type Address, SluiceError, isSluiceError } from '@sluice/channel-core';
import { devAccount, passphraseFromEnv, readKeyFile } from '@sluice/channel-core/keys';
import { CONFIG_FILE_OPTION, OPTIONS, type HubConfig, readConfigFile, resolveConfig } from './config.ts';
import { readDeployment, type Deployment } from './deployment.ts';
import { createLogger } from './logger.ts';
import { createHub } from './hub.ts';
import { fetchStatus, renderStatus } from './status.ts';

export interface CliIO {
  out(s: string): void;
  err(s: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function helpText(o: { description: string; env: string; defaultText?: string }): string {
  return `${o.description} [env: ${o.env}]${o.defaultText === undefined ? '' : ` (default: ${o.defaultText})`}`;
}

/** Build the commander program (exported for `--help` tests). */
export function buildProgram(io: CliIO, run: { start(config: HubConfig): Promise<void>; status(url: string, json: boolean): Promise<void> }): Command {
  const program = new Command('sluice-hub')
    .description('Sluice hub: the intermediary of virtual channels between clients and providers (ledger channels, collateral policy, message relay), with /healthz, /status and Prometheus /metrics')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .showHelpAfterError();

  const start = program
    .command('start')
    .description('run the hub until SIGINT/SIGTERM (graceful shutdown). Precedence: flag > env > config file > default. The key passphrase comes from $SLUICE_HUB_PASSPHRASE, $SLUICE_PASSPHRASE or a TTY prompt, never a flag.')
    .addOption(new Option(CONFIG_FILE_OPTION.flag, helpText({ ...CONFIG_FILE_OPTION, defaultText: 'none' })));
  for (const o of OPTIONS) {
    const opt = new Option(o.flag, helpText(o));
    if (o.list === true) opt.argParser(collect);
    start.addOption(opt);
  }
  start.action(async (flags: Record<string, unknown>) => {
    const { config: configPath, ...rest } = flags;
    const path = typeof configPath === 'string' ? configPath : io.env[CONFIG_FILE_OPTION.env];
    const file = path === undefined || path === '' ? {} : readConfigFile(path);
    const { config } = resolveConfig({ flags: rest, env: io.env, file });
    await run.start(config);
  });

  program
    .command('status')
    .description("print the running hub's ledgers, virtual channels and collateral (from its /status endpoint)")
    .addOption(new Option('--url <url>', helpText({ description: "the hub's HTTP base URL", env: 'SLUICE_HUB_URL', defaultText: 'http://<SLUICE_HUB_HTTP_HOST>:<SLUICE_HUB_HTTP_PORT>, i.e. http://127.0.0.1:9464' })))
    .addOption(new Option(CONFIG_FILE_OPTION.flag, helpText({ description: 'config file to take httpHost/httpPort from', env: CONFIG_FILE_OPTION.env, defaultText: 'none' })))
    .option('--json', 'print the status as JSON', false)
    .action(async (opts: { url?: string; config?: string; json: boolean }) => {
      let url = opts.url ?? io.env['SLUICE_HUB_URL'];
      if (url === undefined || url === '') {
        const path = opts.config ?? io.env[CONFIG_FILE_OPTION.env];
        const file = path === undefined || path === '' ? {} : readConfigFile(path);
        const { config } = resolveConfig({ env: io.env, file: { ...(file['httpHost'] === undefined ? {} : { httpHost: file['httpHost'] }), ...(file['httpPort'] === undefined ? {} : { httpPort: file['httpPort'] }) } });
        const host = config.httpHost === '0.0.0.0' ? '127.0.0.1' : config.httpHost;
        url = `http://${host.includes(':') ? `[${host}]` : host}:${config.httpPort}`;
      }
      await run.status(url, opts.json);
    });
  return program;
}

/** Ask for a passphrase on the TTY without echoing it. */
async function promptPassphrase(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new SluiceError('INVALID_ARGUMENT', 'the key file needs a passphrase: set SLUICE_HUB_PASSPHRASE (or SLUICE_PASSPHRASE), or run on a terminal');
  }
  process.stderr.write(question);
  let muted = true;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk as Buffer);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((done) => rl.question('', done));
  } finally {
    muted = false;
    rl.close();
    process.stderr.write('\n');
  }
}

async function rpcChainId(rpcUrl: string): Promise<number> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
    const j = (await res.json()) as { result?: string };
    if (typeof j.result !== 'string') throw new Error('no result');
    return Number(BigInt(j.result));
  } catch (e) {
    throw new SluiceError('CHAIN_RPC', `cannot reach the chain at ${rpcUrl}`, { cause: e });
  }
}

function required(v: Address | undefined, what: string): Address {
  if (v === undefined) throw new SluiceError('INVALID_ARGUMENT', `no ${what} address: give --deployment or --${what.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  return v;
}

/** Run `start` with a resolved config until a signal. */
export async function runStart(config: HubConfig, io: CliIO): Promise<void> {
  const logger = createLogger(config.logLevel);
  const deployment: Deployment | undefined = config.deployment === undefined ? undefined : readDeployment(config.deployment);
  if (deployment !== undefined && config.chainId !== undefined && deployment.chainId !== config.chainId) {
    throw new SluiceError('INVALID_ARGUMENT', `--chain-id ${config.chainId} does not match the deployment file's chain ${deployment.chainId}`);
  }
  const chainId = await rpcChainId(config.rpcUrl);
  const expected = config.chainId ?? deployment?.chainId;
  if (expected !== undefined && expected !== chainId) {
    throw new SluiceError('INVALID_ARGUMENT', `the RPC at ${config.rpcUrl} serves chain ${chainId}, expected ${expected}`);
  }
  let privateKey: Uint8Array;
  if (config.keyFile !== undefined && config.devAccount !== undefined) throw new SluiceError('INVALID_ARGUMENT', 'give --key-file or --dev-account, not both');
  if (config.devAccount !== undefined) {
    privateKey = devAccount(config.devAccount, BigInt(chainId)).privateKey;
  } else if (config.keyFile !== undefined) {
    const pass = passphraseFromEnv(io.env as NodeJS.ProcessEnv, 'SLUICE_HUB_PASSPHRASE') ?? passphraseFromEnv(io.env as NodeJS.ProcessEnv) ?? (await promptPassphrase(`passphrase for ${config.keyFile}: `));
    privateKey = (await readKeyFile(config.keyFile, pass)).privateKey;
  } else {
    throw new SluiceError('INVALID_ARGUMENT', 'no key: give --key-file (encrypted keystore) or, on a local chain, --dev-account N');
  }
  const adjudicator = required(config.adjudicator ?? deployment?.adjudicator, 'adjudicator');
  const consensusApp = required(config.consensusApp ?? deployment?.consensusApp, 'consensusApp');
  const virtualPaymentApp = required(config.virtualPaymentApp ?? deployment?.virtualPaymentApp, 'virtualPaymentApp');
  const startBlock = config.startBlock ?? deployment?.deployBlock;
  const hub = createHub(
    {
      privateKey,
      chain: {
        rpcUrl: config.rpcUrl,
        chainId,
        adjudicator,
        consensusApp,
        virtualPaymentApp,
        ...(startBlock === undefined ? {} : { startBlock }),
        pollIntervalMs: config.chainPollMs,
      },
      store: config.store === ':memory:' ? ':memory:' : resolve(config.store),
      listen: config.listen,
      announce: config.announce,
      policy: {
        maxPerChannel: config.maxPerChannel,
        ...(config.collateralCap === undefined ? {} : { collateralCap: config.collateralCap }),
        maxLedgerDeposit: config.maxLedgerDeposit,
        ...(config.requiredApp === undefined ? {} : { requiredApp: config.requiredApp }),
      },
      http: { host: config.httpHost, port: config.httpPort },
      objectiveTimeoutMs: config.objectiveTimeoutMs,
    },
    { logger },
  );
  await hub.start();
  // One machine-readable line for scripts and tests, whatever the log level.
  io.out(JSON.stringify({ ready: true, address: hub.address, peerId: hub.peerId(), multiaddrs: hub.multiaddrs(), http: hub.httpUrl() ?? null }));
  await new Promise<void>((done) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      hub
        .stop()
        .catch((e: unknown) => logger.error({ reason: e instanceof Error ? e.message : String(e) }, 'shutdown failed'))
        .finally(() => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          logger.flush();
          done();
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage/config, 3 chain unreachable. */
export function exitCodeOf(e: unknown): number {
  if (isSluiceError(e, 'INVALID_ARGUMENT')) return 2;
  if (isSluiceError(e, 'CHAIN_RPC') || isSluiceError(e, 'CHAIN_TIMEOUT')) return 3;
  return 1;
}

/** Run the CLI; resolves to the exit code. */
export async function main(argv: string[], io: CliIO = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`), env: process.env }): Promise<number> {
  const program = buildProgram(io, {
    start: (config) => runStart(config, io),
    status: async (url, json) => {
      const s = await fetchStatus(url);
      io.out(json ? JSON.stringify(s, null, 2) : renderStatus(s));
    },
  });
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) return ce.exitCode === 0 ? 0 : 2;
    io.err(`sluice-hub: ${isSluiceError(e) ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e)}`);
    return exitCodeOf(e);
  }
}
