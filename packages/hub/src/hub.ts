/**
 * The hub service: a Sluice node in hub mode (intermediary of virtual channels, relay of
 * messages between its peers) under an explicit collateral policy, with an HTTP server for
 * `/healthz`, `/status` and `/metrics`, structured logs and metrics from the node's events.
 *
 * ```ts
 * const hub = createHub({ privateKey, chain: { rpcUrl, adjudicator, consensusApp, virtualPaymentApp },
 *   store: './hub.db', listen: ['/ip4/0.0.0.0/tcp/4001'], policy: { maxPerChannel: 10n ** 18n },
 *   http: { port: 9464 } }, { logger });
 * await hub.start();
 * ```
 */
import { type Address, type ChannelId, DEFAULT_MAX_LEDGER_GUARANTEES, DEFAULT_NONCE_WINDOW, type NonceWindow, SluiceError, parseAddress, sameAddress } from '@sluice/channel-core';
import { createNode, type HistoryRetention, type LedgerRequest, type Node, type NodeChainInit, type NodeComponents, type NodeEvent, type NodeInit, type VirtualChannelRequest, type Decision, type DisputeView, disputeView, startHistoryRetention } from '@sluice/channel-core/node';
import type { Logger } from 'pino';
import { createHubMetrics, type HubMetrics } from './metrics.ts';
import { createLogger, tapLogger } from './logger.ts';
import { startHttpServer, type HttpServer } from './http.ts';
import { observeFallback } from '@sluice/channel-core/node/observe';
import { readBlockTime, readRpcChainId } from '@sluice/channel-core/rpc';
import { LOCAL_CHAIN_IDS, challengeAnswerTimeS } from '@sluice/channel-core/chain';
import type { LedgerData } from '@sluice/channel-core/engine';

/** The collateral policy: what the hub agrees to back. */
export interface HubCollateralPolicy {
  /** Largest guarantee (payer's balance) the hub backs for one virtual channel (default 10^18). */
  readonly maxPerChannel?: bigint;
  /** Total collateral locked in open virtual channels, per asset (default: no cap beyond the ledger balances). */
  readonly collateralCap?: bigint;
  /**
   * Most guarantees (virtual channels) one ledger of the hub holds at a time, counting those being
   * opened (default 256, `DEFAULT_MAX_LEDGER_GUARANTEES`); more are refused with LEDGER_FULL.
   */
  readonly maxLedgerGuarantees?: number;
  /** Largest deposit a peer may ask of the hub when it opens a ledger (default 0: the hub deposits nothing). */
  readonly maxLedgerDeposit?: bigint;
  /** Virtual channels must run on this VirtualPaymentApp (default: `chain.virtualPaymentApp`). */
  readonly requiredApp?: Address;
  /**
   * Assets the hub keeps ledgers in (the zero address is ETH); a ledger proposed in another asset
   * is refused. Default: any — `sluice-hub start` defaults to ETH and the deployment's token.
   */
  readonly assets?: readonly Address[];
  /**
   * Peers the hub deposits collateral toward (their ledger prefund asks for a hub deposit, up to
   * `maxLedgerDeposit`): typically its providers. Others may still open ledgers the hub puts
   * nothing into. Default: any peer — then anyone can make the hub deposit and vanish, and the
   * hub gets it back only on chain (a day, and the gas).
   */
  readonly collateralPeers?: readonly Address[];
  /**
   * Most collateral, per asset, the hub keeps in ledgers that have not opened (deposited or
   * promised in openings, and in openings being exited on chain because their peer vanished).
   * A collateral request past it is refused. Without a bound any identity could ask for
   * `maxLedgerDeposit`, never sign the postfund, and leave it locked for the ledger challenge
   * duration (a day), the hub paying deposit, challenge and transfer gas (≈ 250 k) each time.
   * Default: 4 × `maxLedgerDeposit`.
   */
  readonly maxOpeningCollateral?: bigint;
  /**
   * Most collateral, per asset, the hub keeps in one peer's ledgers: its deposits in the peer's
   * ledger being opened or open and in those being closed (an exit on chain holds the deposit for
   * the ledger challenge duration, a day by default). A ledger being closed does not stop the peer
   * from opening a new one, so without a bound a peer (a provider, or anyone without
   * `collateralPeers`) could exit and reopen again and again, each time locking another
   * `maxLedgerDeposit` of the hub's for a day, for the gas of a challenge. A collateral request
   * past it is refused; a ledger without a hub deposit is never limited by it.
   * Default: 2 × `maxLedgerDeposit` (one renewal while the old ledger is being closed).
   */
  readonly maxPeerCollateral?: bigint;
  /**
   * Challenge durations (seconds) of the ledgers and virtual channels the hub joins; others are
   * refused. Default `DEFAULT_CHALLENGE_DURATIONS` (5 min to 30 days); without `min`, the minimum is
   * 5 min raised to twice the time the hub takes to answer a challenge on this chain
   * (`challengeDurationFloorS`: 6 min on Ethereum at 12 confirmations).
   */
  readonly challengeDurations?: { readonly min?: number; readonly max: number };
}

