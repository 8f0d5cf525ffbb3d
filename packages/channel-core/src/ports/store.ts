/**
 * The durable store port (declared by its consumer, the engine). Synchronous on purpose: the
 * embedded adapter (node:sqlite) is synchronous, and a write that returns has been committed
 * durably, so "persist, then send" needs no await between the two — except the messaging
 * bookkeeping (`rescheduleOutbox`, `removeOutbox`, `markSeen`, `pruneSeen`), which an adapter may
 * commit without fsync, and `transaction(fn, { durability: 'beforeSend' })`, made durable by
 * `sync()`. The policy and why it is safe: docs/adr/0004-engine-and-durability.md (addendum).
 *
 * Records carry JSON-compatible data (see ../json.ts for bigint/bytes tagging).
 */
import type { Address, ChannelId } from '../hex.ts';

export type ObjectiveStatus = 'active' | 'completed' | 'failed';

/** One row beside a channel record (see {@link Store.syncChannelParts}). */
export interface ChannelPart {
  readonly key: string;
  /** A short string that changes whenever `data` does (compared instead of the data). */
  readonly fingerprint: string;
  readonly data: unknown;
}

export interface ObjectiveRecord {
  readonly id: string;
  readonly type: string;
  readonly status: ObjectiveStatus;
  /** The objective's own state, as its protocol serialises it. */
  readonly data: unknown;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ChannelRecord {
  readonly channelId: ChannelId;
  /** 'ledger' | 'virtual' */
  readonly kind: string;
  readonly data: unknown;
  readonly updatedAt: number;
}

/** Best voucher held (payee) or last voucher signed (payer) on a virtual channel. */
export interface VoucherRecord {
  readonly channelId: ChannelId;
  readonly role: 'payer' | 'payee';
  readonly amount: bigint;
  /** 65-byte r||s||v */
  readonly signature: Uint8Array;
  readonly updatedAt: number;
}

export interface OutboxRecord {
  readonly id: string;
  readonly to: Address;
  readonly payload: Uint8Array;
  readonly createdAt: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
}

/** Options of {@link Store.transaction}. */
export interface TransactionOptions {
  /**
   * `'commit'` (default): durable when `transaction` returns.
   *
   * `'beforeSend'` (group commit): atomic and visible when `transaction` returns, durable at the
   * next {@link Store.sync} — which the messaging adapter calls before it sends or acknowledges
   * anything — or at any later durable commit. Only for steps whose sole external effect is
   * messages handed to that adapter inside the transaction (no chain transaction submitted, no
   * voucher or state returned to a caller, before a `sync`). Many such steps then share one
   * fsync. Adapters without group commit treat it as `'commit'`. Ignored by a nested call: that
   * one is atomic on its own (a savepoint: if it throws, none of its writes remain) and commits
   * with, and as durably as, the outer transaction.
   */
  /**
   * `'relaxed'`: for bookkeeping whose loss on power failure is harmless (the messaging layer's
   * `rescheduleOutbox` / `removeOutbox` / `markSeen`, see below): atomic, never fsync'd for its
   * own sake (`sync` and `syncAsync` do not wait for it; a later durable commit covers it).
   */
  readonly durability?: 'commit' | 'beforeSend' | 'relaxed';
}

/** A position in {@link Store.listStaleChannelIds}' order. */
export interface StaleCursor {
  readonly channelId: ChannelId;
  readonly updatedAt: number;
}

export interface Store {
  /** Run `fn` atomically: all of its writes commit together, durably (see `options`), or none do. */
  transaction<T>(fn: () => T, options?: TransactionOptions): T;

  /**
   * Make every `'beforeSend'` commit so far durable (at most one fsync; nothing to do, and free,
   * when none is pending). Optional: stores without group commit have nothing to sync.
   */
  sync?(): void;

  /**
   * {@link sync} without blocking the event loop: resolves once every `'beforeSend'` commit made
   * before the call is durable (the fsync runs off the main thread; concurrent callers share
   * fsyncs). Optional: callers fall back to `sync()`.
   */
  syncAsync?(): Promise<void>;

  putObjective(record: ObjectiveRecord): void;
  getObjective(id: string): ObjectiveRecord | undefined;
  /** Whether an objective record exists, without reading it. Optional: callers fall back to `getObjective`. */
  hasObjective?(id: string): boolean;
  listObjectives(status?: ObjectiveStatus): ObjectiveRecord[];

  putChannel(record: ChannelRecord): void;
  getChannel(channelId: ChannelId): ChannelRecord | undefined;
  /**
   * Channel records, of `kind` when given; with `statuses`, only those whose `data.status` is one
   * of them (an indexed query where the store supports it: a node lists its open channels without
   * reading every channel it ever had). A store may ignore `statuses` and return more: callers
   * filter anyway.
   */
  listChannels(kind?: string, statuses?: readonly string[]): ChannelRecord[];
  /** How many channel records of `kind` there are per `data.status`, without reading them. Optional: callers fall back to `listChannels`. */
  countChannels?(kind: string): Record<string, number>;

