/**
 * The Sluice node: one engine plus the voucher layer, behind a small typed API that the
 * client, provider and hub build on. `createNode(init, components)` in js-libp2p style:
 * components default to the real adapters (sqlite store, libp2p messaging, ethers chain),
 * loaded lazily so in-memory tests never import them.
 */
import { timedNonce } from '../nonce.ts';
import { type Address, type ChannelId, type Hex } from '../hex.ts';
import { ZERO_ADDRESS, addressToDestination, parseAddress, privateKeyToAddress, sameAddress } from '../address.ts';
import { SluiceError, isSluiceError } from '../errors.ts';
import { LOCAL_CHAIN_IDS, challengeDurationFloorS, defaultConfirmations } from '../chain.ts';
import { readBlockTime } from '../rpc.ts';
import type { MessageService } from '../ports/messaging.ts';
import type { StaleCursor, Store } from '../ports/store.ts';
import { systemClock } from '../ports/clock.ts';
import type { State } from '../state.ts';
import type { Voucher } from '../voucher.ts';
import { PayeeLedger, PayerLedger, type ReceiveResult } from '../voucher-ledger.ts';
import { directFundHasOurDeposit, directFundId, newDirectFund } from '../protocols/direct-fund.ts';
import { newDirectDefund } from '../protocols/direct-defund.ts';
import { newVirtualFund } from '../protocols/virtual-fund.ts';
import { newLedgerTopUp } from '../protocols/ledger-topup.ts';
import { ledgerToChannel, ledgerTotal, pendingOutcome } from '../protocols/ledger.ts';
import { ledgersOf } from '../protocols/objective.ts';
import { directDefundId, finalStateConcluded } from '../protocols/direct-defund.ts';
import { virtualDefundId } from '../protocols/virtual-defund.ts';
import { virtualChallengeId } from '../protocols/virtual-challenge.ts';
import { ledgerExitId } from '../protocols/ledger-exit.ts';
import { type DisputeInfo, FALLBACK_DEFAULTS, defaultHeadStartMs } from '../engine/fallback.ts';
import { type Engine, type HistoryPruned, createEngine } from '../engine/engine.ts';
import { type Owned, chainFor, messagingFor, storeFor } from './adapters.ts';
import { ledgerInfo, virtualInfo } from './info.ts';
import type { EngineEvent } from '../engine/events.ts';
import { assertGuaranteeRoom, freeToLock, topUpInProgress, virtualDefundFor } from '../engine/join.ts';
import { DEFAULT_MAX_LEDGER_GUARANTEES, type EnginePolicy, challengeDurationRange } from '../engine/policy.ts';
import {
  type LedgerData,
  type VirtualData,
  findLedger,
  ONE_PER_PEER_LEDGER_STATUSES,
  getLedgerData,
  getVirtualData,
  listLedgerData,
  listVirtualData,
} from '../engine/records.ts';
import type {
  CallOptions,
  LedgerChannelInfo,
  NodeComponents,
  NodeEventOf,
  NodeEventType,
  NodeInit,
  SettleOptions,
  SettleResult,
  VirtualChannelInfo,
} from './types.ts';

/** Store meta key: the address of the node that owns the store (set on its first start). */
export const STORE_OWNER_KEY = 'node.address';

export interface Node {
  /** Our address (from the key). */
  readonly address: Address;
  /** The engine (advanced use: events, objectives). Available after `start`. */
  readonly engine: Engine;
  /**
   * Blocks a chain event must be deep before the node acts on it: `chain.confirmations`, or the
   * chain's default (1 on a local chain, 12 elsewhere: `defaultConfirmations`). After `start`.
   */
  readonly confirmations: number;
  /**
   * How much longer than its first block a chain event takes here to be `confirmations` deep, ms:
   * (confirmations − 1) × the chain's block time (read at start, 12 s if it cannot be), 0 with one
   * confirmation. The calls that wait for chain events (`createLedgerChannel`,
   * `topUpLedgerChannel`, `closeLedgerChannel`, `exitLedgerChannel`'s wait for a close's payout)
   * add it to their default timeout, `callTimeoutMs`, and `exitLedgerChannel`'s cooperative attempt
   * to its default. After `start`.
   */
  readonly confirmationWaitMs: number;
  /**
   * The chain's mean block time, s, as read at start to compute {@link confirmationWaitMs} and the
   * fallback's head start (more than one confirmation or a public chain, an RPC of our own);
   * undefined when not read or when the chain could not tell.
   */
  readonly blockTimeS: number | undefined;
  /**
   * The challenge durations, s, this node joins ledgers and virtual channels with, inclusive:
   * the policy's `challengeDurations`, or by default 5 min to 30 days with the minimum raised to
   * twice the time a challenge takes to answer here (`challengeDurationFloorS`: 6 min on Ethereum
   * at 12 confirmations). After `start`.
   */
  readonly challengeDurations: { readonly ledger: readonly [number, number]; readonly virtual: readonly [number, number] };
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Our libp2p multiaddrs (with `/p2p/<peerId>`), empty with a non-libp2p messaging component. */
  multiaddrs(): string[];
  /**
   * Whether we hold an open connection to `peer` (e.g. our hub), or `undefined` when the
   * messaging component cannot tell (not libp2p). Lets a caller check a peer is there before
   * committing money to a protocol that needs it.
   */
  peerConnected(peer: Address): boolean | undefined;
  /** Subscribe to one event type; returns the unsubscribe function. */
  on<T extends NodeEventType>(type: T, listener: (event: NodeEventOf<T>) => void): () => void;
  /** Subscribe to every event. */
  onAny(listener: (event: EngineEvent) => void): () => void;

