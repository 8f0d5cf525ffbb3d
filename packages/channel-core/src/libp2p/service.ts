/**
 * The libp2p adapter of the {@link MessageService} port: TCP + Noise + Yamux, the node's
 * secp256k1 key as its libp2p identity, one versioned protocol ({@link SLUICE_PROTOCOL}).
 *
 * Sending: `send` writes the message to the store's outbox (durable) and returns; a pump,
 * woken right after (next macrotask, i.e. after the caller's store transaction committed),
 * delivers due outbox records. All due records for one next hop travel together, oldest first,
 * as one BATCH exchange (protocol 1.1.0: up to {@link MAX_BATCH_ENVELOPES} messages in one
 * stream, one ACK each; a peer that only speaks 1.0.0 gets one MSG → ACK stream per message).
 * At most one exchange is in flight per next hop, so a receiver handles a sender's messages in
 * the order they were queued. A record is removed when the next hop acknowledges it; otherwise
 * it is retried with exponential backoff (with jitter; a timer wakes the pump when the earliest
 * retry is due) until it expires, which is reported through `onUndeliverable` (as is a
 * permanent rejection). The outbox survives restarts; the bookkeeping writes (`rescheduleOutbox`,
 * `removeOutbox`, `markSeen`) may be non-durable (see the Store port), which can only cause a
 * re-send that the receiver deduplicates or ignores.
 *
 * Routing: a recipient is reached directly over a live connection (it may have dialled us) or
 * through its peer-book multiaddrs; otherwise through a relay from the peer book (a hub run
 * with `relay: true`), which stores the message in its own outbox and forwards it when the
 * recipient is connected. The relay adds the original sender to the envelope; the final
 * receiver accepts such envelopes only from peers in its own peer book that it trusts as
 * relays, and reports the relay as `relayedBy`.
 *
 * Receiving: an envelope (or batch) is size-bounded and parsed before use (a malformed or
 * oversize frame resets that stream, nothing else), deduplicated by (sender, id) in the store,
 * handed to the handler — a batch's messages one after the other, in order — and acknowledged
 * after the handler resolves; the id is recorded as seen at once in memory and in the store with
 * the next bookkeeping commit (within {@link SEEN_FLUSH_MS}). Relayed envelopes of one batch are
 * taken into the outbox in one (durable) transaction before the batch is acknowledged.
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
import { type Address, concatBytes } from '../hex.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { InboundMessage, MessageService, SendOptions, UndeliverableMessage, UndeliverableReason } from '../ports/messaging.ts';
import type { OutboxRecord, Store } from '../ports/store.ts';
import {
  type Ack,
  type Envelope,
  BATCH_OVERHEAD,
  ENVELOPE_OVERHEAD,
  MAX_ACK_BYTES,
  MAX_ACKS_BYTES,
  MAX_BATCH_ENVELOPES,
  SLUICE_BATCH_PROTOCOL,
  SLUICE_PROTOCOL,
  SLUICE_SESSION_PROTOCOL,
  FrameDecoder,
  decodeAck,
  decodeAcks,
  decodeBatch,
  decodeEnvelope,
  encodeAck,
  encodeAcks,
  encodeBatch,
  encodeEnvelope,
  frame,
} from './envelope.ts';
import { readFrame, writeAll } from './frame-stream.ts';
import { deadline } from './deadline.ts';
import { OutboundSession } from './session.ts';
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
  /**
   * A direct (non-relay) peer-book peer that has failed every dial for this long is no longer
   * redialled while nothing is queued for it; the next message for it resumes the redials
   * (default 600 000).
   */
  readonly directGiveUpMs?: number;
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
  /**
   * New inbound connections accepted per second from one host (default: libp2p's, 5); more are
   * refused and the peers retry. A hub with many peers behind one address (a NAT) may raise it.
   */
  readonly inboundConnectionsPerHost?: number;
  /** Known peers (typically the hub). They are kept connected, redialled with backoff. */
  readonly peers?: readonly PeerBookEntry[];
  /** Hub mode: store-and-forward messages addressed to other peers. */
  readonly relay?: boolean;
  /** Hub mode: decide whether to relay `from → to` (default: relay everything). */
  readonly relayFilter?: (from: Address, to: Address) => boolean;
  /** Largest payload sent or accepted (default 1 MiB). */
  readonly maxMessageBytes?: number;
  /** Hub mode: largest payload relayed for others (default `maxMessageBytes`); larger ones are refused. */
  readonly maxRelayedBytes?: number;
  /** Retry and timeout policy. */
  readonly retry?: RetryPolicy;
  /** Refuse (with a retry-later answer) relaying while the outbox holds this many messages (default 100 000). */
  readonly maxOutbox?: number;
  /**
   * Hub mode: refuse (with a retry-later answer) storing more relayed messages from one sender
   * while this many of its messages wait in the outbox (default 10 000), so that one peer cannot
   * take the whole of `maxOutbox` from the others. Cut-through relaying stores nothing and is not
   * counted.
   */
  readonly maxRelayedPerSender?: number;
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
/** Ack reason of a message its receiver could not handle yet (the engine's PROTOCOL_NOT_READY). */
const NOT_READY = 'PROTOCOL_NOT_READY';
/** First retry delay after a {@link NOT_READY} answer (doubling with each such answer in a row, up to the initial backoff). */
const NOT_READY_RETRY_MS = 5;
/** Store transactions of the messaging bookkeeping: atomic, never fsync'd for their own sake. */
const RELAXED = { durability: 'relaxed' } as const;
/**
 * Ids of accepted messages are recorded as seen in batches: with the next outbox bookkeeping
 * commit, or at the latest after this many ms (one relaxed commit for all of them instead of one
 * per message).
 */
