/**
 * `sluice-provider` — import files and run the provider service.
 *
 *   sluice-provider add <path...> [--data DIR]
 *   sluice-provider start [--data DIR] [--port N] [--price WEI] (--deployment F --hub-address A --hub-multiaddr M --dev-account N | --dev-channels DIR) ...
 *
 * Every flag also reads an environment variable (shown in `--help`).
 */
import { join, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import {
  type Address,
  DEFAULT_MAX_LEDGER_GUARANTEES,
  SluiceError,
  ZERO_ADDRESS,
  isSluiceError,
  parseAddress,
  privateKeyToAddress,
} from '@sluice/channel-core';
import { createVoucherVerifierPool } from '@sluice/channel-core/voucher-pool';
import { FsChunkStore, importDirectory, importFile } from './content/index.ts';
import { DevChannelRegistry } from './dev/registry.ts';
import type { PayeeChannels } from './service/channels.ts';
import { LocalPayeeChannels } from './service/local-channels.ts';
import { NodePayeeChannels } from './service/node-channels.ts';
import { type ChainNodeOptions, addChainNodeOptions, addConfigFileOption, int, multiaddrList } from './node-setup-options.ts';
import { type ProviderService, createProviderService, parseTrustProxy } from './service/server.ts';
import { openUsageStore } from './service/usage-store.ts';
import { VoucherLog } from './service/voucher-log.ts';
import { addSettleCommand } from './commands/settle.ts';
import { addStatusCommand } from './commands/status.ts';
import { observeFallback } from '@sluice/channel-core/node/observe';
import type { Node } from '@sluice/channel-core/node';
import { isUrlWith, parseRetention } from '@sluice/channel-core/node/text';

function parseUint(name: string): (v: string) => bigint {
  return (v) => {
    if (!/^[0-9]{1,78}$/.test(v)) throw new InvalidArgumentError(`${name} must be a non-negative integer (base units)`);
    return BigInt(v);
  };
}
/** `--retain-history`: 90m, 12h, 7d or forever (null). */
function parseRetentionOption(v: string): number | null {
  try {
    return parseRetention(v);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : 'bad duration');
  }
}

function parseTrustProxyOption(v: string): string {
  try {
    parseTrustProxy(v);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : 'bad list');
  }
  return v;
}

function parseHttpUrl(v: string): string {
  if (!isUrlWith(v)) throw new InvalidArgumentError('must be an http:// or https:// URL, e.g. https://files.example.com');
  return v;
}
function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('port must be 0..65535');
  return n;
}
function parseMs(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer (milliseconds)');
  return n;
}
function parseAddr(v: string): Address {
  try {
    return parseAddress(v, 'address');
  } catch {
    throw new InvalidArgumentError('must be a 0x-prefixed 20-byte address');
  }
}

const dataOption = (): Option =>
  new Option('--data <dir>', 'data directory: chunk store (store/), voucher database, usage database').env('SLUICE_DATA_DIR').default('./sluice-provider');

