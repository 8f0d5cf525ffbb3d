/**
 * Engine micro-benchmark (not a test): CPU per virtual channel open + close with no libp2p, no
 * chain and no fsync — Alice, Irene (hub) and Bob as full nodes in this process over the
 * in-memory network (zero delay), `:memory:` sqlite stores and MemoryChainService. What it
 * measures is the engine path every inbound protocol message takes (decode, join/update, crank,
 * persist, encode), i.e. the part of bench:hub's CPU that is ours and not the transport's.
 *
 *   node bench/engine.ts            # ENGINE_BENCH_N cycles (default 300) after 20 warm-up
 *   node --cpu-prof bench/engine.ts
 */
import { ZERO_ADDRESS, privateKeyToAddress, type Address } from '@sluice/channel-core';
import { createMemoryNetwork, MemoryChainService } from '@sluice/channel-core/memory';
import { openMemoryStore } from '@sluice/channel-core/sqlite';
import { createNode, type Node } from '@sluice/channel-core/node';

const N = Number(process.env['ENGINE_BENCH_N'] ?? 300);
const WARMUP = 20;
const KEYS = {
  alice: '0xed90100c3784a2d86ff62423f40065a02319dc58bedda16b3158d85e39592228',
  irene: '0xa4ade440a3f357caff796d63d5bf93d94afdf734e978588f6e7a50bda8f64bf2',
  bob: '0x1c821f7627a08bf65826d8421025816e6b26208f9975ac706a0d581ebb08a4e6',
} as const;
const ADDR = { alice: privateKeyToAddress(KEYS.alice), irene: privateKeyToAddress(KEYS.irene), bob: privateKeyToAddress(KEYS.bob) };
const CONSENSUS_APP = '0x00000000000000000000000000000000000000C0' as Address;
const VIRTUAL_PAYMENT_APP = '0x00000000000000000000000000000000000000D0' as Address;
void ZERO_ADDRESS;

const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 0, seed: 7 });
const chain = new MemoryChainService();
const make = (name: keyof typeof KEYS): Node =>
  createNode(
    {
      privateKey: KEYS[name],
      chain: { consensusApp: CONSENSUS_APP, virtualPaymentApp: VIRTUAL_PAYMENT_APP, startBlock: 0 },
      callTimeoutMs: 20_000,
      objectiveTimeoutMs: 20_000,
      ...(name === 'irene' ? { policy: { hub: {}, maxLedgerDeposit: 10n ** 24n } } : { hub: { address: ADDR.irene, multiaddrs: [] } }),
    },
    { store: openMemoryStore(), chain, messaging: net.service(ADDR[name]) },
  );
const alice = make('alice');
const irene = make('irene');
const bob = make('bob');
for (const n of [alice, irene, bob]) await n.start();
await Promise.all([
  alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 10n ** 20n }),
  bob.createLedgerChannel({ counterparty: ADDR.irene, deposit: 0n, counterpartyDeposit: 10n ** 20n }),
]);

async function cycle(): Promise<void> {
  const { channelId } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 1_000n });
  while (bob.getVirtualChannel(channelId)?.status !== 'funded') await new Promise((r) => setTimeout(r, 0));
  await alice.closeVirtualChannel(channelId);
}

for (let i = 0; i < WARMUP; i++) await cycle();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < N; i++) await cycle();
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
console.log(`bench:engine — ${N} virtual channel open+close cycles, 3 nodes in one process, memory network and stores`);
console.log(`CPU per cycle (all three nodes): ${(cpuMs / N).toFixed(2)} ms (user ${(cpu.user / 1000 / N).toFixed(2)}, system ${(cpu.system / 1000 / N).toFixed(2)})`);
console.log(`wall per cycle: ${(wall / N).toFixed(2)} ms; ${((N * 1000) / wall).toFixed(1)} cycles/s`);
for (const n of [alice, irene, bob]) await n.stop();
net.close();
