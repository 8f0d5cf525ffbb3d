/** Public types of the Node API. */
import type { Address, ChannelId } from '../hex.ts';
import type { ChainService } from '../chain.ts';
import type { Clock } from '../ports/clock.ts';
import type { MessageService } from '../ports/messaging.ts';
import type { Store } from '../ports/store.ts';
import type { EngineEvent, EngineEventType } from '../engine/events.ts';
import type { EngineLogger } from '../engine/engine.ts';
import type { EnginePolicy } from '../engine/policy.ts';
import type { FallbackConfig } from '../engine/fallback.ts';
import type { LedgerStatus, VirtualRole, VirtualStatus } from '../engine/records.ts';

/** Options of every asynchronous Node call. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Give up waiting after this long (default: the node's `callTimeoutMs`). The objective itself goes on. */
  readonly timeoutMs?: number;
}

export interface NodeChainInit {
  /** JSON-RPC URL (used when no `chain` component is given). */
  readonly rpcUrl?: string;
  readonly adjudicator?: Address;
  readonly consensusApp: Address;
  readonly virtualPaymentApp: Address;
  /** First block to scan on a fresh store (default: the latest block). Use the deployment block to be safe. */
  readonly startBlock?: number;
  /**
   * The chain's id, when the caller knows it (it picks the default confirmations). Without it a
   * node that connects to `rpcUrl` itself reads the RPC's `eth_chainId` when it starts.
   */
  readonly chainId?: number | bigint;
  /**
   * How deep (in blocks) a chain event must be before the node acts on it. Default: 1 on a local
   * development chain (`LOCAL_CHAIN_IDS`: 31337, 1337), `PUBLIC_CHAIN_CONFIRMATIONS` (12) on any
   * other; 1 when the chain is a component and `chainId` is not given. The effective value is
   * `node.confirmations` once started.
   */
  readonly confirmations?: number;
  readonly pollIntervalMs?: number;
  /** Deadline of one chain call (default 60 000). */
  readonly timeoutMs?: number;
}

export interface HubPeer {
  readonly address: Address;
  readonly multiaddrs: readonly string[];
}

export interface NodeInit {
  /** 32-byte secp256k1 key: signs states and vouchers, pays gas, and is the libp2p identity. Never logged. */
  readonly privateKey: Uint8Array | string;
  readonly chain: NodeChainInit;
  /** A sqlite file path, an open Store, or absent for an in-memory store. */
  readonly store?: string | Store;
  /** libp2p listen multiaddrs (default `/ip4/127.0.0.1/tcp/0`). */
  readonly listen?: readonly string[];
  readonly announce?: readonly string[];
  /** Largest number of open libp2p connections (default: libp2p's, 300). A hub raises it. */
  readonly maxConnections?: number;
  /** New inbound libp2p connections accepted per second from one host (default: libp2p's, 5). */
  readonly inboundConnectionsPerHost?: number;
  /** The hub this node uses (dialled, kept connected, relays to other peers). */
  readonly hub?: HubPeer;
  /**
   * Peers reachable directly, e.g. the provider a client pays: messages to them are sent
   * straight to their multiaddrs instead of through the hub, which stays the fallback route
   * (used for a while after a direct dial fails). Their messages back use the same connection.
   */
  readonly peers?: readonly HubPeer[];
  /** What this node agrees to; `policy.hub` makes it a hub (it also relays messages). */
  readonly policy?: EnginePolicy;
  /** Default wait of asynchronous calls (default 60 000). */
  readonly callTimeoutMs?: number;
  /** Stall report / message re-send interval of an objective (default 30 000). */
  readonly objectiveTimeoutMs?: number;
  /** A ledger opening nobody funded, idle this long, is abandoned; a later deposit resumes it (default an hour; see `EngineInit.openingTimeoutMs`). */
  readonly openingTimeoutMs?: number;
  /** As a hub: a virtual channel whose payee has not signed the prefund this long after the hub joined is given up, payer and payee told (default 60 s; see `EngineInit.prefundTimeoutMs`). */
  readonly prefundTimeoutMs?: number;
  /** Challenge duration of new ledger channels, seconds (default 86 400). */
  readonly ledgerChallengeDuration?: number;
  /** Challenge duration of new virtual channels, seconds (default 3 600). */
  readonly virtualChallengeDuration?: number;
  /** Messaging retry policy (libp2p adapter). */
  readonly messagingRetry?: { readonly initialBackoffMs?: number; readonly maxBackoffMs?: number; readonly expiryMs?: number; readonly ackTimeoutMs?: number };
  /**
   * On-chain fallback: `auto` (default true) settles on chain by itself when a peer stays silent
   * for `peerTimeoutMs` (default 600 000) during an objective that needs it; `cooperativeTimeoutMs`
   * is how long `settleVirtualChannel` / `exitLedgerChannel` try the cooperative close first
   * (default `callTimeoutMs`). The watchtower (answering stale challenges) is always on.
   */
  readonly fallback?: FallbackConfig & { readonly cooperativeTimeoutMs?: number };
  /** Transaction retry policy. */
  readonly txMaxAttempts?: number;
  readonly txRetryDelayMs?: number;
}

