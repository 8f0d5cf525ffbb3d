/**
 * An in-memory network of {@link MessageService}s for multi-node unit tests.
 *
 * It keeps the libp2p adapter's contract (at-least-once delivery, retried until the
 * receiver's handler resolves, deduplicated by (sender, id), expiry reported through
 * `onUndeliverable`) and adds what real networks do to test code: random per-attempt delay
 * (hence reordering), random loss and duplicate delivery, all from a seeded PRNG so a failing
 * seed can be replayed. Timers are real (`setTimeout`); keep delays small in tests.
 */
import { parseAddress, sameAddress } from '../address.ts';
import { SluiceError } from '../errors.ts';
import type { Address } from '../hex.ts';
import { seededRandom } from './prng.ts';
import type { InboundMessage, MessageService, SendOptions, UndeliverableMessage } from '../ports/messaging.ts';

export interface MemoryNetworkInit {
  /** Smallest delay of one delivery attempt (default 0). */
  readonly minDelayMs?: number;
  /** Largest delay of one delivery attempt (default `minDelayMs`). */
  readonly maxDelayMs?: number;
  /** Probability that an attempt is lost and retried (default 0, must be < 1). */
  readonly dropRate?: number;
  /** Probability that a delivered message is delivered again (a lost ack; default 0). */
  readonly duplicateRate?: number;
  /** PRNG seed (default 1). The same seed replays the same delays, drops and ids. */
  readonly seed?: number;
  /** Delay before retrying a lost or refused attempt (default `max(maxDelayMs, 5)`). */
  readonly retryDelayMs?: number;
  /** Give up (report `expired`) after this long (default: never). */
  readonly expiryMs?: number;
}

export interface MemoryNetworkStats {
  readonly sent: number;
  readonly delivered: number;
  readonly dropped: number;
  /** Deliveries suppressed by deduplication. */
  readonly duplicates: number;
  readonly retried: number;
  readonly undeliverable: number;
}

/** A node of the in-memory network. */
export interface MemoryMessageService extends MessageService {
  /** Whether the node is started (messages to a stopped node wait for it). */
  readonly running: boolean;
}

export interface MemoryNetwork {
  /** The node for `address` (created on first use; the same object afterwards). */
  service(address: Address): MemoryMessageService;
  /** Messages queued and not yet acknowledged or given up. */
  pending(): number;
  /** Resolves once nothing is pending (or rejects after `timeoutMs`, default 10 s). */
  idle(timeoutMs?: number): Promise<void>;
  stats(): MemoryNetworkStats;
  /** Cancel every timer; pending messages are abandoned silently (end of test). */
  close(): void;
}

interface Pending {
  readonly id: string;
  readonly from: Address;
  readonly to: Address;
  readonly payload: Uint8Array;
  readonly createdAt: number;
  attempts: number;
}

interface Node {
  readonly address: Address;
  running: boolean;
  handler: ((message: InboundMessage) => void | Promise<void>) | undefined;
  readonly undeliverable: ((message: UndeliverableMessage) => void)[];
  readonly seen: Set<string>;
  readonly inflight: Map<string, Promise<boolean>>;
  service: MemoryMessageService | undefined;
}

