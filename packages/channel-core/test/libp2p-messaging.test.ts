/**
 * The libp2p messaging adapter on real libp2p (TCP + Noise + Yamux on 127.0.0.1).
 * Actors: Alice (client), Irene (hub, relay), Bob (provider), Mallory (raw hostile peer).
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import fc from 'fast-check';
import { freePort } from '@sluice/contracts/anvil';
import { SluiceError, isSluiceError } from '../src/errors.ts';
import { privateKeyToAddress } from '../src/address.ts';
import type { Address } from '../src/hex.ts';
import type { InboundMessage, UndeliverableMessage } from '../src/ports/messaging.ts';
import type { Store } from '../src/ports/store.ts';
import { openMemoryStore, openSqliteStore } from '../src/sqlite/index.ts';
import {
  SLUICE_PROTOCOL,
  SLUICE_BATCH_PROTOCOL,
  SLUICE_SESSION_PROTOCOL,
  FrameDecoder,
  MAX_BATCH_ENVELOPES,
  createLibp2pMessageService,
  decodeAck,
  decodeAcks,
  decodeBatch,
  encodeAcks,
  encodeBatch,
  decodeEnvelope,
  encodeAck,
  encodeEnvelope,
  frame,
  libp2pPrivateKey,
  peerIdToAddress,
  type Libp2pMessageService,
  type Libp2pMessageServiceInit,
} from '../src/libp2p/index.ts';
import { readFrame } from '../src/libp2p/frame-stream.ts';

const ALICE = key(0xa1);
const IRENE = key(0x1e);
const BOB = key(0xb0);
const MALLORY = key(0x66);
const CAROL = privateKeyToAddress(key(0xc0));

const FAST = { initialBackoffMs: 30, maxBackoffMs: 300, ackTimeoutMs: 3_000, dialTimeoutMs: 1_000 } as const;

function key(n: number): Uint8Array {
  const k = new Uint8Array(32);
  k[0] = 1;
  k[31] = n;
  return k;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

const running: { stop(): Promise<void> | void }[] = [];
const stores: Store[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'sluice-libp2p-'));

afterEach(async () => {
  await Promise.all(running.splice(0).map(async (s) => s.stop()));
  for (const s of stores.splice(0)) s.close();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function service(init: Libp2pMessageServiceInit, store: Store = openMemoryStore()): Libp2pMessageService {
  const svc = createLibp2pMessageService({ ...init, retry: { ...FAST, ...init.retry } }, { store });
  running.push(svc);
  if (!stores.includes(store)) stores.push(store);
  return svc;
}

/** A service whose debug log messages are collected (and its store). */
function loggedService(init: Libp2pMessageServiceInit): { svc: Libp2pMessageService; log: string[]; store: Store } {
  const log: string[] = [];
  const logger = { debug: (_o: object, msg: string) => void log.push(msg), info() {}, warn() {}, error() {} };
  const store = openMemoryStore();
  const svc = createLibp2pMessageService(init, { store, logger });
  running.push(svc);
  stores.push(store);
  return { svc, log, store };
}

/** Collects inbound messages. */
function inbox(svc: Libp2pMessageService): InboundMessage[] {
  const got: InboundMessage[] = [];
  svc.onMessage((m) => {
    got.push(m);
  });
  return got;
}

async function waitFor(what: string, pred: () => boolean, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A bare libp2p node that speaks the wire protocol by hand. */
async function rawNode(privateKey: PrivateKey): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  running.push(node);
  return node;
}

/**
 * An older Bob: a bare libp2p node handling only `protocol` with `serve` (which answers and
 * returns the envelopes it got). Alice sends `n` messages to it; returns their payloads in the
 * order Bob got them, once Alice's outbox is empty.
 */