/**
 * Collateral the hub has in ledgers of `asset` that never opened: its deposit in openings in
 * progress, and in openings being exited on chain (ledger `closing` with no agreed state).
 */
export function openingCollateral(ledgers: Iterable<LedgerData>, asset: Address): bigint {
  let sum = 0n;
  for (const l of ledgers) if (neverOpened(l) && sameAddress(l.asset, asset)) sum += l.myDeposit;
  return sum;
}

/**
 * Collateral the hub has in `peer`'s ledgers of `asset`: its deposit in those being opened, open,
 * or being closed (cooperatively or on chain), until they are closed.
 */
export function peerCollateral(ledgers: Iterable<LedgerData>, peer: Address, asset: Address): bigint {
  let sum = 0n;
  for (const l of ledgers) {
    if ((l.status === 'funding' || l.status === 'open' || l.status === 'closing') && sameAddress(l.counterparty, peer) && sameAddress(l.asset, asset)) sum += l.myDeposit;
  }
  return sum;
}

/** {@link openingCollateral} of every asset that has some, in one pass (for `/status` and the gauge). */
export function openingCollateralByAsset(ledgers: Iterable<LedgerData>): Map<Address, bigint> {
  const out = new Map<Address, bigint>();
  for (const l of ledgers) if (neverOpened(l) && l.myDeposit > 0n) out.set(l.asset, (out.get(l.asset) ?? 0n) + l.myDeposit);
  return out;
}

/** A ledger with no agreed state yet, opening or being exited from its prefund. */
function neverOpened(l: LedgerData): boolean {
  return l.ledger === null && (l.status === 'funding' || l.status === 'closing');
}

export interface HubInit {
  /** The hub's secp256k1 key (signs states, pays gas, libp2p identity). Never logged. */
  readonly privateKey: Uint8Array | string;
  readonly chain: NodeChainInit & {
    /** Expected chain id; checked against the RPC at start when given (it also picks the default confirmations). */
    readonly chainId?: number;
  };
  /** sqlite store path (default in-memory: tests only). */
  readonly store?: string;
  readonly listen?: readonly string[];
  readonly announce?: readonly string[];
  /** Largest number of open libp2p connections — every client and provider keeps one (default 10 000). */
  readonly maxConnections?: number;
  /** New inbound libp2p connections accepted per second from one host (default: libp2p's, 5). */
  readonly inboundConnectionsPerHost?: number;
  readonly policy?: HubCollateralPolicy;
  /** HTTP server for /healthz, /status, /metrics (`false`: none). Default 127.0.0.1:9464. */
  readonly http?: { readonly host?: string; readonly port?: number } | false;
  readonly objectiveTimeoutMs?: number;
  /** Give up a virtual channel whose payee has not signed the prefund this long after the hub joined (default 60 000). */
  readonly prefundTimeoutMs?: number;
  readonly callTimeoutMs?: number;
  readonly messagingRetry?: NodeInit['messagingRetry'];
  readonly txRetryDelayMs?: number;
  /**
   * History retention: the records of virtual channels that closed longer ago than
   * `olderThanMs` are deleted, checked every `everyMs` (see `Node.pruneHistory`). Default: 7 days,
   * checked every 10 minutes. `false`: keep everything (the store grows by ~12 KB per channel).
   */
  readonly retainHistory?: { readonly olderThanMs: number; readonly everyMs?: number } | false;
  /**
   * Join a ledger or virtual channel only while the time in its nonce is within this window of
   * the hub's clock (see `EnginePolicy.nonceWindow`); retention then forgets pruned channel ids
   * once their nonces are past it. Default {@link DEFAULT_NONCE_WINDOW} (1 h old, 10 min ahead);
   * `false`: any nonce, pruned ids remembered for good.
   */
  readonly nonceWindow?: NonceWindow | false;
}

/** Default history retention of a hub: 7 days. */
export const DEFAULT_RETAIN_HISTORY_MS = 7 * 24 * 3_600_000;

