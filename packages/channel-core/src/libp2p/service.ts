/**
 * The libp2p adapter of the {@link MessageService} port: TCP + Noise + Yamux, the node's
 * secp256k1 key as its libp2p identity, one versioned protocol ({@link SLUICE_PROTOCOL}).
 *
 * Sending: `send` writes the message to the store's outbox (durable) and returns; a pump
 * delivers due outbox records, one exchange per stream (MSG → ACK), at most one in flight per
 * recipient, oldest first. A record is removed when the next hop acknowledges it; otherwise it
 * is retried with exponential backoff (with jitter) until it expires, which is reported through
 * `onUndeliverable` (as is a permanent rejection). The outbox survives restarts.
 *
 * Routing: a recipient is reached directly over a live connection (it may have dialled us) or
 * through its peer-book multiaddrs; otherwise through a relay from the peer book (a hub run
 * with `relay: true`), which stores the message in its own outbox and forwards it when the
 * recipient is connected. The relay adds the original sender to the envelope; the final
 * receiver accepts such envelopes only from peers in its own peer book that it trusts as
 * relays, and reports the relay as `relayedBy`.
 *
 * Receiving: an envelope is size-bounded and parsed before use (a malformed or oversize frame
 * resets that stream, nothing else), deduplicated by (sender, id) in the store, handed to the
 * handler, and acknowledged after the handler resolves and the id is recorded as seen.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import { randomUUID } from 'node:crypto';
import { parseAddress, privateKeyToAddress, sameAddress } from '../address.ts';
import { SluiceError, isSluiceError } from '../errors.ts';
import type { Address } from '../hex.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { InboundMessage, MessageService, SendOptions, UndeliverableMessage, UndeliverableReason } from '../ports/messaging.ts';
import type { OutboxRecord, Store } from '../ports/store.ts';
import {
  type Ack,
  type Envelope,
  ENVELOPE_OVERHEAD,
  MAX_ACK_BYTES,
  SLUICE_PROTOCOL,
  decodeAck,
  decodeEnvelope,
  encodeAck,
  encodeEnvelope,
  frame,
} from './envelope.ts';
import { readFrame, writeAll } from './frame-stream.ts';
import { libp2pPrivateKey, tryPeerIdToAddress } from './identity.ts';

/** A known peer: its address and where to dial it. */
export interface PeerBookEntry {
  readonly address: Address;
  /** Dialable multiaddrs, with or without `/p2p/<peerId>`; the remote's address is checked either way. */
  readonly multiaddrs: readonly string[];
  /**
   * This peer relays for us (and we accept relayed messages from it). When no entry sets
   * `relay`, every peer-book entry is treated as a relay.
   */
  readonly relay?: boolean;
}

/** Delivery timing. All durations in milliseconds. */
export interface RetryPolicy {
  /** First retry delay (default 250). */
  readonly initialBackoffMs?: number;
  /** Largest retry delay, also the largest redial delay for peer-book peers (default 15 000). */
  readonly maxBackoffMs?: number;
  /** A message not acknowledged this long after it was queued is undeliverable (default 600 000). */
  readonly expiryMs?: number;
  /** Wait for an acknowledgement this long per attempt (default 10 000). */
  readonly ackTimeoutMs?: number;
  /** Wait for a dial this long (default 5 000). */
  readonly dialTimeoutMs?: number;
}