async function sendToOldBob(protocol: string, n: number, serve: (stream: Stream) => Promise<{ payload: Uint8Array }[]>): Promise<string[]> {
  const port = await freePort();
  const oldBob = await createLibp2p({
    privateKey: libp2pPrivateKey(BOB),
    addresses: { listen: [`/ip4/127.0.0.1/tcp/${port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  running.push(oldBob);
  const seen: string[] = [];
  await oldBob.handle(protocol, async (stream) => {
    seen.push(...(await serve(stream)).map((e) => str(e.payload)));
  });
  const aliceStore = openMemoryStore();
  const alice = service({ privateKey: ALICE, peers: [{ address: privateKeyToAddress(BOB), multiaddrs: [`/ip4/127.0.0.1/tcp/${port}`] }] }, aliceStore);
  await alice.start();
  for (let i = 0; i < n; i++) await alice.send(privateKeyToAddress(BOB), text(`m${i}`));
  await waitFor(`all delivered to the peer speaking only ${protocol}`, () => seen.length === n && aliceStore.countOutbox() === 0);
  return seen;
}

async function rawStream(node: Libp2p, target: Libp2pMessageService): Promise<Stream> {
  return node.dialProtocol(multiaddr(target.multiaddrs()[0]!), SLUICE_PROTOCOL);
}

async function rawExchange(node: Libp2p, target: Libp2pMessageService, bytes: Uint8Array): Promise<ReturnType<typeof decodeAck>> {
  const stream = await rawStream(node, target);
  stream.send(bytes);
  const ack = decodeAck(await readFrame(stream, 512, AbortSignal.timeout(5_000)));
  await stream.close();
  return ack;
}

describe('libp2p messaging', () => {
  it('uses the secp256k1 key as identity: the peer id proves the Ethereum address', async () => {
    const bob = service({ privateKey: BOB });
    await bob.start();
    assert.equal(peerIdToAddress(peerIdFromString(bob.peerId!)), privateKeyToAddress(BOB));
    assert.equal(bob.self, privateKeyToAddress(BOB));
    assert.match(bob.multiaddrs()[0]!, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/16Uiu2/);

    // Alice only knows Bob's multiaddr without /p2p/: the remote identity is still checked.
    const got = inbox(bob);
    const plain = bob.multiaddrs()[0]!.replace(/\/p2p\/.*$/, '');
    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: [plain] }] });
    await alice.start();
    await alice.send(bob.self, text('hello'));
    await waitFor('delivery', () => got.length === 1);
    assert.equal(got[0]!.from, alice.self);
    assert.equal(got[0]!.relayedBy, undefined);
    assert.equal(str(got[0]!.payload), 'hello');
  });

  it('refuses peers whose identity is not secp256k1', async () => {
    const bob = service({ privateKey: BOB });
    await bob.start();
    const ed = await rawNode(await generateKeyPair('Ed25519'));
    await assert.rejects(rawStream(ed, bob));
    assert.deepEqual(bob.connectedPeers(), []);
  });

  it('refuses a peer-book entry whose multiaddr answers with another identity', async () => {
    const bob = service({ privateKey: BOB });
    await bob.start();
    const alice = service({ privateKey: ALICE, peers: [{ address: CAROL, multiaddrs: bob.multiaddrs() }], retry: { expiryMs: 600 } });
    const dead: UndeliverableMessage[] = [];
    alice.onUndeliverable((m) => dead.push(m));
    const got = inbox(bob);
    await alice.start();
    await alice.send(CAROL, text('for carol'));
    await waitFor('expiry', () => dead.length === 1);
    assert.equal(got.length, 0);
  });

  it('acknowledges, empties the outbox, and delivers many messages exactly once', async () => {
    const { bob, alice, aliceStore, got } = await pair();
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => alice.send(bob.self, text(`m${i}`))));
    await waitFor('all delivered', () => got.length === 20 && aliceStore.countOutbox() === 0);
    assert.deepEqual(new Set(got.map((m) => m.id)), new Set(ids));
    assert.deepEqual(new Set(got.map((m) => str(m.payload))), new Set(Array.from({ length: 20 }, (_, i) => `m${i}`)));
  });

  it('deduplicates by (sender, id): the same envelope twice is handled once, acked twice', async () => {
    const bob = service({ privateKey: BOB });
    await bob.start();
    const got = inbox(bob);
    const mallory = await rawNode(libp2pPrivateKey(MALLORY));
    const bytes = frame(encodeEnvelope({ id: 'dup-1', to: bob.self, payload: text('once') }));
    const first = await rawExchange(mallory, bob, bytes);
    const second = await rawExchange(mallory, bob, bytes);
    assert.deepEqual([first.status, second.status], ['ok', 'ok']);
    assert.equal(second.reason, 'duplicate');
    assert.equal(got.length, 1);
    assert.equal(got[0]!.from, privateKeyToAddress(MALLORY));
    // the same id from another sender is a different message
    const alice = await rawNode(libp2pPrivateKey(ALICE));
    assert.equal((await rawExchange(alice, bob, bytes)).reason, 'accepted');
    assert.equal(got.length, 2);
  });

  it('records accepted ids as seen in a few store commits, not one per message; duplicates are still caught from the store and after a restart', async () => {
    const path = join(tmp, 'bob-seen.sqlite');
    const inner = openSqliteStore({ path });
    let depth = 0;
    let commits = 0;
    let loose = 0;
    const store: Store = {
      ...inner,
      transaction: (fn, options) => {
        if (depth === 0) commits++;
        depth++;
        try {
          return inner.transaction(fn, options);
        } finally {
          depth--;
        }
      },
      markSeen: (from, id, now) => {
        if (depth === 0) loose++;
        return inner.markSeen(from, id, now);
      },
    };
    const bob = service({ privateKey: BOB }, store);
    const got = inbox(bob);
    await bob.start();
    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs() }] });
    await alice.start();
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => alice.send(bob.self, text(`m${i}`))));
    await waitFor('all delivered', () => got.length === 40);
    await waitFor('all recorded as seen in the store', () => ids.every((id) => inner.hasSeen!(alice.self, id)));
    assert.equal(loose, 0, 'no seen id written in a commit of its own');
    assert.ok(commits < ids.length / 2, `${commits} commits for ${ids.length} messages`);
    // a re-sent envelope is a duplicate (from the store now), and one accepted just before stop()
    // is in the store after it
    const raw = await rawNode(libp2pPrivateKey(ALICE));
    const again = frame(encodeEnvelope({ id: ids[7]!, to: bob.self, payload: text('m7') }));
    assert.equal((await rawExchange(raw, bob, again)).reason, 'duplicate');
    const last = frame(encodeEnvelope({ id: 'last-before-stop', to: bob.self, payload: text('late') }));
    assert.equal((await rawExchange(raw, bob, last)).reason, 'accepted');
    await bob.stop();
    assert.equal(inner.hasSeen!(alice.self, 'last-before-stop'), true);
    const bob2 = service({ privateKey: BOB }, store);
    const got2 = inbox(bob2);
    await bob2.start();
    assert.equal((await rawExchange(raw, bob2, last)).reason, 'duplicate');
    assert.equal((await rawExchange(raw, bob2, again)).reason, 'duplicate');
    assert.equal(got2.length, 0);
  });

  it('keeps accepted ids pending while the store fails to record them (still caught as duplicates), and writes them once it works again', async () => {
    const inner = openMemoryStore();
    let failing = true;
    const store: Store = {
      ...inner,
      markSeen: (from, id, now) => {
        if (failing) throw new Error('disk full');
        return inner.markSeen(from, id, now);
      },
    };
    const bob = service({ privateKey: BOB }, store);
    const got = inbox(bob);
    await bob.start();
    const raw = await rawNode(libp2pPrivateKey(ALICE));
    const bytes = frame(encodeEnvelope({ id: 'kept-1', to: bob.self, payload: text('once') }));
    assert.equal((await rawExchange(raw, bob, bytes)).reason, 'accepted');
    await new Promise((r) => setTimeout(r, 80)); // flushes were tried, and failed
    assert.equal(inner.hasSeen!(privateKeyToAddress(ALICE), 'kept-1'), false);
    assert.equal((await rawExchange(raw, bob, bytes)).reason, 'duplicate');
    failing = false;
    assert.equal((await rawExchange(raw, bob, frame(encodeEnvelope({ id: 'kept-2', to: bob.self, payload: text('two') })))).reason, 'accepted');
    await waitFor('both recorded', () => inner.hasSeen!(privateKeyToAddress(ALICE), 'kept-1') && inner.hasSeen!(privateKeyToAddress(ALICE), 'kept-2'));
    assert.equal(got.length, 2);
  });

  it('logs a message its handler is not ready for at debug (an expected race), other handler failures as warnings', async () => {
    const lines: string[] = [];
    const logger = { debug: (_o: object, m: string) => void lines.push(`debug ${m}`), info() {}, warn: (_o: object, m: string) => void lines.push(`warn ${m}`), error() {} };
    const store = openMemoryStore();
    stores.push(store);
    const bob = createLibp2pMessageService({ privateKey: BOB, retry: FAST }, { store, logger });
    running.push(bob);
    await bob.start();
    let calls = 0;
    bob.onMessage(() => {
      calls++;
      if (calls === 1) throw new SluiceError('PROTOCOL_NOT_READY', 'overtook another');
      if (calls === 2) throw new Error('broken');
    });
    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs() }] });
    await alice.start();
    await alice.send(bob.self, text('x'));
    await waitFor('handled on the third try', () => calls === 3);
    assert.deepEqual(lines.filter((l) => / (message not ready here yet|message handler failed)/.test(l)), ['debug message not ready here yet; sender will retry', 'warn message handler failed; sender will retry']);
  });

  it('does not acknowledge a message whose handler throws; the sender retries', async () => {
    const bob = service({ privateKey: BOB });
    await bob.start();
    let calls = 0;
    const got: InboundMessage[] = [];
    bob.onMessage((m) => {
      calls++;
      if (calls === 1) throw new Error('not ready');
      got.push(m);
    });
    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs() }] });
    await alice.start();
    await alice.send(bob.self, text('try again'));
    await waitFor('redelivery', () => got.length === 1);
    assert.equal(calls, 2);
  });

  it('retries messages the peer was not ready for together, in their order: a chain blocked at its head goes through in one round once the head is accepted', async () => {
    // Bob takes m<k> only after m<k-1> (a ledger follower and its proposals), and is not ready
    // for m0 itself the first 6 times (it waits for something from elsewhere): by then every
    // message has been tried often enough for its retry delay to reach the cap (~250 ms).
    const bob = service({ privateKey: BOB });
    await bob.start();
    const n = 60;
    const HEAD_REFUSALS = 6;
    let next = 0;
    let headRefusals = 0;
    let aheadRefusals = 0;
    const got: string[] = [];
    bob.onMessage((m) => {
      const k = Number(str(m.payload).slice(1));
      if (k === 0 && next === 0 && headRefusals < HEAD_REFUSALS) {
        headRefusals++;
        throw new SluiceError('PROTOCOL_NOT_READY', 'waiting for something else');
      }
      if (k !== next) {
        aheadRefusals++;
        throw new SluiceError('PROTOCOL_NOT_READY', 'arrived ahead of an earlier one');
      }
      next++;
      got.push(str(m.payload));
    });
    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs() }] });
    await alice.start();
    for (let i = 0; i < n; i++) await alice.send(bob.self, text(`m${i}`));
    await waitFor('all delivered', () => got.length === n);
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => `m${i}`));
    assert.equal(headRefusals, HEAD_REFUSALS);
    // each round refuses at most the n - 1 behind the head, and the round after the head's last
    // refusal takes them all (one more round of slack: the first send may have split m0 from the
    // rest). Retried each at its own jittered time, they came back shuffled and trickled
    // through a few per round: 2-3 times as many refusals.
    assert.ok(aheadRefusals <= (HEAD_REFUSALS + 1) * (n - 1), `refused as ahead of an earlier one: ${aheadRefusals}`);
  });

  it('a message refused as not ready many times does not then wait out a long backoff after one lost answer', async () => {
    // Bob is not ready for the message 8 times, then takes 1.5 s to handle it: Alice's ack times
    // out (1 s) on a live connection. The not-ready rounds are not transport failures, so her next
    // try comes after the first backoff (30 ms), not after 30 ms × 2^16 capped at 20 s.
    const bob = service({ privateKey: BOB });
    await bob.start();
    let refusals = 0;
    let slow = 0;
    bob.onMessage(async () => {
      if (refusals < 8) {
        refusals++;
        throw new SluiceError('PROTOCOL_NOT_READY', 'waiting for something else');
      }
      if (slow++ === 0) await new Promise((r) => setTimeout(r, 1_500));
    });
    const aliceStore = openMemoryStore();
    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs() }], retry: { initialBackoffMs: 30, maxBackoffMs: 20_000, ackTimeoutMs: 1_000 } }, aliceStore);
    await alice.start();
    const t0 = Date.now();
    await alice.send(bob.self, text('patience'));
    await waitFor('8 refusals', () => refusals === 8);
    assert.ok((aliceStore.dueOutbox(Number.MAX_SAFE_INTEGER, 10)[0]?.attempts ?? 0) <= 1, 'not-ready rounds do not count as failed attempts');
    await waitFor('acknowledged after the lost answer', () => aliceStore.countOutbox() === 0, 8_000);
    assert.ok(Date.now() - t0 < 8_000);
  });

  it('retries until a receiver that was down comes up', async () => {
    const port = await freePort();
    const bobAddress = privateKeyToAddress(BOB);
    const alice = service({ privateKey: ALICE, peers: [{ address: bobAddress, multiaddrs: [`/ip4/127.0.0.1/tcp/${port}`] }] });
    await alice.start();
    const id = await alice.send(bobAddress, text('are you there'));
    await new Promise((r) => setTimeout(r, 300)); // a few failed attempts
    const bob = service({ privateKey: BOB, listen: [`/ip4/127.0.0.1/tcp/${port}`] });
    const got = inbox(bob);
    await bob.start();
    await waitFor('late delivery', () => got.length === 1);
    assert.equal(got[0]!.id, id);
  });

  it('keeps the outbox across a restart of the sender (sqlite file)', async () => {
    const port = await freePort();
    const bobAddress = privateKeyToAddress(BOB);
    const path = join(tmp, 'alice.sqlite');
    const peers = [{ address: bobAddress, multiaddrs: [`/ip4/127.0.0.1/tcp/${port}`] }];
    let store = openSqliteStore({ path });
    const alice1 = createLibp2pMessageService({ privateKey: ALICE, peers, retry: FAST }, { store });
    await alice1.start();
    const id = await alice1.send(bobAddress, text('survive me'));
    await alice1.stop();
    store.close();

    store = openSqliteStore({ path });
    stores.push(store);
    assert.equal(store.countOutbox(), 1);
    const bob = service({ privateKey: BOB, listen: [`/ip4/127.0.0.1/tcp/${port}`] });
    const got = inbox(bob);
    await bob.start();
    const alice2 = service({ privateKey: ALICE, peers }, store);
    await alice2.start();
    await waitFor('delivery after restart', () => got.length === 1 && store.countOutbox() === 0);
    assert.equal(got[0]!.id, id);
    assert.equal(str(got[0]!.payload), 'survive me');
  });

  it('resets streams carrying oversize or garbage frames and keeps serving', async () => {
    const warnings: Record<string, unknown>[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (o: object) => warnings.push(o as Record<string, unknown>) };
    const store = openMemoryStore();
    stores.push(store);
    const bob = createLibp2pMessageService({ privateKey: BOB, maxMessageBytes: 1024 }, { store, logger });
    running.push(bob);
    await bob.start();
    const got = inbox(bob);
    const mallory = await rawNode(libp2pPrivateKey(MALLORY));
    const hostile: [string, Uint8Array][] = [
      ['oversize length prefix', frame(encodeEnvelope({ id: 'big', to: bob.self, payload: new Uint8Array(4096) }))],
      ['huge varint', Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3)],
      ['overlong varint', new Uint8Array(10).fill(0xff)],
      ['garbage body', frame(Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9))],
      ['bad id', frame(Uint8Array.of(1, 0, 3, 0x2f, 0x2f, 0x2f, ...new Uint8Array(20)))],
      ['unknown flags', frame(Uint8Array.of(1, 0x80, 1, 0x61, ...new Uint8Array(20)))],
      ['truncated address', frame(Uint8Array.of(1, 0, 1, 0x61, 1, 2, 3))],
      ['trailing bytes', Uint8Array.of(...frame(encodeEnvelope({ id: 'x', to: bob.self, payload: text('a') })), 1, 2, 3)],
    ];
    for (const [name, bytes] of hostile) {
      const stream = await rawStream(mallory, bob);
      stream.send(bytes);
      await assert.rejects(readFrame(stream, 512, AbortSignal.timeout(5_000)), `${name} must reset the stream`);
    }
    // an early end (the stream closes mid-frame) gets no ack either
    const early = await rawStream(mallory, bob);
    early.send(Uint8Array.of(50, 1, 0));
    await early.close();
    await assert.rejects(readFrame(early, 512, AbortSignal.timeout(5_000)));
    assert.equal(got.length, 0);
    await waitFor('every frame reported', () => warnings.length === hostile.length + 1);
    assert.ok(warnings.every((w) => w['code'] === 'DECODE_FAILED' && w['peer'] === privateKeyToAddress(MALLORY)));

    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs() }] });
    await alice.start();
    await alice.send(bob.self, text('still alive'));
    await waitFor('delivery after hostile input', () => got.length === 1);
    await assert.rejects(alice.send(bob.self, new Uint8Array(1024 * 1024 + 1)), /maxMessageBytes/);
  });

  it('relays through the hub: Alice → Irene → Bob without Alice knowing Bob', async () => {
    const irene = service({ privateKey: IRENE, relay: true });
    await irene.start();
    const hub = [{ address: irene.self, multiaddrs: irene.multiaddrs() }];
    const alice = service({ privateKey: ALICE, peers: hub });
    const aliceGot = inbox(alice);
    await alice.start();
    const bobAddress = privateKeyToAddress(BOB);
    // Bob is not connected yet: the hub stores and forwards once he connects.
    const id = await alice.send(bobAddress, text('via hub'));
    await new Promise((r) => setTimeout(r, 200));
    const bob = service({ privateKey: BOB, peers: hub });
    const got = inbox(bob);
    await bob.start();
    await waitFor('relayed delivery', () => got.length === 1);
    assert.equal(got[0]!.id, id);
    assert.equal(got[0]!.from, alice.self);
    assert.equal(got[0]!.relayedBy, irene.self);
    assert.equal(str(got[0]!.payload), 'via hub');
    // and back
    await bob.send(alice.self, text('pong'));
    await waitFor('reply', () => aliceGot.length === 1);
    assert.equal(aliceGot[0]!.from, bob.self);
    assert.equal(aliceGot[0]!.relayedBy, irene.self);
  });

  it('a relay refuses payloads above maxRelayedBytes, cut-through or stored, and relays the rest', async () => {
    const irene = service({ privateKey: IRENE, relay: true, maxRelayedBytes: 1000 });
    await irene.start();
    const hub = [{ address: irene.self, multiaddrs: irene.multiaddrs() }];
    const alice = service({ privateKey: ALICE, peers: hub });
    const refused: string[] = [];
    alice.onUndeliverable((u) => refused.push(u.detail ?? u.reason));
    await alice.start();
    const bobAddress = privateKeyToAddress(BOB);
    await alice.send(bobAddress, new Uint8Array(1001)); // Bob offline: would be stored
    await waitFor('refused while Bob is away', () => refused.length === 1);
    const bob = service({ privateKey: BOB, peers: hub });
    const got = inbox(bob);
    await bob.start();
    await waitFor('both connected to the hub', () => irene.connectedPeers().length === 2);
    await alice.send(bob.self, new Uint8Array(2000)); // Bob online: would be cut through
    await alice.send(bob.self, new Uint8Array(1000));
    await waitFor('the small one relayed, the large one refused', () => got.length === 1 && refused.length === 2);
    assert.equal(got[0]!.payload.length, 1000);
    assert.ok(refused.every((r) => /too-large/.test(r)), refused.join(', '));
  });

  it('a relay stores at most maxRelayedPerSender messages per sender; the rest wait at the sender and arrive later, and other senders are not held up', async () => {
    const ireneStore = openMemoryStore();
    const irene = service({ privateKey: IRENE, relay: true, maxRelayedPerSender: 3 }, ireneStore);
    await irene.start();
    const hub = [{ address: irene.self, multiaddrs: irene.multiaddrs() }];
    const malloryStore = openMemoryStore();
    const mallory = service({ privateKey: MALLORY, peers: hub }, malloryStore);
    const aliceStore = openMemoryStore();
    const alice = service({ privateKey: ALICE, peers: hub }, aliceStore);
    await Promise.all([mallory.start(), alice.start()]);
    const bobAddress = privateKeyToAddress(BOB);
    // Bob is offline: whatever the hub accepts for him it stores
    for (let i = 0; i < 6; i++) await mallory.send(bobAddress, text(`m${i}`));
    await waitFor('the hub holds its quota of Mallory\'s messages', () => ireneStore.countOutbox() === 3 && malloryStore.countOutbox() === 3);
    for (let i = 0; i < 2; i++) await alice.send(bobAddress, text(`a${i}`));
    await waitFor('Alice\'s messages taken despite Mallory\'s', () => aliceStore.countOutbox() === 0);
    await new Promise((r) => setTimeout(r, 500)); // Mallory retries meanwhile
    assert.equal(ireneStore.countOutbox(), 5, 'three of Mallory\'s and two of Alice\'s');
    assert.equal(ireneStore.countOutboxWithPrefix!(`relay/${mallory.self.toLowerCase()}/`), 3);
    assert.equal(malloryStore.countOutbox(), 3, 'the rest wait, with custody, at Mallory');
    const bob = service({ privateKey: BOB, peers: hub });
    const got = inbox(bob);
    await bob.start();
    await waitFor('everything delivered once Bob is back', () => got.length === 8 && ireneStore.countOutbox() === 0 && malloryStore.countOutbox() === 0);
    assert.deepEqual(got.map((m) => str(m.payload)).sort(), ['a0', 'a1', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('relays cut-through to a connected, idle recipient (nothing stored at the hub), in order; stores when the recipient refuses', async () => {
    const ireneStore = openMemoryStore();
    const irene = service({ privateKey: IRENE, relay: true }, ireneStore);
    await irene.start();
    const hub = [{ address: irene.self, multiaddrs: irene.multiaddrs() }];
    const alice = service({ privateKey: ALICE, peers: hub });
    await alice.start();
    const bob = service({ privateKey: BOB, peers: hub });
    const got: string[] = [];
    let refuse = 1;
    bob.onMessage((m) => {
      if (str(m.payload) === 'refused once' && refuse-- > 0) throw new Error('not ready');
      got.push(str(m.payload));
    });
    await bob.start();
    await waitFor('both connected to the hub', () => irene.connectedPeers().length === 2);
    let enqueued = 0;
    const enqueue = ireneStore.enqueueOutbox.bind(ireneStore);
    ireneStore.enqueueOutbox = (r) => {
      enqueued++;
      enqueue(r);
    };
    for (let i = 0; i < 30; i++) await alice.send(bob.self, text(`c${i}`));
    await waitFor('relayed', () => got.length === 30);
    assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => `c${i}`));
    assert.equal(enqueued, 0, 'cut-through: the hub stored nothing');
    // a recipient that answers retry: the hub takes custody and retries
    await alice.send(bob.self, text('refused once'));
    await waitFor('delivered after the hub retried', () => got.includes('refused once') && ireneStore.countOutbox() === 0);
    assert.equal(enqueued, 1);
  });

  it('relays cut-through behind the hub\'s own message still in flight on the session, in order, storing nothing', async () => {
    const ireneStore = openMemoryStore();
    const irene = service({ privateKey: IRENE, relay: true }, ireneStore);
    await irene.start();
    const hub = [{ address: irene.self, multiaddrs: irene.multiaddrs() }];
    const alice = service({ privateKey: ALICE, peers: hub });
    const bob = service({ privateKey: BOB, peers: hub });
    const got: string[] = [];
    let slowStarted = false;
    bob.onMessage(async (m) => {
      if (str(m.payload) === 'slow') {
        slowStarted = true;
        await new Promise((r) => setTimeout(r, 300)); // Bob is busy with Irene's message
      }
      got.push(str(m.payload));
    });
    await Promise.all([alice.start(), bob.start()]);
    await waitFor('both connected to the hub', () => irene.connectedPeers().length === 2);
    await irene.send(bob.self, text('warm-up')); // opens Irene's session to Bob
    await waitFor('warm-up', () => got.length === 1);
    let enqueued = 0;
    const enqueue = ireneStore.enqueueOutbox.bind(ireneStore);
    ireneStore.enqueueOutbox = (r) => {
      enqueued++;
      enqueue(r);
    };
    await irene.send(bob.self, text('slow'));
    await waitFor('Bob busy with the slow one', () => slowStarted);
    await alice.send(bob.self, text('relayed'));
    await waitFor('both delivered', () => got.length === 3 && ireneStore.countOutbox() === 0);
    assert.deepEqual(got, ['warm-up', 'slow', 'relayed']);
    assert.equal(enqueued, 1, 'only Irene\'s own message went through her outbox');
  });

  it('delivers a payload of exactly maxMessageBytes (1 MiB default)', async () => {
    const bob = service({ privateKey: BOB });
    await bob.start();
    const got = inbox(bob);
    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs() }] });
    await alice.start();
    const big = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
    await alice.send(bob.self, big);
    await waitFor('big delivery', () => got.length === 1);
    assert.deepEqual(got[0]!.payload, big);
  });

  it('redials a peer-book peer (the hub) after it restarts', async () => {
    const port = await freePort();
    const listen = [`/ip4/127.0.0.1/tcp/${port}`];
    const irene1 = service({ privateKey: IRENE, relay: true, listen });
    await irene1.start();
    const alice = service({ privateKey: ALICE, peers: [{ address: irene1.self, multiaddrs: listen }] });
    await alice.start();
    await waitFor('first connection', () => alice.connectedPeers().includes(irene1.self));
    await irene1.stop();
    await waitFor('disconnect', () => alice.connectedPeers().length === 0);
    const irene2 = service({ privateKey: IRENE, relay: true, listen });
    const got = inbox(irene2);
    await irene2.start();
    await waitFor('reconnection', () => alice.connectedPeers().includes(irene2.self));
    await alice.send(irene2.self, text('welcome back'));
    await waitFor('delivery', () => got.length === 1);
  });

  it('rejects relayed envelopes from peers it does not trust as relays', async () => {
    const bob = service({ privateKey: BOB });
    await bob.start();
    const got = inbox(bob);
    const mallory = await rawNode(libp2pPrivateKey(MALLORY));
    const forged = frame(encodeEnvelope({ id: 'forged', to: bob.self, from: privateKeyToAddress(ALICE), payload: text('i am alice') }));
    const ack = await rawExchange(mallory, bob, forged);
    assert.deepEqual([ack.status, ack.reason], ['reject', 'untrusted-relay']);
    assert.equal(got.length, 0);
  });

  it('reports a permanent rejection through onUndeliverable', async () => {
    const bob = service({ privateKey: BOB }); // not a relay
    await bob.start();
    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs(), relay: true }] });
    const dead: UndeliverableMessage[] = [];
    alice.onUndeliverable((m) => dead.push(m));
    await alice.start();
    const id = await alice.send(CAROL, text('no route'));
    await waitFor('rejection', () => dead.length === 1);
    assert.equal(dead[0]!.id, id);
    assert.equal(dead[0]!.reason, 'rejected');
    assert.equal(dead[0]!.detail, 'not-for-me');
    assert.equal(dead[0]!.to, CAROL);
    assert.equal(str(dead[0]!.payload), 'no route');
  });

  it('reports expiry through onUndeliverable (never drops silently)', async () => {
    const aliceStore = openMemoryStore();
    const alice = service({ privateKey: ALICE, retry: { expiryMs: 400 } }, aliceStore);
    const dead: UndeliverableMessage[] = [];
    alice.onUndeliverable((m) => dead.push(m));
    await alice.start();
    const id = await alice.send(CAROL, text('nobody knows carol'));
    await waitFor('expiry', () => dead.length === 1);
    assert.equal(dead[0]!.id, id);
    assert.equal(dead[0]!.reason, 'expired');
    assert.ok(dead[0]!.attempts >= 1);
    assert.equal(aliceStore.countOutbox(), 0);
  });

  it('batches what is queued for one next hop (protocol 1.1.0) and hands it over in queue order', async () => {
    const aliceStore = openMemoryStore();
    const port = await freePort();
    const bobAddress = privateKeyToAddress(BOB);
    const alice = service({ privateKey: ALICE, peers: [{ address: bobAddress, multiaddrs: [`/ip4/127.0.0.1/tcp/${port}`] }] }, aliceStore);
    await alice.start();
    // queued while Bob is down: all of it goes in batches once he is up
    const n = MAX_BATCH_ENVELOPES + 36;
    for (let i = 0; i < n; i++) await alice.send(bobAddress, text(`m${i}`));
    const bob = service({ privateKey: BOB, listen: [`/ip4/127.0.0.1/tcp/${port}`] });
    const got = inbox(bob);
    await bob.start();
    await waitFor('all delivered', () => got.length === n && aliceStore.countOutbox() === 0);
    assert.deepEqual(got.map((m) => str(m.payload)), Array.from({ length: n }, (_, i) => `m${i}`));
  });

  it('answers a hand-made BATCH in order, one ACK per message, and dedupes inside it', async () => {
    const bob = service({ privateKey: BOB });
    await bob.start();
    const got = inbox(bob);
    const mallory = await rawNode(libp2pPrivateKey(MALLORY));
    const envs = [
      { id: 'b-1', to: bob.self, payload: text('one') },
      { id: 'b-2', to: bob.self, payload: text('two') },
      { id: 'b-1', to: bob.self, payload: text('one again') },
      { id: 'b-3', to: privateKeyToAddress(ALICE), payload: text('not for bob, bob is no relay') },
    ];
    const stream = await mallory.dialProtocol(multiaddr(bob.multiaddrs()[0]!), SLUICE_BATCH_PROTOCOL);
    stream.send(frame(encodeBatch(envs)));
    const acks = decodeAcks(await readFrame(stream, 4096, AbortSignal.timeout(5_000)));
    await stream.close();
    assert.deepEqual(acks.map((a) => [a.id, a.status, a.reason]), [
      ['b-1', 'ok', 'accepted'],
      ['b-2', 'ok', 'accepted'],
      ['b-1', 'ok', 'duplicate'],
      ['b-3', 'reject', 'not-for-me'],
    ]);
    assert.deepEqual(got.map((m) => str(m.payload)), ['one', 'two']);
  });

  it('falls back to one 1.0.0 stream per message for a peer without the batch protocol', async () => {
    // "Old Bob": a bare node that only speaks /sluice/nitro/1.0.0 and acks everything.
    const seen = await sendToOldBob(SLUICE_PROTOCOL, 5, async (stream) => {
      const env = decodeEnvelope(await readFrame(stream, 4096, AbortSignal.timeout(5_000)));
      stream.send(frame(encodeAck({ id: env.id, status: 'ok', reason: 'accepted' })));
      await stream.close();
      return [env];
    });
    assert.deepEqual(seen, ['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('validates send arguments', async () => {
    const alice = service({ privateKey: ALICE });
    await assert.rejects(alice.send(alice.self, text('me')), /ourselves/);
    await assert.rejects(alice.send('0x1234' as Address, text('x')), TypeError);
    await assert.rejects(alice.send(CAROL, text('x'), { signal: AbortSignal.abort() }), /aborted/);
    assert.throws(() => createLibp2pMessageService({ privateKey: new Uint8Array(31) }, { store: stores[0]! }), /32 bytes/);
  });

  it('keeps libp2p out of the pure core: only src/libp2p/** imports it', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts') && !relative(src, p).startsWith('libp2p/')) {
          if (/from\s+'(libp2p|@libp2p\/|@chainsafe\/libp2p|@multiformats\/)/.test(readFileSync(p, 'utf8'))) offenders.push(relative(src, p));
        }
      }
    };
    walk(src);
    assert.deepEqual(offenders, []);
  });

  it('codec: envelopes and acks round-trip; any bytes decode or fail with DECODE_FAILED only', () => {
    const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => privateKeyToAddress(Uint8Array.of(1, ...b.subarray(0, 20), ...new Uint8Array(11))));
    const id = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
    fc.assert(
      fc.property(id, address, fc.option(address, { nil: undefined }), fc.uint8Array({ maxLength: 300 }), (i, to, from, payload) => {
        const env = from === undefined ? { id: i, to, payload } : { id: i, to, from, payload };
        assert.deepEqual(decodeEnvelope(encodeEnvelope(env)), env);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(id, fc.constantFrom('ok' as const, 'retry' as const, 'reject' as const), fc.stringMatching(/^[a-z-]{0,40}$/), (i, status, reason) => {
        assert.deepEqual(decodeAck(encodeAck({ id: i, status, reason })), { id: i, status, reason });
      }),
    );
    const decodeOnlyFailsCleanly = (f: (b: Uint8Array) => unknown) => (bytes: Uint8Array) => {
      try {
        f(bytes);
      } catch (e) {
        assert.ok(isSluiceError(e, 'DECODE_FAILED'), String(e));
      }
    };
    fc.assert(
      fc.property(fc.array(fc.tuple(id, address, fc.option(address, { nil: undefined }), fc.uint8Array({ maxLength: 100 })), { minLength: 1, maxLength: MAX_BATCH_ENVELOPES }), (xs) => {
        const envs = xs.map(([i, to, from, payload]) => (from === undefined ? { id: i, to, payload } : { id: i, to, from, payload }));
        assert.deepEqual(decodeBatch(encodeBatch(envs)), envs);
        const acks = envs.map((e) => ({ id: e.id, status: 'ok' as const, reason: 'accepted' }));
        assert.deepEqual(decodeAcks(encodeAcks(acks)), acks);
      }),
      { numRuns: 100 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodeOnlyFailsCleanly(decodeBatch)), { numRuns: 2000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodeOnlyFailsCleanly(decodeAcks)), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.constantFrom(3, 4), fc.integer({ min: 0, max: 70 }), fc.uint8Array({ maxLength: 300 }), (kind, count, rest) =>
        decodeOnlyFailsCleanly(kind === 3 ? decodeBatch : decodeAcks)(Uint8Array.of(kind, 0, count, ...rest)),
      ),
      { numRuns: 2000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodeOnlyFailsCleanly(decodeEnvelope)), { numRuns: 2000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodeOnlyFailsCleanly(decodeAck)), { numRuns: 2000 });
    // biased toward valid prefixes
    fc.assert(
      fc.property(fc.constantFrom(1, 2), fc.uint8Array({ maxLength: 200 }), (kind, rest) => decodeOnlyFailsCleanly(kind === 1 ? decodeEnvelope : decodeAck)(Uint8Array.of(kind, ...rest))),
      { numRuns: 2000 },
    );
  });
});

/** Collect whole frames arriving on a raw stream (as a session peer would). */
function frames(stream: Stream, maxBody = 1 << 20): { bodies: Uint8Array[]; closed: () => boolean } {
  const decoder = new FrameDecoder(maxBody);
  const bodies: Uint8Array[] = [];
  let closed = false;
  stream.addEventListener('message', (evt) => {
    bodies.push(...decoder.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()));
  });
  stream.addEventListener('close', () => {
    closed = true;
  });
  return { bodies, closed: () => closed };
}

/** Bob listening (what he gets in `got`), and Alice with him in her peer book. */
async function pair(): Promise<{ bob: Libp2pMessageService; alice: Libp2pMessageService; aliceStore: Store; got: InboundMessage[] }> {
  const bob = service({ privateKey: BOB });
  await bob.start();
  const got = inbox(bob);
  const aliceStore = openMemoryStore();
  const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs() }] }, aliceStore);
  await alice.start();
  return { bob, alice, aliceStore, got };
}

/** {@link pair}, and `first` delivered from Alice to Bob. */
async function deliveredPair(first: string): ReturnType<typeof pair> {
  const p = await pair();
  await p.alice.send(p.bob.self, text(first));
  await waitFor(`${first} delivered`, () => p.got.length === 1);
  return p;
}

function sessionStreams(svc: Libp2pMessageService): number {
  let n = 0;
  for (const c of svc.node?.getConnections() ?? []) n += c.streams.filter((s) => s.protocol === SLUICE_SESSION_PROTOCOL).length;
  return n;
}

describe('libp2p messaging sessions (protocol 1.2.0)', () => {
  it('FrameDecoder: any split of a frame sequence yields the same bodies; an oversize prefix fails before buffering', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }), (bodies, cuts) => {
        const wire = Uint8Array.from(bodies.flatMap((b) => [...frame(b)]));
        const decoder = new FrameDecoder(300);
        const out: Uint8Array[] = [];
        let o = 0;
        for (let i = 0; o < wire.length; i++) {
          const n = cuts[i % cuts.length]!;
          out.push(...decoder.push(wire.subarray(o, o + n)));
          o += n;
          assert.ok(decoder.buffered <= 300 + 5);
        }
        assert.equal(decoder.buffered, 0);
        assert.deepEqual(out.map((b) => [...b]), bodies.map((b) => [...b]));
      }),
      { numRuns: 300 },
    );
    const d = new FrameDecoder(10);
    assert.throws(() => d.push(frame(new Uint8Array(11)).subarray(0, 2)), (e) => isSluiceError(e) && e.code === 'DECODE_FAILED');
    assert.throws(() => new FrameDecoder(10).push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)), (e) => isSluiceError(e) && e.code === 'DECODE_FAILED');
  });

  it('carries every exchange to a next hop over one long-lived stream, relayed ones too', async () => {
    const irene = service({ privateKey: IRENE, relay: true });
    await irene.start();
    const hub = { address: irene.self, multiaddrs: irene.multiaddrs(), relay: true };
    const alice = service({ privateKey: ALICE, peers: [hub] });
    const bob = service({ privateKey: BOB, peers: [hub] });
    await Promise.all([alice.start(), bob.start()]);
    await waitFor('both connected to the hub', () => irene.connectedPeers().length === 2);
    const got = inbox(bob);
    for (let i = 0; i < 30; i++) {
      await alice.send(bob.self, text(`m${i}`));
      await waitFor(`m${i}`, () => got.length === i + 1);
    }
    assert.deepEqual(got.map((m) => str(m.payload)), Array.from({ length: 30 }, (_, i) => `m${i}`));
    assert.ok(got.every((m) => m.from === alice.self && m.relayedBy === irene.self));
    // 30 sequential exchanges Alice → Irene and Irene → Bob: one session stream each way
    assert.equal(sessionStreams(alice), 1);
    assert.equal(sessionStreams(bob), 1);
    assert.equal(sessionStreams(irene), 2);
  });

  it('answers pipelined BATCH frames in order, and resets the session on garbage while serving others', async () => {
    const bob = service({ privateKey: BOB });
    await bob.start();
    const got = inbox(bob);
    const mallory = await rawNode(libp2pPrivateKey(MALLORY));
    const stream = await mallory.dialProtocol(multiaddr(bob.multiaddrs()[0]!), SLUICE_SESSION_PROTOCOL);
    const answers = frames(stream);
    // three batches written back to back, before any answer
    stream.send(Uint8Array.from([
      ...frame(encodeBatch([{ id: 'p-1', to: bob.self, payload: text('one') }, { id: 'p-2', to: bob.self, payload: text('two') }])),
      ...frame(encodeBatch([{ id: 'p-1', to: bob.self, payload: text('dup') }])),
      ...frame(encodeBatch([{ id: 'p-3', to: bob.self, payload: text('three') }])),
    ]));
    await waitFor('three ACKS frames', () => answers.bodies.length === 3);
    assert.deepEqual(answers.bodies.map((b) => decodeAcks(b).map((a) => `${a.id}:${a.reason}`)), [['p-1:accepted', 'p-2:accepted'], ['p-1:duplicate'], ['p-3:accepted']]);
    assert.deepEqual(got.map((m) => str(m.payload)), ['one', 'two', 'three']);
    // garbage on the same stream: reset, nothing delivered
    stream.send(frame(Uint8Array.of(0x03, 0xff)));
    await waitFor('session reset', () => answers.closed());
    // an oversize prefix on a fresh session: reset before the body is read
    const big = await mallory.dialProtocol(multiaddr(bob.multiaddrs()[0]!), SLUICE_SESSION_PROTOCOL);
    const bigAnswers = frames(big);
    big.send(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f));
    await waitFor('oversize session reset', () => bigAnswers.closed());
    assert.equal(got.length, 3);
    // Bob still serves an honest peer
    const alice = service({ privateKey: ALICE, peers: [{ address: bob.self, multiaddrs: bob.multiaddrs() }] });
    await alice.start();
    await alice.send(bob.self, text('honest'));
    await waitFor('honest delivery', () => got.length === 4);
  });

  it('opens a new session when the old one is reset, and loses nothing', async () => {
    const { bob, alice, aliceStore, got } = await deliveredPair('before');
    for (const c of bob.node!.getConnections()) for (const s of c.streams) if (s.protocol === SLUICE_SESSION_PROTOCOL) s.abort(new Error('test reset'));
    for (let i = 0; i < 5; i++) await alice.send(bob.self, text(`after${i}`));
    await waitFor('all delivered after the reset', () => got.length === 6 && aliceStore.countOutbox() === 0);
    assert.deepEqual(got.map((m) => str(m.payload)), ['before', 'after0', 'after1', 'after2', 'after3', 'after4']);
    assert.equal(sessionStreams(alice), 1);
  });

  it('falls back to one stream per exchange (1.1.0) for a peer without sessions', async () => {
    // "1.1 Bob": a bare node that speaks only the batch protocol and acks everything.
    const seen = await sendToOldBob(SLUICE_BATCH_PROTOCOL, 3, async (stream) => {
      const envs = decodeBatch(await readFrame(stream, 1 << 20, AbortSignal.timeout(5_000)));
      stream.send(frame(encodeAcks(envs.map((e) => ({ id: e.id, status: 'ok' as const, reason: 'accepted' })))));
      await stream.close();
      return envs;
    });
    assert.deepEqual(seen, ['m0', 'm1', 'm2']);
  });

  it('sends an exchange in few TCP writes: the patched yamux and tcp modules are installed (patches/)', async () => {
    // Count the write requests every socket of this process hands to the kernel (a corked
    // socket flushes several buffers as one _writev). Unpatched, each exchange took ~8: the
    // BATCH frame and the ACKS frame, each a Noise length prefix and a ciphertext written
    // apart, and a yamux window update answering each of them (also written in two).
    const { bob, alice, aliceStore, got } = await deliveredPair('warm-up');
    let writes = 0;
    const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>;
    const orig = { _write: proto._write, _writev: proto._writev };
    for (const k of ['_write', '_writev'] as const) {
      proto[k] = function (this: Socket, ...a: unknown[]) {
        writes++;
        return orig[k].apply(this, a);
      };
    }
    const N = 40;
    try {
      for (let i = 0; i < N; i++) {
        await alice.send(bob.self, text(`m${i}`));
        await waitFor(`m${i}`, () => got.length === i + 2);
      }
      await waitFor('every ack back', () => aliceStore.countOutbox() === 0);
    } finally {
      Object.assign(proto, orig);
    }
    assert.ok(writes <= N * 3, `${writes} socket writes for ${N} exchanges (about 2 each patched, 8 unpatched; 4.6 with only the tcp patch)`);
  });

  /** Irene with connection limits, and Alice's message through the first connection. */
  async function ireneWithFirstPeer(limits: Pick<Libp2pMessageServiceInit, 'maxConnections' | 'inboundConnectionsPerHost'>) {
    const irene = service({ privateKey: IRENE, ...limits });
    await irene.start();
    const toIrene = inbox(irene);
    const peers = [{ address: irene.self, multiaddrs: irene.multiaddrs() }];
    const alice = service({ privateKey: ALICE, peers });
    await alice.start();
    await alice.send(irene.self, text('first'));
    await waitFor('the first peer\'s message', () => toIrene.length === 1);
    return { irene, toIrene, peers };
  }

  it('inboundConnectionsPerHost reaches libp2p: a second peer from the same host within the second is refused, then gets in', async () => {
    const { irene, toIrene, peers } = await ireneWithFirstPeer({ inboundConnectionsPerHost: 1 });
    const { svc: bob, log: bobLog } = loggedService({ privateKey: BOB, peers, retry: FAST });
    await bob.start();
    await bob.send(irene.self, text('second'));
    await waitFor('the second peer, once the host may connect again', () => toIrene.length === 2);
    assert.ok(bobLog.includes('dial failed'), 'the second connection within the second was refused first');
  });

  it('maxConnections reaches libp2p: past it, new peers are refused', async () => {
    const { irene, toIrene, peers } = await ireneWithFirstPeer({ maxConnections: 1 });
    const bob = service({ privateKey: BOB, peers });
    await bob.start();
    await bob.send(irene.self, text('second'));
    await new Promise((r) => setTimeout(r, 1_500));
    assert.deepEqual(toIrene.map((m) => str(m.payload)), ['first'], 'the second peer is refused while the first holds the only connection');
  });

  it('sends to a direct (non-relay) peer straight, hears back on that connection, and goes through the relay at once while the direct route is down', async () => {
    const irene = service({ privateKey: IRENE, relay: true });
    await irene.start();
    const hub = { address: irene.self, multiaddrs: irene.multiaddrs(), relay: true };
    const bob = service({ privateKey: BOB, peers: [hub] });
    await bob.start();
    const toBob = inbox(bob);
    const alice = service({ privateKey: ALICE, peers: [hub, { address: bob.self, multiaddrs: bob.multiaddrs(), relay: false }] });
    await alice.start();
    const toAlice = inbox(alice);
    await alice.send(bob.self, text('direct'));
    await waitFor('the direct message', () => toBob.length === 1);
    assert.equal(toBob[0]!.relayedBy, undefined);
    // Bob has no route of his own to Alice: he answers over the connection she opened
    await bob.send(alice.self, text('back'));
    await waitFor('the answer', () => toAlice.length === 1);
    assert.equal(toAlice[0]!.relayedBy, undefined);

    // Dave lists Bob at an address where nobody listens: relayed, and without a dial per message
    const { svc: dave, log: daveLog, store: daveStore } = loggedService({
      privateKey: key(0xd0),
      peers: [hub, { address: bob.self, multiaddrs: [`/ip4/127.0.0.1/tcp/${await freePort()}`], relay: false }],
      retry: { ...FAST, directGiveUpMs: 500 },
    });
    await dave.start();
    for (let i = 0; i < 5; i++) await dave.send(bob.self, text(`d${i}`));
    await waitFor('dave\'s messages', () => toBob.length === 6);
    assert.deepEqual(toBob.slice(1).map((m) => [str(m.payload), m.relayedBy]), [0, 1, 2, 3, 4].map((i) => [`d${i}`, irene.self]));

    // Once the vanished direct peer has failed every dial for directGiveUpMs and nothing is queued
    // for it, Dave stops dialling it (a provider that has gone is not dialled for as long as the
    // node lives) ...
    const failedDials = (): number => daveLog.filter((m) => m === 'dial failed').length;
    await waitFor('dave\'s outbox empty', () => daveStore.countOutbox() === 0);
    await waitFor('the redial loop to stop', () => daveLog.includes('direct peer unreachable and nothing queued for it: redialling when something is'));
    const stoppedAt = failedDials();
    await new Promise((r) => setTimeout(r, 4 * FAST.maxBackoffMs));
    assert.equal(failedDials(), stoppedAt, 'no dials while nothing is queued for it');
    // ... and tries the direct route again once a message for it comes up (relayed meanwhile)
    await dave.send(bob.self, text('d5'));
    await waitFor('d5, relayed', () => toBob.length === 7 && toBob[6]!.relayedBy === irene.self);
    await waitFor('a direct dial again', () => failedDials() > stoppedAt);
  });
});
