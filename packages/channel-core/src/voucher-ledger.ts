/**
 * Pure voucher bookkeeping for the two ends of a virtual channel.
 *
 * - {@link PayerLedger}: Alice's side. `pay(channelId, increase)` signs the next cumulative
 *   voucher and refuses to exceed what she locked in the channel.
 * - {@link PayeeLedger}: Bob's side. `receive(voucher, { price })` decides whether a voucher is a
 *   new best payment, with no side effect until every check has passed.
 *
 * No I/O: the caller persists the returned best voucher (durably) before serving anything
 * that depends on it — decide, then persist, then serve.
 */
import { type Address, type ChannelId, assertUint, parseBytes32 } from './hex.ts';
import { parseAddress, parsePrivateKey, privateKeyToAddress, sameAddress } from './address.ts';
import { SluiceError, type SluiceErrorCode } from './errors.ts';
import { type Voucher, signVoucher, verifyVoucher } from './voucher.ts';

/** A virtual channel as the voucher layer sees it. */
export interface VoucherChannel {
  readonly channelId: ChannelId;
  readonly payer: Address;
  readonly payee: Address;
  /** What the payer locked for the payee in the channel: the most any voucher may carry. */
  readonly balance: bigint;
}

interface PayerEntry extends VoucherChannel {
  paid: bigint;
  last: Voucher | undefined;
}

/** The payer's side: signs monotonically increasing cumulative vouchers within the balance. */
export class PayerLedger {
  readonly #key: Uint8Array;
  readonly address: Address;
  readonly #channels = new Map<ChannelId, PayerEntry>();

