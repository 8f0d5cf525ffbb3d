/**
 * `sluice get <url>` — download a file from a Sluice provider, paying per chunk.
 * Progress bar on a TTY; `--json` prints one result object; `--quiet` prints nothing but errors.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { type Address, SluiceError, ZERO_ADDRESS, isSluiceError, parseAddress } from '@sluice/channel-core';
import { DevChannelRegistry } from '@sluice/provider/dev';
import type { PayerChannels } from './channels.ts';
import { DevPayerChannels } from './dev-channels.ts';
import { type DownloadProgress, download } from './download.ts';
import { type FileMetadata, fetchMetadata } from './metadata.ts';
import { peerText } from './peer-text.ts';
import { NodePayerChannels } from './node-channels.ts';
import { type ChainNodeOptions, addChainNodeOptions } from '@sluice/provider/node-setup-options';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { addDeployCommand } from './commands/deploy.ts';
import { addKeysCommand } from './commands/keys.ts';
import { addConfigFileOption } from './commands/io.ts';
import { addWithdrawCommand } from './commands/withdraw.ts';
import { addStatusCommand } from './commands/status.ts';
import { withDefaultKeyFile } from './commands/node-command.ts';

function parseUnits(name: string): (v: string) => bigint {
  return (v) => {
    if (!/^[0-9]{1,78}$/.test(v)) throw new InvalidArgumentError(`${name} must be a non-negative integer in base units (e.g. wei)`);
    return BigInt(v);
  };
}
function parseAsset(v: string): Address {
  try {
    return parseAddress(v, 'asset');
  } catch {
    throw new InvalidArgumentError('asset must be a 20-byte hex address (0x…; the zero address is ETH)');
  }
}
function parseWindow(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 4096) throw new InvalidArgumentError('window must be 1..4096 chunks');
  return n;
}
function parseMs(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer (milliseconds)');
  return n;
}

interface GetOptions extends ChainNodeOptions {
  output?: string;
  maxPrice?: bigint;
  asset: Address;
  window: number;
  budget?: bigint;
  json: boolean;
  quiet: boolean;
  close: boolean;
  devChannels?: string;
  home: string;
  stallTimeout: number;
  retries: number;
}

export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

function formatBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

export function buildProgram(io: CliIo, result: { code: number }, signal: AbortSignal): Command {
  const program = new Command('sluice')
    .description('Sluice client: verified, pay-per-chunk, resumable downloads over Nitro virtual channels')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError();
  const get = program
    .command('get')
    .description('download a file: fetch its metadata, make sure a channel can pay for it, stream and verify every chunk')
    .argument('<url>', 'file URL from the provider, http://host:port/files/<cid>')
    .option('-o, --output <file>', 'where to write the file, replacing it if it exists (default: the provider\'s name for it, in the current directory, never replacing a file); the download goes to <file>.sluice-part and is renamed when complete')
    .addOption(new Option('--asset <address>', 'the asset to pay in: refuse a provider that asks for another (prices and budgets are in its base units; the zero address is ETH)').env('SLUICE_ASSET').default(ZERO_ADDRESS).argParser(parseAsset))
    .addOption(new Option('--max-price <units>', 'refuse if the provider asks more per 256 KiB chunk (base units of --asset, e.g. wei; default: no limit, any price is accepted: set it for providers you do not run)').env('SLUICE_MAX_PRICE').argParser(parseUnits('max-price')))
    .addOption(new Option('--window <n>', 'prepaid window: chunks paid ahead of what was received and verified (exposure = window × price per session; at most twice that over a whole download, counting credit a provider writes off at reconnects)').env('SLUICE_WINDOW').default(32).argParser(parseWindow))
    .addOption(new Option('--budget <units>', 'most to lock in a new channel for this download (base units of --asset; default: no limit, the channel is sized for the whole file at the asked price plus 10% or one window)').env('SLUICE_BUDGET').argParser(parseUnits('budget')))
    .option('--json', 'print one JSON object with the result (or the error) on stdout; no progress bar', false)
    .option('-q, --quiet', 'print nothing but errors', false)
    .option('--close', 'close the virtual channel when done (default: keep it for the next download)', false)
    .addOption(new Option('--stall-timeout <ms>', 'give up on a provider silent this long').env('SLUICE_STALL_TIMEOUT_MS').default(30_000).argParser(parseMs))
    .addOption(new Option('--retries <n>', 'reconnect this many times after a lost connection, resuming').env('SLUICE_RETRIES').default(5).argParser((v) => { const n = Number(v); if (!Number.isInteger(n) || n < 0 || n > 100) throw new InvalidArgumentError('0..100'); return n; }))
    .addOption(new Option('--key <hex>', 'payer private key, hex (prefer SLUICE_KEY or --key-file; never printed; default: the key file ~/.sluice/key.json of `sluice keys new` if it exists)').env('SLUICE_KEY'))
    .addOption(new Option('--dev-channels <dir>', 'use the dev channel registry shared with a provider started with --dev-channels (no engine, no money moved)').env('SLUICE_DEV_CHANNELS'))
    .addOption(new Option('--home <dir>', 'client state: channel node store (node.db), dev payment records').env('SLUICE_HOME').default(join(homedir(), '.sluice')));
  addChainNodeOptions(get, 'SLUICE_', { opens: 'ledger+virtual' });
  addConfigFileOption(get, 'SLUICE_CONFIG');
  addKeysCommand(program, io, result);
  addDeployCommand(program, io, result, signal);
  addWithdrawCommand(program, io, result, signal);
  addStatusCommand(program, io, result);
  get.action(async (url: string, opts: GetOptions) => {
    result.code = await runGet(url, opts, io, signal);
  });
  return program;
}

async function runGet(url: string, opts: GetOptions, io: CliIo, signal: AbortSignal): Promise<number> {
  let channels: PayerChannels | undefined;
  let stopNode: (() => Promise<void>) | undefined;
  let bar: cliProgress.SingleBar | undefined;
  const showBar = !opts.json && !opts.quiet && io.stderr.isTTY === true;
  const log = (s: string): void => {
    if (!opts.json && !opts.quiet) io.stderr.write(`${s}\n`);
  };
  let meta: FileMetadata | undefined;
  try {
    if (opts.devChannels !== undefined) {
      if (opts.key === undefined) throw new SluiceError('INVALID_ARGUMENT', 'a payer key is needed: --key or SLUICE_KEY');
      channels = new DevPayerChannels({ privateKey: opts.key, registry: new DevChannelRegistry(resolve(opts.devChannels)), dbPath: join(resolve(opts.home), 'payer.db') });
    } else {
      // Our channel node talks to the provider's hub: learn it from the file's metadata.
      meta = await fetchMetadata({ url }, { signal });
      if (meta.hub.address === null || meta.hub.multiaddrs.length === 0) throw new SluiceError('INVALID_ARGUMENT', 'the provider names no hub (address and multiaddr) to open a channel through');
      // Loaded only in this mode: the dev-registry path does not need the channel engine.
      const { createChainNode, shortChallengeWarnings } = await import('@sluice/provider/node-setup');
      // The payee's node, when the metadata gives it, gets the channel's messages directly (one
      // hop, and it still hears from us if the hub goes away); the hub relays them otherwise.
      const { node, store } = await createChainNode(withDefaultKeyFile(opts), {
        storePath: join(resolve(opts.home), 'node.db'),
        hub: { address: meta.hub.address, multiaddrs: meta.hub.multiaddrs },
        peers: meta.payeeMultiaddrs.length === 0 ? [] : [{ address: meta.payee, multiaddrs: meta.payeeMultiaddrs }],
      });
      await node.start();
      // a ledger opening can take minutes (deposits confirmed on chain; a hub that has not seen our
      // last ledger's exit yet): say what it waits for at each stall (every 30 s)
      const offStalls = node.onAny((e) => {
        if (e.type === 'objectiveStalled' && e.objectiveType === 'directFund') log(`still opening our ledger with the hub: ${ledgerWaitText(e.waitingFor)} (${Math.round(e.idleMs / 1000)} s)`);
      });
      stopNode = async () => {
        offStalls();
        await node.stop();
        store.close();
      };
      for (const w of shortChallengeWarnings(node, { ledger: opts.ledgerChallengeDuration, virtual: opts.virtualChallengeDuration })) log(w);
      channels = new NodePayerChannels(node, { store, timeoutMs: 120_000 });
    }
    let started = 0;
    let price = 0n;
    const onProgress = (p: DownloadProgress): void => {
      switch (p.phase) {
        case 'metadata':
          price = p.meta.pricePerChunk;
          log(`${peerText(p.meta.name)}: ${formatBytes(p.meta.size)} in ${p.meta.chunks} chunk(s) at ${p.meta.pricePerChunk} per chunk`);
          if (showBar) {
            bar = new cliProgress.SingleBar(
              { format: '{bar} {percentage}% | {done}/{size} | {speed} | chunks {value}/{total} | paid {paid} | ETA {eta_formatted}', stream: io.stderr, hideCursor: true },
              cliProgress.Presets.shades_classic,
            );
          }
          break;
        case 'channel':
          log(`${p.reused ? 'reusing' : 'opened'} channel ${p.channelId} (balance ${p.balance}, paid so far ${p.paid})`);
          break;
        case 'resume':
          log(`resuming: ${p.verifiedChunks} chunk(s) already on disk`);
          break;
        case 'chunk': {
          if (started === 0) {
            started = performance.now();
            bar?.start(p.chunksTotal, 0, { done: '0 B', size: formatBytes(p.bytesTotal), speed: '-', paid: '0' });
          }
          const secs = (performance.now() - started) / 1000;
          bar?.update(p.chunksDone, {
            done: formatBytes(p.bytesDone),
            size: formatBytes(p.bytesTotal),
            speed: secs > 0 ? `${formatBytes(p.bytesDone / secs)}/s` : '-',
            paid: p.paid.toString(),
          });
          break;
        }
        case 'retry':
          log(`connection lost (${p.error.message}); retrying in ${p.delayMs} ms (attempt ${p.attempt})`);
          break;
        case 'done':
          bar?.stop();
          break;
      }
    };
    const r = await download({
      url,
      ...(opts.output === undefined ? {} : { output: opts.output }),
      ...(meta === undefined ? {} : { metadata: meta }),
      asset: opts.asset,
      channels,
      window: opts.window,
      ...(opts.maxPrice === undefined ? {} : { maxPricePerChunk: opts.maxPrice }),
      ...(opts.budget === undefined ? {} : { budget: opts.budget }),
      closeChannel: opts.close,
      stallTimeoutMs: opts.stallTimeout,
      retries: opts.retries,
      signal,
      onProgress,
    });
    void price;
    if (opts.json) {
      io.stdout.write(`${JSON.stringify({ ok: true, ...r, paid: r.paid.toString(), pricePerChunk: r.pricePerChunk.toString(), elapsedMs: Math.round(r.elapsedMs) })}\n`);
    } else {
      const mbps = r.size / 1e6 / Math.max(r.elapsedMs / 1000, 1e-3);
      if (r.alreadyComplete === true) log(`${r.output} was downloaded and paid for by an earlier run (not fetched, paid or checked again)${opts.close ? '; its channel is closed now' : ''}`);
      else log(`saved ${r.output} (${formatBytes(r.size)}, ${mbps.toFixed(1)} MB/s), paid ${r.paid}${r.resumedChunks > 0 ? `, resumed from chunk ${r.resumedChunks}` : ''}`);
    }
    return EXIT.OK;
  } catch (e) {
    bar?.stop();
    const code = exitCodeFor(e);
    if (opts.json) {
      io.stdout.write(`${JSON.stringify({ ok: false, error: { code: isSluiceError(e) ? e.code : 'INTERNAL', message: peerText(e instanceof Error ? e.message : String(e), 1_000) }, exitCode: code })}\n`);
    } else {
      io.stderr.write(`sluice: ${describe(e)}\n`);
    }
    return code;
  } finally {
    await channels?.stop?.();
    await stopNode?.();
  }
}

/** The message of an error for the terminal (peer text inside it was made safe where it entered; this is a second guard). */
export function describe(e: unknown): string {
  return peerText(describeRaw(e), 1_000);
}