  /**
   * Open a ledger channel with `counterparty` (typically the hub) and fund it on chain: we
   * deposit `deposit` first, then the counterparty its `counterpartyDeposit` (default 0).
   * Resolves once funded (postfund signed by both).
   * @throws SluiceError INVALID_ARGUMENT (a ledger with this peer and asset exists), PEER_TIMEOUT, ABORTED
   */
  createLedgerChannel(
    args: { counterparty: Address; asset?: Address; deposit: bigint; counterpartyDeposit?: bigint },
    options?: CallOptions,
  ): Promise<{ channelId: ChannelId }>;
  /**
   * Deposit `amount` more into an open ledger and have the counterparty credit it. When another
   * deposit into the ledger lands first (the counterparty topping up at the same moment), ours
   * reverts, nothing of it deposited, and it is tried again once that one is credited.
   * @throws SluiceError CHANNEL_UNKNOWN, TOPUP_IN_PROGRESS (a top-up of the ledger is in progress
   *   here: try again later), TOPUP_CONFLICT (beaten by other deposits every try; nothing of ours deposited),
   *   PEER_TIMEOUT, ABORTED
   */
  topUpLedgerChannel(args: { channelId: ChannelId; amount: bigint }, options?: CallOptions): Promise<void>;
  /**
   * Open a virtual channel [me, hub, payee] locking `amount` of ours, through our open ledger
   * with the hub. No transaction. Resolves once funded (postfund signed by all three).
   * @throws SluiceError CHANNEL_UNKNOWN (no open ledger with the hub), INSUFFICIENT_BALANCE, PEER_TIMEOUT, ABORTED
   */
  createVirtualChannel(
    args: { hub?: Address; payee: Address; asset?: Address; amount: bigint },
    options?: CallOptions,
  ): Promise<{ channelId: ChannelId }>;
  /**
   * Sign the next cumulative voucher raising the total by `increase`; it is persisted before it
   * is returned.
   * @throws SluiceError CHANNEL_UNKNOWN, CHANNEL_NOT_FUNDED, CHANNEL_CLOSING, INSUFFICIENT_BALANCE, INVALID_ARGUMENT
   */
  pay(channelId: ChannelId, increase: bigint): Voucher;
  /**
   * {@link pay} with a group commit: the voucher is signed and committed at once (the next call
   * builds on it) and the promise resolves once it is durable (fsync'd) — one fsync for every
   * voucher signed or accepted in the same event-loop turn. Send the voucher only after it resolves.
   * @throws SluiceError as {@link pay} (synchronously decided, reported as a rejection)
   */
  payAsync(channelId: ChannelId, increase: bigint): Promise<Voucher>;
  /**
   * Decide on a payer's voucher (see PayeeLedger.receive); an accepted voucher is persisted before
   * this returns. Never throws for a bad voucher: the result says why.
   */
  receiveVoucher(voucher: Voucher, options?: { price?: bigint }): ReceiveResult;
  /**
   * {@link receiveVoucher} with a group commit: decided and committed at once (so the next voucher
   * is judged against it, and a process crash loses nothing), resolved once durable against power
   * loss — one fsync for every voucher accepted or signed in the same event-loop turn instead of
   * one per voucher. Serve what the voucher pays for only after it resolves ("decide, persist,
   * serve"). A `duplicate` or `stale` result (a replay) resolves only once the best voucher it
   * reports is durable too. Never rejects for a bad voucher (the result says why); rejects if the
   * store fails.
   */
  receiveVoucherAsync(voucher: Voucher, options?: { price?: bigint }): Promise<ReceiveResult>;
  /**
   * Close a virtual channel cooperatively, paying the payee what was paid (payer: vouchers
   * signed; payee: best voucher). Resolves once both ledgers are updated.
   * @throws SluiceError CHANNEL_UNKNOWN, CHANNEL_NOT_FUNDED, PEER_TIMEOUT, ABORTED
   */
  closeVirtualChannel(channelId: ChannelId, options?: CallOptions): Promise<{ paid: bigint }>;
  /**
   * Close a ledger cooperatively and withdraw (`concludeAndTransferAllAssets`). Resolves once
   * the chain shows the channel emptied.
   * @throws SluiceError CHANNEL_UNKNOWN, LEDGER_NOT_EMPTY, PEER_TIMEOUT, ABORTED
   */
  closeLedgerChannel(channelId: ChannelId, options?: CallOptions): Promise<void>;

  /**
   * Settle a virtual channel, cooperatively first: payer or payee run `closeVirtualChannel` for at
   * most `cooperativeTimeoutMs`; on chain when `force`, when a participant is known silent, or when
   * the cooperative close times out. On chain the payee registers the payer's best voucher, the
   * others V's latest supported state, and the ledgers guaranteeing V are exited (reclaim +
   * `transferAllAssets` after the challenge durations). An intermediary settles only on chain.
   * @throws SluiceError CHANNEL_UNKNOWN, CHANNEL_NOT_FUNDED, INVALID_ARGUMENT (a hub without force and no silent peer),
   *   PEER_TIMEOUT / ABORTED (only with `wait`)
   */
  settleVirtualChannel(channelId: ChannelId, options?: SettleOptions): Promise<SettleResult>;
  /**
   * Withdraw from a ledger, cooperatively first (`closeLedgerChannel` for at most
   * `cooperativeTimeoutMs`, needs no virtual channel open in it); on chain when `force`, when the
   * counterparty is known silent, when a virtual channel it guarantees is being settled on chain
   * (its guarantee would only leave the ledger once V finalizes), or when the cooperative close
   * times out. On chain it also
   * settles every virtual channel the ledger guarantees.
   * A ledger still opening (status `funding`): with nothing of ours in it the opening is given up
   * (`cooperative` with `openingGivenUp`; the ledger ends `failed`, a deposit seen later resumes it); with our deposit in
   * it, it is left to open and closed cooperatively if the peer answers within the cooperative
   * timeout, else (or when forced, or the peer is silent) exited on chain with the prefund both
   * signed (`onChain`: every deposit is paid back after the challenge duration).
   * @throws SluiceError CHANNEL_UNKNOWN, LEDGER_NOT_EMPTY (guarantees left and not forced), INVALID_ARGUMENT
   *   (an opening whose deposit of ours is not mined yet), PEER_TIMEOUT / ABORTED (only with `wait`)
   */
  exitLedgerChannel(channelId: ChannelId, options?: SettleOptions): Promise<SettleResult>;
  /** Channels being settled on chain: phase, time left, what each participant gets. */
  getDisputes(): DisputeInfo[];

  getLedgerChannels(): LedgerChannelInfo[];
  getLedgerChannel(channelId: ChannelId): LedgerChannelInfo | undefined;
  /**
   * Virtual channels we take part in; `{ open: true }`: only those not closed or failed, from an
   * in-memory index (cheap however many channels were ever closed).
   */
  getVirtualChannels(options?: { open?: boolean }): VirtualChannelInfo[];
  /** How many virtual channels we took part in, per status (counted by the store, not read). */
  getVirtualChannelCounts(): Partial<Record<VirtualChannelInfo['status'], number>>;
  /**
   * What we were paid as payee, per asset: the final amounts of closed channels plus the best
   * voucher of open ones. Kept incrementally (no scan of closed channels after the first call).
   */
  getPayeeEarnings(): { asset: Address; amount: bigint }[];
  getVirtualChannel(channelId: ChannelId): VirtualChannelInfo | undefined;

  /**
   * History retention: delete the records of virtual channels that closed or failed more than
   * `olderThanMs` ago — channel record, vouchers, objectives (~12 KB per channel) — and of ledgers
   * done with as long (failed openings, closed ledgers: record and objectives), in batches of
   * `batch` (default 200: ~7 ms of work each), yielding to other work between batches. Their ids
   * are remembered (~80 bytes each): no objective for them is started or joined again; under a
   * nonce window (`policy.nonceWindow`, the hub's default) only until their nonces are past it,
   * since a replayed prefund is then refused anyway (`forgotten` counts them). Kept:
   * virtual channels a ledger still guarantees, channels with an objective in progress, closed
   * ledgers whose last state names guarantees, and everything while a channel is being settled on
   * chain. Payee earnings are unchanged (carried into a total). After this, the listings and counts
   * no longer show the deleted channels; {@link getPrunedHistory} counts them.
   * @returns what this call deleted, and how many stale channels it had to keep for now
   */
  pruneHistory(options: { olderThanMs: number; batch?: number; signal?: AbortSignal }): Promise<{ channels: number; objectives: number; kept: number; forgotten: number }>;
  /** What {@link pruneHistory} deleted over the store's life. */
  getPrunedHistory(): { channels: number; objectives: number };
  /** Channels the in-memory voucher ledgers track — as payer and as payee: the open ones (closed and failed ones are dropped). */
  getVoucherLedgerSizes(): { payer: number; payee: number };
}