export interface HubComponents extends Omit<NodeComponents, 'logger'> {
  /** pino logger (default: a new one at `info` on stdout). */
  readonly logger?: Logger;
  /** Export Node's process metrics as well (default true). */
  readonly defaultMetrics?: boolean;
}

export interface HealthReport {
  readonly ok: boolean;
  readonly address: Address;
  readonly peerId: string | null;
  readonly multiaddrs: string[];
  readonly chainId: number | null;
  /** Blocks a chain event must be deep before the hub acts on it (`--confirmations`, or the chain's default). */
  readonly confirmations: number | null;
  /** The challenge durations, s, of the ledgers and virtual channels the hub joins, `[min, max]` (null before start). */
  readonly challengeDurations: { readonly ledger: readonly [number, number]; readonly virtual: readonly [number, number] } | null;
  /** Latest block of the RPC (null if it did not answer). */
  readonly chainHead: number | null;
  /** Last chain block the engine processed. */
  readonly lastProcessedBlock: number | null;
  readonly storeOk: boolean;
  readonly uptimeSeconds: number;
}

export interface HubLedgerStatus {
  readonly channelId: ChannelId;
  readonly counterparty: Address;
  readonly asset: Address;
  readonly status: string;
  readonly turnNum: number;
  /** The hub's free balance (base units, decimal string). */
  readonly hubBalance: string;
  readonly peerBalance: string;
  /** Locked in guarantees (both sides). */
  readonly locked: string;
  readonly guarantees: number;
}

export interface HubVirtualStatus {
  readonly channelId: ChannelId;
  readonly payer: Address;
  readonly payee: Address;
  readonly asset: Address;
  readonly amount: string;
  readonly status: string;
}

export interface HubStatus {
  readonly address: Address;
  readonly peerId: string | null;
  readonly multiaddrs: string[];
  /** Ledger channels not closed or failed (funding, open, closing). */
  readonly ledgers: HubLedgerStatus[];
  /** Count of the hub's ledger channels by status (closed and failed ones included). */
  readonly ledgerCounts: Record<string, number>;
  /** Virtual channels not yet closed (the hub is their intermediary). */
  readonly virtualChannels: HubVirtualStatus[];
  /** Count of the hub's virtual channels by status (closed ones included). */
  readonly virtualChannelCounts: Record<string, number>;
  /** Per asset: collateral locked in open virtual channels and free hub balance in open ledgers. */
  readonly collateral: {
    readonly asset: Address;
    readonly locked: string;
    readonly free: string;
    readonly cap: string | null;
    /** Hub deposits in ledgers not open yet (openings, and openings exited on chain), and their cap. */
    readonly inOpenings: string;
    readonly openingCap: string;
  }[];
  /** Most guarantees (virtual channels) one hub ledger holds at a time (`--max-ledger-guarantees`). */
  readonly maxLedgerGuarantees: number;
  readonly objectivesInFlight: number;
  /** Channels being settled on chain: phase, time left, what each participant gets (amounts as decimal strings). */
  readonly disputes: HubDispute[];
  /** History retention: how long closed channels are kept (null: forever) and what was deleted so far. */
  readonly history: { readonly retainMs: number | null; readonly prunedChannels: number; readonly prunedObjectives: number };
}

/** A channel in challenge (`Node.getDisputes()` with amounts as decimal strings). */
export type HubDispute = DisputeView;

export interface Hub {
  readonly address: Address;
  /** The underlying node (available after `start`). */
  readonly node: Node;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
  start(): Promise<void>;
  /** Stop HTTP, then the node (engine, messaging, store). Idempotent. */
  stop(): Promise<void>;
  /** Base URL of the HTTP server (undefined without one or before `start`). */
  httpUrl(): string | undefined;
  multiaddrs(): string[];
  peerId(): string | null;
  health(): Promise<HealthReport>;
  status(): HubStatus;
}

/** Default libp2p connection limit of a hub: every client and provider keeps a connection to it (libp2p's own default is 300). */
const HUB_MAX_CONNECTIONS = 10_000;

/** Objectives whose progress we time (from `objectiveCreated` to `objectiveCompleted`). */
interface Timing {
  readonly type: string;
  readonly startedAt: number;
}

/**
 * Create the hub.
 * @param init - key, chain, store, listen addresses, collateral policy, HTTP
 * @param components - logger, and optional node components (in-memory store/messaging/chain in tests)
 */
export function createHub(init: HubInit, components: HubComponents = {}): Hub {
  return new HubImpl(init, components);
}

