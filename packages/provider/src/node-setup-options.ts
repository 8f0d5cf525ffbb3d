/**
 * The flags that configure a channel node (chain, contracts, key, libp2p), shared by the
 * provider and client CLIs. No engine import here: `node-setup.ts` builds the node.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { type Address, parseAddress } from '@sluice/channel-core';
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
  confirmations: number;
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
/**
 * commander parser of a repeatable multiaddr flag: each value may also be a comma-separated list
 * (how the environment variable gives several); each must look like a multiaddr.
 */
export function multiaddrList(v: string, prev: string[] | undefined): string[] {
  const items = v.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (items.length === 0) throw new InvalidArgumentError('must be a multiaddr, e.g. /ip4/127.0.0.1/tcp/4001');
  for (const m of items as readonly string[]) if (!isMultiaddrString(m)) throw new InvalidArgumentError(`"${(m as string).slice(0, 80)}" is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001; at most ${MAX_MULTIADDR_LENGTH} characters)`);
  return [...(prev ?? []), ...items];
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
    .addOption(new Option('--key-file <file>', 'encrypted JSON keystore; passphrase from $SLUICE_PASSPHRASE or a terminal prompt (never a flag)').env(`${env}KEY_FILE`))
    .addOption(new Option('--dev-account <n>', "anvil's funded dev account n (0-9); local chains only").env(`${env}DEV_ACCOUNT`).argParser(int(0, 9)))
    .addOption(new Option('--listen <multiaddr>', 'libp2p listen multiaddr of our channel node (repeatable; env: comma-separated)').env(`${env}LISTEN`).argParser(multiaddrList).default(['/ip4/127.0.0.1/tcp/0']))
    .addOption(new Option('--announce <multiaddr>', 'multiaddr our channel node advertises instead of its listen addresses, e.g. a public address (repeatable, env: comma-separated; a provider puts them in file metadata so clients reach it directly)').env(`${env}ANNOUNCE`).argParser(multiaddrList).default([] as string[]))
    .addOption(new Option('--chain-poll-ms <ms>', 'chain polling interval').env(`${env}CHAIN_POLL_MS`).default(1000).argParser(int(10, 3_600_000)))
    .addOption(new Option('--confirmations <n>', 'blocks a chain event (deposit, challenge, payout) must be deep before our node acts on it; 1 suits a local chain, use more where blocks can be reorganised (a deposit reorganised away after the ledger opened is money the peer never put in)').env(`${env}CONFIRMATIONS`).default(1).argParser(int(1, 256)));
}

