/**
 * Shared by the provider and client CLIs: the flags that configure a channel node (chain,
 * contracts, key, libp2p) and a helper that builds and starts it with
 * `@sluice/channel-core/node`. Key handling follows the hub: an encrypted keystore
 * (`--key-file`, passphrase from the environment, never a flag), anvil's dev accounts on a
 * local chain (`--dev-account N`), or a raw hex key from the environment (`--key`).
 */
import { type Address, DEFAULT_NONCE_WINDOW, SluiceError } from '@sluice/channel-core';
import type { ChainNodeOptions } from './node-setup-options.ts';
import { devAccount, passphraseFromEnv, promptHidden, readKeyFile } from '@sluice/channel-core/keys';
import { type EnginePolicy, type HistoryRetention, createNode, type HubPeer, type Node, startHistoryRetention } from '@sluice/channel-core/node';
import type { Logger } from 'pino';
import type { UsageStore } from './service/usage-store.ts';
import { openSqliteStore } from '@sluice/channel-core/sqlite';
import { type Deployment, readDeployment } from '@sluice/channel-core/deployment';
import { readRpcChainId } from '@sluice/channel-core/rpc';

export type { ChainNodeOptions } from './node-setup-options.ts';
export { addChainNodeOptions } from './node-setup-options.ts';

/**
 * Build (not start) a channel node from CLI options.
 * @param storePath - sqlite file of the node (WAL, synchronous=FULL)
 * @throws SluiceError INVALID_ARGUMENT (missing key or contract addresses), CHAIN_RPC
 */
export async function createChainNode(
  opts: ChainNodeOptions,
  extra: { storePath: string; hub?: HubPeer; peers?: readonly HubPeer[]; env?: NodeJS.ProcessEnv; policy?: EnginePolicy },
): Promise<{ node: Node; store: ReturnType<typeof openSqliteStore> }> {
  // the same strict reader as the hub's: a deployment file is whole (`sluice deploy` writes it); flags override its fields
  const d: Partial<Deployment> = opts.deployment === undefined ? {} : readDeployment(opts.deployment);
  const chainId = await readRpcChainId(opts.rpcUrl);
  if (d.chainId !== undefined && BigInt(d.chainId) !== chainId) throw new SluiceError('INVALID_ARGUMENT', `the RPC serves chain ${chainId}, the deployment file is for ${d.chainId}`);
  const given = [opts.key, opts.keyFile, opts.devAccount].filter((x) => x !== undefined).length;
  if (given !== 1) throw new SluiceError('INVALID_ARGUMENT', 'give exactly one key: --key-file, --dev-account (local chain) or --key / SLUICE_KEY');
  let privateKey: Uint8Array | string;
  if (opts.devAccount !== undefined) privateKey = devAccount(opts.devAccount, chainId).privateKey;
  else if (opts.keyFile !== undefined) {
    let pass = passphraseFromEnv(extra.env ?? process.env);
    if (pass === undefined) {
      if (process.stdin.isTTY !== true) throw new SluiceError('INVALID_ARGUMENT', `set $SLUICE_PASSPHRASE to unlock the key file ${opts.keyFile}, or run on a terminal`);
      pass = await promptHidden(`passphrase for ${opts.keyFile}: `);
    }
    privateKey = (await readKeyFile(opts.keyFile, pass)).privateKey;
  } else privateKey = opts.key as string;
  const need = (v: Address | undefined, what: string): Address => {
    if (v === undefined) throw new SluiceError('INVALID_ARGUMENT', `no ${what} address: give --deployment or --${what}`);
    return v;
  };
  const startBlock = opts.startBlock ?? d.deployBlock;
  const chain = {
    rpcUrl: opts.rpcUrl,
    adjudicator: need(opts.adjudicator ?? d.adjudicator, 'adjudicator'),
    consensusApp: need(opts.consensusApp ?? d.consensusApp, 'consensus-app'),
    virtualPaymentApp: need(opts.virtualPaymentApp ?? d.virtualPaymentApp, 'virtual-payment-app'),
    ...(startBlock === undefined ? {} : { startBlock }),
    chainId,
    pollIntervalMs: opts.chainPollMs,
    ...(opts.confirmations === undefined ? {} : { confirmations: opts.confirmations }),
  };
  const store = openSqliteStore({ path: extra.storePath, lock: true });
  try {
    const node = createNode(
      {
        privateKey,
        chain,
        store,
        listen: opts.listen,
        ...(opts.announce.length === 0 ? {} : { announce: opts.announce }),
        ...(extra.hub === undefined ? {} : { hub: extra.hub }),
        ...(extra.peers === undefined || extra.peers.length === 0 ? {} : { peers: extra.peers }),
        ...(extra.policy === undefined ? {} : { policy: extra.policy }),
        ...(opts.ledgerChallengeDuration === undefined ? {} : { ledgerChallengeDuration: opts.ledgerChallengeDuration }),
        ...(opts.virtualChallengeDuration === undefined ? {} : { virtualChallengeDuration: opts.virtualChallengeDuration }),
      },
      { store },
    );
    return { node, store };
  } catch (e) {
    store.close(); // and its lock
    throw e;
  }
}