class HubImpl implements Hub {
  readonly address: Address;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
  readonly #init: HubInit;
  readonly #node: Node;
  readonly #timings = new Map<string, Timing>();
  /** Intermediary channels accepted by policy but maybe not persisted yet: id -> (asset, amount, at). */
  readonly #pending = new Map<ChannelId, { asset: Address; amount: bigint; at: number }>();
  #http: HttpServer | undefined;
  #started = false;
  #startedAt = Date.now();
  #unsubscribe: (() => void) | undefined;
  #chainId: number | null = null;
  /** The retention timer (stopped before the node). */
  #retention: HistoryRetention | undefined;

  constructor(init: HubInit, components: HubComponents) {
    this.#init = init;
    this.logger = components.logger ?? createLogger('info');
    const policy = init.policy ?? {};
    const requiredApp = policy.requiredApp ?? parseAddress(init.chain.virtualPaymentApp, 'chain.virtualPaymentApp');
    this.metrics = createHubMetrics(
      {
        ledgers: () => (this.#started ? this.#node.getLedgerChannels() : []),
        virtualChannels: () => (this.#started ? this.#node.getVirtualChannels({ open: true }) : []),
        objectivesInFlight: () => (this.#started ? this.#node.engine.activeObjectives() : []),
        openingCollateral: () => (this.#started ? openingCollateralByAsset(this.#node.engine.ledgerChannels()) : new Map()),
      },
      components.defaultMetrics === undefined ? {} : { defaultMetrics: components.defaultMetrics },
    );
    const metrics = this.metrics;
    const nodeLogger = tapLogger(this.logger, (level, obj, msg) => {
      if (msg === 'relaying message') metrics.relayed(obj['cutThrough'] === true ? 'cut_through' : 'stored');
      else if ((level === 'warn' || level === 'error') && TAP_ERRORS.has(msg)) metrics.error(typeof obj['code'] === 'string' ? obj['code'] : 'UNKNOWN');
    });
    const { logger: _l, defaultMetrics: _d, ...nodeComponents } = components;
    this.#node = createNode(
      {
        privateKey: init.privateKey,
        chain: init.chain,
        ...(init.store === undefined ? {} : { store: init.store }),
        ...(init.listen === undefined ? {} : { listen: init.listen }),
        ...(init.announce === undefined || init.announce.length === 0 ? {} : { announce: init.announce }),
        maxConnections: init.maxConnections ?? HUB_MAX_CONNECTIONS,
        ...(init.inboundConnectionsPerHost === undefined ? {} : { inboundConnectionsPerHost: init.inboundConnectionsPerHost }),
        policy: {
          hub: { maxGuarantee: policy.maxPerChannel ?? 10n ** 18n, virtualPaymentApp: requiredApp },
          maxLedgerDeposit: policy.maxLedgerDeposit ?? 0n,
          ...(policy.maxLedgerGuarantees === undefined ? {} : { maxLedgerGuarantees: policy.maxLedgerGuarantees }),
          ...(policy.challengeDurations === undefined
            ? {}
            : { challengeDurations: { ledger: [policy.challengeDurations.min, policy.challengeDurations.max], virtual: [policy.challengeDurations.min, policy.challengeDurations.max] } }),
          acceptLedger: (r: LedgerRequest) => this.#acceptLedger(r),
          acceptVirtualChannel: (r) => this.#acceptVirtualChannel(r),
          ...(init.nonceWindow === false ? {} : { nonceWindow: init.nonceWindow ?? DEFAULT_NONCE_WINDOW }),
        },
        ...(init.objectiveTimeoutMs === undefined ? {} : { objectiveTimeoutMs: init.objectiveTimeoutMs }),
        ...(init.prefundTimeoutMs === undefined ? {} : { prefundTimeoutMs: init.prefundTimeoutMs }),
        ...(init.callTimeoutMs === undefined ? {} : { callTimeoutMs: init.callTimeoutMs }),
        ...(init.messagingRetry === undefined ? {} : { messagingRetry: init.messagingRetry }),
        ...(init.txRetryDelayMs === undefined ? {} : { txRetryDelayMs: init.txRetryDelayMs }),
      },
      { ...nodeComponents, logger: nodeLogger },
    );
    this.address = this.#node.address;
    // Challenges, answers, fallback transactions, payouts: sluice_* counters and log lines.
    observeFallback(this.#node, { registry: this.metrics.registry, logger: this.logger });
  }

  get node(): Node {
    return this.#node;
  }

  /** The ledger part of the policy: supported assets, and whom the hub deposits collateral toward. */
  #acceptLedger(r: LedgerRequest): Decision {
    const { assets, collateralPeers } = this.#init.policy ?? {};
    if (assets !== undefined && !assets.some((a) => sameAddress(a, r.asset))) {
      this.logger.warn({ channelId: r.ledgerId, peer: r.counterparty, asset: r.asset }, 'ledger refused: asset not supported');
      return `the hub keeps no ledgers in asset ${r.asset} (it supports ${assets.join(', ') || 'none'})`;
    }
    if (r.myDeposit > 0n && collateralPeers !== undefined && !collateralPeers.some((p) => sameAddress(p, r.counterparty))) {
      this.logger.warn({ channelId: r.ledgerId, peer: r.counterparty, amount: r.myDeposit }, 'ledger refused: collateral asked by a peer not listed');
      return 'the hub deposits collateral only toward the peers it lists; open the ledger without asking for a hub deposit';
    }
    if (r.myDeposit > 0n) {
      const cap = this.#openingCollateralCap();
      const inOpenings = openingCollateral(this.#node.engine.ledgerChannels(), r.asset);
      if (inOpenings + r.myDeposit > cap) {
        this.logger.warn({ channelId: r.ledgerId, peer: r.counterparty, amount: r.myDeposit, inOpenings, cap }, 'ledger refused: collateral in unopened ledgers at its cap');
        return `the hub has ${inOpenings} of collateral in ledgers not open yet (cap ${cap}); retry later, or open the ledger without asking for a hub deposit`;
      }
      const peerCap = this.#peerCollateralCap();
      const toPeer = peerCollateral(this.#node.engine.ledgerChannels(), r.counterparty, r.asset);
      if (toPeer + r.myDeposit > peerCap) {
        this.logger.warn({ channelId: r.ledgerId, peer: r.counterparty, amount: r.myDeposit, toPeer, cap: peerCap }, 'ledger refused: collateral toward this peer at its cap');
        if (toPeer === 0n) return `the ledger asks the hub for ${r.myDeposit} of collateral, more than it keeps toward one peer (${peerCap}); ask for less, or open the ledger without asking for a hub deposit`;
        return `the hub already has ${toPeer} of collateral in ledgers with you, some being closed (cap ${peerCap} per peer): it is free once their exit ends on chain; retry then, ask for at most ${peerCap > toPeer ? peerCap - toPeer : 0n}, or open the ledger without asking for a hub deposit`;
      }
    }
    return true;
  }

  /** `policy.maxOpeningCollateral`, by default four times `maxLedgerDeposit`. */
  #openingCollateralCap(): bigint {
    const p = this.#init.policy ?? {};
    return p.maxOpeningCollateral ?? 4n * (p.maxLedgerDeposit ?? 0n);
  }

  /** `policy.maxPeerCollateral`, by default twice `maxLedgerDeposit`. */
  #peerCollateralCap(): bigint {
    const p = this.#init.policy ?? {};
    return p.maxPeerCollateral ?? 2n * (p.maxLedgerDeposit ?? 0n);
  }

  /** The total-cap part of the collateral policy (the per-channel limit and app run in the protocol). */
  #acceptVirtualChannel(r: VirtualChannelRequest): Decision {
    if (r.role !== 'intermediary') return true;
    const cap = this.#init.policy?.collateralCap;
    if (cap === undefined) return true;
    // A join may be evaluated more than once (a proposal retried as not-ready): never count the
    // channel's own earlier reservation against itself.
    const locked = this.#lockedIn(r.asset, r.channelId);
    if (locked + r.amount > cap) {
      this.logger.warn({ channelId: r.channelId, peer: r.payer, amount: r.amount, locked, cap }, 'virtual channel refused: collateral cap');
      return `the hub's collateral cap ${cap} would be exceeded (locked ${locked}, asked ${r.amount})`;
    }
    this.#pending.set(r.channelId, { asset: r.asset, amount: r.amount, at: Date.now() });
    return true;
  }

  /** Collateral locked (or promised) in open intermediary channels of `asset`. */
  #lockedIn(asset: Address, except?: string): bigint {
    let sum = 0n;
    const seen = new Set<string>();
    for (const v of this.#node.getVirtualChannels({ open: true })) {
      if (v.role !== 'intermediary' || !sameAddress(v.asset, asset) || v.channelId === except) continue;
      seen.add(v.channelId);
      sum += v.amount; // the node's index holds open channels only
    }
    const now = Date.now();
    for (const [id, p] of this.#pending) {
      if (id === except) continue;
      if (seen.has(id)) {
        this.#pending.delete(id);
        continue;
      }
      // accepted by us but refused later in the join (or not persisted): forget it after a while
      if (now - p.at > 2_000) this.#pending.delete(id);
      else if (sameAddress(p.asset, asset)) sum += p.amount;
    }
    return sum;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#startedAt = Date.now();
    this.#unsubscribe = this.#node.onAny((e) => this.#onEvent(e));
    await this.#node.start();
    this.#started = true;
    try {
      if (this.#init.chain.chainId !== undefined) {
        const id = await this.#rpcChainId();
        if (id !== null && id !== this.#init.chain.chainId) {
          throw new SluiceError('INVALID_ARGUMENT', `the RPC serves chain ${id}, not the configured chain ${this.#init.chain.chainId}`);
        }
        this.#chainId = this.#init.chain.chainId;
      } else this.#chainId = await this.#rpcChainId();
      this.#checkChallengeRange();
      await this.#checkAnswerTime();
      const http = this.#init.http;
      if (http !== false) {
        this.#http = await startHttpServer({ host: http?.host ?? '127.0.0.1', port: http?.port ?? 9464 }, {
          health: () => this.health(),
          status: () => this.status(),
          metrics: this.metrics.registry,
          logger: this.logger,
        });
      }
      this.#startRetention();
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.logger.info(
      { peer: this.address, peerId: this.peerId(), multiaddrs: this.multiaddrs(), http: this.httpUrl() ?? null, ledgers: this.#node.getLedgerChannels().length, chainId: this.#chainId, confirmations: this.#node.confirmations, minChallengeDurationS: this.#node.challengeDurations.ledger[0] },
      'hub started',
    );
  }

  #retainMs(): number | null {
    const r = this.#init.retainHistory;
    return r === false ? null : (r?.olderThanMs ?? DEFAULT_RETAIN_HISTORY_MS);
  }

