/**
 * Shared by `sluice withdraw` and `sluice status`: the flags that locate our channel node (its
 * store under --home, key, chain, and optionally the hub to dial) and a helper that starts it.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Address, parseAddress } from '@sluice/channel-core';
import type { Node } from '@sluice/channel-core/node';
import { rpcUrlForDisplay } from '@sluice/channel-core/rpc';
import { type ChainNodeOptions, addChainNodeOptions, addConfigFileOption, multiaddrList } from '@sluice/provider/node-setup-options';
import { DEFAULT_KEY_FILE } from './keys.ts';

export interface NodeCommandOptions extends ChainNodeOptions {
  home: string;
  hubAddress?: Address;
  hubMultiaddr: string[];
}

function addr(v: string): Address {
  try {
    return parseAddress(v, 'address');
  } catch {
    throw new InvalidArgumentError('must be a 0x-prefixed 20-byte address');
  }
}

/**
 * Our key, when no key flag (--key / SLUICE_KEY, --key-file, --dev-account) is given: the key
 * file `sluice keys new` wrote ({@link DEFAULT_KEY_FILE}), if there is one.
 */
export function withDefaultKeyFile<T extends ChainNodeOptions>(opts: T, keyFile = DEFAULT_KEY_FILE): T {
  if (opts.key !== undefined || opts.keyFile !== undefined || opts.devAccount !== undefined || !existsSync(keyFile)) return opts;
  return { ...opts, keyFile };
}

/** Add --home, --key, --hub-address, --hub-multiaddr, the chain-node flags and --config. */
export function addNodeCommandOptions(cmd: Command): Command {
  cmd
    .addOption(new Option('--key <hex>', `our private key, hex (prefer SLUICE_KEY or --key-file; never printed; default: the key file ${DEFAULT_KEY_FILE.replace(homedir(), '~')} if it exists)`).env('SLUICE_KEY'))
    .addOption(new Option('--home <dir>', 'client state: channel node store (node.db)').env('SLUICE_HOME').default(join(homedir(), '.sluice')))
    .addOption(new Option('--hub-address <address>', 'the hub our node dials (withdraw: for the cooperative close; without it only the on-chain path works)').env('SLUICE_HUB_ADDRESS').argParser(addr))
    .addOption(new Option('--hub-multiaddr <ma>', "the hub's libp2p address (repeatable, env: comma-separated; as in a provider's file metadata)").env('SLUICE_HUB_MULTIADDR').argParser(multiaddrList).default([] as string[]));
  addChainNodeOptions(cmd);
  return addConfigFileOption(cmd, 'SLUICE_CONFIG');
}

/**
 * Build and start our node from the options, and wait (at most `catchUpMs`) until it has read
 * the chain up to its head: what happened while it was offline (a peer's challenge, a payout) is
 * then in what it reports and acts on. The caller stops it with `stop()`.
 */
export async function startNode(
  opts: NodeCommandOptions,
  options: { catchUpMs?: number; signal?: AbortSignal; warn?: (s: string) => void } = {},
): Promise<{ node: Node; stop(): Promise<void> }> {
  const { createChainNode } = await import('@sluice/provider/node-setup');
  const hub = opts.hubAddress !== undefined && opts.hubMultiaddr.length > 0 ? { address: opts.hubAddress, multiaddrs: opts.hubMultiaddr } : undefined;
  const { node, store } = await createChainNode(withDefaultKeyFile(opts), { storePath: join(resolve(opts.home), 'node.db'), ...(hub === undefined ? {} : { hub }) });
  try {
    await node.start();
  } catch (e) {
    store.close(); // and its lock
    throw e;
  }
  const deadline = Date.now() + (options.catchUpMs ?? 30_000);
  while (!node.engine.caughtUp && Date.now() < deadline && options.signal?.aborted !== true) await new Promise((r) => setTimeout(r, 50));
  if (!node.engine.caughtUp && options.signal?.aborted !== true) {
    options.warn?.(`warning: our node has not caught up with the chain at ${rpcUrlForDisplay(opts.rpcUrl)} yet: what follows may miss what happened on chain while it was off`);
  }
  return {
    node,
    async stop() {
      await node.stop();
      store.close();
    },
  };
}