export interface Libp2pMessageServiceInit {
  /** 32-byte secp256k1 key (bytes or 0x hex): our signing key and libp2p identity. Never logged. */
  readonly privateKey: Uint8Array | string;
  /** Listen multiaddrs (default `['/ip4/127.0.0.1/tcp/0']`). */
  readonly listen?: readonly string[];
  /** Addresses to advertise instead of the listen addresses (e.g. behind NAT or in containers). */
  readonly announce?: readonly string[];
  /** Largest number of open connections (default: libp2p's). A hub serving many peers may raise it. */
  readonly maxConnections?: number;
  /** Known peers (typically the hub). They are kept connected, redialled with backoff. */
  readonly peers?: readonly PeerBookEntry[];
  /** Hub mode: store-and-forward messages addressed to other peers. */
  readonly relay?: boolean;
  /** Hub mode: decide whether to relay `from → to` (default: relay everything). */
  readonly relayFilter?: (from: Address, to: Address) => boolean;
  /** Largest payload sent or accepted (default 1 MiB). */
  readonly maxMessageBytes?: number;
  /** Retry and timeout policy. */
  readonly retry?: RetryPolicy;
  /** Refuse (with a retry-later answer) relaying while the outbox holds this many messages (default 100 000). */
  readonly maxOutbox?: number;
  /** Remember seen message ids this long (default max(24 h, 2 × expiry)). */
  readonly seenTtlMs?: number;
  /** How often the outbox is polled for due messages (default 200). */
  readonly pollIntervalMs?: number;
}

/** A pino-compatible logger (`logger.info(object, message)`). */
export interface MessagingLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface Libp2pMessageServiceComponents {
  readonly store: Store;
  readonly clock?: Clock;
  readonly logger?: MessagingLogger;
}

/** The libp2p message service, with a few transport-level extras. */
export interface Libp2pMessageService extends MessageService {
  /** Our libp2p peer id (derived from the key). Available after `start`. */
  readonly peerId: string | undefined;
  /** Our listen multiaddrs including `/p2p/<peerId>` (empty before `start`). */
  multiaddrs(): string[];
  /** Addresses of peers with an open connection. */
  connectedPeers(): Address[];
  /** The underlying node, for diagnostics (undefined before `start`). */
  readonly node: Libp2p | undefined;
}

const RELAY_PREFIX = 'relay/';
const noopLogger: MessagingLogger = { debug() {}, info() {}, warn() {}, error() {} };
const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
const MAX_CONCURRENT_ATTEMPTS = 32;
const PUMP_BATCH = 1024;

class Rollback extends Error {}

function lower(address: string): string {
  return address.toLowerCase();
}

function errorCode(e: unknown): string {
  if (isSluiceError(e)) return e.code;
  if (e instanceof Error) return e.name;
  return 'unknown';
}

/**
 * Create the libp2p message service, in js-libp2p's factory style.
 * @param init - configuration (key, listen addresses, peer book, relay mode, limits, retry policy)
 * @param components - the durable store (outbox, dedupe), an optional clock and logger
 * @throws TypeError on an invalid key or peer-book entry (the key is never echoed)
 */
export function createLibp2pMessageService(
  init: Libp2pMessageServiceInit,
  components: Libp2pMessageServiceComponents,
): Libp2pMessageService {
  return new Libp2pMessageServiceImpl(init, components);
}

class Libp2pMessageServiceImpl implements Libp2pMessageService {
  readonly self: Address;
  readonly #key: ReturnType<typeof libp2pPrivateKey>;
  readonly #listen: readonly string[];
  readonly #announce: readonly string[] | undefined;
  readonly #maxConnections: number | undefined;
  readonly #peerBook = new Map<string, PeerBookEntry>();
  readonly #relayMode: boolean;
  readonly #relayFilter: ((from: Address, to: Address) => boolean) | undefined;
  readonly #maxMessageBytes: number;
  readonly #maxFrame: number;
  readonly #initialBackoff: number;
  readonly #maxBackoff: number;
  readonly #expiry: number;
  readonly #ackTimeout: number;
  readonly #dialTimeout: number;
  readonly #maxOutbox: number;
  readonly #seenTtl: number;
  readonly #pollInterval: number;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #log: MessagingLogger;

  #node: Libp2p | undefined;
  #lifecycle: AbortController | undefined;
  #handler: ((message: InboundMessage) => void | Promise<void>) | undefined;
  readonly #undeliverableHandlers: ((message: UndeliverableMessage) => void)[] = [];

