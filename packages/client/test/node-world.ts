/**
 * Test fixture: Alice (client), Irene (hub) and Bob (provider) as real channel nodes on the
 * in-memory network and chain (`@sluice/channel-core/memory`), Bob's ledger with Irene funded,
 * and Bob's provider service (real HTTP + ws on loopback) paid through `NodePayeeChannels`.
 */
import { join } from 'node:path';
import { type Address, privateKeyToAddress } from '@sluice/channel-core';
import { MemoryChainService, createMemoryNetwork, type MemoryNetwork } from '@sluice/channel-core/memory';
import { openMemoryStore } from '@sluice/channel-core/sqlite';
import { type EnginePolicy, type NodeComponents, createNode, type Node } from '@sluice/channel-core/node';
import { NodePayeeChannels, type ProviderService, type UsageStore, createProviderService, openUsageStore } from '@sluice/provider/service';
import { type Env, makeEnv } from './helpers.ts';

export const KEYS = {
  alice: '0xed90100c3784a2d86ff62423f40065a02319dc58bedda16b3158d85e39592228',
  irene: '0xa4ade440a3f357caff796d63d5bf93d94afdf734e978588f6e7a50bda8f64bf2',
  bob: '0x1c821f7627a08bf65826d8421025816e6b26208f9975ac706a0d581ebb08a4e6',
} as const;
export const ADDR = { alice: privateKeyToAddress(KEYS.alice), irene: privateKeyToAddress(KEYS.irene), bob: privateKeyToAddress(KEYS.bob) };

export interface NodeWorld {
  readonly env: Env;
  readonly net: MemoryNetwork;
  readonly chain: MemoryChainService;
  readonly alice: Node;
  readonly irene: Node;
  readonly bob: Node;
  readonly aliceStore: ReturnType<typeof openMemoryStore>;
  readonly bobStore: ReturnType<typeof openMemoryStore>;
  readonly service: ProviderService;
  readonly usage: UsageStore;
  stop(): Promise<void>;
}

export async function startNodeWorld(options: { price: bigint; prefix?: string; bob?: { policy?: EnginePolicy; clock?: NodeComponents['clock'] } }): Promise<NodeWorld> {
  const env = await makeEnv(options.prefix ?? 'sluice-e2e-');
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 2, seed: 5 });
  const chain = new MemoryChainService();
  const nodes: Node[] = [];
  const make = (name: keyof typeof KEYS, store: ReturnType<typeof openMemoryStore>, more: { policy?: EnginePolicy; clock?: NodeComponents['clock'] } = {}): Node => {
    const n = createNode(
      {
        privateKey: KEYS[name],
        chain: { consensusApp: '0x00000000000000000000000000000000000000C0' as Address, virtualPaymentApp: '0x00000000000000000000000000000000000000D0' as Address, startBlock: 0 },
        callTimeoutMs: 20_000,
        objectiveTimeoutMs: 5_000,
        txRetryDelayMs: 50,
        ...(name === 'irene' ? { policy: { hub: {}, maxLedgerDeposit: 10n ** 24n } } : { hub: { address: ADDR.irene, multiaddrs: [] } }),
        ...(more.policy === undefined ? {} : { policy: more.policy }),
      },
      { store, chain, messaging: net.service(ADDR[name]), ...(more.clock === undefined ? {} : { clock: more.clock }) },
    );
    nodes.push(n);
    return n;
  };
  const aliceStore = openMemoryStore();
  const bobStore = openMemoryStore();
  const alice = make('alice', aliceStore);
  const irene = make('irene', openMemoryStore());
  const bob = make('bob', bobStore, options.bob);
  for (const n of nodes) await n.start();
  // Bob's ledger with the hub: Irene deposits collateral toward Bob.
  await bob.createLedgerChannel({ counterparty: ADDR.irene, deposit: 0n, counterpartyDeposit: 10n ** 9n });
  const usage = openUsageStore(join(env.dir, 'usage.db'));
  const service = createProviderService({ pricePerChunk: options.price, hub: { address: ADDR.irene, multiaddrs: [] }, adminToken: 't' })({
    store: env.store,
    channels: new NodePayeeChannels(bob),
    usage,
  });
  await service.start();
  return {
    env, net, chain, alice, irene, bob, aliceStore, bobStore, service, usage,
    async stop() {
      await service.stop();
      for (const n of nodes) await n.stop().catch(() => undefined);
      net.close();
      await env.cleanup();
    },
  };
}