/**
 * Create a node.
 * @param init - key, chain addresses, store, listen addresses, hub, policy, timeouts
 * @param components - optional store / messaging / chain / clock / logger (tests pass in-memory ones)
 * @throws SluiceError INVALID_ARGUMENT for `chain.confirmations` not an integer ≥ 1
 */
export function createNode(init: NodeInit, components: NodeComponents = {}): Node {
  const c = init.chain.confirmations;
  if (c !== undefined && !(Number.isSafeInteger(c) && c >= 1)) throw new SluiceError('INVALID_ARGUMENT', 'chain.confirmations must be an integer ≥ 1');
  return new NodeImpl(init, components);
}

const GROUP_COMMIT = { durability: 'beforeSend' } as const;
/** Tries of one `topUpLedgerChannel` call whose deposit another deposit beat (TOPUP_CONFLICT). */
const TOPUP_ATTEMPTS = 3;

function simpleExit(asset: Address, entries: readonly (readonly [Address, bigint])[]): State['outcome'][number] {
  return {
    asset,
    assetMetadata: { assetType: 0, metadata: '0x' as Hex },
    allocations: entries.map(([a, amount]) => ({
      destination: addressToDestination(a) as ChannelId,
      amount,
      allocationType: 0 as const,
      metadata: '0x' as Hex,
    })),
  };
}

function uintArg(x: unknown, name: string, positive = false): bigint {
  if (typeof x !== 'bigint' || x < 0n || x >> 256n !== 0n || (positive && x === 0n)) {
    throw new SluiceError('INVALID_ARGUMENT', `${name} must be a ${positive ? 'positive ' : ''}uint256 bigint`);
  }
  return x;
}

class NodeImpl implements Node {
  readonly address: Address;
  readonly #init: NodeInit;
  readonly #components: NodeComponents;
  #engine: Engine | undefined;
  #store: Store | undefined;
  #messaging: MessageService | undefined;
  /** Adapters this node created (messaging, chain, store: closed in that order). */
  #owned: Owned<unknown>[] = [];
  #confirmations: number | undefined;
  #confirmationWaitMs = 0;
  #blockTimeS: number | undefined;
  #policy: EnginePolicy = {};
  #payer: PayerLedger;
  #payee: PayeeLedger;
  readonly #listeners = new Set<(e: EngineEvent) => void>();
  #unsubscribe: (() => void) | undefined;
  /** Callers waiting for the next voucher group commit to be fsync'd. */
  #voucherWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #voucherSync: NodeJS.Immediate | undefined;
  /** Per payee channel, the fsync covering the latest voucher accepted on it, until it completes. */
  readonly #voucherFsyncs = new Map<ChannelId, Promise<void>>();

  constructor(init: NodeInit, components: NodeComponents) {
    this.#init = init;
    this.#components = components;
    this.address = privateKeyToAddress(init.privateKey);
    this.#payer = new PayerLedger(init.privateKey);
    this.#payee = new PayeeLedger(this.address);
  }