/** Dependencies; each defaults to the real adapter built from `init`. */
export interface NodeComponents {
  readonly store?: Store;
  readonly messaging?: MessageService;
  readonly chain?: ChainService;
  readonly clock?: Clock;
  readonly logger?: EngineLogger;
}

export interface LedgerChannelInfo {
  readonly channelId: ChannelId;
  readonly counterparty: Address;
  readonly asset: Address;
  readonly status: LedgerStatus;
  /** True when we are the ledger's leader (participant 0, who proposes). */
  readonly leader: boolean;
  /** Agreed (doubly signed) turn, 0 while funding. */
  readonly turnNum: number;
  /** Our free balance in the agreed state (the prefund deposit while funding). */
  readonly myBalance: bigint;
  readonly counterpartyBalance: bigint;
  /** Locked in guarantees for virtual channels. */
  readonly locked: bigint;
  /** Number of virtual channels the ledger guarantees. */
  readonly guarantees: number;
  /**
   * A closed ledger: what closing it paid us on chain (our allocation in a cooperative close's
   * final state, our share of an on-chain exit's payout). Absent when not known. Kept in the store,
   * so it survives restarts (ledgers closed before it existed do not have it).
   */
  readonly paidOut?: bigint;
}

export interface VirtualChannelInfo {
  readonly channelId: ChannelId;
  readonly role: VirtualRole;
  readonly payer: Address;
  readonly hub: Address;
  readonly payee: Address;
  readonly asset: Address;
  /** The payer's balance locked in the channel. */
  readonly amount: bigint;
  readonly status: VirtualStatus;
  /** Paid so far: vouchers signed (payer) or the best voucher received (payee); the final amount once closed. */
  readonly paid: bigint;
  readonly remaining: bigint;
}

/** Options of `settleVirtualChannel` / `exitLedgerChannel` (the CLIs' `settle` / `withdraw`). */
export interface SettleOptions extends CallOptions {
  /** Go on chain at once, without trying the cooperative close (`--force`). */
  readonly force?: boolean;
  /** How long the cooperative attempt may take before going on chain (default: `fallback.cooperativeTimeoutMs`). */
  readonly cooperativeTimeoutMs?: number;
  /**
   * On chain: also wait until the fallback objectives complete (the challenge duration must pass,
   * then reclaim and payout), bounded by `timeoutMs`. Default false: resolve once started; follow
   * with `getDisputes()` and the `payout` / `ledgerChannelClosed` / `virtualChannelClosed` events.
   */
  readonly wait?: boolean;
}

/** How a settle / exit went. */
export type SettleResult =
  | {
      readonly mode: 'cooperative';
      /** Virtual channels: what the payee was paid. */
      readonly paid?: bigint;
      /** A ledger still opening, with nothing of ours in it, was given up (nothing to withdraw). */
      readonly openingGivenUp?: true;
    }
  | { readonly mode: 'onChain'; /** The fallback objectives settling the channel (and the channels tied to it). */ readonly objectiveIds: readonly string[] };

export type NodeEvent = EngineEvent;
export type NodeEventType = EngineEventType;
export type NodeEventOf<T extends NodeEventType> = Extract<NodeEvent, { type: T }>;
