/**
 * A hub relays (stores and forwards, durably, for up to 10 min) only between peers that hold a
 * live ledger with it, and nothing larger than an engine message: a stranger could otherwise fill
 * its disk with 1 MiB messages for made-up recipients and, at `maxOutbox`, have it refuse every
 * peer's relayed messages as overloaded.
 */
import { afterEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { privateKeyToAddress } from '../src/address.ts';
import type { Address } from '../src/hex.ts';
import { openMemoryStore } from '../src/sqlite/index.ts';
import { createNode, type Node } from '../src/node/index.ts';
import { MemoryChainService } from '../src/memory/index.ts';
import { createLibp2pMessageService, type Libp2pMessageService } from '../src/libp2p/index.ts';

const IRENE = '0x' + '1e'.repeat(32);
const MALLORY = '0x' + '66'.repeat(32);
const running: { stop(): Promise<void> | void }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

it('a hub refuses to relay for a peer with no ledger, to recipients with none', async () => {
  const hubStore = openMemoryStore();
  const hub: Node = createNode(
    { privateKey: IRENE, chain: { consensusApp: '0x00000000000000000000000000000000000000C0' as Address, virtualPaymentApp: '0x00000000000000000000000000000000000000D0' as Address, startBlock: 0 }, listen: ['/ip4/127.0.0.1/tcp/0'], policy: { hub: {} } },
    { store: hubStore, chain: new MemoryChainService() },
  );
  running.push(hub);
  await hub.start();
  const mallory: Libp2pMessageService = createLibp2pMessageService({ privateKey: MALLORY, peers: [{ address: hub.address, multiaddrs: hub.multiaddrs(), relay: true }] }, { store: openMemoryStore() });
  running.push(mallory);
  await mallory.start();
  const refused: string[] = [];
  mallory.onUndeliverable((u) => refused.push(u.reason));
  for (const size of [1_000, 1_000_000]) {
    for (let i = 0; i < 5; i++) await mallory.send(privateKeyToAddress(new Uint8Array(randomBytes(32))), new Uint8Array(size).fill(i));
  }
  const t0 = Date.now();
  while (refused.length < 10 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
  assert.equal(hubStore.countOutbox(), 0, `the hub holds ${hubStore.countOutbox()} relayed messages from a peer with no ledger`);
  assert.equal(refused.length, 10, `refused: ${refused.join(", ")}`);
});