function describeRaw(e: unknown): string {
  if (!isSluiceError(e)) return e instanceof Error ? e.message : String(e);
  switch (e.code) {
    case 'CHUNK_HASH_MISMATCH':
      return `the provider sent data that does not match the file's CID; stopped paying and dropped it (${e.message})`;
    case 'PEER_TIMEOUT':
      return `${e.message}; run the same command again to resume`;
    case 'PEER_DISCONNECTED':
      return `${e.message}; run the same command again to resume`;
    case 'ABORTED':
      return 'interrupted; run the same command again to resume';
    case 'HUB_POLICY_REJECTED': {
      // a hub or provider that refuses our channel's challenge duration names the range it accepts
      const flag = /the ledger's challenge duration/.test(e.message) ? '--ledger-challenge-duration' : /the virtual channel's challenge duration/.test(e.message) ? '--virtual-challenge-duration' : undefined;
      return flag === undefined ? `${e.message} (${e.code})` : `${e.message} (${e.code}); give ${flag} within that range (10m, 24h, 7d)`;
    }
    default:
      return `${e.message} (${e.code})`;
  }
}

/** What a ledger opening waits for, in words (`waitingFor` of a direct fund). */
export function ledgerWaitText(waitingFor: string): string {
  switch (waitingFor) {
    case 'WaitingForCompletePrefund':
      return 'waiting for the hub to sign it (right after an exit of our last ledger, until the hub has seen that exit on chain)';
    case 'WaitingForMyTurnToFund':
    case 'WaitingForCompleteFunding':
      return 'waiting for the deposits to be confirmed on chain';
    case 'WaitingForCompletePostFund':
      return "waiting for the hub's last signature";
    default:
      return waitingFor;
  }
}

/** Run the CLI; resolves to the exit code. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const ac = new AbortController();
  const onSig = (): void => ac.abort();
  process.once('SIGINT', onSig);
  const result = { code: EXIT.OK as number };
  try {
    await buildProgram(io, result, ac.signal).parseAsync(argv);
    return result.code;
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number; message?: string };
    // --json promises one JSON object on stdout, also for errors found before the command ran
    const json = argv.includes('--json');
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) {
      if (ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version') return 0;
      if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code: 'INVALID_ARGUMENT', message: String(ce.message ?? 'bad usage').replace(/^error: /, '') }, exitCode: EXIT.USAGE })}\n`);
      return EXIT.USAGE;
    }
    const exitCode = exitCodeFor(e);
    if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code: isSluiceError(e) ? e.code : 'INTERNAL', message: peerText(e instanceof Error ? e.message : String(e), 1_000) }, exitCode })}\n`);
    io.stderr.write(`sluice: ${describe(e)}\n`);
    return exitCode;
  } finally {
    process.off('SIGINT', onSig);
  }
}