  /** Prune history now and every `everyMs` (one pass at a time): `@sluice/channel-core/node`'s retention timer. */
  #startRetention(): void {
    const olderThanMs = this.#retainMs();
    if (olderThanMs === null) return;
    const r = this.#init.retainHistory;
    const everyMs = r === undefined || r === false ? undefined : r.everyMs;
    this.#retention = startHistoryRetention(this.#node, {
      olderThanMs,
      ...(everyMs === undefined ? {} : { everyMs }),
      logger: this.logger,
      onPass: (p) => this.metrics.historyPruned(p.channels, p.objectives, p.forgotten),
      onError: () => this.metrics.error('HISTORY_PRUNE_FAILED'),
    });
  }

  /** Refuse to start with no challenge duration to join: a default minimum raised past the maximum. */
  #checkChallengeRange(): void {
    const [min, max] = this.#node.challengeDurations.ledger;
    if (min <= max) return;
    throw new SluiceError(
      'INVALID_ARGUMENT',
      `the hub would join no channel: its default minimum challenge duration, ${min} s (5 min, or twice the time to answer a challenge at ${this.#node.confirmations} confirmations when longer), is over --max-challenge-duration (${max} s); raise --max-challenge-duration or set --min-challenge-duration`,
    );
  }

  /**
   * Warn when the shortest challenge the hub joins could finalize before the hub answers it: its
   * answer time at this chain's block time and our confirmations over half the minimum challenge
   * duration. Local chains (one confirmation, blocks on demand) are not checked.
   */
  async #checkAnswerTime(): Promise<void> {
    const url = this.#init.chain.rpcUrl;
    if (url === undefined || this.#chainId === null || LOCAL_CHAIN_IDS.includes(BigInt(this.#chainId))) return;
    // the node read it at start when it waits for more than one confirmation
    let blockTimeS = this.#node.blockTimeS;
    if (blockTimeS === undefined) {
      try {
        blockTimeS = await readBlockTime(url, { timeoutMs: 5_000 });
      } catch {
        blockTimeS = undefined;
      }
    }
    if (blockTimeS === undefined) return;
    const confirmations = this.#node.confirmations;
    const answerS = challengeAnswerTimeS(confirmations, blockTimeS);
    const { ledger, virtual } = this.#node.challengeDurations;
    const minS = Math.min(ledger[0], virtual[0]);
    if (answerS * 2 <= minS) return;
    this.logger.warn(
      { confirmations, blockTimeS: Math.round(blockTimeS * 100) / 100, answerS: Math.round(answerS), minChallengeDurationS: minS },
      'the shortest challenges the hub joins leave little time to answer them: raise --min-challenge-duration or lower --confirmations',
    );
  }

  async #rpcChainId(): Promise<number | null> {
    const url = this.#init.chain.rpcUrl;
    if (url === undefined) return null;
    try {
      return Number(await readRpcChainId(url, { timeoutMs: 5_000 }));
    } catch {
      return null;
    }
  }

  async stop(): Promise<void> {
    const http = this.#http;
    this.#http = undefined;
    await http?.close();
    const retention = this.#retention;
    this.#retention = undefined;
    await retention?.stop();
    if (this.#started) {
      this.#started = false;
      await this.#node.stop();
      this.logger.info({ peer: this.address }, 'hub stopped');
    }
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  httpUrl(): string | undefined {
    return this.#http?.url;
  }

  multiaddrs(): string[] {
    return this.#started ? this.#node.multiaddrs() : [];
  }

  peerId(): string | null {
    for (const m of this.multiaddrs()) {
      const hit = /\/p2p\/([1-9A-HJ-NP-Za-km-z]+)$/.exec(m);
      if (hit) return hit[1]!;
    }
    return null;
  }

  async health(): Promise<HealthReport> {
    let storeOk = false;
    let lastProcessedBlock: number | null = null;
    let chainHead: number | null = null;
    if (this.#started) {
      try {
        const v = this.#node.engine.store.getMeta('chain.lastBlock');
        lastProcessedBlock = v === undefined ? null : Number(v);
        storeOk = true;
      } catch {
        storeOk = false;
      }
      try {
        chainHead = (await this.#node.engine.chain.latestBlock({ timeoutMs: 3_000 })).number;
      } catch {
        chainHead = null;
      }
    }
    return {
      ok: this.#started && storeOk && chainHead !== null,
      address: this.address,
      peerId: this.peerId(),
      multiaddrs: this.multiaddrs(),
      chainId: this.#chainId,
      confirmations: this.#started ? this.#node.confirmations : null,
      challengeDurations: this.#started ? this.#node.challengeDurations : null,
      chainHead,
      lastProcessedBlock,
      storeOk,
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
    };
  }

  status(): HubStatus {
    if (!this.#started) throw new SluiceError('INVALID_ARGUMENT', 'the hub is not started');
    // the live ledgers in full; closed and failed ones (one per peer ever, and openings nobody
    // funded) only counted
    const all = this.#node.getLedgerChannels();
    const ledgerCounts: Record<string, number> = {};
    for (const l of all) ledgerCounts[l.status] = (ledgerCounts[l.status] ?? 0) + 1;
    const ledgers = all.filter((l) => l.status !== 'closed' && l.status !== 'failed');
    // the open ones from the node's index; the counts (closed ones included) from the store's
    // status index: a status request does not read every channel the hub ever relayed
    const vs = this.#node.getVirtualChannels({ open: true }).filter((v) => v.role === 'intermediary');
    const counts: Record<string, number> = { ...this.#node.getVirtualChannelCounts() };
    const locked = new Map<Address, bigint>();
    const free = new Map<Address, bigint>();
    for (const v of vs) locked.set(v.asset, (locked.get(v.asset) ?? 0n) + v.amount);
    for (const l of ledgers) if (l.status === 'open') free.set(l.asset, (free.get(l.asset) ?? 0n) + l.myBalance);
    const inOpenings = openingCollateralByAsset(this.#node.engine.ledgerChannels());
    const assets = [...new Set([...locked.keys(), ...free.keys(), ...inOpenings.keys()])].sort();
    const cap = this.#init.policy?.collateralCap;
    const openingCap = this.#openingCollateralCap();
    return {
      address: this.address,
      peerId: this.peerId(),
      multiaddrs: this.multiaddrs(),
      ledgers: ledgers.map((l) => ({
        channelId: l.channelId,
        counterparty: l.counterparty,
        asset: l.asset,
        status: l.status,
        turnNum: l.turnNum,
        hubBalance: l.myBalance.toString(),
        peerBalance: l.counterpartyBalance.toString(),
        locked: l.locked.toString(),
        guarantees: l.guarantees,
      })),
      ledgerCounts,
      virtualChannels: vs
        .map((v) => ({ channelId: v.channelId, payer: v.payer, payee: v.payee, asset: v.asset, amount: v.amount.toString(), status: v.status })),
      virtualChannelCounts: counts,
      collateral: assets.map((asset) => ({
        asset,
        locked: (locked.get(asset) ?? 0n).toString(),
        free: (free.get(asset) ?? 0n).toString(),
        cap: cap === undefined ? null : cap.toString(),
        inOpenings: (inOpenings.get(asset) ?? 0n).toString(),
        openingCap: openingCap.toString(),
      })),
      maxLedgerGuarantees: this.#init.policy?.maxLedgerGuarantees ?? DEFAULT_MAX_LEDGER_GUARANTEES,
      objectivesInFlight: this.#node.engine.activeObjectives().length,
      disputes: this.#node.getDisputes().map(disputeView),
      history: (() => {
        const p = this.#node.getPrunedHistory();
        return { retainMs: this.#retainMs(), prunedChannels: p.channels, prunedObjectives: p.objectives };
      })(),
    };
  }

  #onEvent(e: NodeEvent): void {
    const log = this.logger;
    switch (e.type) {
      case 'objectiveCreated':
        this.#timings.set(e.objectiveId, { type: e.objectiveType, startedAt: performance.now() });
        if (e.resumed === true) log.info({ objectiveId: e.objectiveId, channelId: e.channelId, type: e.objectiveType }, 'objective resumed (it had failed: the peer took it up again)');
        else log.debug({ objectiveId: e.objectiveId, channelId: e.channelId, type: e.objectiveType, initiatedBy: e.initiatedBy }, 'objective created');
        break;
      case 'objectiveCompleted': {
        const t = this.#timings.get(e.objectiveId);
        this.#timings.delete(e.objectiveId);
        const ms = t === undefined ? undefined : performance.now() - t.startedAt;
        if (ms !== undefined) this.metrics.observeObjective(e.objectiveType, ms / 1000);
        this.metrics.objectiveOutcome(e.objectiveType, 'completed');
        log.info({ objectiveId: e.objectiveId, channelId: e.channelId, type: e.objectiveType, ...(ms === undefined ? {} : { ms: Math.round(ms * 10) / 10 }) }, 'objective completed');
        break;
      }
      case 'objectiveFailed':
        this.#timings.delete(e.objectiveId);
        this.metrics.objectiveOutcome(e.objectiveType, 'failed');
        this.metrics.error(e.code);
        log.warn({ objectiveId: e.objectiveId, channelId: e.channelId, type: e.objectiveType, code: e.code, reason: e.reason }, 'objective failed');
        break;
      case 'objectiveStalled':
        this.metrics.error('OBJECTIVE_STALLED');
        log.warn({ objectiveId: e.objectiveId, channelId: e.channelId, type: e.objectiveType, reason: e.reason, waitingFor: e.waitingFor, peers: e.silentPeers, idleMs: e.idleMs }, 'objective stalled');
        break;
      case 'objectiveProgress':
        log.debug({ objectiveId: e.objectiveId, channelId: e.channelId, waitingFor: e.waitingFor }, 'objective progress');
        break;
      case 'messageRejected':
        this.metrics.error(e.code);
        log.warn({ peer: e.from, code: e.code, reason: e.reason, ...(e.objectiveId === undefined ? {} : { objectiveId: e.objectiveId }) }, 'message rejected');
        break;
      case 'ledgerChannelFunded':
        log.info({ channelId: e.channelId, peer: e.counterparty, asset: e.asset }, 'ledger channel funded');
        break;
      case 'ledgerChannelClosed':
        log.info({ channelId: e.channelId }, 'ledger channel closed');
        break;
      case 'ledgerChannelUpdated':
        log.debug({ channelId: e.channelId, turnNum: e.turnNum }, 'ledger channel updated');
        break;
      case 'virtualChannelProposed':
        log.debug({ channelId: e.channelId, peer: e.payer, payee: e.payee, amount: e.amount }, 'virtual channel proposed');
        break;
      case 'virtualChannelFunded':
        log.info({ channelId: e.channelId, peer: e.payer, payee: e.payee, amount: e.amount }, 'virtual channel funded');
        break;
      case 'virtualChannelClosing':
        log.debug({ channelId: e.channelId }, 'virtual channel closing');
        break;
      case 'virtualChannelClosed':
        log.info({ channelId: e.channelId, amount: e.paid }, 'virtual channel closed');
        break;
      default:
        break;
    }
  }
}

/** Engine / messaging log lines counted as errors (their `code`), in addition to the events. */
const TAP_ERRORS = new Set([
  'chain event stream error (retrying)',
  'chain reorganised',
  'chain event stream stopped',
  'transaction failed',
  'send failed',
  're-send failed',
  'message undeliverable',
  'rejected inbound frame',
  'message handler failed; sender will retry',
]);

