/**
 * Shared by the provider and client CLIs: the flags that configure a channel node (chain,
 * contracts, key, libp2p) and a helper that builds and starts it with
 * `@sluice/channel-core/node`. Key handling follows the hub: an encrypted keystore
 * (`--key-file`, passphrase from the environment, never a flag), anvil's dev accounts on a
 * local chain (`--dev-account N`), or a raw hex key from the environment (`--key`).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { type Address, SluiceError, parseAddress } from '@sluice/channel-core';
import { devAccount, passphraseFromEnv, readKeyFile } from '@sluice/channel-core/keys';
import { createNode, type HubPeer, type Node } from '@sluice/channel-core/node';
import { openSqliteStore } from '@sluice/channel-core/sqlite';

export interface ChainNodeOptions {
  rpcUrl: string;
  deployment?: string;
  adjudicator?: Address;
  consensusApp?: Address;
  virtualPaymentApp?: Address;
  startBlock?: number;
  key?: string;
  keyFile?: string;
  devAccount?: number;
  listen: string[];
  chainPollMs: number;
}

function addr(v: string): Address {
  try {
    return parseAddress(v, 'address');
  } catch {
    throw new InvalidArgumentError('must be a 0x-prefixed 20-byte address');
  }
}
function int(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    return n;
  };
}
function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** Add the chain-node flags to a command (`env` is the variable prefix, e.g. `SLUICE_`). */
export function addChainNodeOptions(cmd: Command, env = 'SLUICE_'): Command {
  return cmd
    .addOption(new Option('--rpc-url <url>', 'JSON-RPC URL of the chain').env(`${env}RPC_URL`).default('http://127.0.0.1:8545'))
    .addOption(new Option('--deployment <file>', 'deployment JSON { chainId, adjudicator, consensusApp, virtualPaymentApp, deployBlock } (as written for the hub)').env(`${env}DEPLOYMENT`))
    .addOption(new Option('--adjudicator <address>', 'NitroAdjudicator address (overrides --deployment)').env(`${env}ADJUDICATOR`).argParser(addr))
    .addOption(new Option('--consensus-app <address>', 'ConsensusApp address (overrides --deployment)').env(`${env}CONSENSUS_APP`).argParser(addr))
    .addOption(new Option('--virtual-payment-app <address>', 'VirtualPaymentApp address (overrides --deployment)').env(`${env}VIRTUAL_PAYMENT_APP`).argParser(addr))
    .addOption(new Option('--start-block <n>', "first block to scan on a fresh store (default: the deployment's deployBlock)").env(`${env}START_BLOCK`).argParser(int(0, 2 ** 53 - 1)))
    .addOption(new Option('--key-file <file>', 'encrypted JSON keystore; passphrase from $SLUICE_PASSPHRASE (never a flag)').env(`${env}KEY_FILE`))
    .addOption(new Option('--dev-account <n>', "anvil's funded dev account n (0-9); local chains only").env(`${env}DEV_ACCOUNT`).argParser(int(0, 9)))
    .addOption(new Option('--listen <multiaddr>', 'libp2p listen multiaddr of our channel node (repeatable)').env(`${env}LISTEN`).argParser(collect).default(['/ip4/127.0.0.1/tcp/0']))
    .addOption(new Option('--chain-poll-ms <ms>', 'chain polling interval').env(`${env}CHAIN_POLL_MS`).default(1000).argParser(int(10, 3_600_000)));
}

async function rpcChainId(rpcUrl: string): Promise<bigint> {
  let res: Response;
  try {
    res = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }), signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new SluiceError('CHAIN_RPC', `cannot reach the chain at ${rpcUrl}`, { cause: e });
  }
  const j = (await res.json()) as { result?: string };
  if (typeof j.result !== 'string') throw new SluiceError('CHAIN_RPC', 'eth_chainId failed');
  return BigInt(j.result);
}

function readDeployment(path: string): { chainId?: number; adjudicator?: Address; consensusApp?: Address; virtualPaymentApp?: Address; deployBlock?: number } {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new SluiceError('INVALID_ARGUMENT', `cannot read the deployment file ${path}`, { cause: e });
  }
  const a = (k: string): Address | undefined => (typeof o[k] === 'string' ? parseAddress(o[k], `deployment.${k}`) : undefined);
  return {
    ...(typeof o['chainId'] === 'number' ? { chainId: o['chainId'] } : {}),
    ...(a('adjudicator') === undefined ? {} : { adjudicator: a('adjudicator') as Address }),
    ...(a('consensusApp') === undefined ? {} : { consensusApp: a('consensusApp') as Address }),
    ...(a('virtualPaymentApp') === undefined ? {} : { virtualPaymentApp: a('virtualPaymentApp') as Address }),
    ...(typeof o['deployBlock'] === 'number' ? { deployBlock: o['deployBlock'] } : {}),
  };
}

/**
 * Build (not start) a channel node from CLI options.
 * @param storePath - sqlite file of the node (WAL, synchronous=FULL)
 * @throws SluiceError INVALID_ARGUMENT (missing key or contract addresses), CHAIN_RPC
 */
export async function createChainNode(
  opts: ChainNodeOptions,
  extra: { storePath: string; hub?: HubPeer; env?: NodeJS.ProcessEnv },
): Promise<{ node: Node; store: ReturnType<typeof openSqliteStore> }> {
  const d = opts.deployment === undefined ? {} : readDeployment(opts.deployment);
  const chainId = await rpcChainId(opts.rpcUrl);
  if (d.chainId !== undefined && BigInt(d.chainId) !== chainId) throw new SluiceError('INVALID_ARGUMENT', `the RPC serves chain ${chainId}, the deployment file is for ${d.chainId}`);
  const given = [opts.key, opts.keyFile, opts.devAccount].filter((x) => x !== undefined).length;
  if (given !== 1) throw new SluiceError('INVALID_ARGUMENT', 'give exactly one key: --key-file, --dev-account (local chain) or --key / SLUICE_KEY');
  let privateKey: Uint8Array | string;
  if (opts.devAccount !== undefined) privateKey = devAccount(opts.devAccount, chainId).privateKey;
  else if (opts.keyFile !== undefined) {
    const pass = passphraseFromEnv(extra.env ?? process.env);
    if (pass === undefined) throw new SluiceError('INVALID_ARGUMENT', 'set $SLUICE_PASSPHRASE to unlock --key-file');
    privateKey = (await readKeyFile(opts.keyFile, pass)).privateKey;
  } else privateKey = opts.key as string;
  const need = (v: Address | undefined, what: string): Address => {
    if (v === undefined) throw new SluiceError('INVALID_ARGUMENT', `no ${what} address: give --deployment or --${what}`);
    return v;
  };
  const startBlock = opts.startBlock ?? d.deployBlock;
  const store = openSqliteStore({ path: extra.storePath });
  const node = createNode(
    {
      privateKey,
      chain: {
        rpcUrl: opts.rpcUrl,
        adjudicator: need(opts.adjudicator ?? d.adjudicator, 'adjudicator'),
        consensusApp: need(opts.consensusApp ?? d.consensusApp, 'consensus-app'),
        virtualPaymentApp: need(opts.virtualPaymentApp ?? d.virtualPaymentApp, 'virtual-payment-app'),
        ...(startBlock === undefined ? {} : { startBlock }),
        pollIntervalMs: opts.chainPollMs,
      },
      store,
      listen: opts.listen,
      ...(extra.hub === undefined ? {} : { hub: extra.hub }),
    },
    { store },
  );
  return { node, store };
}