  /**
   * Make a channel's parts — rows kept beside its record, keyed within the channel (a ledger's
   * guarantees, one row each) — exactly `parts`: a row whose key is new or whose `fingerprint`
   * changed is written, a row whose key is gone is deleted, the others are left alone. So adding
   * one guarantee to a ledger that carries many writes one row, not all of them. Optional:
   * without it the engine stores whole records.
   */
  syncChannelParts?(channelId: ChannelId, parts: readonly ChannelPart[]): void;
  /** A channel's parts, ordered by key. */
  listChannelParts?(channelId: ChannelId): { readonly key: string; readonly data: unknown }[];

  /**
   * History retention (all three optional: a store without them keeps everything). The channel
   * records of `kind` whose `data.status` is one of `statuses`, last written before
   * `updatedBefore` (clock ms), oldest first (by update time, then id), after the cursor `after`
   * when given, at most `limit` (an indexed query).
   */
  listStaleChannelIds?(kind: string, statuses: readonly string[], updatedBefore: number, limit: number, after?: StaleCursor): StaleCursor[];
  /**
   * In one transaction: delete these channel records (with their parts and vouchers), these
   * objective records and those whose id starts with one of `objectivePrefixes`, and remember the
   * channel ids as retired ({@link isRetired}), each with the time in its nonce when known
   * (`nonceTimes[i]` for `channelIds[i]`, clock ms; see {@link forgetRetired}). The commit
   * may be relaxed (not fsync'd): losing it only means the records are deleted again later.
   */
  retire?(channelIds: readonly ChannelId[], objectiveIds: readonly string[], now: number, objectivePrefixes?: readonly string[], nonceTimes?: readonly (number | undefined)[]): void;
  /**
   * Forget at most `limit` retired ids whose nonce time is before `nonceTimeBefore`, oldest first
   * (ids retired without one are kept); returns how many, and the newest nonce time among them.
   * Relaxed commit.
   */
  forgetRetired?(nonceTimeBefore: number, limit: number): { readonly forgotten: number; readonly newestNonceTime?: number };
  /** Whether a channel id was retired (its records deleted by {@link retire}); case-insensitive. */
  isRetired?(channelId: ChannelId): boolean;

  /** Keep the voucher only if its amount exceeds the stored one; returns whether it was stored. */
  putVoucherIfHigher(record: VoucherRecord): boolean;
  getVoucher(channelId: ChannelId, role: VoucherRecord['role']): VoucherRecord | undefined;
  listVouchers(role?: VoucherRecord['role']): VoucherRecord[];

  enqueueOutbox(record: OutboxRecord): void;
  /** Messages due at `now` (nextAttemptAt <= now), in the order they were enqueued, at most `limit`. */
  dueOutbox(now: number, limit: number): OutboxRecord[];
  /** Set when to try `id` next and count an attempt; with `attempts`, set the count to it instead. */
  rescheduleOutbox(id: string, nextAttemptAt: number, attempts?: number): void;
  removeOutbox(id: string): void;
  countOutbox(): number;
  /** Whether any message for `to` (as enqueued) is in the outbox. Optional (the libp2p relay relays cut-through only with it). */
  hasOutboxFor?(to: Address): boolean;
  /** How many messages for `to` (as enqueued) are in the outbox. Optional (lets the relay forward cut-through behind messages already in flight). */
  countOutboxFor?(to: Address): number;
  /** How many messages whose id starts with `prefix` are in the outbox. Optional (the relay caps what it stores per sender with it). */
  countOutboxWithPrefix?(prefix: string): number;

  /**
   * Record an inbound message id; false if it was already seen (a duplicate).
   *
   * Durability: outside a transaction an adapter may commit `markSeen`, `rescheduleOutbox`,
   * `removeOutbox` and `pruneSeen` without waiting for the disk (the sqlite adapter does: see its
   * module comment). Losing them on power loss only causes a re-send that idempotent receivers
   * ignore. Inside a `transaction` they are as durable as the transaction.
   */
  markSeen(from: Address, id: string, now: number): boolean;
  /** Whether (from, id) was recorded by `markSeen` (read only). Optional: adapters without it are probed with a rolled-back `markSeen`. */
  hasSeen?(from: Address, id: string): boolean;
  /** Forget seen ids older than `before` (bounded dedupe memory). */
  pruneSeen(before: number): void;

  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  close(): void;
}

/** Meta key of the last fully processed chain block. */
export const LAST_BLOCK_KEY = 'chain.lastBlock';
