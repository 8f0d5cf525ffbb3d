/**
 * Build a hub from a resolved config (shared by `start` and `settle`): check the chain, unlock the
 * key, resolve the contract addresses.
 */
import { resolve } from 'node:path';
import type { DestinationStream, Logger } from 'pino';
import { type Address, DEFAULT_NONCE_WINDOW, SluiceError, ZERO_ADDRESS } from '@sluice/channel-core';
import { devAccount, passphraseFromEnv, promptHidden, readKeyFile } from '@sluice/channel-core/keys';
import { readRpcChainId, rpcUrlForDisplay } from '@sluice/channel-core/rpc';
import type { HubConfig } from './config.ts';
import { readDeployment, type Deployment } from './deployment.ts';
import { createLogger } from './logger.ts';
import { createHub, type Hub, type HubInit } from './hub.ts';

export interface OpenHubIO {
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Ask for a passphrase on the TTY without echoing it. */
async function promptPassphrase(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new SluiceError('INVALID_ARGUMENT', 'the key file needs a passphrase: set SLUICE_HUB_PASSPHRASE (or SLUICE_PASSPHRASE), or run on a terminal');
  }
  return promptHidden(question);
}

function required(v: Address | undefined, what: string): Address {
  if (v === undefined) throw new SluiceError('INVALID_ARGUMENT', `no ${what} address: give --deployment or --${what.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  return v;
}

/**
 * Create (not start) the hub described by `config`.
 * @param overrides - e.g. `{ http: false }` for `settle`
 * @param options.logDestination - where the JSON log lines go (default stdout)
 * @throws SluiceError INVALID_ARGUMENT (key, addresses, chain id), CHAIN_RPC
 */
export async function openHub(config: HubConfig, io: OpenHubIO, overrides: Partial<HubInit> = {}, options: { logDestination?: DestinationStream } = {}): Promise<{ hub: Hub; logger: Logger }> {
  const logger = createLogger(config.logLevel, options.logDestination);
  const deployment: Deployment | undefined = config.deployment === undefined ? undefined : readDeployment(config.deployment);
  if (deployment !== undefined && config.chainId !== undefined && deployment.chainId !== config.chainId) {
    throw new SluiceError('INVALID_ARGUMENT', `--chain-id ${config.chainId} does not match the deployment file's chain ${deployment.chainId}`);
  }
  const chainId = Number(await readRpcChainId(config.rpcUrl));
  const expected = config.chainId ?? deployment?.chainId;
  if (expected !== undefined && expected !== chainId) {
    throw new SluiceError('INVALID_ARGUMENT', `the RPC at ${rpcUrlForDisplay(config.rpcUrl)} serves chain ${chainId}, expected ${expected}`);
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
        ...(config.confirmations === undefined ? {} : { confirmations: config.confirmations }),
      },
      store: config.store === ':memory:' ? ':memory:' : resolve(config.store),
      listen: config.listen,
      announce: config.announce,
      maxConnections: config.maxConnections,
      inboundConnectionsPerHost: config.inboundPerHost,
      policy: {
        maxPerChannel: config.maxPerChannel,
        ...(config.collateralCap === undefined ? {} : { collateralCap: config.collateralCap }),
        maxLedgerDeposit: config.maxLedgerDeposit,
        ...(config.maxOpeningCollateral === undefined ? {} : { maxOpeningCollateral: config.maxOpeningCollateral }),
        ...(config.maxPeerCollateral === undefined ? {} : { maxPeerCollateral: config.maxPeerCollateral }),
        maxLedgerGuarantees: config.maxLedgerGuarantees,
        ...(config.requiredApp === undefined ? {} : { requiredApp: config.requiredApp }),
        // the assets named, else ETH and the deployment's token; `any`: no restriction
        ...(config.assets === null ? {} : { assets: config.assets ?? [ZERO_ADDRESS, ...(deployment?.token === undefined ? [] : [deployment.token])] }),
        ...(config.collateralPeers === undefined ? {} : { collateralPeers: config.collateralPeers }),
        challengeDurations: { ...(config.minChallengeDuration === undefined ? {} : { min: config.minChallengeDuration }), max: config.maxChallengeDuration },
      },
      http: { host: config.httpHost, port: config.httpPort },
      objectiveTimeoutMs: config.objectiveTimeoutMs,
      prefundTimeoutMs: config.prefundTimeoutMs,
      retainHistory: config.retainHistory === null ? false : { olderThanMs: config.retainHistory },
      nonceWindow: config.nonceMaxAge === null ? false : { maxAgeMs: config.nonceMaxAge, maxAheadMs: DEFAULT_NONCE_WINDOW.maxAheadMs },
      ...overrides,
    },
    { logger },
  );
  return { hub, logger };
}