/** Build the commander program (exported for tests of `--help`). */
export function buildProgram(out: { log: (s: string) => void; exitCode: number }): Command {
  const program = new Command('sluice-provider')
    .description('Sluice provider: serve content-addressed files in 256 KiB chunks, paid per chunk over Nitro virtual channels')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('add')
    .description('import files or directories into the chunk store (root CID = `ipfs add --cid-version=1`)')
    .argument('<paths...>', 'files or directories (directories: every regular file, recursively)')
    .addOption(dataOption())
    .option('--json', 'print the imported entries as JSON', false)
    .action(async (paths: string[], opts: { data: string; json: boolean }) => {
      const store = await FsChunkStore.open({ dir: join(resolve(opts.data), 'store') });
      const added = [];
      for (const p of paths) {
        const st = await stat(p).catch(() => undefined);
        if (st === undefined) throw new SluiceError('INVALID_ARGUMENT', `no such file or directory: ${p}`);
        if (st.isDirectory()) added.push(...(await importDirectory(p, { store })));
        else added.push(await importFile(p, { store }));
      }
      if (opts.json) out.log(JSON.stringify(added, null, 2));
      else for (const f of added) out.log(`${f.cid}  ${f.size} B  ${f.chunks} chunk(s)  ${f.name}`);
    });

  const start = program
    .command('start')
    .description('serve the catalog over HTTP and the paid stream over WebSocket on one port; payments arrive through our channel node (chain and hub flags: see `start --help`), or through the dev channel registry with --dev-channels')
    .addOption(dataOption())
    .addOption(new Option('--host <host>', 'interface to listen on').env('SLUICE_HOST').default('127.0.0.1'))
    .addOption(new Option('--port <n>', 'TCP port (0 = any free port)').env('SLUICE_PORT').default(8080).argParser(parsePort))
    .addOption(new Option('--price <units>', 'price per 256 KiB chunk, in the asset\'s base unit (e.g. wei); 0 = free, with --dev-channels only (a paid session runs on a virtual channel, which needs a positive amount)').env('SLUICE_PRICE').default(1_000_000_000n, '1000000000').argParser(parseUint('price')))
    .addOption(new Option('--asset <address>', 'asset of the channels (zero address = native ETH)').env('SLUICE_ASSET').argParser(parseAddr))
    .addOption(new Option('--address <address>', 'our payee address (or give --key)').env('SLUICE_ADDRESS').argParser(parseAddr))
    .addOption(new Option('--key <hex>', 'our private key (payee address is derived; never logged)').env('SLUICE_KEY'))
    .addOption(new Option('--dev-channels <dir>', 'use the dev channel registry in <dir> (no engine, no money moved) instead of the channel node').env('SLUICE_DEV_CHANNELS'))
    .addOption(new Option('--hub-address <address>', 'hub address advertised in file metadata').env('SLUICE_HUB_ADDRESS').argParser(parseAddr))
    .addOption(new Option('--hub-multiaddr <ma>', 'hub multiaddr advertised in file metadata (repeatable; env: comma-separated)').env('SLUICE_HUB_MULTIADDR').argParser(multiaddrList).default([] as string[]))
    .addOption(new Option('--public-url <url>', 'base URL clients reach us at, http(s):// (default: from the request\'s Host)').env('SLUICE_PUBLIC_URL').argParser(parseHttpUrl))
    .addOption(new Option('--admin-token <token>', 'bearer token for /admin (admin API disabled without it)').env('SLUICE_ADMIN_TOKEN'))
    .addOption(new Option('--hello-timeout <ms>', 'close connections that have not sent HELLO within this long').env('SLUICE_HELLO_TIMEOUT_MS').default(5_000).argParser(parseMs))
    .addOption(new Option('--idle-timeout <ms>', 'close sessions that make no progress (no voucher accepted, no chunk sent) this long with nothing paid left to send').env('SLUICE_IDLE_TIMEOUT_MS').default(60_000).argParser(parseMs))
    .addOption(new Option('--slow-reader-timeout <ms>', 'close sessions that read nothing this long while data is queued').env('SLUICE_SLOW_READER_TIMEOUT_MS').default(30_000).argParser(parseMs))
    .addOption(new Option('--max-sessions <n>', 'refuse a HELLO while this many sessions are open (OVERLOADED, 4302); connections waiting for HELLO do not count').env('SLUICE_MAX_SESSIONS').default(256).argParser(int(1, 1_000_000)))
    .addOption(new Option('--max-connections-per-ip <n>', 'refuse a connection while this many from the same IP address are open (OVERLOADED, 4302); 0 = no limit. Behind a reverse proxy, set --trust-proxy').env('SLUICE_MAX_CONNECTIONS_PER_IP').default(32).argParser(int(0, 1_000_000)))
    .addOption(new Option('--trust-proxy <list>', 'behind reverse proxies: their addresses (IPs, CIDR ranges, loopback, linklocal, uniquelocal; comma-separated, e.g. loopback,10.0.0.0/8). A connection from one counts against --max-connections-per-ip under the client address in X-Forwarded-For (the rightmost one not itself trusted); without this the header is ignored').env('SLUICE_TRUST_PROXY').argParser(parseTrustProxyOption))
    .addOption(new Option('--verify-workers <n>', 'voucher signature checks on N worker threads (0 = inline)').env('SLUICE_VERIFY_WORKERS').default(0).argParser(int(0, 64)))
    .addOption(new Option('--log-level <level>', 'pino log level').env('SLUICE_LOG_LEVEL').default('info').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addOption(new Option('--hub-collateral <units>', 'when we have no ledger channel with the hub yet, ask the hub to deposit this much toward us (it backs the virtual channels clients open to us)').env('SLUICE_HUB_COLLATERAL').default(10n ** 18n, '1000000000000000000').argParser(parseUint('hub-collateral')))
    .addOption(new Option('--renew-ledger <on|off>', 'when our ledger with the hub leaves "open" without our asking (exited on chain by our node or by the hub after one of us was unreachable), open a new one by ourselves, asking for --hub-collateral again; retried with a backoff (5 s to 5 min) until the hub accepts. Never after our own withdraw or settle. off: answer 503 until restarted').env('SLUICE_RENEW_LEDGER').default('on').choices(['on', 'off']))
    .addOption(new Option('--max-channels <n>', 'most virtual channels open to us at a time through the hub (clients keep theirs open between downloads); more are refused with LEDGER_FULL. Each adds ~5,300 gas to every channel\'s settlement if the ledger with the hub goes on chain').env('SLUICE_MAX_CHANNELS').default(DEFAULT_MAX_LEDGER_GUARANTEES).argParser(int(1, 1024)))
    .addOption(new Option('--retain-history <duration>', 'delete the channel node\'s records of channels closed longer ago than this (90m, 12h, 7d; ~12 KB each; earnings are kept as a total); "forever" keeps everything').env('SLUICE_RETAIN_HISTORY').default(null, 'forever').argParser(parseRetentionOption))
    .addOption(new Option('--nonce-max-age <duration>', 'join a virtual channel only if the time in its nonce (clients put their clock there) is at most this old and at most 10m ahead of our clock (30m, 1h, 2d), as the hub does; --retain-history then also forgets the ids of deleted channels once their nonces are older; "forever": any nonce, deleted ids kept for good').env('SLUICE_NONCE_MAX_AGE').default(3_600_000, '1h').argParser(parseRetentionOption));
  addChainNodeOptions(start, 'SLUICE_', { opens: 'ledger' });
  addConfigFileOption(start, 'SLUICE_PROVIDER_CONFIG');
  start.action(async (opts: StartOptions) => {
    await runStart(opts);
  });
  addSettleCommand(program, { log: out.log, err: (s) => process.stderr.write(`${s}\n`) });
  addStatusCommand(program, out);
  return program;
}

interface StartOptions extends ChainNodeOptions {
  hubCollateral: bigint;
  renewLedger: 'on' | 'off';
  data: string;
  host: string;
  port: number;
  price: bigint;
  asset?: Address;
  address?: Address;
  devChannels?: string;
  hubAddress?: Address;
  hubMultiaddr: string[];
  publicUrl?: string;
  adminToken?: string;
  helloTimeout: number;
  idleTimeout: number;
  slowReaderTimeout: number;
  maxSessions: number;
  maxConnectionsPerIp: number;
  trustProxy?: string;
  verifyWorkers: number;
  logLevel: string;
  /** ms, or null: keep everything. */
  retainHistory: number | null;
  /** ms, or null: any nonce (no nonce window). */
  nonceMaxAge: number | null;
  maxChannels: number;
}

async function runStart(opts: StartOptions): Promise<void> {
  const logger = pino({ level: opts.logLevel, redact: ['key'] });
  const dataDir = resolve(opts.data);
  const asset = opts.asset ?? ZERO_ADDRESS;
  // Usage checks first: nothing is opened or created for a command that cannot run.
  if (opts.devChannels === undefined) {
    if (opts.hubAddress === undefined || opts.hubMultiaddr.length === 0) throw new SluiceError('INVALID_ARGUMENT', 'give --hub-address and --hub-multiaddr (the hub our channel node uses), or --dev-channels');
    // Sessions run on virtual channels, whose amount is positive: clients could not open one to us.
    if (opts.price === 0n) throw new SluiceError('INVALID_ARGUMENT', '--price 0 (free) works with --dev-channels only: through a hub, clients pay on a virtual channel, so the price must be at least 1');
  } else if (opts.address === undefined && opts.key === undefined) {
    throw new SluiceError('INVALID_ARGUMENT', 'give --address or --key (the payee address)');
  }
  const closers: (() => Promise<void> | void)[] = [];
  /** Close what is open, newest first where it matters (see the unshifts); never throws. */
  const closeAll = async (): Promise<void> => {
    for (const c of closers) {
      try {
        await c();
      } catch (e) {
        logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'closing failed');
      }
    }
  };
  let service: ProviderService;
  let address: Address;
  try {
    // Chain mode: the RPC's chain, the deployment and the key are checked before anything is
    // created in --data (a wrong --rpc-url must not leave a data directory behind).
    const nodeSetup = opts.devChannels === undefined ? await import('./node-setup.ts') : undefined;
    const built =
      nodeSetup === undefined || opts.hubAddress === undefined
        ? undefined
        : await nodeSetup.createChainNode(opts, {
            storePath: join(dataDir, 'node.db'),
            hub: { address: opts.hubAddress, multiaddrs: opts.hubMultiaddr },
            policy: nodeSetup.payeeNodePolicy({ maxChannels: opts.maxChannels, nonceMaxAge: opts.nonceMaxAge }),
          });
    if (built !== undefined) closers.push(() => built.store.close());
    const store = await FsChunkStore.open({ dir: join(dataDir, 'store') });
    const usage = openUsageStore(join(dataDir, 'usage.db'));
    closers.push(() => usage.close());
    let channels: PayeeChannels;
    let chainNode: Node | undefined;
    if (opts.devChannels !== undefined) {
      address = opts.address ?? privateKeyToAddress(opts.key!); // one of them: checked above
      const vouchers = await VoucherLog.open(join(dataDir, 'vouchers.log'));
      const verifier = opts.verifyWorkers > 0 ? createVoucherVerifierPool({ size: opts.verifyWorkers }) : undefined;
      closers.push(() => vouchers.close(), async () => verifier?.close());
      channels = new LocalPayeeChannels({ address, registry: new DevChannelRegistry(resolve(opts.devChannels)), store: vouchers, ...(verifier === undefined ? {} : { verifier }) });
    } else {
      const hub = opts.hubAddress!;
      const { node } = built!; // built in chain mode, above
      await node.start();
      closers.unshift(() => node.stop());
      address = node.address;
      for (const w of nodeSetup!.shortChallengeWarnings(node, { ledger: opts.ledgerChallengeDuration })) logger.warn(w.replace(/^warning: /, ''));
      const nodeChannels = new NodePayeeChannels(node, { address: hub, asset });
      channels = nodeChannels;
      // no ledger with the hub in our asset, open or funding: open one
      if (nodeChannels.notReceiving() !== undefined) {
        logger.info({ peer: hub, amount: opts.hubCollateral.toString() }, 'opening our ledger channel with the hub');
        try {
          await node.createLedgerChannel({ counterparty: hub, asset, deposit: 0n, counterpartyDeposit: opts.hubCollateral });
        } catch (e) {
          if (!isSluiceError(e, 'HUB_POLICY_REJECTED') || opts.hubCollateral === 0n) throw e;
          // our earlier ledgers with the hub, being exited on chain, still hold its collateral: it frees when they close
          if (/collateral in ledgers with you/.test(e.message)) throw e;
          throw new SluiceError(
            'HUB_POLICY_REJECTED',
            `${e.message}. The hub backs the channels clients open to us with collateral it deposits in our ledger (--hub-collateral ${opts.hubCollateral}): its operator must allow that (sluice-hub start --max-ledger-deposit ${opts.hubCollateral} or more, --max-peer-collateral too if set, and --collateral-peer ${node.address} if the hub lists its providers), or ask for less with --hub-collateral`,
            { cause: e },
          );
        }
      }
      if (opts.renewLedger === 'on') {
        const renewal = nodeChannels.keepLedger({ hub, asset, hubCollateral: opts.hubCollateral, logger });
        closers.unshift(() => renewal.stop()); // before the node stops
      }
      chainNode = node;
      if (opts.retainHistory !== null) {
        const retention = nodeSetup!.startProviderRetention(node, usage, { olderThanMs: opts.retainHistory, logger });
        closers.unshift(() => retention.stop()); // before the node stops
      }
    }
    const payeeNode = chainNode;
    service = createProviderService({
      host: opts.host,
      port: opts.port,
      pricePerChunk: opts.price,
      asset,
      hub: { address: opts.hubAddress ?? null, multiaddrs: opts.hubMultiaddr },
      ...(payeeNode === undefined ? {} : { payeeMultiaddrs: () => payeeNode.multiaddrs() }),
      ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
      ...(opts.adminToken === undefined || opts.adminToken === '' ? {} : { adminToken: opts.adminToken }), // '' (an empty SLUICE_ADMIN_TOKEN): off
      limits: { helloTimeoutMs: opts.helloTimeout, idleTimeoutMs: opts.idleTimeout, slowReaderTimeoutMs: opts.slowReaderTimeout },
      maxSessions: opts.maxSessions,
      maxConnectionsPerIp: opts.maxConnectionsPerIp,
      ...(opts.trustProxy === undefined ? {} : { trustProxy: opts.trustProxy }),
    })({ store, channels, usage, logger });
    // Challenges, answers, fallback transactions and payouts: Prometheus counters and log lines.
    if (chainNode !== undefined) observeFallback(chainNode, { registry: service.metrics.registry, logger });
    await service.start();
  } catch (e) {
    // A start-up failure: close the channel node and stores, or their sockets and timers keep
    // the process alive, serving nothing.
    await closeAll();
    throw e;
  }
  // Machine-readable line for scripts and tests.
  process.stdout.write(`${JSON.stringify({ listening: service.url, payee: address })}\n`);
  await new Promise<void>((done) => {
    const stop = (): void => {
      logger.info({}, 'shutting down');
      service
        .stop()
        .then(closeAll)
        .finally(done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Run the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const out = { log: (s: string) => process.stdout.write(`${s}\n`), exitCode: 0 };
  const program = buildProgram(out);
  try {
    await program.parseAsync(argv);
    return out.exitCode;
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    // commander's usage errors exit 2 (bad usage), as sluice and sluice-hub do; --help and --version 0
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) return ce.exitCode === 0 ? 0 : 2;
    process.stderr.write(`sluice-provider: ${isSluiceError(e) ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e)}\n`);
    return isSluiceError(e, 'INVALID_ARGUMENT') ? 2 : 1;
  }
}