  /** @param privateKey - the payer's key (kept in memory, never exposed or logged) */
  constructor(privateKey: Uint8Array | string) {
    this.#key = Uint8Array.from(parsePrivateKey(privateKey));
    this.address = privateKeyToAddress(this.#key);
  }

  /**
   * Start paying on a channel. `alreadyPaid` restores a channel after a restart.
   * @throws TypeError/RangeError on bad arguments; SluiceError INVALID_ARGUMENT if we are not the payer
   *   or the channel is already registered
   */
  register(channel: VoucherChannel, alreadyPaid: Voucher | undefined = undefined): void {
    const channelId = parseBytes32(channel.channelId, 'channelId');
    const payer = parseAddress(channel.payer, 'payer');
    const payee = parseAddress(channel.payee, 'payee');
    assertUint(channel.balance, 'balance');
    if (!sameAddress(payer, this.address)) throw new SluiceError('INVALID_ARGUMENT', 'this ledger is not the payer of the channel');
    if (this.#channels.has(channelId)) throw new SluiceError('INVALID_ARGUMENT', 'channel is already registered', { details: { channelId } });
    const paid = alreadyPaid?.amount ?? 0n;
    if (paid > channel.balance) throw new SluiceError('INVALID_ARGUMENT', 'restored voucher exceeds the channel balance');
    this.#channels.set(channelId, { channelId, payer, payee, balance: channel.balance, paid, last: alreadyPaid });
  }

  /** Forget a channel (closed, or failed to open). */
  remove(channelId: ChannelId): void {
    this.#channels.delete(channelId.toLowerCase() as ChannelId);
  }

  /** How many channels are tracked. */
  get size(): number {
    return this.#channels.size;
  }

  /**
   * Sign the next cumulative voucher, raising the total by `increase` (> 0).
   * @throws SluiceError CHANNEL_UNKNOWN, INSUFFICIENT_BALANCE (nothing is signed), INVALID_ARGUMENT
   */
  pay(channelId: ChannelId, increase: bigint): Voucher {
    const ch = this.#entry(channelId);
    assertUint(increase, 'increase');
    if (increase === 0n) throw new SluiceError('INVALID_ARGUMENT', 'a payment must increase the amount');
    const next = ch.paid + increase;
    if (next > ch.balance) {
      throw new SluiceError('INSUFFICIENT_BALANCE', 'payment would exceed the channel balance', {
        details: { channelId: ch.channelId, paid: ch.paid.toString(), increase: increase.toString(), balance: ch.balance.toString() },
      });
    }
    const voucher = signVoucher(ch.channelId, next, this.#key);
    ch.paid = next;
    ch.last = voucher;
    return voucher;
  }

  /** Total paid so far on the channel. @throws SluiceError CHANNEL_UNKNOWN */
  paid(channelId: ChannelId): bigint {
    return this.#entry(channelId).paid;
  }

  /** What can still be paid. @throws SluiceError CHANNEL_UNKNOWN */
  remaining(channelId: ChannelId): bigint {
    const ch = this.#entry(channelId);
    return ch.balance - ch.paid;
  }

  /** The last voucher signed (to resend after a reconnect). */
  lastVoucher(channelId: ChannelId): Voucher | undefined {
    return this.#entry(channelId).last;
  }

  #entry(channelId: ChannelId): PayerEntry {
    const ch = this.#channels.get(channelId.toLowerCase() as ChannelId);
    if (ch === undefined) throw new SluiceError('CHANNEL_UNKNOWN', 'no such channel', { details: { channelId } });
    return ch;
  }
}

/** Payee-side status of a channel. */
export type PayeeChannelStatus = 'proposed' | 'funded' | 'closing';

interface PayeeEntry extends VoucherChannel {
  status: PayeeChannelStatus;
  best: Voucher | undefined;
}

/** What {@link PayeeLedger.receive} decided. */
export type ReceiveResult =
  /** A new best voucher: persist it, then serve up to `total`. */
  | { readonly kind: 'accepted'; readonly voucher: Voucher; readonly increase: bigint; readonly total: bigint }
  /** Same amount as the best so far, or lower: nothing changes, the connection goes on. */
  | { readonly kind: 'duplicate' | 'stale'; readonly total: bigint }
  /** Refused; nothing was recorded. `error.code` says why. */
  | { readonly kind: 'rejected'; readonly error: SluiceError };

export interface ReceiveOptions {
  /** The increase must be at least this (what is about to be served). Default 1. */
  readonly price?: bigint;
  /** Signature check; defaults to {@link verifyVoucher}. */
  readonly verify?: (voucher: Voucher, payer: Address) => boolean;
}

function reject(code: SluiceErrorCode, message: string, details: Record<string, unknown>): ReceiveResult {
  return { kind: 'rejected', error: new SluiceError(code, message, { details }) };
}

/** The payee's side: accepts only strictly increasing, correctly signed, funded vouchers. */
export class PayeeLedger {
  readonly address: Address;
  readonly #channels = new Map<ChannelId, PayeeEntry>();

  /** @param payee - our own address */
  constructor(payee: Address) {
    this.address = parseAddress(payee, 'payee');
  }

  /**
   * Track a channel. `best` restores the best voucher persisted before a restart
   * (it is re-verified). New channels start as 'proposed' until {@link markFunded}.
   * @throws TypeError/RangeError on bad arguments, SluiceError INVALID_ARGUMENT on a bad restore
   */
  register(channel: VoucherChannel, options: { status?: PayeeChannelStatus; best?: Voucher } = {}): void {
    const channelId = parseBytes32(channel.channelId, 'channelId');
    const payer = parseAddress(channel.payer, 'payer');
    const payee = parseAddress(channel.payee, 'payee');
    assertUint(channel.balance, 'balance');
    if (this.#channels.has(channelId)) throw new SluiceError('INVALID_ARGUMENT', 'channel is already registered', { details: { channelId } });
    const best = options.best;
    if (best !== undefined && (best.channelId !== channelId || best.amount > channel.balance || !verifyVoucher(best, payer))) {
      throw new SluiceError('INVALID_ARGUMENT', 'restored voucher is not valid for this channel', { details: { channelId } });
    }
    this.#channels.set(channelId, { channelId, payer, payee, balance: channel.balance, status: options.status ?? 'proposed', best });
  }

  /** Postfund complete: vouchers may now be accepted. @throws SluiceError CHANNEL_UNKNOWN */
  markFunded(channelId: ChannelId): void {
    const ch = this.#entry(channelId);
    if (ch.status === 'proposed') ch.status = 'funded';
  }

  /** Closing has begun: no more vouchers are accepted. @throws SluiceError CHANNEL_UNKNOWN */
  markClosing(channelId: ChannelId): void {
    this.#entry(channelId).status = 'closing';
  }

  /** Forget a closed channel. */
  remove(channelId: ChannelId): void {
    this.#channels.delete(channelId.toLowerCase() as ChannelId);
  }

  /** Whether `channelId` is tracked (we are its payee and it is not removed). */
  has(channelId: ChannelId): boolean {
    return this.#channels.has(channelId.toLowerCase() as ChannelId);
  }

  /** How many channels are tracked. */
  get size(): number {
    return this.#channels.size;
  }

  /** The best voucher so far (what to persist and, at the end, redeem). */
  best(channelId: ChannelId): Voucher | undefined {
    return this.#channels.get(channelId.toLowerCase() as ChannelId)?.best;
  }

  /** Total received on the channel (0 if none). */
  total(channelId: ChannelId): bigint {
    return this.best(channelId)?.amount ?? 0n;
  }

  /**
   * Decide on a voucher without changing anything. Checks, in order: channel registered;
   * funded and not closing; we are the payee; amount > best (else a reported no-op) and
   * <= the payer's balance; signer is the payer; increase covers `price`.
   */
  evaluate(voucher: Voucher, options: ReceiveOptions = {}): ReceiveResult {
    const channelId = voucher.channelId;
    const ch = typeof channelId === 'string' ? this.#channels.get(channelId.toLowerCase() as ChannelId) : undefined;
    if (ch === undefined) return reject('CHANNEL_UNKNOWN', 'voucher is for an unknown channel', { channelId });
    if (ch.status === 'proposed') return reject('CHANNEL_NOT_FUNDED', 'channel is not funded yet', { channelId });
    if (ch.status === 'closing') return reject('CHANNEL_CLOSING', 'channel is closing', { channelId });
    if (!sameAddress(ch.payee, this.address)) return reject('VOUCHER_WRONG_PAYEE', 'we are not the payee of this channel', { channelId });
    const amount = voucher.amount;
    if (typeof amount !== 'bigint' || amount < 0n) return reject('VOUCHER_MALFORMED', 'voucher amount is not a uint256', { channelId });
    const prior = ch.best?.amount ?? 0n;
    if (amount === prior && ch.best !== undefined) return { kind: 'duplicate', total: prior };
    if (amount <= prior) return { kind: 'stale', total: prior };
    if (amount > ch.balance) {
      return reject('VOUCHER_EXCEEDS_BALANCE', 'voucher exceeds the payer balance in the channel', {
        channelId, amount: amount.toString(), balance: ch.balance.toString(),
      });
    }
    const verify = options.verify ?? verifyVoucher;
    if (!verify(voucher, ch.payer)) return reject('VOUCHER_BAD_SIGNATURE', 'voucher is not signed by the payer', { channelId });
    const increase = amount - prior;
    const price = options.price ?? 1n;
    if (increase < price) {
      return reject('VOUCHER_UNDERPAYMENT', 'voucher does not pay for what was asked', {
        channelId, increase: increase.toString(), price: price.toString(),
      });
    }
    return { kind: 'accepted', voucher, increase, total: amount };
  }

  /**
   * {@link evaluate}, then record an accepted voucher as the new best. Nothing else changes
   * state; a duplicate/stale voucher is reported, never an error.
   */
  receive(voucher: Voucher, options: ReceiveOptions = {}): ReceiveResult {
    const result = this.evaluate(voucher, options);
    if (result.kind === 'accepted') this.#entry(voucher.channelId).best = voucher;
    return result;
  }

  #entry(channelId: ChannelId): PayeeEntry {
    const ch = this.#channels.get(channelId.toLowerCase() as ChannelId);
    if (ch === undefined) throw new SluiceError('CHANNEL_UNKNOWN', 'no such channel', { details: { channelId } });
    return ch;
  }
}
