/**
 * `sluice-hub` — run the Sluice hub and inspect it.
 *
 *   sluice-hub start  [--deployment FILE] [--rpc-url URL] [--key-file FILE | --dev-account N] ...
 *   sluice-hub status [--url http://127.0.0.1:9464] [--json]
 *   sluice-hub settle [--force] [--wait] [--json] (same options as start; the hub must be stopped)
 *
 * Every option of `start` can also be set by an environment variable (`SLUICE_HUB_*`) or in a
 * JSON config file (`--config`); precedence flag > env > file > default. The key's passphrase
 * is never a flag: $SLUICE_HUB_PASSPHRASE, $SLUICE_PASSPHRASE, or a TTY prompt.
 */
import { Command, Option } from 'commander';
import { SluiceError, isSluiceError } from '@sluice/channel-core';
import { CONFIG_FILE_OPTION, type HubConfig, addConfigOptions, configFromFlags, helpText, readConfigFile, resolveConfig } from './config.ts';
import { isUrlWith } from '@sluice/channel-core/node/text';
import { openHub } from './open-hub.ts';
import type { Hub } from './hub.ts';
import { fetchStatus, renderStatus } from './status.ts';
import { addSettleCommand } from './commands/settle.ts';

export interface CliIO {
  out(s: string): void;
  err(s: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
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
    .description('run the hub until SIGINT/SIGTERM (graceful shutdown). Precedence: flag > env > config file > default. The key passphrase comes from $SLUICE_HUB_PASSPHRASE, $SLUICE_PASSPHRASE or a TTY prompt, never a flag.');
  addConfigOptions(start);
  start.action(async (flags: Record<string, unknown>) => {
    await run.start(configFromFlags(flags, io.env));
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
      if (!isUrlWith(url)) throw new SluiceError('INVALID_ARGUMENT', `--url / SLUICE_HUB_URL must be an http(s) URL such as http://127.0.0.1:9464, not "${url.slice(0, 100)}"`);
      await run.status(url, opts.json);
    });
  addSettleCommand(program, io);
  return program;
}

/** What an embedder (a test or benchmark harness running the CLI in its own process) may add. */
export interface StartHooks {
  /** Called once the hub is started, before the ready line is printed. */
  onStarted?(hub: Hub): void;
}

/** Run `start` with a resolved config until a signal. */
export async function runStart(config: HubConfig, io: CliIO, hooks: StartHooks = {}): Promise<void> {
  const { hub, logger } = await openHub(config, io);
  await hub.start();
  hooks.onStarted?.(hub);
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
export async function main(
  argv: string[],
  io: CliIO = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`), env: process.env },
  hooks: StartHooks = {},
): Promise<number> {
  const program = buildProgram(io, {
    start: (config) => runStart(config, io, hooks),
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