  readonly #addressToPeer = new Map<string, PeerId>();
  readonly #inflight = new Set<string>();
  readonly #busyRecipients = new Set<string>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #inbound = new Map<string, Promise<Ack>>();
  readonly #pendingDials = new Map<string, Promise<Connection>>();
  readonly #reconnect = new Map<string, { timer?: NodeJS.Timeout | undefined; delay: number }>();
  readonly #forceDue = new Set<string>();
  #forceAll = false;
  #pumpScheduled = false;
  #pumping = false;
  #pumpAgain = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;

  constructor(init: Libp2pMessageServiceInit, components: Libp2pMessageServiceComponents) {
    this.#key = libp2pPrivateKey(init.privateKey);
    this.self = privateKeyToAddress(init.privateKey);
    this.#listen = init.listen ?? ['/ip4/127.0.0.1/tcp/0'];
    this.#announce = init.announce;
    this.#maxConnections = init.maxConnections === undefined ? undefined : positive(init.maxConnections, 'maxConnections');
    for (const [i, p] of (init.peers ?? []).entries()) {
      const address = parseAddress(p.address, `peers[${i}].address`);
      if (!Array.isArray(p.multiaddrs) || p.multiaddrs.length === 0) throw new TypeError(`peers[${i}].multiaddrs must be a non-empty array`);
      for (const [j, ma] of p.multiaddrs.entries()) {
        try {
          multiaddr(ma);
        } catch {
          throw new TypeError(`peers[${i}].multiaddrs[${j}] is not a multiaddr`);
        }
      }
      if (sameAddress(address, this.self)) continue;
      this.#peerBook.set(lower(address), { ...p, address });
    }
    this.#relayMode = init.relay === true;
    this.#relayFilter = init.relayFilter;
    this.#maxMessageBytes = positive(init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes');
    this.#maxFrame = this.#maxMessageBytes + ENVELOPE_OVERHEAD;
    const r = init.retry ?? {};
    this.#initialBackoff = positive(r.initialBackoffMs ?? 250, 'retry.initialBackoffMs');
    this.#maxBackoff = Math.max(this.#initialBackoff, positive(r.maxBackoffMs ?? 15_000, 'retry.maxBackoffMs'));
    this.#expiry = positive(r.expiryMs ?? 600_000, 'retry.expiryMs');
    this.#ackTimeout = positive(r.ackTimeoutMs ?? 10_000, 'retry.ackTimeoutMs');
    this.#dialTimeout = positive(r.dialTimeoutMs ?? 5_000, 'retry.dialTimeoutMs');
    this.#maxOutbox = positive(init.maxOutbox ?? 100_000, 'maxOutbox');
    this.#seenTtl = positive(init.seenTtlMs ?? Math.max(86_400_000, 2 * this.#expiry), 'seenTtlMs');
    this.#pollInterval = positive(init.pollIntervalMs ?? 200, 'pollIntervalMs');
    this.#store = components.store;
    this.#clock = components.clock ?? systemClock;
    this.#log = components.logger ?? noopLogger;
  }

  get peerId(): string | undefined {
    return this.#node?.peerId.toString();
  }

  get node(): Libp2p | undefined {
    return this.#node;
  }

  multiaddrs(): string[] {
    return this.#node?.getMultiaddrs().map((m) => m.toString()) ?? [];
  }

  connectedPeers(): Address[] {
    const out = new Map<string, Address>();
    for (const c of this.#node?.getConnections() ?? []) {
      const a = tryPeerIdToAddress(c.remotePeer);
      if (a !== undefined && c.status === 'open') out.set(lower(a), a);
    }
    return [...out.values()];
  }

  onMessage(handler: (message: InboundMessage) => void | Promise<void>): void {
    this.#handler = handler;
  }

  onUndeliverable(handler: (message: UndeliverableMessage) => void): void {
    this.#undeliverableHandlers.push(handler);
  }