  get engine(): Engine {
    if (this.#engine === undefined) throw new SluiceError('INVALID_ARGUMENT', 'node is not started');
    return this.#engine;
  }

  get confirmations(): number {
    if (this.#confirmations === undefined) throw new SluiceError('INVALID_ARGUMENT', 'node is not started');
    return this.#confirmations;
  }

  get confirmationWaitMs(): number {
    if (this.#confirmations === undefined) throw new SluiceError('INVALID_ARGUMENT', 'node is not started');
    return this.#confirmationWaitMs;
  }

  get blockTimeS(): number | undefined {
    return this.#blockTimeS;
  }

  get challengeDurations(): { readonly ledger: readonly [number, number]; readonly virtual: readonly [number, number] } {
    if (this.#confirmations === undefined) throw new SluiceError('INVALID_ARGUMENT', 'node is not started');
    return { ledger: challengeDurationRange(this.#policy, 'ledger'), virtual: challengeDurationRange(this.#policy, 'virtual') };
  }

  get #st(): Store {
    if (this.#store === undefined) throw new SluiceError('INVALID_ARGUMENT', 'node is not started');
    return this.#store;
  }

  multiaddrs(): string[] {
    const m = this.#messaging as (MessageService & { multiaddrs?: () => string[] }) | undefined;
    return typeof m?.multiaddrs === 'function' ? m.multiaddrs() : [];
  }

  peerConnected(peer: Address): boolean | undefined {
    const peers = this.#messaging?.connectedPeers?.();
    return peers === undefined ? undefined : peers.some((a) => sameAddress(a, peer));
  }

  on<T extends NodeEventType>(type: T, listener: (event: NodeEventOf<T>) => void): () => void {
    return this.onAny((e) => {
      if (e.type === type) listener(e as NodeEventOf<T>);
    });
  }

  onAny(listener: (event: EngineEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.#engine !== undefined) return;
    const init = this.#init;
    const store = await storeFor(init, this.#components);
    // A store holds one identity's channels: a node with another key would take them for its own.
    const owner = store.value.getMeta(STORE_OWNER_KEY);
    if (owner === undefined) store.value.setMeta(STORE_OWNER_KEY, this.address);
    else if (!sameAddress(owner, this.address)) {
      await store.close?.();
      throw new SluiceError('INVALID_ARGUMENT', `this store holds the channels of ${owner}, not of our key ${this.address}: use that key, or another store (--data / --home / --store)`);
    }
    let chain: Awaited<ReturnType<typeof chainFor>> | undefined;
    let messaging: Awaited<ReturnType<typeof messagingFor>>;
    try {
      chain = await chainFor(init, this.#components);
      messaging = await messagingFor(init, this.#components, store.value, (from, to) => this.#relays(from, to));
    } catch (e) {
      await chain?.close?.();
      await store.close?.(); // and its lock
      throw e;
    }
    this.#owned = [messaging, chain, store];
    this.#store = store.value;
    const chainId = init.chain.chainId ?? chain.chainId;
    const confirmations = init.chain.confirmations ?? (chainId === undefined ? 1 : defaultConfirmations(chainId));
    this.#confirmations = confirmations;
    // a local chain (or one we know nothing of) at 1 confirmation mines a block per transaction
    const local = confirmations <= 1 && (chainId === undefined || LOCAL_CHAIN_IDS.includes(BigInt(chainId)));
    this.#blockTimeS = local ? undefined : await this.#readBlockTimeS();
    const blockTimeS = this.#blockTimeS ?? 12; // Ethereum's, when the chain cannot tell
    this.#confirmationWaitMs = confirmations <= 1 ? 0 : (confirmations - 1) * blockTimeS * 1000;
    // by default, join only challenges we have time to answer at these confirmations
    const floor = confirmations <= 1 ? 0 : challengeDurationFloorS(confirmations, blockTimeS);
    this.#policy = floor > (init.policy?.challengeDurationFloor ?? 0) ? { ...init.policy, challengeDurationFloor: floor } : (init.policy ?? {});
    this.#messaging = messaging.value;
    const engine = createEngine(
      {
        privateKey: init.privateKey,
        consensusApp: parseAddress(init.chain.consensusApp, 'chain.consensusApp'),
        virtualPaymentApp: parseAddress(init.chain.virtualPaymentApp, 'chain.virtualPaymentApp'),
        policy: this.#policy,
        ...(init.objectiveTimeoutMs === undefined ? {} : { objectiveTimeoutMs: init.objectiveTimeoutMs }),
        ...(init.openingTimeoutMs === undefined ? {} : { openingTimeoutMs: init.openingTimeoutMs }),
        ...(init.prefundTimeoutMs === undefined ? {} : { prefundTimeoutMs: init.prefundTimeoutMs }),
        fallback: {
          ...init.fallback,
          followerHeadStartMs: init.fallback?.followerHeadStartMs ?? defaultHeadStartMs({ pollIntervalMs: init.chain.pollIntervalMs ?? 1000, local, blockTimeS: this.#blockTimeS }),
        },
        ...(init.chain.startBlock === undefined ? {} : { chainStartBlock: init.chain.startBlock }),
        confirmations,
        ...(init.chain.pollIntervalMs === undefined ? {} : { chainPollIntervalMs: init.chain.pollIntervalMs }),
        ...(init.chain.timeoutMs === undefined ? {} : { txTimeoutMs: init.chain.timeoutMs }),
        ...(init.txMaxAttempts === undefined ? {} : { txMaxAttempts: init.txMaxAttempts }),
        ...(init.txRetryDelayMs === undefined ? {} : { txRetryDelayMs: init.txRetryDelayMs }),
      },
      {
        store: store.value,
        messaging: messaging.value,
        chain: chain.value,
        ...(this.#components.clock === undefined ? {} : { clock: this.#components.clock }),
        ...(this.#components.logger === undefined ? {} : { logger: this.#components.logger }),
      },
    );
    this.#engine = engine;
    this.#restoreVouchers(store.value, engine);
    const offCommitted = engine.onCommitted((e) => this.#onCommitted(e));
    const offDurable = engine.on((e) => this.#onEngineEvent(e));
    this.#unsubscribe = () => {
      offCommitted();
      offDurable();
    };
    await engine.start();
    await messaging.value.start();
  }

  async stop(): Promise<void> {
    const engine = this.#engine;
    if (engine === undefined) return;
    const [messaging, ...rest] = this.#owned;
    await messaging?.close?.(); // no new input first
    try {
      // the engine's last group becomes durable while it stops: its events (a payout, a close)
      // still reach our listeners — unsubscribing first lost them (`sluice-hub settle --wait`
      // then missed its payout line now and then)
      await engine.stop();
    } finally {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
    if (this.#voucherSync !== undefined) {
      clearImmediate(this.#voucherSync);
      this.#voucherSync = undefined;
      const waiters = this.#voucherWaiters.splice(0);
      try {
        this.#store?.sync?.();
        for (const w of waiters) w.resolve();
      } catch (e) {
        for (const w of waiters) w.reject(e);
      }
    }
    for (const o of rest) await o.close?.();
    this.#owned = [];
    this.#engine = undefined;
    this.#store = undefined;
    this.#messaging = undefined;
  }

  /** Rebuild the in-memory voucher ledgers from the store (after a restart): the open channels, from the engine's index. */
  #restoreVouchers(store: Store, engine: Engine): void {
    this.#payer = new PayerLedger(this.#init.privateKey);
    this.#payee = new PayeeLedger(this.address);
    for (const vd of engine.openVirtualChannels()) this.#registerVoucherChannel(store, vd);
  }

  #registerVoucherChannel(store: Store, vd: VirtualData): void {
    if (vd.status === 'closed' || vd.status === 'failed' || vd.role === 'intermediary') return;
    const channel = { channelId: vd.channelId, payer: vd.payer, payee: vd.payee, balance: vd.amount };
    const role = vd.role;
    const rec = store.getVoucher(vd.channelId, role);
    const voucher: Voucher | undefined = rec === undefined ? undefined : { channelId: vd.channelId, amount: rec.amount, signature: rec.signature as Voucher['signature'] };
    try {
      if (role === 'payer') {
        if (vd.status === 'funded' || vd.status === 'closing') this.#payer.register(channel, voucher);
      } else {
        this.#payee.register(channel, {
          status: vd.status === 'funding' ? 'proposed' : vd.status === 'funded' ? 'funded' : 'closing',
          ...(voucher === undefined ? {} : { best: voucher }),
        });
      }
    } catch (e) {
      if (!isSluiceError(e, 'INVALID_ARGUMENT')) throw e; // already registered
    }
  }

  /** Voucher-ledger transitions, as soon as the engine committed them (before the fsync: see `Engine.onCommitted`). */
  #onCommitted(e: EngineEvent): void {
    const store = this.#store;
    if (store !== undefined) {
      if (e.type === 'virtualChannelProposed' || e.type === 'virtualChannelFunded') {
        const vd = this.#engine?.virtualChannel(e.channelId) ?? getVirtualData(store, e.channelId);
        if (vd !== undefined) {
          if (e.type === 'virtualChannelFunded' && vd.role === 'payee') {
            try {
              this.#payee.markFunded(e.channelId);
            } catch {
              this.#registerVoucherChannel(store, vd);
            }
          } else this.#registerVoucherChannel(store, vd);
        }
      }
      // only channels we are paid on (a hub or a payer closes many: no error built for each)
      if (e.type === 'virtualChannelClosing' && this.#payee.has(e.channelId)) this.#payee.markClosing(e.channelId);
    }
    // A channel that closed (or failed to open) leaves the voucher ledgers: they would otherwise
    // hold every channel the process ever had. Vouchers for it are still refused as CHANNEL_CLOSING
    // (#receive looks at the record).
    if (e.type === 'virtualChannelClosed' || (e.type === 'objectiveFailed' && e.objectiveType === 'virtualFund')) {
      this.#payer.remove(e.channelId);
      this.#payee.remove(e.channelId);
    }
  }

  /** Events for the Node's listeners, once durable. */
  #onEngineEvent(e: EngineEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** The node's clock (the components' clock, else the system's), ms. */
  #now(): number {
    return (this.#components.clock ?? systemClock).now();
  }

  #timeout(options: CallOptions): { signal?: AbortSignal; timeoutMs: number } {
    return { ...(options.signal === undefined ? {} : { signal: options.signal }), timeoutMs: options.timeoutMs ?? this.#init.callTimeoutMs ?? 60_000 };
  }

  /** {@link #timeout} for a call that waits for chain events: the default gets {@link confirmationWaitMs} more. */
  #chainTimeout(options: CallOptions): { signal?: AbortSignal; timeoutMs: number } {
    return this.#timeout(options.timeoutMs !== undefined ? options : { ...options, timeoutMs: (this.#init.callTimeoutMs ?? 60_000) + this.#confirmationWaitMs });
  }

  /** The chain's block time, s, from our RPC; undefined without one or when it cannot tell (12 s, Ethereum's, is assumed then). */
  async #readBlockTimeS(): Promise<number | undefined> {
    const url = this.#init.chain.rpcUrl;
    if (url === undefined || this.#components.chain !== undefined) return undefined;
    try {
      return (await readBlockTime(url, { timeoutMs: 5_000 })) || undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Start a new channel's objective with a fresh {@link timedNonce}. Its low half is 32 random
   * bits: the same participants draw the same nonce in the same second about once in 2^32 tries,
   * and then the channel id exists already (perhaps closed long ago): draw again.
   */
  async #withFreshNonce<T>(start: (channelNonce: bigint) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await start(timedNonce(this.#now()));
      } catch (e) {
        if (attempt < 3 && isSluiceError(e, 'INVALID_ARGUMENT') && e.message === 'objective already exists') continue;
        throw e;
      }
    }
  }

  // ---------------------------------------------------------------- ledgers

  async createLedgerChannel(
    args: { counterparty: Address; asset?: Address; deposit: bigint; counterpartyDeposit?: bigint },
    options: CallOptions = {},
  ): Promise<{ channelId: ChannelId }> {
    const counterparty = parseAddress(args.counterparty, 'counterparty');
    const asset = parseAddress(args.asset ?? ZERO_ADDRESS, 'asset');
    const deposit = uintArg(args.deposit, 'deposit');
    const counterpartyDeposit = uintArg(args.counterpartyDeposit ?? 0n, 'counterpartyDeposit');
    if (sameAddress(counterparty, this.address)) throw new SluiceError('INVALID_ARGUMENT', 'cannot open a ledger with ourselves');
    options.signal?.throwIfAborted();
    const engine = this.engine;
    const channelId = await engine.serial(async () => {
      // one live ledger per counterparty and asset (one being closed does not count)
      if (findLedger(this.#st, counterparty, asset, ONE_PER_PEER_LEDGER_STATUSES) !== undefined) {
        throw new SluiceError('LEDGER_EXISTS', 'a ledger with this counterparty in this asset already exists');
      }
      return this.#withFreshNonce(async (channelNonce) => {
        const prefund: State = {
          participants: [this.address, counterparty],
          channelNonce,
          appDefinition: engine.init.consensusApp,
          challengeDuration: this.#init.ledgerChallengeDuration ?? FALLBACK_DEFAULTS.ledgerChallengeDuration,
          appData: '0x' as Hex,
          outcome: [simpleExit(asset, [[this.address, deposit], [counterparty, counterpartyDeposit]])],
          turnNum: 0,
          isFinal: false,
        };
        const o = newDirectFund(prefund, this.address);
        const ledger: LedgerData = { ledgerId: o.channel.id, counterparty, asset, myIndex: 0, status: 'funding', ledger: null, myDeposit: deposit, counterpartyDeposit };
        await engine.startObjective(o, { ledger });
        return o.channel.id;
      });
    });
    await engine.waitForObjective(directFundId(channelId), this.#chainTimeout(options));
    return { channelId };
  }

  /**
   * A top-up whose deposit reverted because another deposit landed first (TOPUP_CONFLICT: the
   * counterparty topping up at the same moment, or anyone's deposit) deposited nothing; it is tried
   * again, on top of the other deposit, once the ledger credits that one (no top-up in progress
   * on the ledger and its total reaching the holdings on chain), up to {@link TOPUP_ATTEMPTS} times
   * within the call's timeout.
   */
  async topUpLedgerChannel(args: { channelId: ChannelId; amount: bigint }, options: CallOptions = {}): Promise<void> {
    const amount = uintArg(args.amount, 'amount', true);
    options.signal?.throwIfAborted();
    const engine = this.engine;
    const { signal, timeoutMs } = this.#chainTimeout(options);
    const deadline = Date.now() + timeoutMs;
    const ledgerId = args.channelId.toLowerCase() as ChannelId;
    for (let attempt = 1; ; attempt++) {
      const id = await engine.serial(async () => {
        const ld = getLedgerData(this.#st, ledgerId);
        if (ld?.ledger == null || ld.status !== 'open') throw new SluiceError('CHANNEL_UNKNOWN', 'no open ledger with this id', { details: { channelId: args.channelId } });
        if (topUpInProgress(engine.activeObjectives(), ld.ledgerId)) {
          throw new SluiceError('TOPUP_IN_PROGRESS', 'a top-up of this ledger is in progress', { details: { channelId: ld.ledgerId } });
        }
        const o = newLedgerTopUp({ ledger: ld.ledger, depositor: this.address, amount });
        await engine.startObjective(o);
        return o.id;
      });
      try {
        await engine.waitForObjective(id, { ...(signal === undefined ? {} : { signal }), timeoutMs: Math.max(0, deadline - Date.now()) });
        return;
      } catch (e) {
        if (!isSluiceError(e, 'TOPUP_CONFLICT') || attempt >= TOPUP_ATTEMPTS) throw e;
      }
      await this.#ledgerSettled(ledgerId, deadline, signal);
    }
  }

  /**
   * Resolve once no top-up of the ledger is in progress here and the ledger credits everything it
   * holds on chain (the deposit that beat ours has been credited); PEER_TIMEOUT at `deadline`.
   */
  async #ledgerSettled(ledgerId: ChannelId, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const engine = this.engine;
    for (;;) {
      signal?.throwIfAborted();
      const ld = getLedgerData(this.#st, ledgerId);
      if (ld?.ledger == null || ld.status !== 'open') throw new SluiceError('CHANNEL_UNKNOWN', 'no open ledger with this id', { details: { channelId: ledgerId } });
      if (!topUpInProgress(engine.activeObjectives(), ledgerId) && !ld.ledger.queue.some((sp) => sp.proposal.type === 'topUp')) {
        const held = await engine.chain.holdings(ld.asset, ledgerId, signal === undefined ? {} : { signal });
        if (ledgerTotal(pendingOutcome(ld.ledger)) >= held) return;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new SluiceError('PEER_TIMEOUT', 'the deposit that beat our top-up was not credited in time', { details: { channelId: ledgerId } });
      // woken by the engine's next step (a top-up created, a ledger updated), or after a while
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          off();
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 1_000));
        const off = engine.on((e) => {
          if (e.type === 'objectiveCompleted' || e.type === 'objectiveFailed' || e.type === 'objectiveCreated') done();
        });
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  async closeLedgerChannel(channelId: ChannelId, options: CallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    const engine = this.engine;
    const id = await engine.serial(async () => {
      const ld = getLedgerData(this.#st, channelId.toLowerCase() as ChannelId);
      if (ld?.ledger == null || ld.status !== 'open') throw new SluiceError('CHANNEL_UNKNOWN', 'no open ledger with this id', { details: { channelId } });
      if (ld.ledger.queue.length > 0 || engine.activeObjectives().some((o) => ledgersOf(o).some((l) => l.id === ld.ledgerId))) {
        throw new SluiceError('LEDGER_NOT_EMPTY', 'the ledger has objectives in flight', { details: { channelId } });
      }
      const o = newDirectDefund(ledgerToChannel(ld.ledger));
      await engine.startObjective(o, { ledger: { ...ld, status: 'closing' } });
      return o.id;
    });
    await engine.waitForObjective(id, this.#chainTimeout(options));
  }

  // ---------------------------------------------------------------- virtual channels

  async createVirtualChannel(
    args: { hub?: Address; payee: Address; asset?: Address; amount: bigint },
    options: CallOptions = {},
  ): Promise<{ channelId: ChannelId }> {
    const hubAddress = args.hub ?? this.#init.hub?.address;
    if (hubAddress === undefined) throw new SluiceError('INVALID_ARGUMENT', 'no hub given and none configured');
    const hub = parseAddress(hubAddress, 'hub');
    const payee = parseAddress(args.payee, 'payee');
    const asset = parseAddress(args.asset ?? ZERO_ADDRESS, 'asset');
    const amount = uintArg(args.amount, 'amount', true);
    options.signal?.throwIfAborted();
    const engine = this.engine;
    const { id, channelId } = await engine.serial(async () => {
      const ld = findLedger(this.#st, hub, asset);
      if (ld?.ledger == null) throw new SluiceError('CHANNEL_UNKNOWN', 'no open ledger with the hub in this asset', { details: { hub } });
      const free = freeToLock(ld.ledger, this.address, engine.activeObjectives());
      if (free < amount) {
        throw new SluiceError('INSUFFICIENT_BALANCE', 'not enough free balance in the ledger with the hub', {
          details: { channelId: ld.ledgerId, free: free.toString(), amount: amount.toString() },
        });
      }
      assertGuaranteeRoom(ld.ledger, engine.activeObjectives(), this.#init.policy?.maxLedgerGuarantees ?? DEFAULT_MAX_LEDGER_GUARANTEES);
      const toMyRight = ld.ledger;
      return this.#withFreshNonce(async (channelNonce) => {
        const prefund: State = {
          participants: [this.address, hub, payee],
          channelNonce,
          appDefinition: engine.init.virtualPaymentApp,
          challengeDuration: this.#init.virtualChallengeDuration ?? FALLBACK_DEFAULTS.virtualChallengeDuration,
          appData: '0x' as Hex,
          outcome: [simpleExit(asset, [[this.address, amount], [payee, 0n]])],
          turnNum: 0,
          isFinal: false,
        };
        const o = newVirtualFund({ prefund, myAddress: this.address, toMyRight });
        const virtual: VirtualData = { channelId: o.v.id, role: 'payer', payer: this.address, hub, payee, asset, amount, status: 'funding', v: null };
        await engine.startObjective(o, { virtual });
        return { id: o.id, channelId: o.v.id };
      });
    });
    await engine.waitForObjective(id, this.#timeout(options));
    return { channelId };
  }

  pay(channelId: ChannelId, increase: bigint): Voucher {
    return this.#signVoucher(channelId, increase, false);
  }

  async payAsync(channelId: ChannelId, increase: bigint): Promise<Voucher> {
    const voucher = this.#signVoucher(channelId, increase, true);
    await this.#whenDurable();
    return voucher;
  }

  #signVoucher(channelId: ChannelId, increase: bigint, grouped: boolean): Voucher {
    const store = this.#st;
    const vd = this.engine.virtualChannel(channelId.toLowerCase() as ChannelId);
    if (vd === undefined || vd.role !== 'payer') throw new SluiceError('CHANNEL_UNKNOWN', 'we do not pay on this channel', { details: { channelId } });
    if (vd.status === 'funding') throw new SluiceError('CHANNEL_NOT_FUNDED', 'channel is not funded yet', { details: { channelId } });
    if (vd.status !== 'funded') throw new SluiceError('CHANNEL_CLOSING', 'channel is closing or closed', { details: { channelId } });
    const voucher = this.#payer.pay(vd.channelId, increase);
    const rec = { channelId: vd.channelId, role: 'payer' as const, amount: voucher.amount, signature: voucher.signature, updatedAt: Date.now() };
    if (grouped) store.transaction(() => store.putVoucherIfHigher(rec), GROUP_COMMIT);
    else store.putVoucherIfHigher(rec);
    return voucher;
  }

  receiveVoucher(voucher: Voucher, options: { price?: bigint } = {}): ReceiveResult {
    return this.#receive(voucher, options, false);
  }

  async receiveVoucherAsync(voucher: Voucher, options: { price?: bigint } = {}): Promise<ReceiveResult> {
    const result = this.#receive(voucher, options, true);
    if (result.kind === 'accepted') {
      const channelId = result.voucher.channelId.toLowerCase() as ChannelId;
      const durable = this.#whenDurable();
      this.#voucherFsyncs.set(channelId, durable);
      const settled = (): void => {
        if (this.#voucherFsyncs.get(channelId) === durable) this.#voucherFsyncs.delete(channelId);
      };
      durable.then(settled, settled);
      await durable;
    } else if (result.kind === 'duplicate' || result.kind === 'stale') {
      // The best voucher these report may be committed and not yet durable (accepted from another
      // caller in this turn): resolve only once the fsync covering it is done, so nothing is served
      // against it before it is ("decide, persist, serve" holds for replays too).
      const pending = this.#voucherFsyncs.get(voucher.channelId.toLowerCase() as ChannelId);
      if (pending !== undefined) await pending;
    }
    return result;
  }

  #receive(voucher: Voucher, options: { price?: bigint }, grouped: boolean): ReceiveResult {
    const store = this.#st;
    const result = this.#payee.receive(voucher, options);
    if (result.kind === 'rejected' && result.error.code === 'CHANNEL_UNKNOWN' && typeof voucher.channelId === 'string') {
      // closed channels leave the voucher ledger (#onCommitted): still "closing", not "unknown"
      const vd = this.engine.virtualChannel(voucher.channelId.toLowerCase() as ChannelId);
      if (vd?.role === 'payee' && (vd.status === 'closed' || vd.status === 'failed')) {
        return { kind: 'rejected', error: new SluiceError('CHANNEL_CLOSING', 'channel is closed', { details: { channelId: vd.channelId } }) };
      }
    }
    if (result.kind === 'accepted') {
      const rec = {
        channelId: result.voucher.channelId.toLowerCase() as ChannelId,
        role: 'payee' as const,
        amount: result.voucher.amount,
        signature: result.voucher.signature,
        updatedAt: Date.now(),
      };
      if (grouped) store.transaction(() => store.putVoucherIfHigher(rec), GROUP_COMMIT);
      else store.putVoucherIfHigher(rec);
    }
    return result;
  }

  /**
   * Resolve once every voucher committed so far is fsync'd: one `store.sync()` per event-loop
   * turn (setImmediate) for all callers — the vouchers of many connections share one fsync. (Any
   * other durable commit or sync in between, e.g. the engine's, covers them too.)
   */
  #whenDurable(): Promise<void> {
    const store = this.#st;
    // A store with an asynchronous sync groups concurrent callers itself (off the event loop).
    if (store.syncAsync !== undefined) return store.syncAsync();
    return new Promise<void>((resolve, reject) => {
      this.#voucherWaiters.push({ resolve, reject });
      this.#voucherSync ??= setImmediate(() => {
        this.#voucherSync = undefined;
        const waiters = this.#voucherWaiters.splice(0);
        try {
          store.sync?.();
        } catch (e) {
          for (const w of waiters) w.reject(e);
          return;
        }
        for (const w of waiters) w.resolve();
      });
    });
  }

  async closeVirtualChannel(channelId: ChannelId, options: CallOptions = {}): Promise<{ paid: bigint }> {
    options.signal?.throwIfAborted();
    const engine = this.engine;
    const { id, paid } = await engine.serial(async () => {
      const store = this.#st;
      const vd = engine.virtualChannel(channelId.toLowerCase() as ChannelId);
      if (vd === undefined) throw new SluiceError('CHANNEL_UNKNOWN', 'unknown virtual channel', { details: { channelId } });
      if (vd.role === 'intermediary') throw new SluiceError('INVALID_ARGUMENT', 'only the payer or the payee closes a virtual channel');
      if (vd.status !== 'funded') throw new SluiceError(vd.status === 'funding' ? 'CHANNEL_NOT_FUNDED' : 'CHANNEL_CLOSING', `channel is ${vd.status}`, { details: { channelId } });
      if (vd.role === 'payee') this.#payee.markClosing(vd.channelId);
      const paid = store.getVoucher(vd.channelId, vd.role)?.amount ?? 0n;
      const o = virtualDefundFor(store, vd, paid, engine.ledgerChannels());
      await engine.startObjective(o, { virtual: { ...vd, status: 'closing' } });
      return { id: o.id, paid };
    });
    await engine.waitForObjective(id, this.#timeout(options));
    return { paid };
  }

  // ---------------------------------------------------------------- on-chain fallback

  /**
   * Call options of a cooperative attempt within a settle: the caller's signal, the cooperative
   * timeout. `chain`: the attempt ends with chain events (a ledger's deposits or its close's
   * payout), so the default gets {@link confirmationWaitMs} more: a close whose payout is still
   * being confirmed must not be taken for a silent peer and go on chain.
   */
  #coopCall(options: SettleOptions, chain = false): CallOptions {
    const timeoutMs = options.cooperativeTimeoutMs ?? (this.#init.fallback?.cooperativeTimeoutMs ?? this.#init.callTimeoutMs ?? 60_000) + (chain ? this.#confirmationWaitMs : 0);
    return { ...(options.signal === undefined ? {} : { signal: options.signal }), timeoutMs };
  }

  async #onChain(channelId: ChannelId, primary: string, options: SettleOptions): Promise<SettleResult> {
    const engine = this.engine;
    const started = await engine.startFallback({ kind: 'userForce', channelId });
    const ids = [...new Set([...(engine.objective(primary) === undefined ? [] : [primary]), ...started])];
    if (ids.length === 0) throw new SluiceError('INVALID_ARGUMENT', 'nothing to settle on chain for this channel', { details: { channelId } });
    if (options.wait === true) await Promise.all(ids.map((id) => engine.waitForObjective(id, this.#timeout(options))));
    return { mode: 'onChain', objectiveIds: ids };
  }

  async settleVirtualChannel(channelId: ChannelId, options: SettleOptions = {}): Promise<SettleResult> {
    options.signal?.throwIfAborted();
    const engine = this.engine;
    const id = channelId.toLowerCase() as ChannelId;
    const vd = getVirtualData(this.#st, id);
    if (vd === undefined) throw new SluiceError('CHANNEL_UNKNOWN', 'unknown virtual channel', { details: { channelId } });
    if (vd.status === 'closed') return { mode: 'cooperative', paid: vd.paid ?? 0n };
    if (vd.status === 'funding' || vd.status === 'failed') throw new SluiceError('CHANNEL_NOT_FUNDED', `channel is ${vd.status}`, { details: { channelId } });
    const primary = virtualChallengeId(id);
    const silent = [vd.payer, vd.hub, vd.payee].some((p) => !sameAddress(p, this.address) && engine.isPeerSilent(p));
    if (options.force !== true && !silent && engine.objective(primary) === undefined) {
      if (vd.role === 'intermediary') throw new SluiceError('INVALID_ARGUMENT', 'an intermediary settles a virtual channel only on chain (force)', { details: { channelId } });
      try {
        const coop = this.#coopCall(options);
        if (vd.status === 'funded') return { mode: 'cooperative', paid: (await this.closeVirtualChannel(id, coop)).paid };
        await engine.waitForObjective(virtualDefundId(id), coop);
        return { mode: 'cooperative', paid: getVirtualData(this.#st, id)?.paid ?? 0n };
      } catch (e) {
        if (!isSluiceError(e, 'PEER_TIMEOUT') && !isSluiceError(e, 'CHANNEL_CLOSING')) throw e;
      }
    }
    return this.#onChain(id, primary, options);
  }

  async exitLedgerChannel(channelId: ChannelId, options: SettleOptions = {}): Promise<SettleResult> {
    options.signal?.throwIfAborted();
    const engine = this.engine;
    const id = channelId.toLowerCase() as ChannelId;
    const ld = getLedgerData(this.#st, id);
    if (ld?.status === 'funding') return this.#leaveOpening(ld, options);
    if (ld?.status === 'closed') return { mode: 'cooperative' };
    if (ld === undefined || ld.ledger === null) throw new SluiceError('CHANNEL_UNKNOWN', 'no funded ledger with this id', { details: { channelId } });
    const primary = ledgerExitId(id);
    const defund = engine.objective(directDefundId(id))?.objective;
    if (engine.objective(primary) === undefined && defund?.type === 'directDefund' && defund.status === 'approved' && finalStateConcluded(defund)) {
      // our cooperative close is concluded on chain: only its payout is left (no peer needed, and
      // a challenge of a paid-out ledger would be accepted by the adjudicator), forced or not
      await engine.waitForObjective(directDefundId(id), this.#chainTimeout(options));
      return { mode: 'cooperative' };
    }
    // A virtual channel this ledger guarantees is being settled on chain: its guarantee leaves the
    // ledger cooperatively only once V finalizes (removal by proof), so no cooperative close can
    // run before. The user asked to leave this ledger: exit it on chain now (which settles its
    // V's), as `force` would — a user command, not the V -> ledger cascade.
    const vOnChain = ld.ledger.current.outcome.guarantees.some((g) => engine.objective(virtualChallengeId(g.target)) !== undefined);
    if (options.force !== true && !vOnChain && !engine.isPeerSilent(ld.counterparty) && engine.objective(primary) === undefined) {
      const coop = this.#coopCall(options, true);
      try {
        if (ld.status === 'closing' && engine.objective(directDefundId(id))?.objective.status === 'approved') {
          await engine.waitForObjective(directDefundId(id), coop);
          return { mode: 'cooperative' };
        }
        if (ld.ledger.current.outcome.guarantees.length > 0) {
          throw new SluiceError('LEDGER_NOT_EMPTY', 'virtual channels are open in this ledger: settle them first, or force', { details: { channelId } });
        }
        await this.closeLedgerChannel(id, coop);
        return { mode: 'cooperative' };
      } catch (e) {
        if (!isSluiceError(e, 'PEER_TIMEOUT') && !isSluiceError(e, 'CHANNEL_CLOSING')) throw e;
      }
    }
    return this.#onChain(id, primary, options);
  }

  /**
   * `exitLedgerChannel` on a ledger still opening. Nothing of ours in it: give the opening up.
   * Our deposit in it: let it open and close it cooperatively if the peer answers within the
   * cooperative timeout (unless forced or the peer is known silent), else exit on chain with the
   * prefund both signed, which pays every deposit back.
   */
  async #leaveOpening(ld: LedgerData, options: SettleOptions): Promise<SettleResult> {
    const engine = this.engine;
    const id = ld.ledgerId;
    const fund = engine.objective(directFundId(id))?.objective;
    const ours = fund?.type === 'directFund' && directFundHasOurDeposit(fund);
    if (ours && options.force !== true && !engine.isPeerSilent(ld.counterparty) && engine.objective(ledgerExitId(id)) === undefined) {
      let opened = false;
      try {
        await engine.waitForObjective(directFundId(id), this.#coopCall(options, true));
        opened = true;
      } catch (e) {
        if (!isSluiceError(e, 'PEER_TIMEOUT')) throw e;
      }
      if (opened) return this.exitLedgerChannel(id, options); // an open ledger now
    }
    const r = await engine.leaveOpening(id);
    if ('abandoned' in r) return { mode: 'cooperative', openingGivenUp: true };
    if (options.wait === true) await engine.waitForObjective(r.objectiveId, this.#timeout(options));
    return { mode: 'onChain', objectiveIds: [r.objectiveId] };
  }

  getDisputes(): DisputeInfo[] {
    return this.engine.disputes();
  }

  /**
   * As a hub: relay a message between two peers only when both hold a live ledger with us (they
   * are our clients and providers); anyone else could have us store and forward whatever they like.
   */
  #relays(from: Address, to: Address): boolean {
    const engine = this.#engine;
    if (engine === undefined) return false;
    return engine.hasLiveLedgerWith(from) && engine.hasLiveLedgerWith(to);
  }

  // ---------------------------------------------------------------- queries

  getLedgerChannels(): LedgerChannelInfo[] {
    return listLedgerData(this.#st).map((ld) => ledgerInfo(ld));
  }

  getLedgerChannel(channelId: ChannelId): LedgerChannelInfo | undefined {
    const ld = getLedgerData(this.#st, channelId.toLowerCase() as ChannelId);
    return ld === undefined ? undefined : ledgerInfo(ld);
  }

  getPayeeEarnings(): { asset: Address; amount: bigint }[] {
    const engine = this.engine;
    const byAsset = new Map<string, { asset: Address; amount: bigint }>();
    const add = (asset: Address, amount: bigint): void => {
      const k = asset.toLowerCase();
      const e = byAsset.get(k) ?? { asset, amount: 0n };
      byAsset.set(k, { asset: e.asset, amount: e.amount + amount });
    };
    for (const [asset, amount] of engine.closedPayeeEarnings()) add(parseAddress(asset, 'asset'), amount);
    for (const vd of engine.openVirtualChannels()) if (vd.role === 'payee') add(vd.asset, virtualInfo(this.#st, vd).paid);
    return [...byAsset.values()].filter((e) => e.amount > 0n);
  }

  getVirtualChannels(options: { open?: boolean } = {}): VirtualChannelInfo[] {
    const records = options.open === true ? this.engine.openVirtualChannels() : listVirtualData(this.#st);
    return records.map((vd) => virtualInfo(this.#st, vd));
  }

  async pruneHistory(options: { olderThanMs: number; batch?: number; signal?: AbortSignal }): Promise<{ channels: number; objectives: number; kept: number; forgotten: number }> {
    const { olderThanMs, batch = 200, signal } = options;
    if (!Number.isSafeInteger(olderThanMs) || olderThanMs < 0) throw new SluiceError('INVALID_ARGUMENT', 'olderThanMs must be a non-negative integer');
    if (!Number.isSafeInteger(batch) || batch < 1) throw new SluiceError('INVALID_ARGUMENT', 'batch must be a positive integer');
    const engine = this.engine;
    const before = this.#now() - olderThanMs;
    const out = { channels: 0, objectives: 0, kept: 0, forgotten: 0 };
    let after: HistoryPruned['next'] = {};
    const same = (a: StaleCursor | undefined, b: StaleCursor | undefined): boolean => a === b || (a !== undefined && b !== undefined && a.channelId === b.channelId && a.updatedAt === b.updatedAt);
    for (;;) {
      signal?.throwIfAborted();
      const r = await engine.pruneHistory(before, batch, after);
      out.channels += r.channels;
      out.objectives += r.objectives;
      out.kept += r.skipped;
      out.forgotten += r.forgotten ?? 0;
      if (!r.more) return out;
      // Go on while a pass deletes something or a cursor moves past kept ones (a store that
      // ignored the cursors would hand back the same candidates: stop there).
      const advanced = !same(r.next.virtual, after.virtual) || !same(r.next.ledger, after.ledger);
      if (!advanced && r.channels === 0 && (r.forgotten ?? 0) === 0) return out;
      after = r.next;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  getVoucherLedgerSizes(): { payer: number; payee: number } {
    return { payer: this.#payer.size, payee: this.#payee.size };
  }

  getPrunedHistory(): { channels: number; objectives: number } {
    return { ...this.engine.prunedHistory() };
  }

  getVirtualChannelCounts(): Partial<Record<VirtualChannelInfo['status'], number>> {
    const counted = this.#st.countChannels?.('virtual');
    if (counted !== undefined) return counted as Partial<Record<VirtualChannelInfo['status'], number>>;
    const out: Partial<Record<VirtualChannelInfo['status'], number>> = {};
    for (const vd of listVirtualData(this.#st)) out[vd.status] = (out[vd.status] ?? 0) + 1;
    return out;
  }

  getVirtualChannel(channelId: ChannelId): VirtualChannelInfo | undefined {
    const vd = getVirtualData(this.#st, channelId.toLowerCase() as ChannelId);
    return vd === undefined ? undefined : virtualInfo(this.#st, vd);
  }
}
