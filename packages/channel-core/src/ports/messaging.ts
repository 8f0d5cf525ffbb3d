/**
 * The node-to-node messaging port (declared by its consumer, the engine).
 *
 * Peers are addressed by Ethereum address: a node's secp256k1 key is its libp2p identity, so
 * the transport authenticates the sender's address. Delivery is at-least-once with
 * acknowledgements and retries from a persisted outbox; receivers deduplicate by message id,
 * so handlers see each message once.
 */
import type { Address } from '../hex.ts';

/** An application message: opaque bytes the engine parses and validates itself. */
export interface InboundMessage {
  /**
   * The sender. Authenticated by the transport's identity when {@link relayedBy} is absent;
   * for a relayed message it is only *asserted* by the relay (a lying relay could forge it),
   * so the engine must rely on the signatures inside the payload (signed states and vouchers
   * are self-authenticating) and never on `from` alone for anything that moves money.
   */
  readonly from: Address;
  /** Sender-unique id (used for deduplication, per sender). */
  readonly id: string;
  readonly payload: Uint8Array;
  /** Set when a relay (hub) forwarded the message: the relay's authenticated address. */
  readonly relayedBy?: Address;
}

export interface SendOptions {
  readonly signal?: AbortSignal;
}

/** Why a queued message was given up: it expired unacknowledged, or a peer refused it for good. */
export type UndeliverableReason = 'expired' | 'rejected';

/** A message the service gave up on. The engine decides what follows (retry, challenge, fail). */
export interface UndeliverableMessage {
  readonly id: string;
  readonly to: Address;
  /** Set on a relay for a message it was forwarding: the original sender. */
  readonly from?: Address;
  readonly payload: Uint8Array;
  readonly createdAt: number;
  readonly attempts: number;
  readonly reason: UndeliverableReason;
  /** Short machine-readable detail (e.g. the peer's rejection reason). */
  readonly detail?: string;
}

export interface MessageService {
  /** Our own address. */
  readonly self: Address;
  /**
   * Queue `payload` for `to`. Resolves once the message is durably queued (not when delivered);
   * delivery is retried until acknowledged or the message expires.
   * @returns the message id
   */
  send(to: Address, payload: Uint8Array, options?: SendOptions): Promise<string>;
  /**
   * Register the single handler for inbound messages (deduplicated, authenticated). A message
   * is acknowledged only after the handler resolves; if it throws (e.g. `PROTOCOL_NOT_READY`)
   * the sender is told to retry later. Delivery is at-least-once across crashes (a crash
   * between the handler resolving and the dedupe record being written redelivers), so
   * handlers must be idempotent; ordering between messages is not guaranteed.
   */
  onMessage(handler: (message: InboundMessage) => void | Promise<void>): void;
  /**
   * Register a listener for messages given up on (expired or permanently rejected). Messages
   * are never dropped silently: without a listener the service logs them as errors.
   */
  onUndeliverable(handler: (message: UndeliverableMessage) => void): void;
  /**
   * Peers we hold an open connection to now (optional: a component that cannot tell leaves it
   * out). The engine takes a connected peer as alive when it decides whom to blame for a stall.
   */
  connectedPeers?(): Address[];
  start(): Promise<void>;
  stop(): Promise<void>;
}