/**
 * Warnings for challenge durations given to open our channels with (`--ledger-challenge-duration`,
 * `--virtual-challenge-duration`) that are shorter than what our started node would join: at its
 * confirmations and the chain's block time, a stale state registered on chain could finalize
 * before our node answers it.
 */
export function shortChallengeWarnings(
  node: Pick<Node, 'challengeDurations' | 'confirmations'>,
  opened: { readonly ledger?: number | undefined; readonly virtual?: number | undefined },
): string[] {
  const out: string[] = [];
  for (const kind of ['ledger', 'virtual'] as const) {
    const s = opened[kind];
    const min = node.challengeDurations[kind][0];
    if (s !== undefined && s < min) {
      out.push(`warning: our ${kind === 'ledger' ? "ledger's" : "virtual channels'"} challenge duration, ${s} s, is shorter than our node accepts from others (${min} s at ${node.confirmations} confirmation(s)): a stale state registered on chain could finalize before we answer it`);
    }
  }
  return out;
}

/**
 * The provider's channel-node policy (`sluice-provider start`):
 * - at most `maxChannels` virtual channels open to us on the ledger with the hub (`--max-channels`);
 * - with `nonceMaxAge` (`--nonce-max-age`, default 1 h; null: `forever`), a virtual channel is
 *   joined only while the time in its nonce is at most that old and at most 10 minutes ahead of
 *   our clock, as the hub does. Retention (`--retain-history`) then forgets the ids of the
 *   channels it deleted once their nonces are older (a replayed opening is refused anyway), so
 *   what the node keeps of its history stays bounded.
 */
export function payeeNodePolicy(options: { maxChannels: number; nonceMaxAge: number | null }): EnginePolicy {
  return {
    maxLedgerGuarantees: options.maxChannels,
    ...(options.nonceMaxAge === null ? {} : { nonceWindow: { maxAgeMs: options.nonceMaxAge, maxAheadMs: DEFAULT_NONCE_WINDOW.maxAheadMs } }),
  };
}

/**
 * `sluice-provider start --retain-history`: prune the channel node's history now and every tenth
 * of the period, and after each pass that deleted channels, their usage rows (a closed channel
 * has no session left to credit). Stop it before the node.
 */
export function startProviderRetention(node: Node, usage: UsageStore, options: { olderThanMs: number; everyMs?: number; logger?: Logger }): HistoryRetention {
  return startHistoryRetention(node, {
    olderThanMs: options.olderThanMs,
    ...(options.everyMs === undefined ? {} : { everyMs: options.everyMs }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    onPass: (p) => {
      if (p.channels === 0) return;
      const rows = usage.retain((id) => node.getVirtualChannel(id) !== undefined);
      if (rows > 0) options.logger?.info({ rows }, 'usage rows of pruned channels deleted');
    },
  });
}