  async send(to: Address, payload: Uint8Array, options: SendOptions = {}): Promise<string> {
    if (options.signal?.aborted === true) throw new SluiceError('ABORTED', 'send aborted', { cause: options.signal.reason });
    const recipient = parseAddress(to, 'to');
    if (sameAddress(recipient, this.self)) throw new SluiceError('INVALID_ARGUMENT', 'cannot send a message to ourselves');
    if (!(payload instanceof Uint8Array)) throw new SluiceError('INVALID_ARGUMENT', 'payload must be a Uint8Array');
    if (payload.length > this.#maxMessageBytes) {
      throw new SluiceError('INVALID_ARGUMENT', 'payload exceeds maxMessageBytes', {
        details: { size: payload.length, max: this.#maxMessageBytes },
      });
    }
    const id = randomUUID();
    const now = this.#clock.now();
    this.#store.enqueueOutbox({ id, to: recipient, payload, createdAt: now, attempts: 0, nextAttemptAt: now });
    this.#kick();
    return id;
  }

  async start(): Promise<void> {
    if (this.#node !== undefined) return;
    const lifecycle = new AbortController();
    const node = await createLibp2p({
      privateKey: this.#key,
      start: false,
      addresses: { listen: [...this.#listen], ...(this.#announce === undefined ? {} : { announce: [...this.#announce] }) },
      ...(this.#maxConnections === undefined ? {} : { connectionManager: { maxConnections: this.#maxConnections } }),
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        // Only secp256k1 identities can prove an Ethereum address.
        denyInboundEncryptedConnection: (peerId) => peerId.type !== 'secp256k1',
        denyOutboundEncryptedConnection: (peerId) => peerId.type !== 'secp256k1',
        denyDialMultiaddr: () => false,
      },
    });
    node.addEventListener('connection:open', (evt) => this.#onConnectionOpen(evt.detail));
    node.addEventListener('connection:close', (evt) => this.#onConnectionClose(evt.detail));
    await node.handle(SLUICE_PROTOCOL, (stream, connection) => this.#handleStream(stream, connection), {
      maxInboundStreams: 64,
      maxOutboundStreams: 64,
    });
    await node.start();
    this.#node = node;
    this.#lifecycle = lifecycle;
    this.#log.info({ peer: this.self, peerId: node.peerId.toString(), relay: this.#relayMode }, 'messaging started');

    this.#pruneSeen();
    this.#pollTimer = setInterval(() => this.#kick(), this.#pollInterval);
    this.#pollTimer.unref();
    this.#pruneTimer = setInterval(() => this.#pruneSeen(), Math.min(this.#seenTtl / 2, 3_600_000));
    this.#pruneTimer.unref();
    for (const entry of this.#peerBook.values()) this.#redial(entry, 0);
    this.#kick();
  }

  async stop(): Promise<void> {
    const node = this.#node;
    if (node === undefined) return;
    this.#node = undefined;
    this.#lifecycle?.abort(new SluiceError('ABORTED', 'messaging stopped'));
    this.#lifecycle = undefined;
    clearInterval(this.#pollTimer);
    clearInterval(this.#pruneTimer);
    this.#pollTimer = undefined;
    this.#pruneTimer = undefined;
    for (const r of this.#reconnect.values()) clearTimeout(r.timer);
    this.#reconnect.clear();
    await node.stop();
    await Promise.allSettled([...this.#tasks]);
    this.#addressToPeer.clear();
    this.#pendingDials.clear();
    this.#log.info({ peer: this.self }, 'messaging stopped');
  }

  // ---------------------------------------------------------------- connections

  #onConnectionOpen(connection: Connection): void {
    const address = tryPeerIdToAddress(connection.remotePeer);
    if (address === undefined) {
      connection.abort(new SluiceError('PROTOCOL_WRONG_SIGNER', 'peer identity is not secp256k1'));
      return;
    }
    this.#addressToPeer.set(lower(address), connection.remotePeer);
    const entry = this.#peerBook.get(lower(address));
    if (entry !== undefined) {
      const r = this.#reconnect.get(lower(address));
      if (r !== undefined) {
        clearTimeout(r.timer);
        this.#reconnect.delete(lower(address));
      }
      if (this.#isRelay(entry)) this.#forceAll = true;
    }
    this.#forceDue.add(lower(address));
    this.#log.debug({ peer: address }, 'peer connected');
    this.#kick();
  }

  #onConnectionClose(connection: Connection): void {
    const node = this.#node;
    const address = tryPeerIdToAddress(connection.remotePeer);
    if (node === undefined || address === undefined) return;
    if (node.getConnections(connection.remotePeer).some((c) => c.status === 'open')) return;
    this.#log.debug({ peer: address }, 'peer disconnected');
    const entry = this.#peerBook.get(lower(address));
    if (entry !== undefined) this.#redial(entry, this.#initialBackoff);
  }

  /** Keep a peer-book peer connected: dial after `delay`, doubling the delay on each failure. */
  #redial(entry: PeerBookEntry, delay: number): void {
    if (this.#node === undefined) return;
    const key = lower(entry.address);
    const state = this.#reconnect.get(key) ?? { delay };
    if (state.timer !== undefined) return;
    state.delay = delay;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (this.#node === undefined) return;
      const signal = this.#lifecycle?.signal;
      this.#track(
        this.#dialPeerBook(entry, signal ?? AbortSignal.abort()).then(
          () => {
            this.#reconnect.delete(key);
          },
          (e: unknown) => {
            if (this.#node === undefined) return;
            this.#log.debug({ peer: entry.address, code: errorCode(e) }, 'dial failed');
            const next = Math.min(this.#maxBackoff, Math.max(this.#initialBackoff, state.delay * 2));
            this.#redial(entry, jitter(next));
          },
        ),
      );
    }, delay);
    state.timer.unref();
    this.#reconnect.set(key, state);
  }

  #openConnection(address: Address): Connection | undefined {
    const node = this.#node;
    const peerId = this.#addressToPeer.get(lower(address));
    if (node === undefined || peerId === undefined) return undefined;
    return node.getConnections(peerId).find((c) => c.status === 'open');
  }

  /** A connection to a peer-book peer (existing or freshly dialled), its address verified. */
  async #dialPeerBook(entry: PeerBookEntry, signal: AbortSignal): Promise<Connection> {
    const existing = this.#openConnection(entry.address);
    if (existing !== undefined) return existing;
    const key = lower(entry.address);
    let pending = this.#pendingDials.get(key);
    if (pending === undefined) {
      pending = this.#dial(entry, signal).finally(() => this.#pendingDials.delete(key));
      this.#pendingDials.set(key, pending);
    }
    return pending;
  }

  async #dial(entry: PeerBookEntry, signal: AbortSignal): Promise<Connection> {
    const node = this.#node;
    if (node === undefined) throw new SluiceError('ABORTED', 'messaging stopped');
    const addrs: Multiaddr[] = entry.multiaddrs.map((m) => multiaddr(m));
    const conn = await node.dial(addrs, { signal: AbortSignal.any([signal, AbortSignal.timeout(this.#dialTimeout)]) });
    const remote = tryPeerIdToAddress(conn.remotePeer);
    if (remote === undefined || !sameAddress(remote, entry.address)) {
      await conn.close().catch(() => {});
      throw new SluiceError('PROTOCOL_WRONG_SIGNER', 'peer at the peer-book multiaddr has another address', {
        details: { expected: entry.address, actual: remote ?? 'none' },
      });
    }
    return conn;
  }

  #isRelay(entry: PeerBookEntry): boolean {
    const anyFlagged = [...this.#peerBook.values()].some((e) => e.relay !== undefined);
    return anyFlagged ? entry.relay === true : true;
  }

  #relays(): PeerBookEntry[] {
    const relays = [...this.#peerBook.values()].filter((e) => this.#isRelay(e));
    // connected relays first
    return relays.sort((a, b) => Number(this.#openConnection(b.address) !== undefined) - Number(this.#openConnection(a.address) !== undefined));
  }

  // ---------------------------------------------------------------- sending

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    void p.finally(() => this.#tasks.delete(p));
  }

  #kick(): void {
    if (this.#node === undefined || this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#node === undefined) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain && this.#node !== undefined);
    } catch (e) {
      this.#log.error({ code: errorCode(e) }, 'outbox pump failed');
    } finally {
      this.#pumping = false;
    }
  }

  #pumpOnce(): void {
    const now = this.#clock.now();
    const forceAll = this.#forceAll;
    const force = new Set(this.#forceDue);
    this.#forceAll = false;
    this.#forceDue.clear();
    const horizon = forceAll || force.size > 0 ? Number.MAX_SAFE_INTEGER : now;
    for (const record of this.#store.dueOutbox(horizon, PUMP_BATCH)) {
      if (this.#inflight.size >= MAX_CONCURRENT_ATTEMPTS) break;
      if (this.#inflight.has(record.id)) continue;
      const recipient = lower(record.to);
      if (record.nextAttemptAt > now && !forceAll && !force.has(recipient)) continue;
      if (record.createdAt + this.#expiry <= now) {
        this.#store.removeOutbox(record.id);
        this.#emitUndeliverable(record, 'expired');
        continue;
      }
      if (this.#busyRecipients.has(recipient)) continue;
      // Reschedule before trying: a crash or a lost answer retries later, never in a tight loop.
      const next = Math.min(now + jitter(this.#backoff(record.attempts)), record.createdAt + this.#expiry);
      this.#store.rescheduleOutbox(record.id, next);
      this.#inflight.add(record.id);
      this.#busyRecipients.add(recipient);
      this.#track(this.#attempt(record).finally(() => {
        this.#inflight.delete(record.id);
        this.#busyRecipients.delete(recipient);
      }));
    }
  }

  #backoff(attempts: number): number {
    return Math.min(this.#maxBackoff, this.#initialBackoff * 2 ** Math.min(attempts, 30));
  }

  async #attempt(record: OutboxRecord): Promise<void> {
    const lifecycle = this.#lifecycle;
    if (lifecycle === undefined) return;
    let envelope: Envelope;
    try {
      envelope = outboxEnvelope(record);
    } catch (e) {
      this.#store.removeOutbox(record.id);
      this.#emitUndeliverable(record, 'rejected', 'corrupt-outbox-record');
      return;
    }
    const signal = AbortSignal.any([lifecycle.signal, AbortSignal.timeout(this.#dialTimeout + this.#ackTimeout)]);
    try {
      const ack = await this.#deliver(envelope, signal);
      if (ack.status === 'ok') {
        this.#store.removeOutbox(record.id);
        this.#log.debug({ peer: envelope.to, messageId: envelope.id, reason: ack.reason }, 'message acknowledged');
        this.#kick();
      } else if (ack.status === 'reject') {
        this.#store.removeOutbox(record.id);
        this.#emitUndeliverable(record, 'rejected', ack.reason);
      } else {
        this.#log.debug({ peer: envelope.to, messageId: envelope.id, reason: ack.reason }, 'peer asked to retry');
      }
    } catch (e) {
      if (this.#node === undefined) return;
      this.#log.debug({ peer: envelope.to, messageId: envelope.id, code: errorCode(e) }, 'delivery attempt failed');
    }
  }

  async #deliver(envelope: Envelope, signal: AbortSignal): Promise<Ack> {
    const direct = this.#openConnection(envelope.to);
    if (direct !== undefined) return this.#exchange(direct, envelope, signal);
    const entry = this.#peerBook.get(lower(envelope.to));
    if (entry !== undefined) {
      try {
        return await this.#exchange(await this.#dialPeerBook(entry, signal), envelope, signal);
      } catch (e) {
        if (envelope.from !== undefined || signal.aborted) throw e;
        // fall through to relays
      }
    }
    if (envelope.from !== undefined) {
      // We are relaying: no second hop; wait for the recipient to connect.
      throw new SluiceError('PEER_TIMEOUT', 'recipient not connected');
    }
    let lastError: unknown = new SluiceError('PEER_TIMEOUT', 'no route to recipient', { details: { to: envelope.to } });
    let lastReject: Ack | undefined;
    for (const relay of this.#relays()) {
      if (sameAddress(relay.address, envelope.to)) continue;
      try {
        const ack = await this.#exchange(await this.#dialPeerBook(relay, signal), envelope, signal);
        if (ack.status !== 'reject') return ack;
        lastReject = ack;
      } catch (e) {
        lastError = e;
        if (signal.aborted) break;
      }
    }
    if (lastReject !== undefined) return lastReject;
    throw lastError;
  }

  async #exchange(connection: Connection, envelope: Envelope, signal: AbortSignal): Promise<Ack> {
    const stream = await connection.newStream(SLUICE_PROTOCOL, { signal });
    try {
      stream.maxReadBufferLength = MAX_ACK_BYTES + 8;
      await writeAll(stream, frame(encodeEnvelope(envelope)), signal);
      const ack = decodeAck(await readFrame(stream, MAX_ACK_BYTES, signal));
      if (ack.id !== envelope.id) throw new SluiceError('DECODE_FAILED', 'acknowledgement for another message');
      await stream.close({ signal }).catch(() => stream.abort(new Error('close failed')));
      return ack;
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error('exchange failed'));
      throw e;
    }
  }

  #emitUndeliverable(record: OutboxRecord, reason: UndeliverableReason, detail?: string): void {
    let message: UndeliverableMessage;
    try {
      const env = outboxEnvelope(record);
      message = {
        id: env.id,
        to: record.to,
        ...(env.from === undefined ? {} : { from: env.from }),
        payload: env.payload,
        createdAt: record.createdAt,
        attempts: record.attempts,
        reason,
        ...(detail === undefined ? {} : { detail }),
      };
    } catch {
      message = { id: record.id, to: record.to, payload: record.payload, createdAt: record.createdAt, attempts: record.attempts, reason, detail: detail ?? 'corrupt' };
    }
    const fields = { peer: message.to, messageId: message.id, reason, detail: detail ?? '', attempts: record.attempts };
    if (this.#undeliverableHandlers.length === 0) {
      this.#log.error(fields, 'message undeliverable (no listener)');
      return;
    }
    this.#log.warn(fields, 'message undeliverable');
    for (const h of this.#undeliverableHandlers) {
      try {
        h(message);
      } catch (e) {
        this.#log.error({ messageId: message.id, code: errorCode(e) }, 'undeliverable listener threw');
      }
    }
  }

  // ---------------------------------------------------------------- receiving

  async #handleStream(stream: Stream, connection: Connection): Promise<void> {
    const remote = tryPeerIdToAddress(connection.remotePeer);
    const lifecycle = this.#lifecycle;
    if (remote === undefined || lifecycle === undefined) {
      stream.abort(new SluiceError('PROTOCOL_WRONG_SIGNER', 'unauthenticated peer'));
      return;
    }
    stream.maxReadBufferLength = this.#maxFrame + 8;
    const readSignal = AbortSignal.any([lifecycle.signal, AbortSignal.timeout(this.#ackTimeout)]);
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(await readFrame(stream, this.#maxFrame, readSignal));
      if (envelope.payload.length > this.#maxMessageBytes) throw new SluiceError('DECODE_FAILED', 'payload exceeds the size limit');
    } catch (e) {
      this.#log.warn({ peer: remote, code: errorCode(e), reason: e instanceof Error ? e.message : '' }, 'rejected inbound frame');
      stream.abort(e instanceof Error ? e : new Error('bad frame'));
      return;
    }
    let ack: Ack;
    try {
      ack = await this.#accept(envelope, remote);
    } catch (e) {
      this.#log.error({ peer: remote, messageId: envelope.id, code: errorCode(e) }, 'failed to accept message');
      ack = { id: envelope.id, status: 'retry', reason: 'internal' };
    }
    try {
      const writeSignal = AbortSignal.any([lifecycle.signal, AbortSignal.timeout(this.#ackTimeout)]);
      await writeAll(stream, frame(encodeAck(ack)), writeSignal);
      await stream.close({ signal: writeSignal });
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error('ack failed'));
    }
  }

  async #accept(envelope: Envelope, remote: Address): Promise<Ack> {
    const { id } = envelope;
    if (sameAddress(envelope.to, this.self)) {
      let from = remote;
      let relayedBy: Address | undefined;
      if (envelope.from !== undefined && !sameAddress(envelope.from, remote)) {
        const entry = this.#peerBook.get(lower(remote));
        if (entry === undefined || !this.#isRelay(entry)) return { id, status: 'reject', reason: 'untrusted-relay' };
        from = envelope.from;
        relayedBy = remote;
      }
      const key = `${lower(from)}/${id}`;
      const running = this.#inbound.get(key);
      if (running !== undefined) return running;
      const p = this.#deliverLocal(from, id, envelope.payload, relayedBy);
      this.#inbound.set(key, p);
      try {
        return await p;
      } finally {
        this.#inbound.delete(key);
      }
    }
    if (!this.#relayMode) return { id, status: 'reject', reason: 'not-for-me' };
    if (envelope.from !== undefined) return { id, status: 'reject', reason: 'no-multi-hop' };
    if (sameAddress(envelope.to, remote)) return { id, status: 'reject', reason: 'loop' };
    if (this.#relayFilter !== undefined && !this.#relayFilter(remote, envelope.to)) return { id, status: 'reject', reason: 'relay-refused' };
    if (this.#store.countOutbox() >= this.#maxOutbox) return { id, status: 'retry', reason: 'overloaded' };
    const now = this.#clock.now();
    const fresh = this.#store.transaction(() => {
      const first = this.#store.markSeen(remote, id, now);
      if (first) {
        this.#store.enqueueOutbox({
          id: `${RELAY_PREFIX}${lower(remote)}/${id}`,
          to: envelope.to,
          payload: encodeEnvelope({ id, to: envelope.to, from: remote, payload: envelope.payload }),
          createdAt: now,
          attempts: 0,
          nextAttemptAt: now,
        });
      }
      return first;
    });
    if (fresh) {
      this.#log.debug({ peer: remote, to: envelope.to, messageId: id }, 'relaying message');
      this.#forceDue.add(lower(envelope.to));
      this.#kick();
    }
    return { id, status: 'ok', reason: fresh ? 'relayed' : 'duplicate' };
  }

  async #deliverLocal(from: Address, id: string, payload: Uint8Array, relayedBy: Address | undefined): Promise<Ack> {
    if (this.#isSeen(from, id)) return { id, status: 'ok', reason: 'duplicate' };
    const handler = this.#handler;
    if (handler === undefined) return { id, status: 'retry', reason: 'no-handler' };
    const message: InboundMessage = relayedBy === undefined ? { from, id, payload } : { from, id, payload, relayedBy };
    try {
      await handler(message);
    } catch (e) {
      this.#log.warn({ peer: from, messageId: id, code: errorCode(e) }, 'message handler failed; sender will retry');
      return { id, status: 'retry', reason: isSluiceError(e) ? e.code : 'handler-failed' };
    }
    this.#store.markSeen(from, id, this.#clock.now());
    return { id, status: 'ok', reason: 'accepted' };
  }

  /** Whether (from, id) was seen, without recording it (a rolled-back markSeen). */
  #isSeen(from: Address, id: string): boolean {
    try {
      return this.#store.transaction(() => {
        if (!this.#store.markSeen(from, id, 0)) return true;
        throw new Rollback();
      });
    } catch (e) {
      if (e instanceof Rollback) return false;
      throw e;
    }
  }

  #pruneSeen(): void {
    try {
      this.#store.pruneSeen(this.#clock.now() - this.#seenTtl);
    } catch (e) {
      this.#log.warn({ code: errorCode(e) }, 'pruning seen ids failed');
    }
  }
}

/** The envelope an outbox record stands for (own message or relayed one). */
function outboxEnvelope(record: OutboxRecord): Envelope {
  if (record.id.startsWith(RELAY_PREFIX)) return decodeEnvelope(record.payload);
  return { id: record.id, to: record.to, payload: record.payload };
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number`);
  return n;
}

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + 0.4 * Math.random()));
}
