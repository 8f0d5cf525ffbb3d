/** The in-memory network: delays, reordering, loss, duplicates, dedupe, retries, expiry. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { privateKeyToAddress } from '../src/address.ts';
import type { InboundMessage, UndeliverableMessage } from '../src/ports/messaging.ts';
import { createMemoryNetwork } from '../src/memory/messaging.ts';

function key(n: number): Uint8Array {
  const k = new Uint8Array(32);
  k[0] = 1;
  k[31] = n;
  return k;
}
const ALICE = privateKeyToAddress(key(0xa1));
const IRENE = privateKeyToAddress(key(0x1e));
const BOB = privateKeyToAddress(key(0xb0));

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

async function waitFor(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Send 0..n-1 from Alice to Bob and return the order Bob saw them in. */
async function runOnce(seed: number, n: number, extra: { dropRate?: number; duplicateRate?: number } = {}) {
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 15, seed, retryDelayMs: 2, ...extra });
  try {
    const alice = net.service(ALICE);
    const bob = net.service(BOB);
    const got: InboundMessage[] = [];
    bob.onMessage((m) => {
      got.push(m);
    });
    await alice.start();
    await bob.start();
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await alice.send(BOB, text(String(i))));
    await net.idle();
    return { order: got.map((m) => Number(str(m.payload))), got, ids, stats: net.stats(), net };
  } finally {
    net.close();
  }
}

describe('memory network', () => {
  it('delivers everything exactly once, with reordering, reproducibly per seed', async () => {
    const a = await runOnce(7, 30);
    const b = await runOnce(7, 30);
    assert.equal(a.order.length, 30);
    assert.deepEqual([...a.order].sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i));
    assert.notDeepEqual(a.order, Array.from({ length: 30 }, (_, i) => i), 'random delays reorder');
    assert.deepEqual(a.ids, b.ids, 'ids come from the seeded PRNG');
    assert.ok(a.got.every((m) => m.from === ALICE && m.relayedBy === undefined));
    assert.equal(new Set(a.ids).size, 30);
  });

  it('retries lost attempts and suppresses duplicate deliveries', async () => {
    const r = await runOnce(3, 40, { dropRate: 0.4, duplicateRate: 0.5 });
    assert.equal(r.got.length, 40);
    assert.equal(new Set(r.got.map((m) => m.id)).size, 40);
    assert.ok(r.stats.dropped > 0 && r.stats.retried >= r.stats.dropped);
    assert.equal(r.stats.delivered, 40);
  });

  it('dedupes duplicates that arrive after delivery', async () => {
    const net = createMemoryNetwork({ minDelayMs: 1, maxDelayMs: 5, duplicateRate: 1, seed: 11 });
    const bob = net.service(BOB);
    const got: InboundMessage[] = [];
    bob.onMessage((m) => {
      got.push(m);
    });
    await net.service(ALICE).start();
    await bob.start();
    for (let i = 0; i < 5; i++) await net.service(ALICE).send(BOB, text(`d${i}`));
    await net.idle();
    await waitFor('duplicates', () => net.stats().duplicates === 5);
    assert.equal(got.length, 5);
    net.close();
  });

  it('holds messages for a stopped node and retries a throwing handler', async () => {
    const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 3, seed: 5, retryDelayMs: 2 });
    const alice = net.service(ALICE);
    const irene = net.service(IRENE);
    await alice.start();
    let calls = 0;
    const got: string[] = [];
    irene.onMessage((m) => {
      calls++;
      if (calls === 1) throw new Error('not ready');
      got.push(str(m.payload));
    });
    await alice.send(IRENE, text('later'));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(got.length, 0);
    assert.equal(net.pending(), 1);
    await irene.start();
    await net.idle();
    assert.deepEqual(got, ['later']);
    assert.equal(calls, 2);
    assert.equal(net.service(IRENE), irene, 'same node object per address');
    net.close();
  });

  it('reports expiry through onUndeliverable', async () => {
    const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 2, seed: 9, retryDelayMs: 5, expiryMs: 40 });
    const alice = net.service(ALICE);
    await alice.start();
    const dead: UndeliverableMessage[] = [];
    alice.onUndeliverable((m) => dead.push(m));
    const id = await alice.send(BOB, text('nobody home'));
    await net.idle();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.id, id);
    assert.equal(dead[0]!.reason, 'expired');
    assert.equal(str(dead[0]!.payload), 'nobody home');
    net.close();
  });

  it('validates arguments', async () => {
    const net = createMemoryNetwork();
    const alice = net.service(ALICE);
    await assert.rejects(alice.send(ALICE, text('me')), /ourselves/);
    await assert.rejects(alice.send(BOB, text('x'), { signal: AbortSignal.abort() }), /aborted/);
    assert.throws(() => createMemoryNetwork({ dropRate: 1 }), RangeError);
    assert.throws(() => createMemoryNetwork({ minDelayMs: 5, maxDelayMs: 1 }), RangeError);
    net.close();
  });
});
