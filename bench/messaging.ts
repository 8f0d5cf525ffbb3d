/**
 * Messaging micro-benchmark (not a test): the libp2p adapter alone, no engine.
 * Direct ping-pong round trips Alice ⇄ Bob, relayed ping-pong Alice → Irene → Bob → Irene → Alice,
 * and a flood of one-way relayed messages; `:memory:` stores (no fsync) unless MSG_BENCH_FILE=1.
 *
 *   node bench/messaging.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateKeyToAddress } from '@sluice/channel-core';
import { createLibp2pMessageService } from '@sluice/channel-core/libp2p';
import { openMemoryStore, openSqliteStore } from '@sluice/channel-core/sqlite';

const ROUNDS = Number(process.env['MSG_BENCH_ROUNDS'] ?? 300);
const FLOOD = Number(process.env['MSG_BENCH_FLOOD'] ?? 3000);
const FILE = process.env['MSG_BENCH_FILE'] === '1';
const dir = mkdtempSync(join(tmpdir(), 'sluice-msg-bench-'));
const key = (n: number): Uint8Array => { const k = new Uint8Array(32); k[0] = 1; k[31] = n; return k; };
const store = (name: string) => (FILE ? openSqliteStore({ path: join(dir, `${name}.db`) }) : openMemoryStore());
const A = key(0xa1), I = key(0x1e), B = key(0xb0);
const irene = createLibp2pMessageService({ privateKey: I, relay: true }, { store: store('i') });
await irene.start();
const hub = { address: privateKeyToAddress(I), multiaddrs: irene.multiaddrs(), relay: true };
const alice = createLibp2pMessageService({ privateKey: A, peers: [hub] }, { store: store('a') });
const bob = createLibp2pMessageService({ privateKey: B, peers: [hub] }, { store: store('b') });
await alice.start();
await bob.start();
const aAddr = privateKeyToAddress(A), bAddr = privateKeyToAddress(B);
while (irene.connectedPeers().length < 2) await new Promise((r) => setTimeout(r, 20));

let waiter: (() => void) | undefined;
let flood = 0;
bob.onMessage(async (m) => {
  if (m.payload[0] === 1) { flood++; if (flood === FLOOD) waiter?.(); return; }
  await bob.send(aAddr, m.payload);
});
alice.onMessage(() => { waiter?.(); });
const p = new Uint8Array(600);
async function rounds(n: number): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const done = new Promise<void>((r) => (waiter = r));
    await alice.send(bAddr, p);
    await done;
    xs.push(performance.now() - t);
  }
  return xs.sort((a, b) => a - b);
}
await rounds(20);
const cpu0 = process.cpuUsage();
const relayed = await rounds(ROUNDS);
const cpu1 = process.cpuUsage(cpu0);
const q = (xs: number[], f: number) => xs[Math.min(xs.length - 1, Math.floor(f * xs.length))]!.toFixed(2);
console.log(`relayed round trip (4 hops: A→I→B→I→A), ${ROUNDS} rounds: p50 ${q(relayed, 0.5)} ms, p99 ${q(relayed, 0.99)} ms; CPU ${((cpu1.user + cpu1.system) / 1000 / ROUNDS).toFixed(2)} ms per round trip (all 3 nodes, one process)`);
const fp = new Uint8Array(600); fp[0] = 1;
const t = performance.now();
const c0 = process.cpuUsage();
const done = new Promise<void>((r) => (waiter = r));
for (let i = 0; i < FLOOD; i++) await alice.send(bAddr, fp);
await done;
const wall = performance.now() - t;
const c1 = process.cpuUsage(c0);
console.log(`relayed one-way flood A→I→B, ${FLOOD} messages: ${(FLOOD / (wall / 1000)).toFixed(0)} msg/s; CPU ${((c1.user + c1.system) / FLOOD).toFixed(0)} µs per message (all 3 nodes)`);
await Promise.all([alice.stop(), bob.stop(), irene.stop()]);
rmSync(dir, { recursive: true, force: true });