function nonNegative(n: number, name: string): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${name} must be a non-negative number`);
  return n;
}

/**
 * Create an in-memory network.
 * @param init - delays, loss, duplication and the PRNG seed
 * @throws RangeError on out-of-range settings
 */
export function createMemoryNetwork(init: MemoryNetworkInit = {}): MemoryNetwork {
  const minDelay = nonNegative(init.minDelayMs ?? 0, 'minDelayMs');
  const maxDelay = nonNegative(init.maxDelayMs ?? minDelay, 'maxDelayMs');
  if (maxDelay < minDelay) throw new RangeError('maxDelayMs must be >= minDelayMs');
  const dropRate = nonNegative(init.dropRate ?? 0, 'dropRate');
  if (dropRate >= 1) throw new RangeError('dropRate must be < 1');
  const duplicateRate = nonNegative(init.duplicateRate ?? 0, 'duplicateRate');
  if (duplicateRate > 1) throw new RangeError('duplicateRate must be <= 1');
  const retryDelay = nonNegative(init.retryDelayMs ?? Math.max(maxDelay, 5), 'retryDelayMs');
  const expiry = init.expiryMs === undefined ? Infinity : nonNegative(init.expiryMs, 'expiryMs');
  const random = seededRandom(init.seed ?? 1);

  const nodes = new Map<string, Node>();
  const pending = new Set<Pending>();
  const timers = new Set<NodeJS.Timeout>();
  const idleWaiters = new Set<() => void>();
  let closed = false;
  let seq = 0;
  const stats = { sent: 0, delivered: 0, dropped: 0, duplicates: 0, retried: 0, undeliverable: 0 };

  const delay = (): number => minDelay + random() * (maxDelay - minDelay);

  function schedule(ms: number, fn: () => void): void {
    if (closed) return;
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) fn();
    }, ms);
    timers.add(t);
  }

  function settle(message: Pending): void {
    pending.delete(message);
    if (pending.size === 0) for (const w of [...idleWaiters]) w();
  }

  function retry(message: Pending): void {
    stats.retried++;
    schedule(retryDelay, () => attempt(message));
  }

  function attempt(message: Pending): void {
    message.attempts++;
    if (Date.now() - message.createdAt >= expiry) {
      settle(message);
      stats.undeliverable++;
      const sender = nodes.get(message.from.toLowerCase());
      const dead: UndeliverableMessage = {
        id: message.id,
        to: message.to,
        payload: message.payload,
        createdAt: message.createdAt,
        attempts: message.attempts,
        reason: 'expired',
      };
      for (const h of sender?.undeliverable ?? []) h(dead);
      return;
    }
    const sender = nodes.get(message.from.toLowerCase());
    const target = nodes.get(message.to.toLowerCase());
    if (sender?.running !== true || target?.running !== true || target.handler === undefined) return retry(message);
    if (random() < dropRate) {
      stats.dropped++;
      return retry(message);
    }
    const duplicate = random() < duplicateRate;
    void receive(target, message).then((acked) => {
      if (!acked) return retry(message);
      settle(message);
      if (duplicate) schedule(delay(), () => void receive(target, message));
    });
  }

  /** Deliver to `target` (deduplicated); true once acknowledged. */
  async function receive(target: Node, message: Pending): Promise<boolean> {
    const key = `${message.from.toLowerCase()}/${message.id}`;
    const running = target.inflight.get(key);
    if (running !== undefined) return running;
    if (target.seen.has(key)) {
      stats.duplicates++;
      return true;
    }
    const handler = target.handler;
    if (handler === undefined || !target.running) return false;
    const p = (async () => {
      try {
        await handler({ from: message.from, id: message.id, payload: message.payload.slice() });
      } catch {
        return false;
      }
      target.seen.add(key);
      stats.delivered++;
      return true;
    })();
    target.inflight.set(key, p);
    try {
      return await p;
    } finally {
      target.inflight.delete(key);
    }
  }

  function makeNode(address: Address): Node & { service: MemoryMessageService } {
    const node: Node = {
      address,
      running: false,
      handler: undefined,
      undeliverable: [],
      seen: new Set(),
      inflight: new Map(),
      service: undefined,
    };
    const service: MemoryMessageService = {
      self: address,
      get running() {
        return node.running;
      },
      async send(to: Address, payload: Uint8Array, options: SendOptions = {}): Promise<string> {
        if (options.signal?.aborted === true) throw new SluiceError('ABORTED', 'send aborted', { cause: options.signal.reason });
        const recipient = parseAddress(to, 'to');
        if (sameAddress(recipient, address)) throw new SluiceError('INVALID_ARGUMENT', 'cannot send a message to ourselves');
        if (!(payload instanceof Uint8Array)) throw new SluiceError('INVALID_ARGUMENT', 'payload must be a Uint8Array');
        if (closed) throw new SluiceError('ABORTED', 'network closed');
        const id = `m${++seq}-${Math.floor(random() * 0xffffffff).toString(16)}`;
        const message: Pending = { id, from: address, to: recipient, payload: payload.slice(), createdAt: Date.now(), attempts: 0 };
        pending.add(message);
        stats.sent++;
        schedule(delay(), () => attempt(message));
        return id;
      },
      onMessage(handler) {
        node.handler = handler;
      },
      onUndeliverable(handler) {
        node.undeliverable.push(handler);
      },
      connectedPeers(): Address[] {
        // "connected": both ends started (the network itself never fails a link)
        if (!node.running) return [];
        return [...nodes.values()].filter((n) => n.running && n.service !== undefined && !sameAddress(n.service.self, address)).map((n) => n.service!.self);
      },
      async start() {
        node.running = true;
      },
      async stop() {
        node.running = false;
      },
    };
    node.service = service;
    return node as Node & { service: MemoryMessageService };
  }

  return {
    service(address: Address): MemoryMessageService {
      const a = parseAddress(address, 'address');
      const existing = nodes.get(a.toLowerCase())?.service;
      if (existing !== undefined) return existing;
      const node = makeNode(a);
      nodes.set(a.toLowerCase(), node);
      return node.service;
    },
    pending: () => pending.size,
    idle(timeoutMs = 10_000): Promise<void> {
      if (pending.size === 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          idleWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(() => {
          idleWaiters.delete(done);
          reject(new SluiceError('PEER_TIMEOUT', 'memory network did not become idle', { details: { pending: pending.size } }));
        }, timeoutMs);
        idleWaiters.add(done);
      });
    },
    stats: () => ({ ...stats }),
    close(): void {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      pending.clear();
      for (const w of [...idleWaiters]) w();
    },
  };
}
