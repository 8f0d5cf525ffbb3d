/**
 * The client's consumer-side port onto its channel node. Adapters: {@link DevPayerChannels}
 * (dev channel registry + channel-core's PayerLedger; tests and demos) and
 * `node-channels.ts` (the engine's Node API).
 */
import type { Address, ChannelId, Voucher } from '@sluice/channel-core';

/** A virtual channel we pay on. */
export interface PayerChannelView {
  readonly channelId: ChannelId;
  readonly payee: Address;
  readonly asset: Address;
  /** What we locked for the payee. */
  readonly balance: bigint;
  /** Cumulative amount of the last voucher we signed. */
  readonly paid: bigint;
  /** Funded and not closing: it can still pay (a closed or closing channel cannot). */
  readonly open: boolean;
}

export interface EnsureChannelRequest {
  readonly payee: Address;
  readonly hub: Address | null;
  readonly asset: Address;
  /** The channel must still be able to pay at least this much (remaining = balance − paid). */
  readonly amount: bigint;
  /** Size of a new channel when none can be reused (≥ amount). */
  readonly deposit: bigint;
  /** Most the client may lock in total (ledger deposit/top-up and the new channel); undefined = no limit. */
  readonly budget?: bigint;
  readonly signal?: AbortSignal;
}

export interface PayerChannels {
  readonly address: Address;
  /**
   * Reuse a funded virtual channel to `payee` in `asset` with enough remaining, or open one
   * of `deposit` (making sure a ledger channel with the hub exists, within `budget`).
   * Resolves once the channel is funded.
   * @throws SluiceError BUDGET_EXCEEDED, INSUFFICIENT_BALANCE, CHAIN_*, PEER_TIMEOUT, ABORTED
   */
  ensureChannel(request: EnsureChannelRequest): Promise<PayerChannelView & { readonly opened: boolean }>;
  /** The channel, or `undefined` when we do not pay on it. */
  getChannel(channelId: ChannelId): Promise<PayerChannelView | undefined>;
  /**
   * Sign the next cumulative voucher (+`increase`); recorded before it is returned.
   * @throws SluiceError INSUFFICIENT_BALANCE (nothing signed), CHANNEL_UNKNOWN
   */
  pay(channelId: ChannelId, increase: bigint): Promise<Voucher>;
  /** The last voucher we signed on the channel (to resend after a reconnect). */
  lastVoucher(channelId: ChannelId): Voucher | undefined;
  /** Close (defund) the virtual channel. */
  close(channelId: ChannelId): Promise<void>;
  /** Release resources (flush records). */
  stop?(): Promise<void>;
}
