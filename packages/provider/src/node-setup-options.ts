/**
 * The flags that configure a channel node (chain, contracts, key, libp2p), and the JSON
 * `--config` file option, shared by the provider and client CLIs. No engine import here:
 * `node-setup.ts` builds the node.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { type Address, SluiceError, parseAddress } from '@sluice/channel-core';
import { parseChallengeDuration } from '@sluice/channel-core/node/text';
import { MAX_MULTIADDR_LENGTH, isMultiaddrString } from './wire/multiaddrs.ts';

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
  announce: string[];
  chainPollMs: number;
  /** undefined: the chain's default (1 on a local chain, 12 elsewhere). */
  confirmations: number | undefined;
  /** Challenge duration of the ledgers our node opens, seconds (undefined: the node's default, 1 day). */
  ledgerChallengeDuration?: number;
  /** Challenge duration of the virtual channels our node opens, seconds (clients; undefined: 1 hour). */
  virtualChallengeDuration?: number;
}

function addr(v: string): Address {
  try {
    return parseAddress(v, 'address');
  } catch {
    throw new InvalidArgumentError('must be a 0x-prefixed 20-byte address');
  }
}
/** commander parser: an integer in min..max. */
export function int(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    return n;
  };
}
/** commander parser: a challenge duration (`10m`, `24h`, `7d`, 1 minute to 365 days) in seconds. */
export function challengeDurationArg(v: string): number {
  try {
    return parseChallengeDuration(v);
  } catch {
    throw new InvalidArgumentError('must be a duration from 1m to 365d, such as 10m, 24h or 7d');
  }
}

/** Default values of list flags: the first value given replaces them instead of adding to them. */
const DEFAULT_LISTS = new WeakSet<readonly string[]>();
/** Mark a list flag's default (see {@link multiaddrList}). */
export function defaultList(list: string[]): string[] {
  DEFAULT_LISTS.add(list);
  return list;
}

/**
 * commander parser of a repeatable multiaddr flag: each value may also be a comma-separated list
 * (how the environment variable gives several); each must look like a multiaddr.
 */
export function multiaddrList(v: string, prev: string[] | undefined): string[] {
  if (prev !== undefined && DEFAULT_LISTS.has(prev)) prev = undefined; // a given value replaces the default
  const items = v.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (items.length === 0) throw new InvalidArgumentError('must be a multiaddr, e.g. /ip4/127.0.0.1/tcp/4001');
  for (const m of items as readonly string[]) if (!isMultiaddrString(m)) throw new InvalidArgumentError(`"${(m as string).slice(0, 80)}" is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001; at most ${MAX_MULTIADDR_LENGTH} characters)`);
  return [...(prev ?? []), ...items];
}

/**
 * Add the chain-node flags to a command (`env` is the variable prefix, e.g. `SLUICE_`). The
 * challenge durations of the channels the node opens: `opens: 'ledger'` (a provider) or
 * `'ledger+virtual'` (`sluice get`); none for commands that open nothing (withdraw, status).
 */
