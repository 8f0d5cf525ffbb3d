/**
 * The provider's consumer-side port onto its channel node: what the service needs to
 * know about virtual channels and how it hands vouchers over. Adapters:
 * {@link LocalPayeeChannels} (a voucher ledger over a shared dev channel registry, for
 * tests and single-machine demos) and `node-channels.ts` (the channel engine's Node API).
 */
import type { Address, ChannelId, ReceiveResult, Voucher } from '@sluice/channel-core';
import type { DisputeView } from '../fallback/disputes.ts';
import type { ChannelSettleResult, SettleReport } from '../fallback/settle-all.ts';

/** Options of the settle calls (`?force=1`, `?cooperativeTimeoutMs=`). */
export interface SettleRequest {
  /** Go on chain at once. */
  readonly force?: boolean;
  /** How long the cooperative attempt may take before going on chain. */
  readonly cooperativeTimeoutMs?: number;
}

/** Lifecycle of a virtual channel as the provider sees it. */
export type VirtualChannelStatus = 'proposed' | 'funded' | 'closing' | 'closed';

/** A virtual channel on which we (the provider) are paid. */
export interface PayeeChannelView {
  readonly channelId: ChannelId;
  readonly payer: Address;
  readonly payee: Address;
  /** What the payer locked for the payee: the most any voucher may carry. */
  readonly balance: bigint;
  /** Asset address (zero address = native). */
  readonly asset: Address;
  readonly status: VirtualChannelStatus;
  /** Best voucher amount accepted and persisted so far (0 when none). */
  readonly paid: bigint;
}

/**
 * A ledger channel for `sluice-provider status`. Balances (decimal strings) are the last agreed
 * state's while the ledger is live; a closed ledger has none (`null`: they are not held any more)
 * and `paidOut` says what closing it paid us, or `null` when that is not known (an on-chain exit
 * with guarantees settled before this process started: see the chain).
 */
export interface LedgerView {
  readonly channelId: ChannelId;
  readonly counterparty: Address;
  readonly asset: Address;
  readonly status: string;
  readonly myBalance: string | null;
  readonly counterpartyBalance: string | null;
  readonly locked: string | null;
  readonly guarantees: number;
  /** Closed ledgers only: what the close paid us (null when not known). */
  readonly paidOut?: string | null;
}

export interface PayeeChannels {
  /** Our own (payee) address. */
  readonly address: Address;
  /** The channel, or `undefined` when it is unknown to us. */
  getVirtualChannel(channelId: ChannelId): Promise<PayeeChannelView | undefined>;
  /**
   * Decide on a voucher; an accepted one is the new best and is durable (fsync'd) before
   * the promise resolves. Duplicate/stale vouchers are reported, never errors.
   * @param options.price - the increase must cover at least this
   */
  receiveVoucher(voucher: Voucher, options: { price: bigint }): Promise<ReceiveResult>;
  /** Every channel we are payee of (for the admin API and earnings). */
  listVirtualChannels(): Promise<PayeeChannelView[]>;
  /**
   * Why no client can open a channel to us now (e.g. our ledger with the hub was settled), or
   * `undefined` when they can. The service then answers metadata requests and `/healthz` with 503
   * instead of letting a client deposit for a channel that cannot be funded. Optional.
   */
  notReceiving?(): string | undefined;
  /**
   * Total paid to us over every channel, closed ones included (base units, assets summed as the
   * earnings gauge does). Optional: without it the gauge sums {@link listVirtualChannels}, which
   * grows with every channel ever closed.
   */
  earnings?(): Promise<bigint>;
  /** Start closing (defunding) a virtual channel; vouchers are refused from now on. */
  closeVirtualChannel(channelId: ChannelId): Promise<void>;
  /**
   * Withdraw earnings from the ledger channel(s) to the chain. Returns what the adapter reports.
   * A node adapter closes cooperatively first and exits on chain when the hub is gone or `force`.
   */
  withdraw(request?: SettleRequest): Promise<unknown>;
  /**
   * Settle one virtual channel: cooperative close first, on chain when forced or when a peer is
   * gone (`settleVirtualChannel`). Adapters without a chain (dev registry) leave it out.
   */
  settleVirtualChannel?(channelId: ChannelId, request: SettleRequest): Promise<ChannelSettleResult>;
  /** Settle every virtual channel and exit every ledger (cooperative first, or on chain). */
  settleAll?(request: SettleRequest): Promise<SettleReport>;
  /** Channels being settled on chain (phase, time left, amounts). */
  disputes?(): DisputeView[];
  /** Our ledger channels (status, balances) for `status`; a closed one has no balances, only what it paid us out (if known). */
  ledgers?(): LedgerView[];
  /** Recent fallback transactions (tx hashes) and on-chain payouts. */
  fallbackActivity?(): { transactions: unknown[]; payouts: unknown[] };
  start?(): Promise<void>;
  stop?(): Promise<void>;
}
