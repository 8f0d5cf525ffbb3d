/**
 * The real adapters a node uses when no component is given: the sqlite store, the ethers chain
 * service and the libp2p message service. Imported lazily, so nodes built from in-memory
 * components (tests) never load ethers providers or libp2p.
 */
import { type Address, bytesToHex } from '../hex.ts';
import { MAX_WIRE_BYTES } from '../engine/wire.ts';
import { SluiceError } from '../errors.ts';
import type { ChainService } from '../chain.ts';
import { readRpcChainId } from '../rpc.ts';
import type { MessageService } from '../ports/messaging.ts';
import type { Store } from '../ports/store.ts';
import type { NodeComponents, NodeInit } from './types.ts';

/** Something the node created and must release on stop. */
export interface Owned<T> {
  readonly value: T;
  /** Release it (undefined when it belongs to the caller). */
  readonly close?: () => Promise<void> | void;
}

/** The store: the component, an open Store from init, or a sqlite file (`:memory:` by default). */
export async function storeFor(init: NodeInit, components: NodeComponents): Promise<Owned<Store>> {
  if (components.store !== undefined) return { value: components.store };
  if (typeof init.store === 'object') return { value: init.store };
  const { openSqliteStore } = await import('../sqlite/index.ts');
  const store = openSqliteStore({ path: init.store ?? ':memory:', lock: true });
  return { value: store, close: () => store.close() };
}

/**
 * The chain service: the component, or an EthersChainService on `init.chain.rpcUrl` signing with
 * the node's key. For the latter, when neither `chain.confirmations` nor `chain.chainId` is given,
 * `chainId` is the RPC's (it picks the default confirmations).
 * @throws SluiceError INVALID_ARGUMENT without a component and without rpcUrl/adjudicator;
 *   CHAIN_RPC when the chain id is needed and the RPC does not give it
 */
export async function chainFor(init: NodeInit, components: NodeComponents): Promise<Owned<ChainService> & { readonly chainId?: bigint }> {
  if (components.chain !== undefined) return { value: components.chain };
  if (init.chain.rpcUrl === undefined || init.chain.adjudicator === undefined) {
    throw new SluiceError('INVALID_ARGUMENT', 'chain.rpcUrl and chain.adjudicator are required without a chain component');
  }
  const { JsonRpcProvider, Wallet } = await import('ethers');
  const { EthersChainService } = await import('../ethers/index.ts');
  // cacheTimeout -1: a cached eth_getTransactionCount would hand two quick transactions (approve, deposit) the same nonce
  const provider = new JsonRpcProvider(init.chain.rpcUrl, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: init.chain.pollIntervalMs ?? 1000,
  });
  const key = typeof init.privateKey === 'string' ? init.privateKey : bytesToHex(init.privateKey);
  const chain = new EthersChainService({
    adjudicator: init.chain.adjudicator,
    provider,
    signer: new Wallet(key, provider),
    ...(init.chain.timeoutMs === undefined ? {} : { timeoutMs: init.chain.timeoutMs }),
    ...(init.chain.pollIntervalMs === undefined ? {} : { pollIntervalMs: init.chain.pollIntervalMs }),
  });
  const close = (): void => provider.destroy();
  if (init.chain.confirmations !== undefined || init.chain.chainId !== undefined) return { value: chain, close };
  try {
    return { value: chain, close, chainId: await readRpcChainId(init.chain.rpcUrl) };
  } catch (e) {
    close();
    throw e;
  }
}

/**
 * The message service: the component, or libp2p with the hub as relaying peer and `init.peers`
 * as direct routes. A hub relays for others only what `relayFilter` allows (the node passes: both
 * ends hold a live ledger with us), and no payload larger than an engine message.
 */
export async function messagingFor(init: NodeInit, components: NodeComponents, store: Store, relayFilter?: (from: Address, to: Address) => boolean): Promise<Owned<MessageService>> {
  if (components.messaging !== undefined) return { value: components.messaging };
  const { createLibp2pMessageService } = await import('../libp2p/index.ts');
  const messaging = createLibp2pMessageService(
    {
      privateKey: init.privateKey,
      ...(init.listen === undefined ? {} : { listen: init.listen }),
      ...(init.announce === undefined ? {} : { announce: init.announce }),
      ...(init.maxConnections === undefined ? {} : { maxConnections: init.maxConnections }),
      ...(init.inboundConnectionsPerHost === undefined ? {} : { inboundConnectionsPerHost: init.inboundConnectionsPerHost }),
      peers: [
        ...(init.hub === undefined ? [] : [{ address: init.hub.address, multiaddrs: init.hub.multiaddrs, relay: true }]),
        ...(init.peers ?? []).map((p) => ({ address: p.address, multiaddrs: p.multiaddrs, relay: false })),
      ],
      relay: init.policy?.hub !== undefined,
      ...(init.policy?.hub === undefined || relayFilter === undefined ? {} : { relayFilter }),
      maxRelayedBytes: MAX_WIRE_BYTES,
      ...(init.messagingRetry === undefined ? {} : { retry: init.messagingRetry }),
    },
    {
      store,
      ...(components.clock === undefined ? {} : { clock: components.clock }),
      ...(components.logger === undefined ? {} : { logger: components.logger }),
    },
  );
  return { value: messaging, close: () => messaging.stop() };
}