const SEEN_FLUSH_MS = 20;
/** Pending seen ids that force a flush at once. */
const SEEN_FLUSH_MAX = 512;
/** Inbound (and outbound) 1.2.0 session streams allowed per connection. */
const MAX_SESSIONS_PER_CONNECTION = 4;
/** Unprocessed BATCH frames an inbound session buffers before it pauses the stream. */
const SESSION_QUEUE_HIGH = 8;
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
  readonly #inboundPerHost: number | undefined;
  readonly #peerBook = new Map<string, PeerBookEntry>();
  readonly #relayMode: boolean;
  readonly #relayFilter: ((from: Address, to: Address) => boolean) | undefined;
  readonly #maxMessageBytes: number;
  readonly #maxFrame: number;
  readonly #maxRelayedBytes: number;
  readonly #initialBackoff: number;
  readonly #maxBackoff: number;
  readonly #expiry: number;
  readonly #ackTimeout: number;
  readonly #dialTimeout: number;
  readonly #directGiveUp: number;
  readonly #maxOutbox: number;
  readonly #maxRelayedPerSender: number;
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
  /**
   * Outbox records the peer answered not ready, with how many times in a row (in memory: a
   * restart starts them again at the fast retry). Kept apart from the record's attempt count,
   * which drives the backoff after transport failures: a message refused as not ready many times
   * that then meets a lost answer must not wait out a backoff meant for an unreachable peer.
   */
  readonly #notReadyRounds = new Map<string, number>();
  /** Exchanges in flight per recipient (lower-case address): the pump's (at most one) and cut-through relays. */
  readonly #busyRecipients = new Map<string, number>();
  /** Outbox records in flight per recipient (lower-case address). */
  readonly #inflightRecords = new Map<string, number>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #inbound = new Map<string, Promise<Ack>>();
  readonly #pendingDials = new Map<string, Promise<Connection>>();
  /** Peer-book peers being redialled; `failed` once a dial failed (cleared when one succeeds). */
  readonly #reconnect = new Map<string, { timer?: NodeJS.Timeout | undefined; delay: number; failed?: boolean; failingSince?: number }>();
  readonly #forceDue = new Set<string>();
  /** Peers (lower-case address) that answered the batch protocol as unsupported: 1.0.0 only. */
  readonly #legacyPeers = new Set<string>();
  /** Peers (lower-case address) that answered the session protocol as unsupported: 1.1.0 or older. */
  readonly #noSessionPeers = new Set<string>();
  /** Open 1.2.0 sessions, by next hop (lower-case address). */
  readonly #sessions = new Map<string, OutboundSession>();
  readonly #openingSessions = new Map<string, Promise<OutboundSession>>();
  #wakeTimer: NodeJS.Timeout | undefined;
  #wakeAt = Number.POSITIVE_INFINITY;
  #forceAll = false;
  #pumpScheduled = false;
  #pumping = false;
  #pumpAgain = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  /** Accepted (sender, id) pairs not yet written to the store (see {@link SEEN_FLUSH_MS}), by key. */
  readonly #seenPending = new Map<string, { readonly from: Address; readonly id: string; readonly at: number }>();
  #seenTimer: NodeJS.Timeout | undefined;

  constructor(init: Libp2pMessageServiceInit, components: Libp2pMessageServiceComponents) {
    this.#key = libp2pPrivateKey(init.privateKey);
    this.self = privateKeyToAddress(init.privateKey);
    this.#listen = init.listen ?? ['/ip4/127.0.0.1/tcp/0'];
    this.#announce = init.announce;
    this.#maxConnections = init.maxConnections === undefined ? undefined : positive(init.maxConnections, 'maxConnections');
    this.#inboundPerHost = init.inboundConnectionsPerHost === undefined ? undefined : positive(init.inboundConnectionsPerHost, 'inboundConnectionsPerHost');
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
    this.#maxRelayedBytes = Math.min(this.#maxMessageBytes, positive(init.maxRelayedBytes ?? this.#maxMessageBytes, 'maxRelayedBytes'));
    const r = init.retry ?? {};
    this.#initialBackoff = positive(r.initialBackoffMs ?? 250, 'retry.initialBackoffMs');
    this.#maxBackoff = Math.max(this.#initialBackoff, positive(r.maxBackoffMs ?? 15_000, 'retry.maxBackoffMs'));
    this.#expiry = positive(r.expiryMs ?? 600_000, 'retry.expiryMs');
    this.#ackTimeout = positive(r.ackTimeoutMs ?? 10_000, 'retry.ackTimeoutMs');
    this.#dialTimeout = positive(r.dialTimeoutMs ?? 5_000, 'retry.dialTimeoutMs');
    this.#directGiveUp = positive(r.directGiveUpMs ?? 600_000, 'retry.directGiveUpMs');
    this.#maxOutbox = positive(init.maxOutbox ?? 100_000, 'maxOutbox');
    this.#maxRelayedPerSender = positive(init.maxRelayedPerSender ?? 10_000, 'maxRelayedPerSender');
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
      connectionManager: {
        ...(this.#maxConnections === undefined ? {} : { maxConnections: this.#maxConnections }),
        ...(this.#inboundPerHost === undefined ? {} : { inboundConnectionThreshold: this.#inboundPerHost }),
      },
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
    await node.handle(SLUICE_BATCH_PROTOCOL, (stream, connection) => this.#handleBatchStream(stream, connection), {
      maxInboundStreams: 64,
      maxOutboundStreams: 64,
    });
    await node.handle(SLUICE_SESSION_PROTOCOL, (stream, connection) => this.#handleSessionStream(stream, connection), {
      maxInboundStreams: MAX_SESSIONS_PER_CONNECTION,
      maxOutboundStreams: MAX_SESSIONS_PER_CONNECTION,
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
    clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
    this.#wakeAt = Number.POSITIVE_INFINITY;
    this.#pollTimer = undefined;
    this.#pruneTimer = undefined;
    for (const r of this.#reconnect.values()) clearTimeout(r.timer);
    this.#reconnect.clear();
    for (const session of this.#sessions.values()) session.abort(new SluiceError('ABORTED', 'messaging stopped'));
    this.#sessions.clear();
    await node.stop();
    await Promise.allSettled([...this.#tasks]);
    clearTimeout(this.#seenTimer);
    this.#seenTimer = undefined;
    this.#flushSeen();
    this.#addressToPeer.clear();
    this.#pendingDials.clear();
    this.#notReadyRounds.clear();
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
    // Per-peer state lives while the peer is connected: anyone can connect with a new identity,
    // so nothing keyed by peer may outlive its connections (a new connection probes afresh).
    const key = lower(address);
    this.#addressToPeer.delete(key);
    this.#legacyPeers.delete(key);
    this.#noSessionPeers.delete(key);
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
            state.failed = true;
            this.#log.debug({ peer: entry.address, code: errorCode(e) }, 'dial failed');
            const now = this.#clock.now();
            state.failingSince ??= now;
            const next = Math.min(this.#maxBackoff, Math.max(this.#initialBackoff, state.delay * 2));
            state.delay = next;
            // A direct (non-relay) peer unreachable for directGiveUpMs is only worth dialling while
            // we have something for it: a provider that has gone would otherwise be dialled every
            // maxBackoff for as long as we live. Shorter outages are redialled through (a peer
            // refuses a burst of connections from one host: libp2p's inbound rate limit).
            // #deliver resumes the loop when a message for it comes up.
            if (now - state.failingSince >= this.#directGiveUp && !this.#isRelay(entry) && this.#store.hasOutboxFor?.(entry.address) === false) {
              this.#log.debug({ peer: entry.address }, 'direct peer unreachable and nothing queued for it: redialling when something is');
              return;
            }
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
    // Group what is due per next hop, oldest first, bounded in count and bytes.
    const batches = new Map<string, { records: OutboxRecord[]; bytes: number }>();
    for (const record of this.#store.dueOutbox(horizon, PUMP_BATCH)) {
      if (this.#inflight.has(record.id)) continue;
      const recipient = lower(record.to);
      if (record.nextAttemptAt > now && !forceAll && !force.has(recipient)) continue;
      if (record.createdAt + this.#expiry <= now) {
        this.#notReadyRounds.delete(record.id);
        this.#store.removeOutbox(record.id);
        this.#emitUndeliverable(record, 'expired');
        continue;
      }
      if (this.#busyRecipients.has(recipient)) continue;
      let batch = batches.get(recipient);
      if (batch === undefined) {
        if (this.#busyRecipients.size + batches.size >= MAX_CONCURRENT_ATTEMPTS) continue;
        batch = { records: [], bytes: 0 };
        batches.set(recipient, batch);
      }
      const size = record.payload.length + ENVELOPE_OVERHEAD;
      if (batch.records.length >= MAX_BATCH_ENVELOPES || (batch.records.length > 0 && batch.bytes + size > this.#maxFrame)) continue;
      batch.records.push(record);
      batch.bytes += size;
    }
    // Group commit: whatever a 'beforeSend' store transaction handed over is made durable (one
    // fsync for all of them, off the event loop when the store can) before any of it leaves the
    // process.
    const durable = batches.size > 0 ? this.#durable() : undefined;
    // Reschedule before trying: a crash or a lost answer retries later, never in a tight loop
    // (one relaxed transaction for the whole pass).
    if (batches.size > 0) {
      this.#store.transaction(() => {
        for (const { records } of batches.values()) {
          for (const record of records) {
            const next = Math.min(now + jitter(this.#backoff(record.attempts)), record.createdAt + this.#expiry);
            this.#store.rescheduleOutbox(record.id, next);
            this.#wake(next);
          }
        }
      }, RELAXED);
    }
    for (const [recipient, { records }] of batches) {
      for (const record of records) this.#inflight.add(record.id);
      this.#hold(this.#busyRecipients, recipient, 1);
      this.#hold(this.#inflightRecords, recipient, records.length);
      this.#track(
        this.#attempt(records, durable!).finally(() => {
          for (const record of records) this.#inflight.delete(record.id);
          this.#release(this.#busyRecipients, recipient, 1);
          this.#release(this.#inflightRecords, recipient, records.length);
          this.#kick(); // whatever queued for this hop meanwhile goes now
        }),
      );
    }
  }

  /** Make sure the pump runs at `at` (the earliest retry), besides the regular poll. */
  #wake(at: number): void {
    if (this.#node === undefined || at >= this.#wakeAt) return;
    clearTimeout(this.#wakeTimer);
    this.#wakeAt = at;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wakeAt = Number.POSITIVE_INFINITY;
      this.#kick();
    }, Math.max(0, at - this.#clock.now()) + 1);
    this.#wakeTimer.unref();
  }

  #backoff(attempts: number): number {
    return Math.min(this.#maxBackoff, this.#initialBackoff * 2 ** Math.min(attempts, 30));
  }

  /** Deliver `records` (same next hop, oldest first) and settle each by its acknowledgement. */
  async #attempt(records: readonly OutboxRecord[], durable: Promise<void>): Promise<void> {
    try {
      await durable;
    } catch (e) {
      this.#log.error({ code: errorCode(e) }, 'store sync failed; not sending');
      return; // rescheduled already: retried later
    }
    const lifecycle = this.#lifecycle;
    if (lifecycle === undefined) return;
    const sendable: { record: OutboxRecord; envelope: Envelope }[] = [];
    for (const record of records) {
      try {
        sendable.push({ record, envelope: outboxEnvelope(record) });
      } catch {
        this.#store.removeOutbox(record.id);
        this.#emitUndeliverable(record, 'rejected', 'corrupt-outbox-record');
      }
    }
    if (sendable.length === 0) return;
    const envelopes = sendable.map((x) => x.envelope);
    const time = deadline(lifecycle.signal, this.#dialTimeout + this.#ackTimeout);
    let acks: readonly Ack[];
    try {
      acks = await this.#deliver(envelopes, time.signal);
    } catch (e) {
      if (this.#node === undefined) return;
      this.#log.debug({ peer: envelopes[0]!.to, messageIds: envelopes.map((x) => x.id), code: errorCode(e) }, 'delivery attempt failed');
      return;
    } finally {
      time.clear();
    }
    // The acknowledged records leave the outbox in one relaxed transaction.
    // (The ids accepted from peers meanwhile are recorded in the same commit.)
    let seenWritten: readonly string[] = [];
    this.#store.transaction(() => {
      for (const [i, { record }] of sendable.entries()) {
        const status = acks[i]?.status;
        if (status === 'ok' || status === 'reject') this.#store.removeOutbox(record.id);
      }
      seenWritten = this.#writeSeen();
    }, RELAXED);
    for (const key of seenWritten) this.#seenPending.delete(key);
    // Every message of this exchange the peer was not ready for is retried at the same moment
    // (one delay, one jitter draw): they go out again together, in their original order. Each
    // with its own jittered time, a chain of ledger proposals came back shuffled, so all but
    // the earliest were refused again as "ahead of an earlier one" — one turn per round.
    let notReadyAt: number | undefined;
    for (const [i, { record, envelope }] of sendable.entries()) {
      const ack = acks[i];
      if (ack === undefined) continue; // not attempted (legacy peer, stopped early): retried later
      if (ack.status !== 'retry' || ack.reason !== NOT_READY) this.#notReadyRounds.delete(record.id);
      if (ack.status === 'ok') {
        this.#log.debug({ peer: envelope.to, messageId: envelope.id, reason: ack.reason }, 'message acknowledged');
      } else if (ack.status === 'reject') {
        this.#emitUndeliverable(record, 'rejected', ack.reason);
      } else {
        this.#log.debug({ peer: envelope.to, messageId: envelope.id, reason: ack.reason }, 'peer asked to retry');
        if (ack.reason === NOT_READY) {
          // The peer is waiting for something already on its way (a message that overtook
          // another): retry soon, not after the full backoff meant for an unreachable peer. The
          // peer answered, so this attempt does not count toward that backoff (the attempt count
          // goes back to what it was); the fast retry slows down with its own count.
          const rounds = (this.#notReadyRounds.get(record.id) ?? 0) + 1;
          this.#notReadyRounds.set(record.id, rounds);
          notReadyAt ??= this.#clock.now() + jitter(Math.min(this.#initialBackoff, NOT_READY_RETRY_MS * 2 ** Math.min(rounds - 1, 8)));
          const next = Math.min(notReadyAt, record.createdAt + this.#expiry);
          this.#store.rescheduleOutbox(record.id, next, record.attempts);
          this.#wake(next);
        }
      }
    }
  }

  /**
   * Send `envelopes` (one recipient) to the next hop: the recipient itself, else (our own
   * messages only) a relay. Returns one ack per envelope, in order; a shorter array means the
   * rest were not attempted.
   */
  async #deliver(envelopes: readonly Envelope[], signal: AbortSignal): Promise<readonly Ack[]> {
    const to = envelopes[0]!.to;
    const relayed = envelopes.some((e) => e.from !== undefined);
    const direct = this.#openConnection(to);
    if (direct !== undefined) return this.#exchange(direct, to, envelopes, signal);
    const entry = this.#peerBook.get(lower(to));
    // A direct (non-relay) peer whose last dial failed: go through a relay at once, not after
    // another dial timeout per message; the redial loop brings the direct route back.
    const down = entry !== undefined && !relayed && !this.#isRelay(entry) ? this.#reconnect.get(lower(to)) : undefined;
    const directDown = down?.failed === true;
    // its redial loop stopped while nothing was queued for it: it is again (this message)
    if (directDown && down.timer === undefined && !this.#pendingDials.has(lower(to))) this.#redial(entry!, jitter(down.delay));
    if (entry !== undefined && !directDown) {
      try {
        return await this.#exchange(await this.#dialPeerBook(entry, signal), to, envelopes, signal);
      } catch (e) {
        if (relayed || signal.aborted) throw e;
        if (!this.#isRelay(entry) && this.#openConnection(to) === undefined) {
          this.#log.debug({ peer: to, code: errorCode(e) }, 'direct route failed; using a relay');
          this.#redial(entry, this.#initialBackoff);
          const state = this.#reconnect.get(lower(to));
          if (state !== undefined) state.failed = true;
        }
        // fall through to relays
      }
    }
    if (relayed) {
      // We are relaying: no second hop; wait for the recipient to connect.
      throw new SluiceError('PEER_TIMEOUT', 'recipient not connected');
    }
    let lastError: unknown = new SluiceError('PEER_TIMEOUT', 'no route to recipient', { details: { to } });
    let lastRejects: readonly Ack[] | undefined;
    for (const relay of this.#relays()) {
      if (sameAddress(relay.address, to)) continue;
      try {
        const acks = await this.#exchange(await this.#dialPeerBook(relay, signal), relay.address, envelopes, signal);
        if (!acks.every((a) => a.status === 'reject')) return acks;
        lastRejects = acks;
      } catch (e) {
        lastError = e;
        if (signal.aborted) break;
      }
    }
    if (lastRejects !== undefined) return lastRejects;
    throw lastError;
  }

  /**
   * One exchange with the next hop `hop`: over its 1.2.0 session (opened if needed), else one
   * BATCH stream (1.1.0), else MSG streams one by one (1.0.0).
   */
  async #exchange(connection: Connection, hop: Address, envelopes: readonly Envelope[], signal: AbortSignal): Promise<readonly Ack[]> {
    const key = lower(hop);
    if (!this.#noSessionPeers.has(key) && !this.#legacyPeers.has(key)) {
      let session: OutboundSession | undefined;
      try {
        session = await this.#session(connection, key, signal);
      } catch (e) {
        if (!(e instanceof Error && e.name === 'UnsupportedProtocolError')) throw e;
        this.#noSessionPeers.add(key);
        this.#log.info({ peer: hop }, `peer does not speak ${SLUICE_SESSION_PROTOCOL}; one stream per exchange`);
      }
      if (session !== undefined) return session.exchange(envelopes, signal);
    }
    if (!this.#legacyPeers.has(key)) {
      try {
        return await this.#exchangeBatch(connection, envelopes, signal);
      } catch (e) {
        if (!(e instanceof Error && e.name === 'UnsupportedProtocolError')) throw e;
        this.#legacyPeers.add(key);
        this.#log.info({ peer: hop }, `peer does not speak ${SLUICE_BATCH_PROTOCOL}; sending one message per stream`);
      }
    }
    const acks: Ack[] = [];
    for (const envelope of envelopes) {
      acks.push(await this.#exchangeOne(connection, envelope, signal));
    }
    return acks;
  }

  /** The open session to `key` (on any open connection to it), or a new one on `connection`. */
  async #session(connection: Connection, key: string, signal: AbortSignal): Promise<OutboundSession> {
    const current = this.#sessions.get(key);
    if (current !== undefined && !current.ended && current.connection.status === 'open') return current;
    if (current !== undefined) {
      this.#sessions.delete(key);
      current.abort(new SluiceError('PEER_TIMEOUT', 'session connection closed'));
    }
    let opening = this.#openingSessions.get(key);
    if (opening === undefined) {
      opening = (async () => {
        const stream = await connection.newStream(SLUICE_SESSION_PROTOCOL, { signal });
        const session: OutboundSession = new OutboundSession(stream, connection, () => {
          if (this.#sessions.get(key) === session) this.#sessions.delete(key);
        });
        if (this.#node === undefined) {
          session.abort(new SluiceError('ABORTED', 'messaging stopped'));
          throw new SluiceError('ABORTED', 'messaging stopped');
        }
        this.#sessions.set(key, session);
        return session;
      })().finally(() => this.#openingSessions.delete(key));
      this.#openingSessions.set(key, opening);
    }
    return opening;
  }

  async #exchangeBatch(connection: Connection, envelopes: readonly Envelope[], signal: AbortSignal): Promise<readonly Ack[]> {
    // One protocol, written before read: multistream-select is piggybacked on the first frame
    // (no extra round trip).
    const stream = await connection.newStream(SLUICE_BATCH_PROTOCOL, { signal, negotiateFully: false });
    try {
      stream.maxReadBufferLength = MAX_ACKS_BYTES + 8;
      await writeAll(stream, frame(encodeBatch(envelopes)), signal);
      const acks = decodeAcks(await readFrame(stream, MAX_ACKS_BYTES, signal));
      if (acks.length !== envelopes.length || acks.some((a, i) => a.id !== envelopes[i]!.id)) {
        throw new SluiceError('DECODE_FAILED', 'acknowledgements for other messages');
      }
      await stream.close({ signal }).catch(() => stream.abort(new Error('close failed')));
      return acks;
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error('exchange failed'));
      throw e;
    }
  }

  async #exchangeOne(connection: Connection, envelope: Envelope, signal: AbortSignal): Promise<Ack> {
    const stream = await connection.newStream(SLUICE_PROTOCOL, { signal, negotiateFully: false });
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

  /** Every commit so far durable: the store's asynchronous sync when it has one (the event loop runs on meanwhile), else its blocking one. */
  #durable(): Promise<void> {
    if (this.#store.syncAsync !== undefined) return this.#store.syncAsync();
    try {
      this.#store.sync?.();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
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
    const time = deadline(lifecycle.signal, this.#ackTimeout);
    try {
      await this.#serveOne(stream, remote, time.signal);
    } finally {
      time.clear();
    }
  }

  async #serveOne(stream: Stream, remote: Address, readSignal: AbortSignal): Promise<void> {
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
      await this.#durable(); // what the handler committed is durable before the ack
    } catch (e) {
      this.#log.error({ peer: remote, messageId: envelope.id, code: errorCode(e) }, 'failed to accept message');
      ack = { id: envelope.id, status: 'retry', reason: 'internal' };
    }
    const write = deadline(this.#lifecycle?.signal ?? AbortSignal.abort(), this.#ackTimeout);
    try {
      await writeAll(stream, frame(encodeAck(ack)), write.signal);
      await stream.close({ signal: write.signal });
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error('ack failed'));
    } finally {
      write.clear();
    }
  }

  async #handleBatchStream(stream: Stream, connection: Connection): Promise<void> {
    const remote = tryPeerIdToAddress(connection.remotePeer);
    const lifecycle = this.#lifecycle;
    if (remote === undefined || lifecycle === undefined) {
      stream.abort(new SluiceError('PROTOCOL_WRONG_SIGNER', 'unauthenticated peer'));
      return;
    }
    const maxBody = this.#maxFrame + BATCH_OVERHEAD;
    stream.maxReadBufferLength = maxBody + 8;
    const time = deadline(lifecycle.signal, this.#ackTimeout);
    try {
      await this.#serveBatch(stream, remote, maxBody, time.signal);
    } finally {
      time.clear();
    }
  }

  async #serveBatch(stream: Stream, remote: Address, maxBody: number, readSignal: AbortSignal): Promise<void> {
    let envelopes: Envelope[];
    try {
      envelopes = decodeBatch(await readFrame(stream, maxBody, readSignal));
      if (envelopes.some((e) => e.payload.length > this.#maxMessageBytes)) throw new SluiceError('DECODE_FAILED', 'payload exceeds the size limit');
    } catch (e) {
      this.#log.warn({ peer: remote, code: errorCode(e), reason: e instanceof Error ? e.message : '' }, 'rejected inbound frame');
      stream.abort(e instanceof Error ? e : new Error('bad frame'));
      return;
    }
    const acks = await this.#processBatch(envelopes, remote);
    const write = deadline(this.#lifecycle?.signal ?? AbortSignal.abort(), this.#ackTimeout);
    try {
      await writeAll(stream, frame(encodeAcks(acks)), write.signal);
      await stream.close({ signal: write.signal });
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error('ack failed'));
    } finally {
      write.clear();
    }
  }

  /**
   * An inbound 1.2.0 session: BATCH frames handled strictly in order, one at a time, each
   * answered by its ACKS frame. The stream is paused while {@link SESSION_QUEUE_HIGH} frames
   * wait; a malformed or oversize frame resets it (the sender retries on a new one).
   */
  #handleSessionStream(stream: Stream, connection: Connection): void {
    const remote = tryPeerIdToAddress(connection.remotePeer);
    if (remote === undefined || this.#lifecycle === undefined) {
      stream.abort(new SluiceError('PROTOCOL_WRONG_SIGNER', 'unauthenticated peer'));
      return;
    }
    const maxBody = this.#maxFrame + BATCH_OVERHEAD;
    stream.maxReadBufferLength = 2 * (maxBody + 8);
    const decoder = new FrameDecoder(maxBody);
    const queue: Uint8Array[] = [];
    let running = false;
    let paused = false;
    const fail = (e: unknown): void => {
      queue.length = 0;
      this.#log.warn({ peer: remote, code: errorCode(e), reason: e instanceof Error ? e.message : '' }, 'rejected inbound frame');
      stream.abort(e instanceof Error ? e : new Error('bad frame'));
    };
    const run = async (): Promise<void> => {
      running = true;
      try {
        while (queue.length > 0 && this.#lifecycle !== undefined && stream.status === 'open') {
          // Every frame waiting is handled in one step (one store sync), each still answered by
          // its own ACKS frame, in order.
          const bodies = queue.splice(0);
          if (paused) {
            paused = false;
            stream.resume();
          }
          const batches: Envelope[][] = [];
          try {
            for (const body of bodies) {
              const envelopes = decodeBatch(body);
              if (envelopes.some((e) => e.payload.length > this.#maxMessageBytes)) throw new SluiceError('DECODE_FAILED', 'payload exceeds the size limit');
              batches.push(envelopes);
            }
          } catch (e) {
            fail(e);
            return;
          }
          const all = await this.#processBatch(batches.flat(), remote);
          if (stream.status !== 'open') return;
          const answers: Uint8Array[] = [];
          let o = 0;
          for (const b of batches) {
            answers.push(frame(encodeAcks(all.slice(o, o + b.length))));
            o += b.length;
          }
          const write = deadline(this.#lifecycle?.signal ?? AbortSignal.abort(), this.#ackTimeout);
          try {
            await writeAll(stream, answers.length === 1 ? answers[0]! : concatBytes(...answers), write.signal);
          } catch (e) {
            stream.abort(e instanceof Error ? e : new Error('ack failed'));
            return;
          } finally {
            write.clear();
          }
        }
      } finally {
        running = false;
      }
    };
    stream.addEventListener('message', (evt) => {
      const data = evt.data;
      try {
        queue.push(...decoder.push(data instanceof Uint8Array ? data : data.subarray()));
      } catch (e) {
        fail(e);
        return;
      }
      if (!paused && queue.length >= SESSION_QUEUE_HIGH) {
        paused = true;
        stream.pause();
      }
      if (!running && queue.length > 0) this.#track(run());
    });
  }

  /** Handle one inbound batch and make what it committed durable; one ack per envelope. */
  async #processBatch(envelopes: readonly Envelope[], remote: Address): Promise<Ack[]> {
    const acks = await this.#acceptAll(envelopes, remote);
    try {
      await this.#durable(); // what the handlers committed is durable before the acks (one fsync)
      return acks;
    } catch (e) {
      this.#log.error({ peer: remote, code: errorCode(e) }, 'store sync failed');
      return acks.map((a) => (a.status === 'ok' ? { id: a.id, status: 'retry', reason: 'internal' } : a));
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
      const key = messageKey(from, id);
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
    return (await this.#relay([envelope], remote))[0]!;
  }

  /**
   * Relay envelopes addressed to other peers (relay mode). Cut-through first: when the recipient
   * is connected, idle and has nothing queued here (so nothing can be overtaken), the envelopes
   * are forwarded at once and acknowledged to the sender only after the recipient acknowledged
   * them — the sender's own outbox keeps custody meanwhile, so nothing is persisted here. Whatever
   * is not acknowledged that way is stored and forwarded ({@link #acceptRelayed}).
   */
  async #relay(envelopes: readonly Envelope[], remote: Address): Promise<Ack[]> {
    const acks: (Ack | undefined)[] = envelopes.map(() => undefined);
    const connection = this.#relayMode && envelopes.length > 0 ? this.#openConnection(envelopes[0]!.to) : undefined;
    const to = envelopes[0]?.to;
    const lifecycle = this.#lifecycle;
    if (
      connection !== undefined &&
      to !== undefined &&
      lifecycle !== undefined &&
      this.#store.hasOutboxFor !== undefined &&
      envelopes.every((e) => sameAddress(e.to, to) && e.from === undefined && !sameAddress(e.to, remote) && e.payload.length <= this.#maxRelayedBytes) &&
      (this.#relayFilter === undefined || this.#relayFilter(remote, to)) &&
      this.#mayCutThrough(to) &&
      !envelopes.some((e) => this.#isSeen(remote, e.id))
    ) {
      const key = lower(to);
      this.#hold(this.#busyRecipients, key, 1);
      const time = deadline(lifecycle.signal, Math.max(1, Math.floor(this.#ackTimeout / 2)));
      try {
        const forwarded = await this.#exchange(connection, to, envelopes.map((e) => ({ id: e.id, to: e.to, from: remote, payload: e.payload })), time.signal);
        for (const [i, ack] of forwarded.entries()) {
          if (ack.status !== 'ok') continue;
          acks[i] = { id: ack.id, status: 'ok', reason: 'relayed' };
          // one line per relayed message (the hub counts them): same text as store-and-forward
          this.#log.debug({ peer: remote, to, messageId: ack.id, cutThrough: true }, 'relaying message');
        }
      } catch (e) {
        this.#log.debug({ peer: remote, to, code: errorCode(e) }, 'cut-through relay failed; storing');
      } finally {
        time.clear();
        this.#release(this.#busyRecipients, key, 1);
        this.#kick();
      }
    }
    const rest = [...envelopes.keys()].filter((i) => acks[i] === undefined);
    if (rest.length > 0) {
      const stored = this.#acceptRelayed(rest.map((i) => envelopes[i]!), remote);
      for (const [j, i] of rest.entries()) acks[i] = stored[j];
    }
    return acks as Ack[];
  }

  /**
   * Whether relayed messages for `to` can be forwarded at once without overtaking anything held
   * here for it: nothing in flight and nothing queued; or everything queued is already in flight
   * on `to`'s open session — whose frames `to` answers in order, so ours come after.
   */
  #mayCutThrough(to: Address): boolean {
    const key = lower(to);
    if (!this.#busyRecipients.has(key)) return !this.#store.hasOutboxFor!(to);
    const session = this.#sessions.get(key);
    if (session === undefined || session.ended || this.#store.countOutboxFor === undefined) return false;
    return this.#store.countOutboxFor(to) === (this.#inflightRecords.get(key) ?? 0);
  }

  #hold(counts: Map<string, number>, key: string, n: number): void {
    counts.set(key, (counts.get(key) ?? 0) + n);
  }

  #release(counts: Map<string, number>, key: string, n: number): void {
    const left = (counts.get(key) ?? n) - n;
    if (left > 0) counts.set(key, left);
    else counts.delete(key);
  }

  /**
   * Take envelopes addressed to other peers into the outbox (relay mode, store-and-forward): the
   * checks per envelope, then one durable transaction for all of them (the relay has custody once
   * it acks).
   */
  #acceptRelayed(envelopes: readonly Envelope[], remote: Address): Ack[] {
    const acks: Ack[] = [];
    const take: number[] = [];
    let outboxSize = this.#relayMode ? this.#store.countOutbox() : 0;
    const senderPrefix = `${RELAY_PREFIX}${lower(remote)}/`;
    let fromSender = this.#relayMode ? (this.#store.countOutboxWithPrefix?.(senderPrefix) ?? 0) : 0;
    for (const [i, envelope] of envelopes.entries()) {
      const { id } = envelope;
      if (!this.#relayMode) acks.push({ id, status: 'reject', reason: 'not-for-me' });
      else if (envelope.from !== undefined) acks.push({ id, status: 'reject', reason: 'no-multi-hop' });
      else if (sameAddress(envelope.to, remote)) acks.push({ id, status: 'reject', reason: 'loop' });
      else if (this.#relayFilter !== undefined && !this.#relayFilter(remote, envelope.to)) acks.push({ id, status: 'reject', reason: 'relay-refused' });
      else if (envelope.payload.length > this.#maxRelayedBytes) acks.push({ id, status: 'reject', reason: 'too-large' });
      else if (outboxSize >= this.#maxOutbox) acks.push({ id, status: 'retry', reason: 'overloaded' });
      else if (fromSender >= this.#maxRelayedPerSender) acks.push({ id, status: 'retry', reason: 'sender-quota' });
      else {
        acks.push({ id, status: 'ok', reason: 'relayed' });
        take.push(i);
        outboxSize++;
        fromSender++;
      }
    }
    if (fromSender >= this.#maxRelayedPerSender && take.length < envelopes.length) {
      this.#log.warn({ peer: remote, waiting: fromSender }, 'relay: this sender has its quota of messages waiting here; it is asked to retry the rest later');
    }
    if (take.length === 0) return acks;
    const now = this.#clock.now();
    const fresh: Envelope[] = [];
    // Custody: durable before the sender is acked (both callers sync before they ack).
    this.#store.transaction(() => {
      for (const i of take) {
        const envelope = envelopes[i]!;
        const { id } = envelope;
        if (this.#seenPending.has(messageKey(remote, id)) || !this.#store.markSeen(remote, id, now)) {
          acks[i] = { id, status: 'ok', reason: 'duplicate' };
          continue;
        }
        fresh.push(envelope);
        this.#store.enqueueOutbox({
          id: `${senderPrefix}${id}`,
          to: envelope.to,
          payload: encodeEnvelope({ id, to: envelope.to, from: remote, payload: envelope.payload }),
          createdAt: now,
          attempts: 0,
          nextAttemptAt: now,
        });
      }
    }, { durability: 'beforeSend' });
    if (fresh.length === 0) return acks;
    // after the commit: one line per relayed message (the hub counts them)
    for (const e of fresh) this.#log.debug({ peer: remote, to: e.to, messageId: e.id }, 'relaying message');
    this.#kick();
    return acks;
  }

  /** A batch from `remote`: relayed envelopes per recipient (cut-through or one transaction), ours handled one by one, in order. */
  async #acceptAll(envelopes: readonly Envelope[], remote: Address): Promise<Ack[]> {
    const acks: (Ack | undefined)[] = envelopes.map(() => undefined);
    const byRecipient = new Map<string, number[]>();
    for (const [i, e] of envelopes.entries()) {
      if (sameAddress(e.to, this.self)) continue;
      const k = lower(e.to);
      byRecipient.set(k, [...(byRecipient.get(k) ?? []), i]);
    }
    await Promise.all(
      [...byRecipient.values()].map(async (relayed) => {
        try {
          const r = await this.#relay(relayed.map((i) => envelopes[i]!), remote);
          for (const [j, i] of relayed.entries()) acks[i] = r[j];
        } catch (e) {
          this.#log.error({ peer: remote, code: errorCode(e) }, 'failed to accept relayed messages');
          for (const i of relayed) acks[i] = { id: envelopes[i]!.id, status: 'retry', reason: 'internal' };
        }
      }),
    );
    // Ours: handed to the handler in order, each call started before the previous one settles,
    // so a handler that queues (the engine) takes the whole batch in one step (one fsync). A
    // repeated id inside the batch is answered as a duplicate of the first.
    const firsts = new Map<string, { index: number; done: Promise<void> }>();
    const pending: Promise<void>[] = [];
    for (const [i, envelope] of envelopes.entries()) {
      if (acks[i] !== undefined) continue;
      const key = messageKey(envelope.from ?? remote, envelope.id);
      const first = firsts.get(key);
      if (first !== undefined) {
        pending.push(
          first.done.then(() => {
            const a = acks[first.index]!;
            acks[i] = a.status === 'ok' ? { id: envelope.id, status: 'ok', reason: 'duplicate' } : a;
          }),
        );
        continue;
      }
      const p = this.#accept(envelope, remote).then(
          (ack) => {
            acks[i] = ack;
          },
          (e: unknown) => {
            this.#log.error({ peer: remote, messageId: envelope.id, code: errorCode(e) }, 'failed to accept message');
            acks[i] = { id: envelope.id, status: 'retry', reason: 'internal' };
          },
        );
      firsts.set(key, { index: i, done: p });
      pending.push(p);
    }
    await Promise.all(pending);
    return acks as Ack[];
  }

  async #deliverLocal(from: Address, id: string, payload: Uint8Array, relayedBy: Address | undefined): Promise<Ack> {
    if (this.#isSeen(from, id)) return { id, status: 'ok', reason: 'duplicate' };
    const handler = this.#handler;
    if (handler === undefined) return { id, status: 'retry', reason: 'no-handler' };
    const message: InboundMessage = relayedBy === undefined ? { from, id, payload } : { from, id, payload, relayedBy };
    try {
      await handler(message);
    } catch (e) {
      const fields = { peer: from, messageId: id, code: errorCode(e), reason: e instanceof Error ? e.message : '' };
      // Not ready yet is an expected race under load (a message that overtook another, ~0.4 per
      // virtual channel at a busy hub), not a failure: debug, so it neither floods the log nor
      // counts as an error.
      if (isSluiceError(e, NOT_READY)) this.#log.debug(fields, 'message not ready here yet; sender will retry');
      else this.#log.warn(fields, 'message handler failed; sender will retry');
      return { id, status: 'retry', reason: isSluiceError(e) ? e.code : 'handler-failed' };
    }
    this.#queueSeen(from, id);
    return { id, status: 'ok', reason: 'accepted' };
  }

  /**
   * Record (from, id) as seen: kept here and written with the next outbox bookkeeping commit or
   * within {@link SEEN_FLUSH_MS} (the write is relaxed anyway: losing it only lets a re-sent
   * message reach the handler again, which is idempotent).
   */
  #queueSeen(from: Address, id: string): void {
    this.#seenPending.set(messageKey(from, id), { from, id, at: this.#clock.now() });
    if (this.#seenPending.size % SEEN_FLUSH_MAX === 0) this.#flushSeen();
    else if (this.#seenTimer === undefined) {
      this.#seenTimer = setTimeout(() => {
        this.#seenTimer = undefined;
        this.#flushSeen();
      }, SEEN_FLUSH_MS);
      this.#seenTimer.unref();
    }
  }

  /**
   * Write the pending seen ids in one relaxed commit. If the store fails, they stay pending (at
   * most {@link SEEN_FLUSH_MAX} × 8: past that the oldest are dropped — dedupe is best effort).
   */
  #flushSeen(): void {
    if (this.#seenPending.size === 0) return;
    try {
      for (const key of this.#store.transaction(() => this.#writeSeen(), RELAXED)) this.#seenPending.delete(key);
    } catch (e) {
      this.#log.warn({ code: errorCode(e) }, 'recording seen message ids failed');
      for (const key of this.#seenPending.keys()) {
        if (this.#seenPending.size <= SEEN_FLUSH_MAX * 8) break;
        this.#seenPending.delete(key);
      }
    }
  }

  /**
   * Write the pending seen ids (inside the caller's transaction); returns their keys, which the
   * caller drops from the pending ones once that transaction committed.
   */
  #writeSeen(): string[] {
    const keys: string[] = [];
    for (const [key, { from, id, at }] of this.#seenPending) {
      this.#store.markSeen(from, id, at);
      keys.push(key);
    }
    return keys;
  }

  /** Whether (from, id) was seen, without recording it (a rolled-back markSeen). */
  #isSeen(from: Address, id: string): boolean {
    if (this.#seenPending.has(messageKey(from, id))) return true;
    if (this.#store.hasSeen !== undefined) return this.#store.hasSeen(from, id);
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

/** A message's identity at its receiver: its sender and its id (dedupe, in-flight deliveries). */
function messageKey(from: Address, id: string): string {
  return `${lower(from)}/${id}`;
}

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + 0.4 * Math.random()));
}
