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
  /** Authenticated sender (from the transport's identity, never from the payload). */
  readonly from: Address;
  /** Sender-unique id (used for deduplication). */
  readonly id: string;
  readonly payload: Uint8Array;
}

export interface SendOptions {
  readonly signal?: AbortSignal;
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
  /** Register the single handler for inbound messages (deduplicated, authenticated). */
  onMessage(handler: (message: InboundMessage) => void | Promise<void>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}