export function addChainNodeOptions(cmd: Command, env = 'SLUICE_', options: { opens?: 'ledger' | 'ledger+virtual' } = {}): Command {
  cmd
    .addOption(new Option('--rpc-url <url>', 'JSON-RPC URL of the chain').env(`${env}RPC_URL`).default('http://127.0.0.1:8545'))
    .addOption(new Option('--deployment <file>', 'deployment JSON { chainId, adjudicator, consensusApp, virtualPaymentApp, deployBlock } (as written for the hub)').env(`${env}DEPLOYMENT`))
    .addOption(new Option('--adjudicator <address>', 'NitroAdjudicator address (overrides --deployment)').env(`${env}ADJUDICATOR`).argParser(addr))
    .addOption(new Option('--consensus-app <address>', 'ConsensusApp address (overrides --deployment)').env(`${env}CONSENSUS_APP`).argParser(addr))
    .addOption(new Option('--virtual-payment-app <address>', 'VirtualPaymentApp address (overrides --deployment)').env(`${env}VIRTUAL_PAYMENT_APP`).argParser(addr))
    .addOption(new Option('--start-block <n>', "first block to scan on a fresh store (default: the deployment's deployBlock)").env(`${env}START_BLOCK`).argParser(int(0, 2 ** 53 - 1)))
    .addOption(new Option('--key-file <file>', 'encrypted JSON keystore; passphrase from $SLUICE_PASSPHRASE or a terminal prompt (never a flag)').env(`${env}KEY_FILE`))
    .addOption(new Option('--dev-account <n>', "anvil's funded dev account n (0-9); local chains only").env(`${env}DEV_ACCOUNT`).argParser(int(0, 9)))
    .addOption(new Option('--listen <multiaddr>', 'libp2p listen multiaddr of our channel node (repeatable; env: comma-separated)').env(`${env}LISTEN`).argParser(multiaddrList).default(defaultList(['/ip4/127.0.0.1/tcp/0'])))
    .addOption(new Option('--announce <multiaddr>', 'multiaddr our channel node advertises instead of its listen addresses, e.g. a public address (repeatable, env: comma-separated; a provider puts them in file metadata so clients reach it directly)').env(`${env}ANNOUNCE`).argParser(multiaddrList).default([] as string[]))
    .addOption(new Option('--chain-poll-ms <ms>', 'chain polling interval').env(`${env}CHAIN_POLL_MS`).default(1000).argParser(int(10, 3_600_000)))
    .addOption(new Option('--confirmations <n>', 'blocks a chain event (deposit, challenge, payout) must be deep before our node acts on it (1-256); where blocks can be reorganised, a deposit reorganised away after the ledger opened is money the peer never put in (default: by chain id, 1 on a local chain (31337, 1337), 12 elsewhere)').env(`${env}CONFIRMATIONS`).argParser(int(1, 256)));
  if (options.opens !== undefined) {
    cmd.addOption(
      new Option('--ledger-challenge-duration <duration>', 'challenge duration of the ledger our node opens with the hub (10m, 24h, 7d): how long a stale state registered on chain can be answered, and how long our money stays locked if we ever settle on chain; the hub refuses one outside its range (the error names it). Default: 1d')
        .env(`${env}LEDGER_CHALLENGE_DURATION`)
        .argParser(challengeDurationArg),
    );
  }
  if (options.opens === 'ledger+virtual') {
    cmd.addOption(
      new Option('--virtual-challenge-duration <duration>', 'challenge duration of the virtual channels our node opens to pay (10m, 1h, 1d); the hub and the provider refuse one outside their ranges. Default: 1h')
        .env(`${env}VIRTUAL_CHALLENGE_DURATION`)
        .argParser(challengeDurationArg),
    );
  }
  return cmd;
}

/**
 * Apply a JSON config file to a command: each key is an option's camelCase name; a value is
 * used only where neither a flag nor the environment set the option (flag > env > file > default).
 * @throws SluiceError INVALID_ARGUMENT (unreadable, not a JSON object, unknown key)
 */
export function applyConfigFile(cmd: Command, path: string): void {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SluiceError('INVALID_ARGUMENT', `cannot read config file ${path} (JSON expected)`, { cause: e });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SluiceError('INVALID_ARGUMENT', `config file ${path} must hold a JSON object`);
  const known = new Map(cmd.options.map((o) => [o.attributeName(), o]));
  for (const [k, v] of Object.entries(json)) {
    const opt = known.get(k);
    if (opt === undefined || k === 'config') throw new SluiceError('INVALID_ARGUMENT', `config file ${path}: unknown option "${k}"`);
    const source = cmd.getOptionValueSource(k);
    if (source === 'cli' || source === 'env') continue;
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    const parse = (opt as unknown as { parseArg?: (value: string, previous: unknown) => unknown }).parseArg;
    let value: unknown;
    try {
      if (Array.isArray(v) && parse !== undefined) {
        // a repeatable option: each element as if given once more
        value = v.reduce<unknown>((prev, x) => parse(typeof x === 'string' ? x : JSON.stringify(x), prev), undefined);
      } else value = typeof v === 'boolean' ? v : parse === undefined ? text : parse(text, undefined);
    } catch (e) {
      throw new SluiceError('INVALID_ARGUMENT', `config file ${path}: ${k}: ${e instanceof Error ? e.message : String(e)}`);
    }
    cmd.setOptionValueWithSource(k, value, 'config');
  }
}

/**
 * Give `cmd` a `--config <file>` option (and `envName`) whose JSON object sets any other option of
 * the command by its camelCase name; flags and environment variables win over the file.
 */
export function addConfigFileOption(cmd: Command, envName: string): Command {
  cmd.addOption(new Option('--config <file>', 'JSON config file setting any option of this command by its camelCase name, e.g. {"rpcUrl": "…"}; flags and environment variables win').env(envName));
  cmd.hook('preAction', (self) => {
    const path = self.getOptionValue('config') as string | undefined;
    if (path !== undefined) applyConfigFile(self, path);
  });
  return cmd;
}
