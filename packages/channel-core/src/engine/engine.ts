/**
 * The engine: the imperative shell around the pure protocols (go-nitro's `node/engine`).
 *
 * Every input — a peer message, a batch of chain events, an API call, a timer — runs
 * serialised through one queue and follows the same path:
 *
 *   load (objective + the latest copy of each ledger it uses)
 *   -> update(objective, event) -> crank(objective, secrets)
 *   -> ONE store transaction: objective, ledgers, channel records, outbound messages
 *   -> execute: transactions are submitted (after the commit), events are emitted
 *   -> re-crank every other objective whose ledger just changed.
 *
 * Messages are handed to the {@link MessageService} inside the same store transaction: the
 * libp2p adapter enqueues into the shared store's outbox synchronously, so a signed state and
 * the messages carrying it commit together, and nothing leaves the process before the commit.
 * Each objective also keeps its latest outbound messages, re-sent on restart and on timeout
 * (receivers are idempotent). Transactions are recorded as pending before they are submitted
 * and reconciled against the chain before any re-submission (no double deposit).
 */
import type { Address, ChannelId, Hex } from '../hex.ts';
import { privateKeyToAddress, sameAddress } from '../address.ts';
import { SluiceError, type SluiceErrorCode, isSluiceError, isSluiceErrorCode } from '../errors.ts';
import type { ChainEvent as PortChainEvent, ChainEventBatch, ChainService, ChallengeRegisteredEvent as PortChallengeRegistered } from '../chain.ts';
import { consumeChainEvents, newestDeliverable } from '../chain.ts';
import type { Clock } from '../ports/clock.ts';
import { systemClock } from '../ports/clock.ts';
import type { InboundMessage, MessageService, UndeliverableMessage } from '../ports/messaging.ts';
import { LAST_BLOCK_KEY, type StaleCursor, type Store } from '../ports/store.ts';
import { type Channel, destinationOf, entryAt, latestSupportedState, others } from '../protocols/channel.ts';
import { type ConsensusChannel, type Countersignature, consensusIncludes, counterparty, ledgerTotal, newConsensusChannel, receiveCountersignature } from '../protocols/ledger.ts';
import { type Objective, crank, ledgersOf, onTransactionFailed, statusReadsNeeded, waitsOnLedgers, update, watchedChannels, withLedger } from '../protocols/objective.ts';
import { type OnChainRecord, allocatedTo, disputeEventFromPort, guaranteesOf, isFinalizedAt, signedFinalOutcomes, statusFingerprint } from '../protocols/dispute.ts';
import { directDefundId } from '../protocols/direct-defund.ts';
import { type Outcome, hashOutcome } from '../outcome.ts';
import { newVirtualChallenge, virtualChallengeId } from '../protocols/virtual-challenge.ts';
import { virtualDefundId } from '../protocols/virtual-defund.ts';
import { type FallbackTrigger, fallbackPlan } from '../protocols/fallback.ts';
import { ledgerExitId, newLedgerExit, unknownGuaranteeTargets, withGuaranteedChannel, withTargetRecord } from '../protocols/ledger-exit.ts';
import { guaranteeRemovalId, newGuaranteeRemoval, removalByProof } from '../protocols/guarantee-removal.ts';
import { type VirtualFundObjective, countersignLateAdd, virtualFundAbandonable, virtualFundId, virtualFundUnfundedAtHub, withChallengedState } from '../protocols/virtual-fund.ts';
import { type LedgerTopUpObjective, topUpDepositConflicts, topUpDepositMined } from '../protocols/ledger-topup.ts';
import { type DirectFundObjective, directFundAbandonable, updateDirectFund, directFundAsksNothingOfUs, directFundHasOurDeposit, directFundId, directFundWaitsOnPeerPostfund } from '../protocols/direct-fund.ts';
import { parseJson, stringifyJson } from '../json.ts';
import { nonceTimeMs } from '../nonce.ts';
import {
  type DisputeInfo,
  type FallbackConfig,
  type FallbackObjective,
  FALLBACK_DEFAULTS,
  channelsOf,
  closedOnChain,
  disputeInfo,
  fallbackContext,
  headStartRank,
  isFallbackObjective,
  ledgerExitPayouts,
  needsPeer,
  openingVirtual,
  settledChannel,
  virtualPaid,
} from './fallback.ts';
import { paidAmount } from '../protocols/virtual-defund.ts';
import type { ChallengeRegisteredEvent, ObjectiveEvent, ProtocolMessage, Transaction } from '../protocols/types.ts';
import { eventChannelId, toProtocolEvent } from './chain-events.ts';
import type { EngineEvent, FallbackStartReason, ObjectiveType } from './events.ts';
import { type Joined, joinObjective, sameChannel, signedBy, topUpFor, topUpInProgress } from './join.ts';
import type { EnginePolicy } from './policy.ts';
import {
  type LedgerData,
  type ObjectiveData,
  type SentMessage,
  type VirtualData,
  type VirtualStatus,
  findLedgerIn,
  ONE_PER_PEER_LEDGER_STATUSES,
  getObjectiveData,
  listLedgerData,
  getVirtualData,
  putLedgerData,
  type LedgerView,
  putObjectiveData,
  restoreObjectiveLedgers,
  listVirtualData,
  putVirtualData,
  prunableChannelOfObjective,
  ledgerObjectiveIds,
  ledgerTopUpPrefix,
  virtualObjectiveIds,
} from './records.ts';
import { reconcileTransaction, toChainTransaction, transactionKey } from './transactions.ts';
import { fallbackTransactionKey } from '../protocols/dispute.ts';
import { type RejectObjectiveMessage, type WireMessage, decodeWireMessage, encodeWireMessage } from './wire.ts';

/** A pino-compatible logger. The engine logs ids and codes, never keys. */
export interface EngineLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EngineInit {
  /** The node's key (signs states; never logged or persisted by the engine). */
  readonly privateKey: Uint8Array | string;
  /** ConsensusApp address (ledger channels' app). */
  readonly consensusApp: Address;
  /** VirtualPaymentApp address (virtual channels' app). */
  readonly virtualPaymentApp: Address;
  readonly policy?: EnginePolicy;
  /** An objective that makes no progress this long is reported stalled and its messages re-sent (default 30 000). */
  readonly objectiveTimeoutMs?: number;
  /** How often stalls are checked (default min(1000, timeout / 4)). */
  readonly stallCheckIntervalMs?: number;
  /**
   * A ledger opening idle this long while nothing is at stake — we asked for no deposit and the
   * chain holds nothing for it — is abandoned (failed with PEER_TIMEOUT; the ledger record marked
   * failed); a deposit seen later resumes it. Bounds what peers who propose ledgers and never fund
   * them leave behind (default 3 600 000: an hour).
   */
  readonly openingTimeoutMs?: number;
  /**
   * As a hub: a virtual channel joined this long ago whose payee has still not signed the prefund
   * is given up (failed with PEER_TIMEOUT, the payer and the payee told). The hub signs the
   * prefund last, so nobody can have completed it; this bounds how long a payer who never reaches
   * the payee keeps the hub's collateral toward that payee reserved (default 60 000).
   */
  readonly prefundTimeoutMs?: number;
  /** First block to scan when no cursor is persisted (default: the latest block at first start). */
  readonly chainStartBlock?: number;
  /** Blocks an event must be deep before it is applied (default 1). */
  readonly confirmations?: number;
  /** Chain event polling interval once caught up (adapter default when absent). */
  readonly chainPollIntervalMs?: number;
  /** Attempts per transaction before it is reported stalled (default 5). */
  readonly txMaxAttempts?: number;
  /** Delay before the n-th retry of a transaction is n × this (default 1000). */
  readonly txRetryDelayMs?: number;
  /** Deadline of one chain call (default 60 000). */
  readonly txTimeoutMs?: number;
  /** The on-chain fallback: automatic trigger on silent peers and its timeout (the watchtower is always on). */
  readonly fallback?: FallbackConfig;
}

/** A trigger the caller can give {@link Engine.startFallback}. */
export type FallbackRequest = { readonly kind: 'userForce'; readonly channelId?: ChannelId } | { readonly kind: 'peerStalled'; readonly peer: Address };

/** Meta key of the watchtower's journal (checkpoints decided, not yet confirmed). */
export const WATCHTOWER_KEY = 'watchtower.pending';

/**
 * Meta key of our reclaim transactions sent and not yet seen mined: `[txHash, target][]`, oldest
 * first. Kept across restarts so that our own `Reclaimed`, mined after a restart, is still taken
 * for ours (else the exit yields to a counterparty that is not reclaiming, ADR 0008).
 */
export const RECLAIMS_SENT_KEY = 'fallback.reclaimsSent';
/**
 * Bound of {@link RECLAIMS_SENT_KEY}: a reclaim whose event never comes (dropped from the mempool,
 * replaced) would stay forever; the oldest go first. A ledger carries at most a few hundred
 * guarantees and its exit sends their reclaims one after the other, so 64 in flight is plenty.
 */
const MAX_RECLAIMS_SENT = 64;

/** A journaled watchtower answer: the checkpoint and the challenge it answers. */
interface WatchtowerEntry {
  readonly tx: Transaction;
  readonly event?: ChallengeRegisteredEvent;
}

export interface EngineComponents {
  readonly store: Store;
  readonly messaging: MessageService;
  readonly chain: ChainService;
  readonly clock?: Clock;
  readonly logger?: EngineLogger;
}

export type EngineListener = (event: EngineEvent) => void;

export interface Engine {
  /** Our address. */
  readonly address: Address;
  readonly store: Store;
  readonly chain: ChainService;
  readonly init: Readonly<EngineInit>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Subscribe to typed events; returns the unsubscribe function. */
  on(listener: EngineListener): () => void;
  /** Events as soon as their step is committed, before it is durable (in-process state only; see the implementation). */
  onCommitted(listener: EngineListener): () => void;
  /** Run `fn` serialised with everything else the engine does (store reads/writes that must not interleave). */
  serial<T>(fn: () => T | Promise<T>): Promise<T>;
  /**
   * Persist a locally created objective (with its channel records) and crank it. Call inside
   * {@link serial} when the caller's checks must be atomic with it.
   */
  startObjective(objective: Objective, records?: { ledger?: LedgerData; virtual?: VirtualData }): Promise<void>;
  /** The record of an objective (active or not). */
  objective(id: string): ObjectiveData | undefined;
  /** Active objectives (in memory, read-only). */
  activeObjectives(): Objective[];
  /** A virtual channel's record, from the engine's write-through cache (read-only). */
  virtualChannel(channelId: ChannelId): VirtualData | undefined;
  /** Virtual channel records not closed or failed (an in-memory index: no store scan after the first call). */
  openVirtualChannels(): VirtualData[];
  /** What we were paid as payee in virtual channels that are closed, per asset (lower-case), kept with the same index. */
  closedPayeeEarnings(): ReadonlyMap<string, bigint>;
  /**
   * History retention: delete the records of up to `limit` (default 200) virtual channels that
   * closed or failed before `before` (clock ms) — the channel record, its vouchers and its
   * objectives — and of up to `limit` ledgers failed or closed as long ago (record and
   * objectives), and remember their ids, so no objective for them is ever started or joined
   * again. A virtual channel is kept while any ledger we hold (current state or queued proposal)
   * still guarantees it or any objective of it is active; a ledger while an objective works on it
   * or its last state names guarantees; everything while a channel is being settled on chain. What closed payee channels paid is carried into a total first
   * ({@link closedPayeeEarnings} does not change). Does nothing on a store without retention.
   * Candidates are taken oldest first after `after`; pass the result's `next` to go on past
   * the ones kept.
   */
  pruneHistory(before: number, limit?: number, after?: PruneCursor): Promise<HistoryPruned>;
  /** What {@link pruneHistory} deleted over the store's life. */
  prunedHistory(): { readonly channels: number; readonly objectives: number };
  /** A ledger's record, from the engine's write-through cache (read-only). */
  ledgerChannel(channelId: ChannelId): LedgerData | undefined;
  /** Every ledger record (cached, read-only). */
  ledgerChannels(): LedgerData[];
  /** Whether we hold a live ledger (funding, open or closing) with `counterparty`: an index lookup. */
  hasLiveLedgerWith(counterparty: Address): boolean;
  /**
   * Resolve when the objective completes; reject with its failure, with `PEER_TIMEOUT` after
   * `timeoutMs`, or `ABORTED` on `signal`. The objective itself goes on.
   */
  waitForObjective(id: string, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
  /** Latest chain time (s, the latest block's timestamp) seen while caught up with chain events; 0 before. */
  readonly chainTime: number;
  /** True once the chain events up to the head were applied since `start` (fallback transactions wait for it). */
  readonly caughtUp: boolean;
  /** How many ledgers the engine keeps on-chain holdings for (those `funding` or `open` it saw a deposit into); for tests and metrics. */
  readonly holdingsTracked: number;
  /**
   * Settle channels on chain: runs `fallbackPlan` for the trigger and starts its objectives
   * (virtual challenges, ledger exits), superseding the cooperative objectives on those channels.
   * Idempotent (live or finished fallback objectives are not started again). Do not call inside {@link serial}.
   * @returns ids of the fallback objectives started
   * @throws SluiceError INVALID_ARGUMENT (nothing supported to register)
   */
  startFallback(trigger: FallbackRequest): Promise<string[]>;
  /**
   * Leave a ledger opening (a ledger not open yet), at the user's request. With nothing of ours in
   * it — no deposit of ours submitted — the opening is abandoned (failed with ABORTED; a deposit
   * seen later resumes it, as for an opening abandoned on timeout). With our deposit in it, it is
   * exited on chain with the prefund both signed (as the engine does by itself once the peer is
   * silent past the fallback timeout): every deposit is paid back after the challenge duration.
   * Do not call inside {@link serial}.
   * @returns `{ abandoned: true }`, or the ledger exit objective's id
   * @throws SluiceError CHANNEL_UNKNOWN (no opening in progress), INVALID_ARGUMENT (a deposit of
   *   ours is not mined yet: try again once it is)
   */
  leaveOpening(ledgerId: ChannelId): Promise<{ readonly abandoned: true } | { readonly objectiveId: string }>;
  /** Channels being settled on chain (the live fallback objectives), for `status` displays. */
  disputes(): DisputeInfo[];
  /** True while a stall on `peer` was seen and no message from it arrived since. */
  isPeerSilent(peer: Address): boolean;
}

/** One {@link Engine.pruneHistory} pass. */
export interface HistoryPruned {
  /** Virtual channels whose records were deleted. */
  readonly channels: number;
  /** Objective records deleted with them. */
  readonly objectives: number;
  /** Stale channels were skipped (still guaranteed, active, or settling) — they are tried again next time. */
  readonly skipped: number;
  /** The pass hit its limit: more may be due, after `next`. */
  readonly more: boolean;
  /** The last candidates looked at (the cursor of the next pass). */
  readonly next: PruneCursor;
  /**
   * Retired channel ids forgotten because their nonces are past the policy's nonce window
   * ({@link EnginePolicy.nonceWindow}; 0 without one).
   */
  readonly forgotten?: number;
}

/** Where a {@link Engine.pruneHistory} pass stopped: the last virtual channel and ledger candidates. */
export interface PruneCursor {
  readonly virtual?: StaleCursor;
  readonly ledger?: StaleCursor;
}

/** Meta key of the retention totals: `{ channels, objectives, payeePaid: { asset: amount } }`. */
const HISTORY_KEY = 'history.pruned';

interface PrunedTotals {
  channels: number;
  objectives: number;
  /** Paid to us as payee in deleted channel records, per lower-case asset. */
  payeePaid: Map<string, bigint>;
}

function readPrunedTotals(store: Store): PrunedTotals {
  const raw = store.getMeta(HISTORY_KEY);
  const out: PrunedTotals = { channels: 0, objectives: 0, payeePaid: new Map() };
  if (raw === undefined) return out;
  const j = JSON.parse(raw) as { channels?: unknown; objectives?: unknown; payeePaid?: Record<string, unknown> };
  if (typeof j.channels === 'number') out.channels = j.channels;
  if (typeof j.objectives === 'number') out.objectives = j.objectives;
  for (const [a, v] of Object.entries(j.payeePaid ?? {})) if (typeof v === 'string' && /^[0-9]{1,78}$/.test(v)) out.payeePaid.set(a, BigInt(v));
  return out;
}

function writePrunedTotals(store: Store, t: PrunedTotals): void {
  const payeePaid: Record<string, string> = {};
  for (const [a, v] of t.payeePaid) payeePaid[a] = v.toString();
  store.setMeta(HISTORY_KEY, JSON.stringify({ channels: t.channels, objectives: t.objectives, payeePaid }));
}

const noopLogger: EngineLogger = { debug() {}, info() {}, warn() {}, error() {} };
const MAX_SENT_PER_OBJECTIVE = 16;
/** Default {@link EngineInit.openingTimeoutMs}. */
const OPENING_TIMEOUT_MS = 3_600_000;
/** Default {@link EngineInit.prefundTimeoutMs}. */
const PREFUND_TIMEOUT_MS = 60_000;
/**
 * How long a ledger opening refused as a second ledger (LEDGER_EXISTS) waits, from its creation,
 * for the peer to see our last ledger with it close (see #awaitExitSeenBy): an exit's challenge
 * mined and confirmed there, with room for a slow first inclusion.
 */
const LEDGER_EXISTS_PATIENCE_MS = 600_000;
/** How long a peer seen silent stays marked without a new stall renewing the mark. */
const SILENT_TTL_MS = 3_600_000;
const MAX_CASCADE = 10_000;
/** Meta key: retired channel ids with a nonce time before this were forgotten (see #forgetRetired). */
const FORGOTTEN_BEFORE_KEY = 'history.forgottenBefore';
const GROUP_COMMIT = { durability: 'beforeSend' } as const;
/** Virtual channel statuses: open (in the index) and not. */
const OPEN_VIRTUAL: readonly VirtualStatus[] = ['funding', 'funded', 'closing'];
const CLOSED_VIRTUAL: readonly VirtualStatus[] = ['closed', 'failed'];
const isOpenVirtual = (v: VirtualData): boolean => OPEN_VIRTUAL.includes(v.status);

/** An inbound message waiting for the engine (see `#drainInbox`). */
interface InboxItem {
  readonly from: Address;
  readonly msg: WireMessage;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  /** The relay that delivered it on `from`'s behalf (then `from` is the relay's word, not proven). */
  readonly relayedBy?: Address;
  /**
   * Set when it was found not ready (`PROTOCOL_NOT_READY`: a ledger proposal ahead of an earlier
   * one, a final state ahead of our last postfund) and tried once more after the commits of its
   * drain; not ready again, the sender is told to retry (its backoff starts at 250 ms).
   */
  retried?: boolean;
}

async function settleSends(sends: readonly Promise<unknown>[], log: EngineLogger): Promise<void> {
  if (sends.length === 0) return;
  const results = await Promise.allSettled(sends);
  for (const r of results) {
    if (r.status === 'rejected') log.warn({ code: isSluiceError(r.reason) ? r.reason.code : 'unknown' }, 'send failed');
  }
}

/** The channel an objective is about. */
export function objectiveChannelId(o: Objective): ChannelId {
  switch (o.type) {
    case 'directFund':
    case 'directDefund':
      return o.channel.id;
    case 'virtualFund':
    case 'virtualDefund':
      return o.v.id;
    case 'ledgerTopUp':
      return o.ledger.id;
    default: {
      const x = o as unknown as { channel?: { id: ChannelId }; v?: { id: ChannelId }; ledger?: { id: ChannelId } };
      return (x.channel ?? x.v ?? x.ledger)?.id ?? ('0x' as ChannelId);
    }
  }
}

function ledgerVersion(l: ConsensusChannel | null | undefined): string {
  if (l == null) return '';
  return `${l.current.turnNum}/${l.queue.map((q) => q.turnNum).join(',')}`;
}

function sentKey(s: SentMessage): string {
  const m = s.message;
  const turn =
    m.kind === 'signedState' ? m.state.turnNum : m.kind === 'ledgerProposal' ? m.signedProposal.turnNum : m.countersignature.turnNum;
  const ledger = m.kind === 'ledgerProposal' ? m.signedProposal.ledgerId : m.kind === 'ledgerCountersignature' ? m.countersignature.ledgerId : '';
  return `${s.to.toLowerCase()}|${m.kind}|${ledger}|${turn}`;
}

function mergeSent(prior: readonly SentMessage[], added: readonly SentMessage[]): SentMessage[] {
  const map = new Map<string, SentMessage>();
  for (const s of [...prior, ...added]) {
    const k = sentKey(s);
    map.delete(k);
    map.set(k, s);
  }
  return [...map.values()].slice(-MAX_SENT_PER_OBJECTIVE);
}

/** Most peers the engine's liveness record keeps (a hub hears from every client and provider). */
const MAX_HEARD = 16_384;

/**
 * Peers an objective waits on, from what it waits for. Empty when it waits for the chain.
 * `alive` (optional) tells a peer known to be there (heard from lately, or connected): an
 * intermediary of a virtual channel known alive is not blamed for a signature it owes while an
 * end of the channel is missing too ({@link blameEnds}).
 */
export function silentPeers(o: Objective, waitingFor: string, alive?: (peer: Address) => boolean): Address[] {
  const missingAt = (ch: { fixedPart: { participants: readonly Address[] }; myIndex: number; states: readonly { state: { turnNum: number }; signatures: readonly unknown[] }[] }, turnNum: number): Address[] => {
    const e = ch.states.find((x) => x.state.turnNum === turnNum);
    return ch.fixedPart.participants.filter((_, i) => i !== ch.myIndex && (e === undefined || e.signatures[i] == null));
  };
  switch (o.type) {
    case 'directFund':
      if (waitingFor === 'WaitingForCompletePrefund') return missingAt(o.channel, 0);
      if (waitingFor === 'WaitingForCompletePostFund') return missingAt(o.channel, 1);
      if (waitingFor === 'WaitingForMyTurnToFund') return others(o.channel);
      return [];
    case 'directDefund':
      return waitingFor === 'WaitingForFinalization' ? missingAt(o.channel, o.finalTurnNum) : [];
    case 'virtualFund':
    case 'virtualDefund': {
      if (waitingFor === 'WaitingForCompletePrefund') return blameEnds(o.v, missingAt(o.v, 0), alive);
      if (waitingFor === 'WaitingForCompletePostFund') return blameEnds(o.v, missingAt(o.v, 1), alive);
      if (waitingFor === 'WaitingForSupportedFinalState') return blameEnds(o.v, missingAt(o.v, 2), alive);
      if (waitingFor === 'WaitingForFinalStateProposal') return blameEnds(o.v, others(o.v), alive);
      return ledgersOf(o).map((l) => counterparty(l));
    }
    case 'ledgerTopUp':
    case 'guaranteeRemoval':
      return waitingFor === 'WaitingForLedgerUpdate' ? [counterparty(o.ledger)] : [];
    default:
      return [];
  }
}

/**
 * Of the parties of virtual channel `v` whose signature we miss, those to blame. An intermediary
 * signs V's postfund once its ledgers on both sides hold the guarantee, which takes the far end's
 * countersignature (and a final state once the ends agree). So while an end of V (the payer or
 * the payee, not us) is missing too, an intermediary that is known `alive` is only passing that
 * end's silence on: blaming it would exit our ledger with a hub that answers everything (gas, and
 * our deposit locked for the ledger's challenge duration) when the payee is what went away. An
 * intermediary not known alive is blamed with the ends: messages to the far end may go through it
 * (relayed), so its death silences both. What settles V against a silent end (V on chain, then
 * the guarantee's removal by proof) waits on the hub next, and blames it then if it fails.
 */
function blameEnds(v: { fixedPart: { participants: readonly Address[] }; myIndex: number }, missing: Address[], alive: ((peer: Address) => boolean) | undefined): Address[] {
  if (alive === undefined) return missing;
  const ps = v.fixedPart.participants;
  const ends = [0, ps.length - 1].filter((i) => i !== v.myIndex).map((i) => ps[i]!);
  const isEnd = (m: Address): boolean => ends.some((e) => sameAddress(e, m));
  if (!missing.some(isEnd)) return missing;
  return missing.filter((m) => isEnd(m) || !alive(m));
}

function isLive(l: LedgerData): boolean {
  return l.status === 'funding' || l.status === 'open' || l.status === 'closing';
}

function addTo(m: Map<string, Set<string>>, k: string, v: string): void {
  const set = m.get(k);
  if (set === undefined) m.set(k, new Set([v]));
  else set.add(v);
}

/**
 * Create an engine, js-libp2p style.
 * @param init - key, app addresses, policy, timeouts
 * @param components - store, messaging, chain (+ clock, logger)
 */
export function createEngine(init: EngineInit, components: EngineComponents): Engine {
  return new EngineImpl(init, components);
}

class EngineImpl implements Engine {
  readonly address: Address;
  readonly store: Store;
  readonly chain: ChainService;
  readonly init: Readonly<EngineInit>;
  readonly #messaging: MessageService;
  readonly #clock: Clock;
  readonly #log: EngineLogger;
  readonly #secrets: { privateKey: Uint8Array | string };
  readonly #policy: EnginePolicy;
  /** {@link #forgottenBefore}, once read. */
  #forgottenMark: number | undefined;
  readonly #timeout: number;
  readonly #active = new Map<string, ObjectiveData>();
  readonly #listeners = new Set<EngineListener>();
  readonly #committedListeners = new Set<EngineListener>();
  /** Events of the current group, for the committed-listeners at its end (before the fsync). */
  #committedEvents: EngineEvent[] = [];
  readonly #stallNotified = new Map<string, number>();
  /** Stalls reported per live objective: logged at warn on the 1st, 2nd, 4th, 8th… (the event every time). */
  readonly #stallCounts = new Map<string, number>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #txRunning = new Set<string>();
  /** Fallback objectives (ids) in which nobody ahead of us moved within our head start: we no longer wait ({@link #otherMovedFirst}). */
  readonly #headStartSpent = new Set<string>();
  #queue: Promise<unknown> = Promise.resolve();
  #lifecycle: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #chainLoop: Promise<void> | undefined;
  /** Write-through cache of ledger records (the engine is their only writer). */
  #ledgerCache: Map<string, LedgerData> | undefined;
  /** {@link hasLiveLedgerWith}'s index; rebuilt from the cache when dropped. */
  #liveLedgers: Map<string, Set<string>> | undefined;
  /** Write-through cache of the open virtual channel records (closed/failed ones are dropped; misses are not kept). */
  readonly #virtualCache = new Map<string, VirtualData>();
  /** Pending `waitForObjective` calls, rejected with ABORTED on stop. */
  readonly #waiters = new Set<(err: unknown) => void>();
  /** Ledger openings refused as a second ledger while our last one with the peer closes (id -> re-sends made, one scheduled; see #awaitExitSeenBy). */
  readonly #exitNotSeen = new Map<string, { resends: number; scheduled: boolean }>();
  /** Rejections that arrived before the objective they refuse (bounded, oldest dropped). */
  readonly #earlyRejections = new Map<string, { from: Address; msg: RejectObjectiveMessage; relayedBy: Address | undefined }>();
  readonly #ledgerView: LedgerView = { get: (id) => this.#getLedger(id), list: () => this.#ledgerMap().values() };
  /** Latest chain time seen while caught up (s). */
  #chainNow = 0;
  /** Chain events applied up to the head since start: until then fallback objectives are updated, not cranked. */
  #caughtUp = false;
  /** Peers seen silent (lowercase address -> clock time), cleared by any message from them. */
  readonly #silent = new Map<string, number>();
  /** Silence past which a peer an objective needs is taken as gone (`fallback.peerTimeoutMs`). */
  get #peerTimeoutMs(): number {
    return this.init.fallback?.peerTimeoutMs ?? FALLBACK_DEFAULTS.peerTimeoutMs;
  }
  /** When we last got a message from a peer, or relayed by it (lowercase address -> clock time; bounded). */
  readonly #heard = new Map<string, number>();
  /**
   * Whether `peer` is known to be there: heard from within the peer timeout, or connected now
   * (when the messaging component can tell). Used to not blame a hub for a signature it owes only
   * once a silent payer or payee has given it (see `blameEnds`).
   */
  readonly #alive = (peer: Address): boolean => {
    const p = peer.toLowerCase();
    const t = this.#heard.get(p);
    if (t !== undefined && this.#clock.now() - t < this.#peerTimeoutMs) return true;
    return this.#messaging.connectedPeers?.().some((a) => a.toLowerCase() === p) ?? false;
  };
  /**
   * Peers the automatic fallback found stalled (a `peerStalled` trigger fired for them: silent past
   * `fallback.peerTimeoutMs` during an objective that needs them), lowercase address -> clock time;
   * cleared by any message from them. A ledger with such a peer is exited at once when one of its
   * virtual channels goes on chain, instead of waiting for V's finalization and a removal that
   * would time out too.
   */
  readonly #stalled = new Map<string, number>();
  /** Ledgers whose exit for a stalled peer was held back for an uncredited top-up deposit of ours (warned once). */
  readonly #topUpHeld = new Set<string>();
  /**
   * Ledgers whose exit for a stalled peer is held back because the chain holds more for them than
   * the agreed state allocates (the peer's top-up deposit awaiting its credit, most likely):
   * lower-case id -> clock time of the first hold and the agreed turn then (a new agreed state
   * means the peer came back meanwhile: the clock starts again). Bounded by the ledger's
   * challenge duration: a hold that ends with nothing heard from the peer since it started exits
   * the ledger then (#checkStalls), whether or not anything else stalls on the peer meanwhile.
   */
  readonly #creditHeld = new Map<string, { readonly since: number; readonly turnNum: number; heard: boolean }>();
  /**
   * Our reclaim transactions: lower-case tx hash -> target, to attribute `Reclaimed` events.
   * Written through to {@link RECLAIMS_SENT_KEY} (loaded at start), in insertion order.
   */
  readonly #reclaimTargets = new Map<string, ChannelId>();
  /**
   * Holdings of our ledgers as last seen on chain (Deposited events, or read when a follower must
   * check a top-up proposal and none was seen since start), by lower-case id, with the position
   * of the event; they only grow while a ledger is open. Only ledgers `funding` or `open` have an
   * entry: it goes when the ledger leaves them (closing, closed, failed: no top-up can start on
   * it any more) or its records are pruned, so the map is bounded by the ledgers in use.
   */
  readonly #holdings = new Map<string, { readonly holdings: bigint; readonly blockNumber: number; readonly logIndex: number }>();
  readonly #holdingsReads = new Set<ChannelId>();
  /** Failed attempts per fallback step. */
  readonly #txFailures = new Map<string, number>();
  /** `objectiveId|channelId` pairs with a `statusOf` read in flight. */
  readonly #statusReads = new Set<string>();
  /** Depth of {@link #grouped} sections: inside one, commits are group commits and external effects wait for the sync. */
  #groupDepth = 0;
  /** Events and chain submissions held back until the group's commits are durable. */
  #deferred: (() => void)[] = [];
  /** Open (not closed/failed) virtual channel records by lower-case id; undefined until first needed. */
  #openVirtuals: Map<string, VirtualData> | undefined;
  /** Paid to us as payee in channels no longer open, per lower-case asset; undefined until first asked for. */
  #closedPayeePaid: Map<string, bigint> | undefined;
  /** The last outermost group's sync and held-back effects: resolves once that group is durable. */
  #groupSync: Promise<void> = Promise.resolve();
  /** Inbound messages waiting for the next drain (one group commit for all of them). */
  #inbox: InboxItem[] = [];
  #drainScheduled = false;
  /** Store commits made by the engine (a message not ready is retried once when it moved). */
  #commits = 0;

  constructor(init: EngineInit, components: EngineComponents) {
    this.init = init;
    this.address = privateKeyToAddress(init.privateKey);
    this.#secrets = { privateKey: init.privateKey };
    this.store = components.store;
    this.chain = components.chain;
    this.#messaging = components.messaging;
    this.#clock = components.clock ?? systemClock;
    this.#log = components.logger ?? noopLogger;
    this.#policy = init.policy ?? {};
    this.#timeout = init.objectiveTimeoutMs ?? 30_000;
    this.#messaging.onMessage((m) => this.#onMessage(m));
    this.#messaging.onUndeliverable((u) => this.#onUndeliverable(u));
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.#lifecycle !== undefined) return;
    const lifecycle = new AbortController();
    this.#lifecycle = lifecycle;
    this.#caughtUp = false;
    await this.serial(async () => {
      this.#active.clear();
      this.#dropCaches();
      // A peer's silence is counted from now: while we were down we could not hear it (its
      // answers sat in its outbox), so our own downtime must not make it look stalled. (Kept as
      // stored, a hub back from an outage longer than the peer timeout went on chain at once
      // against every peer with an objective in flight: found by bench:chaos.)
      const restartedAt = this.#clock.now();
      this.#reclaimTargets.clear();
      this.#exitNotSeen.clear();
      const sent = this.store.getMeta(RECLAIMS_SENT_KEY);
      if (sent !== undefined) for (const [hash, target] of parseJson(sent) as [string, ChannelId][]) this.#reclaimTargets.set(hash, target);
      for (const r of this.store.listObjectives('active')) {
        this.#active.set(r.id, { ...restoreObjectiveLedgers(this.store, r.data as ObjectiveData), progressAt: restartedAt });
      }
      // Resume: re-send what each objective last sent, re-submit unconfirmed transactions, re-crank.
      for (const data of [...this.#active.values()]) {
        this.#resend(data);
        for (const tx of data.pendingTxs) this.#runTransaction(data.objective.id, tx, true);
        await this.#advance(data.objective.id, undefined);
        // a status read the objective was waiting for when we stopped (a re-crank that changes
        // nothing does not ask again)
        const o = this.#active.get(data.objective.id)?.objective;
        if (o !== undefined) for (const c of statusReadsNeeded(o)) this.#readStatus(o.id, c);
      }
    });
    let fromBlock: number;
    const last = this.store.getMeta(LAST_BLOCK_KEY);
    if (last !== undefined) fromBlock = Number(last) + 1;
    else {
      fromBlock = this.init.chainStartBlock ?? (await this.chain.latestBlock({ signal: lifecycle.signal })).number;
      this.store.setMeta(LAST_BLOCK_KEY, String(fromBlock - 1));
    }
    this.#chainLoop = consumeChainEvents(
      this.chain,
      {
        fromBlock,
        signal: lifecycle.signal,
        ...(this.init.confirmations === undefined ? {} : { confirmations: this.init.confirmations }),
        ...(this.init.chainPollIntervalMs === undefined ? {} : { pollIntervalMs: this.init.chainPollIntervalMs }),
        onError: (e) => {
          if (isSluiceError(e, 'CHAIN_REORG')) {
            // events already acted on may be gone: what was built on them is re-checked against the new chain's events
            this.#log.error({ code: e.code, ...e.details, detail: `${e.message}; consider more confirmations for this chain` }, 'chain reorganised');
          } else this.#log.warn({ code: isSluiceError(e) ? e.code : e.name }, 'chain event stream error (retrying)');
        },
      },
      (batch) => this.serial(() => this.#onChainBatch(batch)),
    ).catch((e: unknown) => {
      if (!lifecycle.signal.aborted) this.#log.error({ code: isSluiceError(e) ? e.code : 'unknown' }, 'chain event stream stopped');
    });
    // Already at the head (nothing mined since the last run): no batch may come for a while, so
    // check now whether the fallback objectives can be cranked.
    void this.serial(() => this.#feedChainTime(fromBlock - 1)).catch(() => {});
    const every = this.init.stallCheckIntervalMs ?? Math.max(10, Math.min(1000, Math.floor(this.#timeout / 4)));
    this.#timer = setInterval(() => void this.serial(() => this.#checkStalls()).catch(() => {}), every);
    this.#timer.unref();
    this.#log.info({ peer: this.address, active: this.#active.size, fromBlock }, 'engine started');
  }

  async stop(): Promise<void> {
    const lifecycle = this.#lifecycle;
    if (lifecycle === undefined) return;
    this.#lifecycle = undefined;
    lifecycle.abort(new SluiceError('ABORTED', 'engine stopped'));
    for (const w of [...this.#waiters]) w(new SluiceError('ABORTED', 'engine stopped'));
    clearInterval(this.#timer);
    this.#timer = undefined;

    await this.#chainLoop;
    await Promise.allSettled([...this.#tasks]);
    await this.#queue.catch(() => {});
    await this.#groupSync.catch(() => {}); // the last group's fsync and its held-back effects
    this.#log.info({ peer: this.address }, 'engine stopped');
  }

  on(listener: EngineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Listen to events as soon as their step is committed — before it is durable (see
   * {@link #grouped}), in order, synchronously at the end of the group. For in-process state
   * that must follow the engine's records at once (the Node's voucher ledgers: a payee must stop
   * accepting vouchers the moment it signed a final state). Such a listener must not release
   * anything outside the process; {@link on} listeners get the same events once durable.
   */
  onCommitted(listener: EngineListener): () => void {
    this.#committedListeners.add(listener);
    return () => this.#committedListeners.delete(listener);
  }

  #emit(event: EngineEvent): void {
    if (this.#groupDepth > 0) {
      this.#committedEvents.push(event);
      this.#deferred.push(() => this.#emitNow(event));
      return;
    }
    this.#emitTo(this.#committedListeners, event);
    this.#emitNow(event);
  }

  #emitTo(listeners: ReadonlySet<EngineListener>, event: EngineEvent): void {
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch (e) {
        this.#log.warn({ event: event.type, reason: e instanceof Error ? e.message : String(e) }, 'event listener threw');
      }
    }
  }

  #emitNow(event: EngineEvent): void {
    this.#emitTo(this.#listeners, event);
  }

  serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  // ---------------------------------------------------------------- group commit

  /**
   * Run `fn` (synchronous: no await, so nothing else runs in between) as one group: every store
   * transaction inside commits with `durability: 'beforeSend'` (atomic and visible, not yet
   * fsync'd); when the outermost group ends, ONE `store.sync()` makes them all durable, and only
   * then are the held-back effects run — events (which resolve API calls) and chain
   * submissions. Messages handed to the messaging adapter inside the transactions leave the
   * process only after that sync: the libp2p adapter syncs the shared store before it sends or
   * acks, and the in-memory transport delivers on a later timer, after this synchronous section.
   */
  #grouped<T>(fn: () => T): T {
    this.#groupDepth++;
    let ok = false;
    try {
      if (this.#groupDepth > 1) {
        const out = fn();
        ok = true;
        return out;
      }
      // The whole group is one store transaction and each step's transaction a savepoint in it:
      // a page several steps modify (a shared ledger's record, above all) goes to the WAL once
      // per group, not once per step. A step that throws still leaves nothing of its own; the
      // group commits whatever the other steps did.
      let out: T | undefined;
      let failure: { error: unknown } | undefined;
      try {
        this.store.transaction(() => {
          try {
            out = fn();
          } catch (e) {
            failure = { error: e };
          }
        }, GROUP_COMMIT);
      } catch (e) {
        this.#dropCaches(); // the commit failed: the caches may hold what it would have written
        throw e;
      }
      if (failure !== undefined) throw failure.error;
      ok = true;
      return out as T;
    } finally {
      this.#groupDepth--;
      if (this.#groupDepth === 0) this.#endGroup(ok);
    }
  }

  #endGroup(ok: boolean): void {
    const committed = this.#committedEvents;
    this.#committedEvents = [];
    for (const e of committed) this.#emitTo(this.#committedListeners, e);
    const run = this.#deferred;
    this.#deferred = [];
    if (this.store.syncAsync !== undefined) {
      // The fsync runs off the event loop and the engine goes on with its next input meanwhile:
      // later steps are later in the WAL, and their effects wait for their own (later) sync.
      const durable = this.store.syncAsync().then(() => {
        for (const f of run) f();
      });
      durable.catch((e: unknown) => this.#log.error({ code: isSluiceError(e) ? e.code : 'unknown' }, 'store sync failed; effects held back'));
      this.#groupSync = durable;
      return;
    }
    this.#groupSync = Promise.resolve();
    try {
      this.store.sync?.();
    } catch (e) {
      // Not durable: hold nothing back that depends on it (a restart resumes from the store).
      if (ok) throw e;
      return;
    }
    for (const f of run) f();
  }

  /** Store transaction options: a group commit inside {@link #grouped}, else durable on return. */
  #txOptions(): { durability: 'beforeSend' } | undefined {
    return this.#groupDepth > 0 ? GROUP_COMMIT : undefined;
  }

  /** Run `f` once the current group is durable (at once outside a group). */
  #afterSync(f: () => void): void {
    if (this.#groupDepth > 0) this.#deferred.push(f);
    else f();
  }

  objective(id: string): ObjectiveData | undefined {
    return this.#active.get(id) ?? getObjectiveData(this.store, id);
  }

  get chainTime(): number {
    return this.#chainNow;
  }

  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  isPeerSilent(peer: Address): boolean {
    return this.#silent.has(peer.toLowerCase());
  }

  startFallback(trigger: FallbackRequest): Promise<string[]> {
    return this.serial(() => this.#runFallbackPlan(trigger));
  }

  leaveOpening(ledgerId: ChannelId): Promise<{ readonly abandoned: true } | { readonly objectiveId: string }> {
    return this.serial(async () => {
      const exitId = ledgerExitId(ledgerId);
      if (this.#active.has(exitId)) return { objectiveId: exitId };
      const data = this.#active.get(directFundId(ledgerId));
      const o = data?.objective;
      if (data === undefined || o?.type !== 'directFund' || o.status !== 'approved') {
        throw new SluiceError('CHANNEL_UNKNOWN', 'no ledger opening in progress with this id', { details: { channelId: ledgerId } });
      }
      if (directFundHasOurDeposit(o)) {
        await this.#exitOpening(o, 'forced');
        return { objectiveId: exitId };
      }
      if (o.depositsSubmitted.length > 0 || data.pendingTxs.length > 0) {
        throw new SluiceError('INVALID_ARGUMENT', 'our deposit into this opening is not mined yet: try again once it is', { details: { channelId: ledgerId } });
      }
      // Nothing of ours is held. A deposit of the peer's may be: its node exits it with the
      // prefund once we stay silent (as ours would).
      this.#failObjective(data, o, new SluiceError('ABORTED', 'ledger opening given up by us (a deposit seen later resumes it)'), true);
      return { abandoned: true };
    });
  }

  /** Exit on chain, with the prefund both signed, a ledger opening we deposited into (inside {@link serial}). */
  async #exitOpening(o: DirectFundObjective, reason: 'forced' | 'peerStalled'): Promise<void> {
    if (this.#exists(ledgerExitId(o.channel.id))) return;
    await this.#startFallbackObjective(newLedgerExit({ ledger: o.channel, now: this.#chainNow }), reason);
  }

  disputes(): DisputeInfo[] {
    const out: DisputeInfo[] = [];
    for (const d of this.#active.values()) if (isFallbackObjective(d.objective)) out.push(disputeInfo(d.objective, d.waitingFor, this.address));
    return out;
  }

  activeObjectives(): Objective[] {
    return [...this.#active.values()].map((d) => d.objective);
  }

  waitForObjective(id: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanup: (() => void)[] = [];
      const done = (err?: unknown): void => {
        for (const c of cleanup) c();
        if (err === undefined) resolve();
        else reject(err);
      };
      const stopped = (err: unknown): void => done(err);
      this.#waiters.add(stopped);
      cleanup.push(() => this.#waiters.delete(stopped));
      const check = (): boolean => {
        const d = this.objective(id);
        if (d === undefined) return false;
        if (d.objective.status === 'completed') {
          done();
          return true;
        }
        if (d.objective.status === 'rejected') {
          done(new SluiceError((d.failure?.code as never) ?? 'INTERNAL', d.failure?.message ?? 'objective failed', { details: { objectiveId: id } }));
          return true;
        }
        return false;
      };
      if (check()) return;
      cleanup.push(
        this.on((e) => {
          // Events are emitted only once their step is durable: a completion needs no store read.
          if (e.type === 'objectiveCompleted' && e.objectiveId === id) done();
          else if (e.type === 'objectiveFailed' && e.objectiveId === id) check();
        }),
      );
      const signal = options.signal;
      if (signal !== undefined) {
        if (signal.aborted) return done(new SluiceError('ABORTED', 'aborted', { cause: signal.reason }));
        const onAbort = (): void => done(new SluiceError('ABORTED', 'aborted', { cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
        cleanup.push(() => signal.removeEventListener('abort', onAbort));
      }
      if (options.timeoutMs !== undefined) {
        const t = setTimeout(() => {
          const d = this.objective(id);
          done(
            new SluiceError('PEER_TIMEOUT', 'objective did not complete in time', {
              details: {
                objectiveId: id,
                waitingFor: d?.waitingFor ?? 'unknown',
                silentPeers: d === undefined ? [] : silentPeers(d.objective, d.waitingFor, this.#alive),
              },
            }),
          );
        }, options.timeoutMs);
        cleanup.push(() => clearTimeout(t));
      }
    });
  }

  // ---------------------------------------------------------------- records

  #ledgerMap(): Map<string, LedgerData> {
    if (this.#ledgerCache === undefined) {
      this.#ledgerCache = new Map(listLedgerData(this.store).map((l) => [l.ledgerId.toLowerCase(), l]));
    }
    return this.#ledgerCache;
  }

  #getLedger(id: ChannelId): LedgerData | undefined {
    return this.#ledgerMap().get(id.toLowerCase());
  }

  /** Live ledgers (funding, open, closing) by counterparty (lowercase): derived from the ledger cache. */
  #liveByPeer(): Map<string, Set<string>> {
    if (this.#liveLedgers === undefined) {
      const m = new Map<string, Set<string>>();
      for (const l of this.#ledgerMap().values()) if (isLive(l)) addTo(m, l.counterparty.toLowerCase(), l.ledgerId.toLowerCase());
      this.#liveLedgers = m;
    }
    return this.#liveLedgers;
  }

  hasLiveLedgerWith(counterparty: Address): boolean {
    return (this.#liveByPeer().get(counterparty.toLowerCase())?.size ?? 0) > 0;
  }

  #putLedger(ld: LedgerData, now: number): void {
    putLedgerData(this.store, ld, now);
    this.#ledgerMap().set(ld.ledgerId.toLowerCase(), ld);
    if (this.#liveLedgers !== undefined) {
      const peer = ld.counterparty.toLowerCase();
      const id = ld.ledgerId.toLowerCase();
      if (isLive(ld)) addTo(this.#liveLedgers, peer, id);
      else {
        const set = this.#liveLedgers.get(peer);
        set?.delete(id);
        if (set?.size === 0) this.#liveLedgers.delete(peer);
      }
    }
    // no top-up can start on a ledger that is no longer being opened or open: its holdings can go
    if (ld.status !== 'open' && ld.status !== 'funding') this.#holdings.delete(ld.ledgerId.toLowerCase());
  }

  get holdingsTracked(): number {
    return this.#holdings.size;
  }

  #getVirtual(id: ChannelId): VirtualData | undefined {
    const k = id.toLowerCase();
    let v = this.#virtualCache.get(k);
    if (v === undefined) {
      v = getVirtualData(this.store, id);
      // Misses are not cached: peers name channel ids (messages, vouchers), and remembering every
      // id asked for would let them grow this map without bound.
      if (v !== undefined && isOpenVirtual(v)) this.#virtualCache.set(k, v);
    }
    return v;
  }

  #putVirtual(vd: VirtualData, now: number): void {
    const k = vd.channelId.toLowerCase();
    const closes = !isOpenVirtual(vd);
    // a payee channel that closes now adds to the closed earnings (if they are kept yet)
    let closesOpen = false;
    if (closes && vd.role === 'payee' && this.#closedPayeePaid !== undefined) {
      const prev = this.#virtualCache.get(k) ?? getVirtualData(this.store, vd.channelId);
      closesOpen = prev !== undefined && isOpenVirtual(prev);
    }
    putVirtualData(this.store, vd, now);
    if (closes) {
      this.#virtualCache.delete(k);
      this.#openVirtuals?.delete(k);
      if (closesOpen) this.#addClosedPayeePaid(this.#closedPayeePaid!, vd);
    } else {
      this.#virtualCache.set(k, vd);
      this.#openVirtuals?.set(k, vd);
    }
  }

  openVirtualChannels(): VirtualData[] {
    return [...this.#virtualIndex().values()];
  }

  pruneHistory(before: number, limit = 200, after: PruneCursor = {}): Promise<HistoryPruned> {
    return this.serial(() => this.#pruneHistory(before, limit, after));
  }

  prunedHistory(): { readonly channels: number; readonly objectives: number } {
    const t = readPrunedTotals(this.store);
    return { channels: t.channels, objectives: t.objectives };
  }

  #pruneHistory(before: number, limit: number, after: PruneCursor): HistoryPruned {
    const st = this.store;
    const none: HistoryPruned = { channels: 0, objectives: 0, skipped: 0, more: false, next: after };
    if (st.listStaleChannelIds === undefined || st.retire === undefined || st.isRetired === undefined) return none;
    // A channel being settled on chain may meet an older state's guarantees: keep everything.
    for (const d of this.#active.values()) if (isFallbackObjective(d.objective)) return none;
    // Ledgers done with: openings that failed (refused, or abandoned with nothing at stake —
    // a deposit can no longer resume them once deleted) and ledgers closed (paid out on chain,
    // cooperatively or by an exit). Kept while an objective works on one, or while its last state
    // still names guarantees. Deleted with their objectives (top-ups by id prefix).
    let skipped = 0;
    const doneLedgers = st.listStaleChannelIds('ledger', ['failed', 'closed'], before, limit, after.ledger);
    const ledgers: ChannelId[] = [];
    const ledgerObjectives: string[] = [];
    const ledgerPrefixes: string[] = [];
    if (doneLedgers.length > 0) {
      const busy = new Set<string>();
      for (const d of this.#active.values()) for (const c of channelsOf(d.objective)) busy.add(c.toLowerCase());
      for (const { channelId: id } of doneLedgers) {
        const ld = this.#getLedger(id);
        if (ld === undefined || (ld.status !== 'failed' && ld.status !== 'closed') || busy.has(id.toLowerCase()) || (ld.ledger?.current.outcome.guarantees.length ?? 0) > 0) {
          skipped++;
          continue;
        }
        ledgers.push(id);
        for (const oid of ledgerObjectiveIds(id)) if (this.#hasRecord(oid)) ledgerObjectives.push(oid);
        ledgerPrefixes.push(ledgerTopUpPrefix(id), `GuaranteeRemoval-${id.toLowerCase()}-`);
      }
    }
    const ledgerNonces = ledgers.map((id) => this.#nonceTimeOf(this.#getLedger(id)?.ledger?.fixedPart.channelNonce, directFundId(id)));
    const stale = st.listStaleChannelIds('virtual', CLOSED_VIRTUAL, before, limit, after.virtual);
    if (stale.length === 0 && ledgers.length === 0) {
      const forgotten = this.#forgetRetired(limit);
      return { ...none, forgotten, more: forgotten === limit };
    }
    const guarded = new Set<string>();
    for (const l of this.#ledgerMap().values()) {
      if (l.ledger === null) continue;
      for (const g of l.ledger.current.outcome.guarantees) guarded.add(g.target.toLowerCase());
      for (const { proposal: p } of l.ledger.queue) {
        if (p.type === 'add') guarded.add(p.guarantee.target.toLowerCase());
        else if (p.type === 'remove') guarded.add(p.target.toLowerCase());
      }
    }
    const channels: ChannelId[] = [];
    const nonces: (number | undefined)[] = [];
    const objectives: string[] = [];
    const paid = new Map<string, bigint>();
    for (const { channelId: id } of stale) {
      const ids = virtualObjectiveIds(id);
      const vd = getVirtualData(st, id);
      if (vd === undefined || isOpenVirtual(vd) || guarded.has(id.toLowerCase()) || ids.some((o) => this.#active.has(o))) {
        skipped++;
        continue;
      }
      channels.push(id);
      nonces.push(this.#nonceTimeOf(vd.v?.fixedPart.channelNonce, virtualFundId(id)));
      for (const o of ids) if (this.#hasRecord(o)) objectives.push(o);
      // V's guarantee removals from ledgers that stayed open (V is not guarded: they finished);
      // a closed ledger's removals go with the ledger (by prefix)
      for (const p of new Set([vd.payer, vd.hub, vd.payee].map((a) => a.toLowerCase()))) {
        for (const lid of this.#liveByPeer().get(p) ?? []) {
          const rid = guaranteeRemovalId(lid as ChannelId, id);
          if (!this.#active.has(rid) && this.#hasRecord(rid)) objectives.push(rid);
        }
      }
      this.#addClosedPayeePaid(paid, vd);
    }
    channels.push(...ledgers);
    nonces.push(...ledgerNonces);
    objectives.push(...ledgerObjectives);
    if (channels.length > 0) {
      const retire = st.retire.bind(st);
      try {
        st.transaction(() => {
          const totals = readPrunedTotals(st);
          totals.channels += channels.length;
          totals.objectives += objectives.length;
          for (const [a, v] of paid) totals.payeePaid.set(a, (totals.payeePaid.get(a) ?? 0n) + v);
          writePrunedTotals(st, totals);
          retire(channels, objectives, this.#clock.now(), ledgerPrefixes, nonces);
        }, { durability: 'relaxed' });
      } catch (e) {
        this.#dropCaches();
        throw e;
      }
      for (const id of channels) this.#virtualCache.delete(id.toLowerCase());
      for (const id of ledgers) {
        this.#ledgerCache?.delete(id.toLowerCase());
        this.#holdings.delete(id.toLowerCase());
      }
      this.#log.info({ channels: channels.length, ledgers: ledgers.length, objectives: objectives.length, skipped }, 'history pruned');
    }
    const virtual = stale.length > 0 ? stale[stale.length - 1]! : after.virtual;
    const ledger = doneLedgers.length > 0 ? doneLedgers[doneLedgers.length - 1]! : after.ledger;
    const next: PruneCursor = { ...(virtual === undefined ? {} : { virtual }), ...(ledger === undefined ? {} : { ledger }) };
    const forgotten = this.#forgetRetired(limit);
    return { channels: channels.length, objectives: objectives.length, skipped, more: stale.length === limit || doneLedgers.length === limit || forgotten === limit, next, forgotten };
  }

  /**
   * Under a nonce window, forget up to `limit` retired channel ids whose nonces are older than
   * the window (and a minute): a replayed prefund of one is refused at join (by the window, and
   * for good by the forgotten-before mark raised here), so the id no longer needs remembering.
   * Without a window: none.
   */
  #forgetRetired(limit: number): number {
    const window = this.#policy.nonceWindow;
    const st = this.store;
    if (window === undefined || st.forgetRetired === undefined) return 0;
    const cut = this.#clock.now() - window.maxAgeMs - 60_000;
    // The mark only rises, is written with the deletions, and comes from what was deleted (the
    // newest forgotten nonce time + 1), not from the clock: every forgotten id's nonce time is
    // below it, joins refuse nonces below it whatever the clock or the policy later say, and a
    // clock that ran ahead and was corrected cannot lock out new channels (it can only have
    // forgotten ids early, which the mark then covers).
    let n = 0;
    try {
      st.transaction(() => {
        const r = st.forgetRetired!(cut, limit);
        n = r.forgotten;
        if (r.newestNonceTime !== undefined && r.newestNonceTime + 1 > this.#forgottenBefore()) st.setMeta(FORGOTTEN_BEFORE_KEY, String(r.newestNonceTime + 1));
      }, { durability: 'relaxed' });
    } finally {
      this.#forgottenMark = undefined; // re-read: committed or rolled back
    }
    if (n > 0) this.#log.info({ ids: n }, 'retired channel ids forgotten (their nonces are past the window)');
    return n;
  }

  /** See {@link JoinContext.forgottenBefore} (cached; kept in the store's meta). */
  #forgottenBefore(): number {
    if (this.#forgottenMark === undefined) {
      const raw = this.store.getMeta(FORGOTTEN_BEFORE_KEY) ?? '0';
      const v = Number(raw);
      if (!Number.isFinite(v)) {
        // never guess lower: refuse every opening until an operator looks (logged on each join)
        this.#log.error({ key: FORGOTTEN_BEFORE_KEY }, 'the forgotten-history mark in the store is unreadable: refusing new channels');
        return Number.POSITIVE_INFINITY;
      }
      this.#forgottenMark = v;
    }
    return this.#forgottenMark;
  }

  /** The time in a channel's nonce: from its record, else from its opening objective's record. */
  #nonceTimeOf(nonce: bigint | undefined, openingObjectiveId: string): number | undefined {
    let n = nonce;
    if (n === undefined) {
      const data = this.store.getObjective(openingObjectiveId)?.data as { objective?: { v?: Channel; channel?: Channel } } | undefined;
      const ch = data?.objective?.v ?? data?.objective?.channel;
      n = typeof ch?.fixedPart?.channelNonce === 'bigint' ? ch.fixedPart.channelNonce : undefined;
    }
    return n === undefined ? undefined : nonceTimeMs(n);
  }

  /**
   * Paid to us as payee in closed channels, per lower-case asset: read from the closed channel
   * records once (a provider asks; a hub never does), then kept up to date by #putVirtual.
   */
  closedPayeeEarnings(): ReadonlyMap<string, bigint> {
    if (this.#closedPayeePaid === undefined) {
      // what deleted channel records paid (pruneHistory), then the closed records still kept
      const paid = new Map(readPrunedTotals(this.store).payeePaid);
      for (const v of listVirtualData(this.store, CLOSED_VIRTUAL)) if (!isOpenVirtual(v)) this.#addClosedPayeePaid(paid, v);
      this.#closedPayeePaid = paid;
    }
    return new Map(this.#closedPayeePaid);
  }

  /**
   * The open-channel index: the open records (an indexed query: not every channel ever), then
   * kept up to date by #putVirtual (the only writer of these records).
   */
  #virtualIndex(): Map<string, VirtualData> {
    if (this.#openVirtuals === undefined) {
      const open = new Map<string, VirtualData>();
      for (const v of listVirtualData(this.store, OPEN_VIRTUAL)) if (isOpenVirtual(v)) open.set(v.channelId.toLowerCase(), v);
      this.#openVirtuals = open;
    }
    return this.#openVirtuals;
  }

  #addClosedPayeePaid(into: Map<string, bigint>, v: VirtualData): void {
    if (v.role !== 'payee') return;
    const paid = v.paid ?? this.store.getVoucher(v.channelId, 'payee')?.amount ?? 0n;
    if (paid === 0n) return;
    const a = v.asset.toLowerCase();
    into.set(a, (into.get(a) ?? 0n) + paid);
  }

  /** Forget cached records (a store transaction rolled back: the caches may hold its writes). */
  #dropCaches(): void {
    this.#ledgerCache = undefined;
    this.#liveLedgers = undefined;
    this.#virtualCache.clear();
    this.#openVirtuals = undefined;
    this.#closedPayeePaid = undefined;
  }

  /** A store transaction; a group commit inside {@link #grouped}. On failure the caches are dropped. */
  #transaction(fn: () => void): void {
    this.#commits++;
    try {
      this.store.transaction(fn, this.#txOptions());
    } catch (e) {
      this.#dropCaches();
      throw e;
    }
  }

  virtualChannel(channelId: ChannelId): VirtualData | undefined {
    return this.#getVirtual(channelId);
  }

  ledgerChannel(channelId: ChannelId): LedgerData | undefined {
    return this.#getLedger(channelId);
  }

  ledgerChannels(): LedgerData[] {
    return [...this.#ledgerMap().values()];
  }

  /**
   * Whether an objective (active or finished) exists: a point query (an index lookup, no record
   * read). It was a set of every id ever, built by reading every objective record: start-up and
   * memory grew with the node's whole history.
   */
  #exists(id: string): boolean {
    if (this.#hasRecord(id)) return true;
    // a channel whose records were pruned: its objectives existed and finished
    const ch = prunableChannelOfObjective(id);
    return ch !== undefined && this.store.isRetired?.(ch) === true;
  }

  /**
   * {@link #exists}, except for a top-up given up with TOPUP_CONFLICT: it deposited nothing and
   * signed nothing, and its id (ledger and target holdings) may be the one the counterparty's
   * top-up of the same amount, which won the race, has; that one may take its place.
   */
  #existsBesidesConflict(id: string): boolean {
    if (!this.#exists(id)) return false;
    if (!id.startsWith('LedgerTopUp-')) return true;
    const d = getObjectiveData(this.store, id);
    return !(d?.objective.type === 'ledgerTopUp' && d.objective.status === 'rejected' && d.failure?.code === 'TOPUP_CONFLICT');
  }

  /** Whether the store holds an objective record (a point query where the store has one). */
  #hasRecord(id: string): boolean {
    return this.store.hasObjective?.(id) ?? this.store.getObjective(id) !== undefined;
  }

  // ---------------------------------------------------------------- objectives

  async startObjective(objective: Objective, records: { ledger?: LedgerData; virtual?: VirtualData } = {}): Promise<void> {
    if (this.#active.has(objective.id) || this.#exists(objective.id)) {
      throw new SluiceError('INVALID_ARGUMENT', 'objective already exists', { details: { objectiveId: objective.id } });
    }
    const sends: Promise<unknown>[] = [];
    this.#grouped(() => {
      this.#create({ objective, ...records }, 'me');
      this.#advanceSync(objective.id, undefined, sends);
    });
    const durable = this.#groupSync;
    await settleSends(sends, this.#log);
    await durable; // the new objective is on disk when this resolves
  }

  /** Persist a new objective with its records. */
  #create(joined: Joined, initiatedBy: 'me' | 'peer'): void {
    const now = this.#clock.now();
    const data: ObjectiveData = { objective: joined.objective, sent: [], pendingTxs: [], waitingFor: 'new', progressAt: now, createdAt: now };
    this.#transaction(() => {
      if (joined.ledger !== undefined) this.#putLedger(joined.ledger, now);
      if (joined.virtual !== undefined) this.#putVirtual(joined.virtual, now);
      // A new objective starts from its ledgers' records: refer to those that hold its version.
      const apart = new Set<string>();
      for (const l of ledgersOf(data.objective)) {
        if (ledgerVersion(this.#getLedger(l.id)?.ledger) === ledgerVersion(l)) apart.add(l.id.toLowerCase());
      }
      putObjectiveData(this.store, data, now, apart);
    });
    this.#active.set(data.objective.id, data);
    const base = { objectiveId: data.objective.id, objectiveType: data.objective.type as ObjectiveType, channelId: objectiveChannelId(data.objective) };
    this.#emit({ type: 'objectiveCreated', initiatedBy, ...base });
    if (joined.virtual !== undefined && joined.virtual.status === 'funding') {
      const v = joined.virtual;
      this.#emit({ type: 'virtualChannelProposed', channelId: v.channelId, payer: v.payer, payee: v.payee, amount: v.amount });
    }
    if (joined.virtual?.status === 'closing') this.#emit({ type: 'virtualChannelClosing', channelId: joined.virtual.channelId });
  }

  /** The objective with the latest stored copy of each of its ledgers. */
  #sync(o: Objective): Objective {
    let out = o;
    if (out.type === 'ledgerExit') {
      for (const t of unknownGuaranteeTargets(out)) {
        // the defund's copy first: it carries V's unanimous final state, needed if V gets concluded
        const defund = getObjectiveData(this.store, virtualDefundId(t))?.objective;
        const v =
          (defund?.type === 'virtualDefund' ? defund.v : undefined) ??
          this.#getVirtual(t)?.v ??
          (getObjectiveData(this.store, virtualFundId(t))?.objective as { v?: Channel } | undefined)?.v;
        if (v != null) {
          out = withGuaranteedChannel(out, v);
          // a target learnt of now: its chain events so far went to nobody (e.g. concluded already)
          const oid = out.id;
          this.#afterSync(() => this.#readStatus(oid, t));
        }
      }
      // a guaranteed channel settled on chain before this exit existed (its guarantee's removal by
      // proof timed out): its record comes from our virtual challenge, which saw its events
      for (const v of out.virtuals) {
        if (out.targets[v.id] !== undefined) continue;
        const rec = this.#virtualChallengeOf(v.id)?.onChain;
        if (rec != null) out = withTargetRecord(out, v.id, rec);
      }
    }
    for (const l of ledgersOf(o)) {
      const latest = this.#getLedger(l.id)?.ledger;
      if (latest != null) out = withLedger(out, latest);
    }
    return out;
  }

  /**
   * Apply `event` (if any) to an active objective, crank it, persist, execute; then re-crank
   * every objective sharing a ledger that changed.
   * @throws SluiceError from `update` (the event is refused; nothing was written)
   */
  async #advance(id: string, event: ObjectiveEvent | undefined): Promise<void> {
    const sends: Promise<unknown>[] = [];
    this.#grouped(() => this.#advanceSync(id, event, sends));
    // Not waiting for the group's fsync: callers run in the engine's queue, which must not stall
    // on the disk; the step's effects wait for it anyway.
    await settleSends(sends, this.#log);
  }

  /** {@link #advance} without waiting for the sends (call inside {@link #grouped}). */
  #advanceSync(id: string, event: ObjectiveEvent | undefined, sends: Promise<unknown>[]): void {
    const work: string[] = [id];
    const queued = new Set(work);
    let first = true;
    let steps = 0;
    while (work.length > 0 && steps++ < MAX_CASCADE) {
      const next = work.shift()!;
      queued.delete(next);
      const data = this.#active.get(next);
      if (data === undefined) continue;
      let o = this.#sync(data.objective);
      let progressed = false;
      if (first && event !== undefined) {
        const updated = update(o, event); // may throw: the caller decides (drop, or retry later)
        progressed = updated !== o;
        o = updated;
      }
      first = false;
      if (isFallbackObjective(o) && !this.#caughtUp) {
        // Catching up with chain events: apply them, crank once caught up (an old event must not
        // be acted on with a chain time or a record that later events change).
        if (o !== data.objective) {
          const now = this.#clock.now();
          const kept = { ...data, objective: o, progressAt: progressed ? now : data.progressAt };
          putObjectiveData(this.store, kept, now);
          this.#active.set(o.id, kept);
        }
        continue;
      }
      const changed = this.#crankAndCommit(data, o, progressed, sends);
      for (const ledgerId of changed) {
        for (const other of this.#active.values()) {
          const oid = other.objective.id;
          if (oid !== next && !queued.has(oid) && waitsOnLedger(other, ledgerId)) {
            work.push(oid);
            queued.add(oid);
          }
        }
      }
    }
  }

  /** Crank, then commit everything in one transaction; returns the ids of ledgers that changed. */
  #crankAndCommit(data: ObjectiveData, o: Objective, progressed: boolean, sends: Promise<unknown>[]): ChannelId[] {
    const now = this.#clock.now();
    let result;
    try {
      result = crank(o, this.#secrets);
    } catch (e) {
      this.#failObjective(data, o, e);
      return [];
    }
    const objective = result.objective;
    const outbound: SentMessage[] = [];
    const txs: Transaction[] = [];
    for (const eff of result.effects) {
      if (eff.type === 'sendMessage') outbound.push({ to: eff.to, message: eff.payload });
      else txs.push(eff.tx);
    }
    const waitingChanged = result.waitingFor !== data.waitingFor;
    const next: ObjectiveData = {
      ...data,
      objective,
      sent: mergeSent(data.sent, outbound),
      pendingTxs: [...data.pendingTxs, ...txs.filter((t) => !data.pendingTxs.some((p) => transactionKey(p) === transactionKey(t)))],
      waitingFor: result.waitingFor,
      progressAt: progressed || waitingChanged || outbound.length > 0 ? now : data.progressAt,
    };
    if (!progressed && result.effects.length === 0 && !waitingChanged && objective.status === o.status) {
      // Nothing happened (a re-crank after another objective moved a shared ledger): the
      // objective differs from its record at most by the ledger copies, whose records are newer.
      this.#active.set(objective.id, { ...data, objective });
      return [];
    }
    const changed: ChannelId[] = [];
    const events: EngineEvent[] = [];
    this.#transaction(() => {
      // The objective record refers to its ledgers' records instead of copying them.
      const apart = new Set<string>();
      for (const l of ledgersOf(objective)) {
        const ld = this.#getLedger(l.id);
        if (ld === undefined) continue;
        if (ledgerVersion(ld.ledger) !== ledgerVersion(l)) {
          changed.push(l.id);
          this.#putLedger({ ...ld, ledger: l }, now);
        }
        // The record now holds this version of the ledger (a version is a turn number and its
        // queue's: one set of signed states), whether written here or before. A finished
        // objective refers to it too: nothing reads a finished objective's ledgers but queries,
        // and a copy per finished objective of a ledger that carries every open guarantee made
        // each open and close write O(channels open) bytes.
        apart.add(l.id.toLowerCase());
      }
      putObjectiveData(this.store, next, now, apart);
      if (objective.status === 'completed' && o.status !== 'completed') this.#onCompleted(objective, now, events);
      // Hand messages over inside the transaction (see the module comment).
      for (const m of outbound) sends.push(this.#messaging.send(m.to, encodeWireMessage(m.message)));
    });
    if (objective.status === 'approved') this.#active.set(objective.id, next);
    else {
      this.#active.delete(objective.id);
      this.#forgetObjective(objective.id);
    }
    const base = { objectiveId: objective.id, objectiveType: objective.type as ObjectiveType, channelId: objectiveChannelId(objective) };
    if (waitingChanged && objective.status === 'approved') this.#emit({ type: 'objectiveProgress', waitingFor: result.waitingFor, ...base });
    for (const e of events) this.#emit(e);
    if (objective.status === 'completed') this.#emit({ type: 'objectiveCompleted', durationMs: now - (next.createdAt ?? now), ...base });
    // Chain submissions (and the fallback's status reads) only once this step is durable.
    if (isFallbackObjective(o)) {
      const waitingFor = result.waitingFor;
      this.#afterSync(() => this.#afterFallbackCrank(o, objective as FallbackObjective, txs, waitingFor));
    }
    for (const tx of txs) this.#afterSync(() => this.#runTransaction(objective.id, tx, false));
    for (const c of statusReadsNeeded(objective)) this.#afterSync(() => this.#readStatus(objective.id, c));
    return changed;
  }

  /** Channel records when an objective completes (inside the commit). */
  #onCompleted(o: Objective, now: number, events: EngineEvent[]): void {
    switch (o.type) {
      case 'directFund': {
        const ld = this.#getLedger(o.channel.id);
        if (ld === undefined) return;
        this.#putLedger({ ...ld, status: 'open', ledger: newConsensusChannel(o.channel) }, now);
        events.push({ type: 'ledgerChannelFunded', channelId: ld.ledgerId, counterparty: ld.counterparty, asset: ld.asset });
        return;
      }
      case 'directDefund': {
        const ld = this.#getLedger(o.channel.id);
        if (ld === undefined) return;
        const final = o.concludedWith === 'other' ? undefined : entryAt(o.channel, o.finalTurnNum);
        const paidOut = final === undefined ? undefined : allocatedTo(final.state.outcome, destinationOf(o.channel, o.channel.myIndex));
        this.#putLedger({ ...ld, status: 'closed', ...(paidOut === undefined ? {} : { paidOut }) }, now);
        events.push({ type: 'ledgerChannelClosed', channelId: ld.ledgerId });
        return;
      }
      case 'virtualFund': {
        const vd = this.#getVirtual(o.v.id);
        if (vd === undefined) return;
        this.#putVirtual({ ...vd, status: 'funded', v: o.v }, now);
        events.push({ type: 'virtualChannelFunded', channelId: vd.channelId, payer: vd.payer, payee: vd.payee, amount: vd.amount });
        return;
      }
      case 'virtualDefund': {
        const vd = this.#getVirtual(o.v.id);
        if (vd === undefined) return;
        const paid = paidAmount(o) ?? 0n;
        this.#putVirtual({ ...vd, status: 'closed', paid }, now);
        events.push({ type: 'virtualChannelClosed', channelId: vd.channelId, paid });
        return;
      }
      case 'ledgerTopUp':
        events.push({ type: 'ledgerChannelUpdated', channelId: o.ledger.id, turnNum: o.ledger.current.turnNum });
        this.#afterTopUpEnded(o);
        return;
      case 'virtualChallenge': {
        // V is settled on chain: the ledgers guaranteeing it drop the guarantee by proof (cooperatively)
        const vId = o.v.id;
        this.#afterSync(() => {
          void this.serial(() => this.#startGuaranteeRemovals(vId)).catch((e: unknown) =>
            this.#log.warn({ channelId: vId, code: isSluiceError(e) ? e.code : 'unknown' }, 'guarantee removals not started'),
          );
        });
        const vd = this.#getVirtual(o.v.id);
        if (vd === undefined || vd.status === 'closed') return;
        const paid = virtualPaid(o) ?? vd.paid ?? 0n;
        this.#putVirtual({ ...vd, status: 'closed', paid }, now);
        events.push({ type: 'virtualChannelClosed', channelId: vd.channelId, paid });
        return;
      }
      case 'ledgerExit': {
        const ld = this.#getLedger(o.ledger.id);
        const { amounts, unattributed } = ledgerExitPayouts(o);
        const asset = latestSupportedState(o.ledger)?.state.outcome[0]?.asset ?? ld?.asset;
        const mine = amounts.filter((a) => sameAddress(a.participant, this.address)).reduce((x, a) => x + a.amount, 0n);
        if (asset !== undefined) events.push({ type: 'payout', channelId: o.ledger.id, asset, amounts, mine, ...(unattributed > 0n ? { unattributed } : {}) });
        if (ld === undefined || ld.status === 'closed') return;
        this.#putLedger({ ...ld, status: 'closed', ...(asset === undefined ? {} : { paidOut: mine }) }, now);
        events.push({ type: 'ledgerChannelClosed', channelId: ld.ledgerId });
        return;
      }
    }
  }

  #failObjective(data: ObjectiveData, o: Objective, e: unknown, abandoned = false): void {
    const now = this.#clock.now();
    const code = isSluiceError(e) ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    const failed = { ...o, status: 'rejected' as const };
    this.#transaction(() => {
      putObjectiveData(this.store, { ...data, objective: failed, failure: { code, message }, ...(abandoned ? { abandoned: true } : {}) }, now);
      if (o.type === 'virtualFund') {
        const vd = this.#getVirtual(o.v.id);
        if (vd !== undefined) this.#putVirtual({ ...vd, status: 'failed' }, now);
      }
      if (o.type === 'directFund') {
        const ld = this.#getLedger(o.channel.id);
        if (ld !== undefined && ld.status === 'funding') this.#putLedger({ ...ld, status: 'failed' }, now);
      }
    });
    this.#active.delete(o.id);
    this.#forgetObjective(o.id);
    if (o.type === 'ledgerTopUp') this.#afterTopUpEnded(failed as LedgerTopUpObjective);
    this.#log.warn({ objectiveId: o.id, code, reason: message }, 'objective failed');
    this.#emit({ type: 'objectiveFailed', objectiveId: o.id, objectiveType: o.type, channelId: objectiveChannelId(o), code, reason: message });
    // A virtual fund that fails after V's guarantee was agreed in one of our ledgers (the other
    // ledger went on chain before its own guarantee was: found by bench:chaos, a hub exiting its
    // ledger with a payee away for long) leaves that guarantee with nothing to ever remove it. Once
    // this step is done, settle V on chain, as the repair at start does (#settleUnowned checks it
    // is such a guarantee). Before the catch-up, that repair covers it. Only when one of V's
    // ledgers holds its guarantee: most failed opens (a prefund timeout) never got one, and the
    // check reads every ledger.
    if (o.type === 'virtualFund' && this.#caughtUp) {
      const target = o.v.id;
      if (this.#ledgerRecordsOf(o).some((l) => l != null && consensusIncludes(l, target))) void this.serial(() => this.#settleUnowned(target)).catch(() => {});
    }
  }

  /** The latest records of a virtual fund's ledgers (left, right; null where it has none, or no record). */
  #ledgerRecordsOf(o: VirtualFundObjective): (ConsensusChannel | null)[] {
    return [o.toMyLeft, o.toMyRight].map((l) => (l == null ? null : (this.#getLedger(l.id)?.ledger ?? null)));
  }

  /** Drop the in-memory bookkeeping of an objective that ended (stall mark, failed-transaction counts, refusals set aside). */
  #forgetObjective(id: string): void {
    this.#stallNotified.delete(id);
    this.#stallCounts.delete(id);
    this.#exitNotSeen.delete(id);
    const prefix = `${id}|`;
    for (const k of this.#txFailures.keys()) if (k.startsWith(prefix)) this.#txFailures.delete(k);
  }

  /**
   * A stalled objective waiting on a ledger we lead, behind a guarantee `add` at the head of its
   * queue that no live objective re-sends: V's virtual fund ended (V went on chain) with its
   * proposal unanswered, and the outbox gave up on it (the peer was away longer than its expiry).
   * The follower countersigns such a late `add` (`countersignLateAdd`), but only if it arrives:
   * send it again, from the ended objective's record, with the stalled objective's own re-sends.
   * (Removals at the head are sent again by the removal by proof, which adopts them.)
   */
  #resendOrphanedHead(data: ObjectiveData): void {
    if (!waitsOnLedgers(data.objective, data.waitingFor)) return;
    for (const l of ledgersOf(data.objective)) {
      const ld = this.#getLedger(l.id);
      const head = ld?.ledger?.queue[0];
      if (ld?.myIndex !== 0 || head === undefined || head.proposal.type !== 'add') continue;
      const ownerId = virtualFundId(head.proposal.guarantee.target);
      if (this.#active.has(ownerId)) continue; // live: its own stall re-sends it
      const owner = this.#hasRecord(ownerId) ? getObjectiveData(this.store, ownerId) : undefined;
      const sent = owner?.sent.find(
        (s) => s.message.kind === 'ledgerProposal' && s.message.signedProposal.ledgerId === l.id && s.message.signedProposal.turnNum === head.turnNum,
      );
      if (sent === undefined) continue;
      this.#log.info({ objectiveId: ownerId, channelId: l.id, turnNum: head.turnNum, waiting: data.objective.id }, "re-sending the ledger queue's head, proposed by an objective that ended");
      this.#messaging.send(sent.to, encodeWireMessage(sent.message)).catch(() => {});
    }
  }

  #resend(data: ObjectiveData): void {
    for (const s of data.sent) {
      this.#messaging.send(s.to, encodeWireMessage(s.message)).catch((e: unknown) => {
        this.#log.warn({ objectiveId: data.objective.id, peer: s.to, code: isSluiceError(e) ? e.code : 'unknown' }, 're-send failed');
      });
    }
  }

  // ---------------------------------------------------------------- transactions

  #runTransaction(objectiveId: string, tx: Transaction, reconcileFirst: boolean): void {
    if (fallbackTransactionKey(tx) !== undefined) return this.#runFallbackTransaction(objectiveId, tx);
    const key = `${objectiveId}|${transactionKey(tx)}`;
    if (this.#txRunning.has(key)) return;
    this.#txRunning.add(key);
    const max = this.init.txMaxAttempts ?? 5;
    const delay = this.init.txRetryDelayMs ?? 1000;
    const task = (async () => {
      let lastError: unknown;
      let done = false;
      let conflict: { expectedHeld: bigint; held: bigint } | undefined; // a top-up deposit beaten by another deposit
      let reverted: Extract<Transaction, { kind: 'deposit' }> | undefined; // a top-up deposit's last attempt, reverted
      for (let attempt = 1; attempt <= max && !done && conflict === undefined; attempt++) {
        const signal = this.#lifecycle?.signal;
        if (signal === undefined || signal.aborted) return;
        let sent: Transaction | null = null;
        try {
          // the last attempt of a top-up deposit reverted (so it did not land) and the holdings read
          // then had not moved yet (a lagging node): check again before reconciling
          if (reverted !== undefined) {
            const o = this.#active.get(objectiveId)?.objective;
            const held = await this.chain.holdings(reverted.asset, reverted.channelId, { signal });
            if (o?.type === 'ledgerTopUp' && topUpDepositConflicts(o, reverted.expectedHeld, held)) {
              conflict = { expectedHeld: reverted.expectedHeld, held };
              break;
            }
            reverted = undefined;
          }
          const t = reconcileFirst || attempt > 1 ? await reconcileTransaction(tx, this.chain, signal) : tx;
          if (t !== null) {
            sent = t;
            const r = await this.chain.submit(toChainTransaction(t), { signal, timeoutMs: this.init.txTimeoutMs ?? 60_000 });
            this.#log.info({ objectiveId, channelId: tx.channelId, tx: tx.kind, txHash: r.txHash }, 'transaction mined');
          }
          done = true;
        } catch (e) {
          lastError = e;
          if (signal.aborted) return;
          // A top-up deposit that reverted because the holdings moved past its expectedHeld: another
          // deposit (the counterparty's concurrent top-up) landed first and ours did not. Retrying
          // would "reconcile" it against that deposit (count it as ours, or as part of ours), so the
          // top-up is given up instead (below), nothing of it on chain.
          if (sent?.kind === 'deposit' && isSluiceError(e, 'CHAIN_REVERT')) {
            const o = this.#active.get(objectiveId)?.objective;
            if (o?.type === 'ledgerTopUp') {
              const held = await this.chain.holdings(sent.asset, sent.channelId, { signal }).catch(() => undefined);
              if (held !== undefined && topUpDepositConflicts(o, sent.expectedHeld, held)) {
                conflict = { expectedHeld: sent.expectedHeld, held };
                break;
              }
              reverted = sent;
            }
          }
          this.#log.warn(
            { objectiveId, channelId: tx.channelId, tx: tx.kind, attempt, code: isSluiceError(e) ? e.code : 'unknown', reason: e instanceof Error ? e.message : String(e) },
            'transaction failed',
          );
          if (attempt < max) await sleep(delay * attempt, signal);
        }
      }
      await this.serial(async () => {
        const data = this.objective(objectiveId);
        if (data === undefined) return;
        if (conflict !== undefined) {
          const o = data.objective;
          if (this.#active.has(objectiveId) && o.type === 'ledgerTopUp' && topUpDepositConflicts(o, conflict.expectedHeld, conflict.held)) {
            const next = { ...data, pendingTxs: data.pendingTxs.filter((p) => transactionKey(p) !== transactionKey(tx)) };
            this.#failObjective(
              next,
              o,
              new SluiceError('TOPUP_CONFLICT', 'another deposit into the ledger (the counterparty\'s top-up?) landed first: ours reverted, nothing was deposited; try the top-up again', {
                details: { channelId: o.ledger.id, expectedHeld: String(conflict.expectedHeld), held: String(conflict.held) },
              }),
            );
          }
          return;
        }
        if (done) {
          let next = { ...data, pendingTxs: data.pendingTxs.filter((p) => transactionKey(p) !== transactionKey(tx)) };
          // our top-up deposit is in: only now may its top-up be agreed (holdings alone may be the counterparty's)
          const mined = tx.kind === 'deposit' && next.objective.type === 'ledgerTopUp' && next.objective.status === 'approved';
          if (mined) next = { ...next, objective: topUpDepositMined(next.objective as LedgerTopUpObjective) };
          putObjectiveData(this.store, next, this.#clock.now());
          if (this.#active.has(objectiveId)) {
            this.#active.set(objectiveId, next);
            if (mined) await this.#advance(objectiveId, undefined);
          }
        } else if (this.#active.has(objectiveId)) {
          this.#emitStall(data, 'transactionFailed', isSluiceError(lastError) ? `${lastError.code}: ${lastError.message}` : String(lastError));
        }
      });
    })().finally(() => this.#txRunning.delete(key));
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  // ---------------------------------------------------------------- on-chain fallback

  /**
   * One attempt per submission: a fallback step that fails (reverted by a competing move, or not
   * confirmed) is not re-sent as is. The engine first applies the chain events up to the block
   * that reverted it, then `onTransactionFailed` clears the objective's record and the next crank
   * recomputes the step from what the chain reported (README of the protocols, obligation 4).
   */
  #runFallbackTransaction(objectiveId: string, tx: Transaction): void {
    if (!this.#caughtUp) return; // resumed once the chain events are caught up (#afterCatchUp)
    const key = `${objectiveId}|${transactionKey(tx)}`;
    if (this.#txRunning.has(key)) return;
    this.#txRunning.add(key);
    const max = this.init.txMaxAttempts ?? 5;
    const delay = this.init.txRetryDelayMs ?? 1000;
    let movedFirst = false;
    const task = (async () => {
      const signal = this.#lifecycle?.signal;
      if (signal === undefined || signal.aborted) return;
      if (await this.#otherMovedFirst(objectiveId, tx, signal)) {
        movedFirst = true;
        return;
      }
      let result: Awaited<ReturnType<ChainService['submit']>> | undefined;
      let error: unknown;
      let sentHash: string | undefined;
      try {
        // our reclaim's `Reclaimed` may be polled before its receipt returns: name its target from
        // the hash as soon as it is known (before the broadcast, with a wallet signer; the record
        // is a FULL commit, so it survives a crash right after), so it is never taken for someone
        // else's (that makes the ledger exit yield to a counterparty that is not reclaiming)
        const onSent =
          tx.kind === 'reclaim'
            ? (h: Hex): void => {
                sentHash = h.toLowerCase();
                this.#rememberReclaim(sentHash, tx.targetChannelId);
              }
            : undefined;
        result = await this.chain.submit(toChainTransaction(tx), { signal, timeoutMs: this.init.txTimeoutMs ?? 60_000, ...(onSent ? { onSent } : {}) });
      } catch (e) {
        error = e;
      }
      if (signal.aborted) return;
      if (result !== undefined) {
        const r = result;
        if (tx.kind === 'reclaim' && !this.#reclaimTargets.has(r.txHash.toLowerCase())) this.#rememberReclaim(r.txHash.toLowerCase(), tx.targetChannelId);
        this.#log.info({ objectiveId, channelId: tx.channelId, tx: tx.kind, txHash: r.txHash, gasUsed: r.gasUsed.toString() }, 'fallback transaction mined');
        await this.serial(() => {
          this.#txFailures.delete(key);
          const data = this.objective(objectiveId);
          if (data !== undefined) {
            const next = { ...data, pendingTxs: data.pendingTxs.filter((p) => transactionKey(p) !== transactionKey(tx)) };
            putObjectiveData(this.store, next, this.#clock.now());
            if (this.#active.has(objectiveId)) this.#active.set(objectiveId, next);
          }
          this.#emit({
            type: 'fallbackTransaction',
            objectiveId,
            channelId: tx.channelId,
            kind: tx.kind as 'challenge',
            txHash: r.txHash,
            blockNumber: r.blockNumber,
            gasUsed: r.gasUsed,
            ...(tx.kind === 'reclaim' ? { targetChannelId: tx.targetChannelId } : {}),
          });
        });
        return;
      }
      // reverted when mined: no event comes (one that timed out may still be mined: keep its target)
      if (sentHash !== undefined && isSluiceError(error) && error.code === 'CHAIN_REVERT') this.#forgetReclaim(sentHash);
      const n = (this.#txFailures.get(key) ?? 0) + 1;
      this.#txFailures.set(key, n);
      this.#log.warn(
        { objectiveId, channelId: tx.channelId, tx: tx.kind, attempt: n, code: isSluiceError(error) ? error.code : 'unknown', reason: error instanceof Error ? error.message : String(error) },
        'fallback transaction failed',
      );
      await sleep(delay * n, signal);
      await this.#eventsUpToHead(signal);
      if (signal.aborted) return;
      // a revert may be the chain saying the channel is finalized already (e.g. concluded with a
      // final state we signed but never got back countersigned): learn that as a state before the
      // step is recomputed, so the objective moves on instead of re-sending a doomed transaction
      const statuses: Extract<ObjectiveEvent, { kind: 'channelStatus' }>[] = [];
      for (const c of new Set([tx.channelId, ...(tx.kind === 'reclaim' ? [tx.targetChannelId] : [])])) {
        try {
          statuses.push(await this.#statusEvent(c, signal));
        } catch {
          // the recomputed step tells (a retry, or the next status read)
        }
      }
      if (signal.aborted) return;
      // after the last attempt the record is kept (no blind re-send); a restart or a chain event
      // that clears it retries
      const stall = n >= max ? (isSluiceError(error) ? `${error.code}: ${error.message}` : String(error)) : undefined;
      await this.#recomputeWithout(objectiveId, tx, statuses, stall);
    })().finally(() => {
      this.#txRunning.delete(key);
      // the leader moved first and the step, recomputed while this ran (its key held), is this
      // transaction again (e.g. the chain moved for another reason): run it now
      const again = movedFirst ? this.#active.get(objectiveId)?.pendingTxs.find((p) => transactionKey(p) === transactionKey(tx)) : undefined;
      if (again === undefined) return;
      // the very step, built on the same status (a payout), or the same move of V still worth
      // making after the other party's (builtOn undefined: it raises the turn, or concludes): send
      // it without waiting again; the failure path sorts out a view that did not take a move in
      if (builtOn(again) === builtOn(tx)) this.#spendHeadStart(objectiveId);
      this.#runFallbackTransaction(objectiveId, again);
    });
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /**
   * The head start we give the party that leads fallback step `tx` ({@link headStartRank}): both
   * ends of an exit see a ledger finalize at the same block, and every party of a virtual channel
   * may settle it at once; of two steps built on one chain status, one reverts, *mined* on a real
   * chain (both estimated against the same block): gas for nothing. We wait `rank ×
   * followerHeadStartMs` (wall clock: chain time does not move on a chain that mines only on
   * transactions), then read the channel's status. Moved since the step was built (another party
   * made a step): apply it and recompute, without sending — true. Not moved: nobody ahead of us is
   * acting, so this objective sends at once from now on — false.
   */
  async #otherMovedFirst(objectiveId: string, tx: Transaction, signal: AbortSignal): Promise<boolean> {
    const ms = this.init.fallback?.followerHeadStartMs ?? 0;
    if (ms <= 0 || this.#headStartSpent.has(objectiveId)) return false;
    const o = this.#active.get(objectiveId)?.objective;
    const rank = headStartRank(o, tx);
    if (rank === 0) return false;
    // what the step was built on: a payout's fingerprint; a move's record of its channel (turn, finalization)
    const payout = builtOn(tx);
    const rec = o?.type === 'virtualChallenge' || o?.type === 'ledgerExit' ? o.onChain : null;
    const seen = { turnNumRecord: rec?.turnNumRecord ?? 0, finalizesAt: rec?.finalizesAt ?? 0 };
    await sleep(rank * ms, signal);
    if (signal.aborted) return true;
    let status: Extract<ObjectiveEvent, { kind: 'channelStatus' }>;
    try {
      status = await this.#statusEvent(tx.channelId, signal);
    } catch {
      return false; // cannot tell: send (a race costs at most a revert)
    }
    const moved = payout !== undefined ? status.fingerprint !== payout : status.turnNumRecord !== seen.turnNumRecord || status.finalizesAt !== seen.finalizesAt;
    if (!moved) {
      this.#spendHeadStart(objectiveId);
      return false;
    }
    this.#log.debug({ objectiveId, channelId: tx.channelId, tx: tx.kind }, 'another party moved first: recomputing our step instead of sending it');
    await this.#recomputeWithout(objectiveId, tx, [status]);
    return true;
  }

  /** No more head starts in this objective (bounded: forgetting one costs at most one more wait). */
  #spendHeadStart(objectiveId: string): void {
    if (this.#headStartSpent.size >= 1024) this.#headStartSpent.clear();
    this.#headStartSpent.add(objectiveId);
  }

  /**
   * A fallback step that will not be (or was not) made as sent: apply the chain `statuses` read
   * since, drop `tx` from the objective's pending transactions and, unless `stall` (the reason
   * its last attempt failed: the record is kept and a stall reported), clear its record and
   * recompute the step from what the chain now says.
   */
  async #recomputeWithout(objectiveId: string, tx: Transaction, statuses: readonly Extract<ObjectiveEvent, { kind: 'channelStatus' }>[], stall?: string): Promise<void> {
    await this.serial(async () => {
      for (const ev of statuses) if (this.#active.has(objectiveId)) await this.#applyChainEvent(objectiveId, { ...ev, finalOutcomes: this.#signedFinals(ev.channelId) });
      const data = this.#active.get(objectiveId);
      if (data === undefined) return;
      let next: ObjectiveData = { ...data, pendingTxs: data.pendingTxs.filter((p) => transactionKey(p) !== transactionKey(tx)) };
      if (stall !== undefined) {
        putObjectiveData(this.store, next, this.#clock.now());
        this.#active.set(objectiveId, next);
        this.#emitStall(next, 'transactionFailed', stall);
        return;
      }
      if (recordMatches(next.objective, tx)) next = { ...next, objective: onTransactionFailed(next.objective) };
      putObjectiveData(this.store, next, this.#clock.now());
      this.#active.set(objectiveId, next);
      await this.#advance(objectiveId, undefined);
    });
  }

  /** Resolve once the chain events up to the current head are applied (bounded wait). */
  async #eventsUpToHead(signal: AbortSignal): Promise<void> {
    let head: number;
    try {
      head = (await this.chain.latestBlock({ signal })).number;
    } catch {
      return;
    }
    // the stream delivers a block once it is `confirmations` deep: up to the head's, that is this one
    const target = newestDeliverable(head, this.init.confirmations ?? 1);
    const deadline = this.#clock.now() + 60_000;
    const every = Math.max(10, Math.min(this.init.chainPollIntervalMs ?? 250, 1000));
    while (!signal.aborted && Number(this.store.getMeta(LAST_BLOCK_KEY) ?? '-1') < target && this.#clock.now() < deadline) await sleep(every, signal);
  }

  /** Effects of a fallback objective's crank besides its transactions: metrics events, status reads. */
  #afterFallbackCrank(before: FallbackObjective, o: FallbackObjective, txs: readonly Transaction[], waitingFor: string): void {
    const rec = before.onChain;
    for (const tx of txs) {
      if ((tx.kind === 'challenge' || tx.kind === 'conclude') && rec !== null && !rec.concluded && rec.finalizesAt > before.now) {
        this.#emit({ type: 'challengeAnswered', channelId: tx.channelId, action: tx.kind, turnNum: tx.candidate.state.turnNum, challengedTurnNum: rec.turnNumRecord });
      }
    }
    if (o.type === 'ledgerExit' && waitingFor === 'WaitingForVirtualFinalization') {
      const id = o.id;
      void this.serial(() => this.#settleGuaranteeTargets(id)).catch(() => {});
    }
  }

  /**
   * A finalized ledger still guarantees a virtual channel nobody put on chain (e.g. a stale ledger
   * state registered while we were away, with a guarantee for a channel closed cooperatively since):
   * settle that channel too — with its unanimous final state (`conclude`) when we hold it.
   */
  async #settleGuaranteeTargets(objectiveId: string): Promise<void> {
    const data = this.#active.get(objectiveId);
    if (data === undefined || data.objective.type !== 'ledgerExit') return;
    const out = data.objective.onChain?.outcome;
    if (out == null) return;
    for (const g of guaranteesOf(out)) {
      const t = g.allocation.destination as ChannelId;
      if (this.#exists(virtualChallengeId(t)) || data.objective.targets[t] !== undefined) continue;
      const defund = getObjectiveData(this.store, virtualDefundId(t))?.objective;
      const vd = this.#getVirtual(t);
      // as #sync: the defund's copy, the record's, else the fund's (a fund stopped after the
      // guarantee was locked and before the postfund: the record holds no channel yet, and only
      // registering V's prefund lets the ledger exit reclaim the guarantee)
      const v =
        (defund?.type === 'virtualDefund' ? defund.v : undefined) ??
        vd?.v ??
        (getObjectiveData(this.store, virtualFundId(t))?.objective as { v?: Channel } | undefined)?.v;
      if (v == null || latestSupportedState(v) === undefined) continue;
      const r = vd?.role === 'payee' ? this.store.getVoucher(t, 'payee') : undefined;
      try {
        const vc = newVirtualChallenge({ v, now: this.#chainNow, ...(r === undefined ? {} : { bestVoucher: { channelId: t, amount: r.amount, signature: r.signature as never } }) });
        await this.#startFallbackObjective(vc, 'challengeRunning');
      } catch (e) {
        this.#log.warn({ channelId: t, code: isSluiceError(e) ? e.code : 'unknown' }, 'guaranteed channel not settled');
      }
    }
  }

  /**
   * Feed `statusOf(channelId)` to an objective (a `channelStatus` event, with the final states of
   * that channel we signed): a ledger exit that cannot tell which guarantees were reclaimed, and
   * any objective whose channel (or guaranteed channel) was concluded, or finalized, in a way its
   * events do not explain — e.g. with a final state we signed but never received countersigned, or
   * before the objective existed. One read in flight per objective and channel.
   */
  #readStatus(objectiveId: string, channelId: ChannelId): void {
    const key = `${objectiveId}|${channelId}`;
    if (this.#statusReads.has(key)) return;
    const signal = this.#lifecycle?.signal;
    if (signal === undefined) return;
    this.#statusReads.add(key);
    const task = (async () => {
      try {
        const ev = await this.#statusEvent(channelId, signal);
        await this.serial(() => this.#applyChainEvent(objectiveId, { ...ev, finalOutcomes: this.#signedFinals(channelId) }));
      } catch (e) {
        this.#log.warn({ objectiveId, channelId, code: isSluiceError(e) ? e.code : 'unknown' }, 'status read failed');
        // asked for by the objective (not a mere seed): ask again later, a re-crank that changes
        // nothing would not (a direct defund gets no chain time)
        await sleep(this.init.txRetryDelayMs ?? 1000, signal);
        if (signal.aborted) return;
        setTimeout(() => {
          const d = this.#active.get(objectiveId);
          if (d !== undefined && statusReadsNeeded(d.objective).includes(channelId)) this.#readStatus(objectiveId, channelId);
        }, 0);
      }
    })().finally(() => this.#statusReads.delete(key));
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /** `statusOf(channelId)` as a `channelStatus` event, stamped with the head block read just before it. */
  async #statusEvent(channelId: ChannelId, signal: AbortSignal): Promise<Extract<ObjectiveEvent, { kind: 'channelStatus' }>> {
    const head = await this.chain.latestBlock({ signal });
    const st = await this.chain.statusOf(channelId, { signal });
    return { kind: 'channelStatus', channelId, turnNumRecord: st.turnNumRecord, finalizesAt: st.finalizesAt, fingerprint: st.fingerprint, blockNumber: head.number };
  }

  /**
   * Outcomes of the final states of `channelId` we signed, from every objective that may hold one
   * (its cooperative close, live or ended, and its fallback objectives) and its virtual record.
   * Candidates only: a `channelStatus` event is matched against the chain's fingerprint.
   */
  #signedFinals(channelId: ChannelId): Outcome[] {
    const channels: Channel[] = [];
    for (const id of [virtualDefundId(channelId), directDefundId(channelId), virtualChallengeId(channelId), ledgerExitId(channelId)]) {
      const o = (this.#active.get(id) ?? getObjectiveData(this.store, id))?.objective;
      if (o === undefined) continue;
      if (o.type === 'virtualDefund' || o.type === 'virtualChallenge') channels.push(o.v);
      else if (o.type === 'directDefund') channels.push(o.channel);
      else if (o.type === 'ledgerExit') channels.push(o.ledger);
    }
    const vd = this.#getVirtual(channelId);
    if (vd?.v != null) channels.push(vd.v);
    const seen = new Set<string>();
    const out: Outcome[] = [];
    for (const c of channels) {
      for (const f of signedFinalOutcomes(c)) {
        const h = hashOutcome(f);
        if (!seen.has(h)) {
          seen.add(h);
          out.push(f);
        }
      }
    }
    return out;
  }

  /** Our virtual challenge of V (live or finished), if any. */
  #virtualChallengeOf(vId: ChannelId): Extract<Objective, { type: 'virtualChallenge' }> | undefined {
    const id = virtualChallengeId(vId);
    const o = (this.#active.get(id) ?? (this.#hasRecord(id) ? getObjectiveData(this.store, id) : undefined))?.objective;
    return o?.type === 'virtualChallenge' ? o : undefined;
  }

  /** Our own view of V on chain, for a guarantee removal by proof: our virtual challenge's record at its (caught-up) chain time. */
  #virtualProof(vId: ChannelId): { v: Channel['fixedPart']; proof: { record: OnChainRecord | null; now: number } } | undefined {
    const vc = this.#virtualChallengeOf(vId);
    return vc === undefined ? undefined : { v: vc.v.fixedPart, proof: { record: vc.onChain, now: vc.now } };
  }

  /**
   * V is settled on chain (our virtual challenge of it completed): remove its guarantee from every
   * open ledger that still holds it, cooperatively with V's on-chain outcome (inside {@link serial}).
   * A peer silent or refusing past the fallback timeout gets that ledger exited (`needsPeer`).
   */
  async #startGuaranteeRemovals(vId: ChannelId): Promise<void> {
    const vc = this.#virtualChallengeOf(vId);
    if (vc === undefined || !isFinalizedAt(vc.onChain, vc.now)) return;
    for (const ld of [...this.#ledgerMap().values()]) {
      if (ld.ledger == null || ld.status !== 'open' || !consensusIncludes(ld.ledger, vId) || closedOnChain(ld.ledgerId, this.#active)) continue;
      const id = guaranteeRemovalId(ld.ledgerId, vId);
      if (this.#exists(id) || this.#exists(ledgerExitId(ld.ledgerId))) continue;
      if (this.#peerStalledNow(ld.counterparty)) {
        // the counterparty is already known stalled: a removal would only time out on it
        this.#log.info({ channelId: vId, ledgerId: ld.ledgerId, peer: ld.counterparty }, 'exiting the ledger of a stalled peer instead of removing the guarantee');
        await this.#runFallbackPlan({ kind: 'peerStalled', peer: ld.counterparty });
        // not exited (our top-up deposit there awaits its credit): remove it cooperatively, when the peer answers
        if (this.#exists(ledgerExitId(ld.ledgerId))) continue;
      }
      let o;
      try {
        o = newGuaranteeRemoval({ ledger: ld.ledger, v: vc.v.fixedPart, proof: { record: vc.onChain, now: vc.now } });
      } catch (e) {
        this.#log.warn({ channelId: vId, ledgerId: ld.ledgerId, code: isSluiceError(e) ? e.code : 'unknown' }, 'guarantee removal not started');
        continue;
      }
      if (removalByProof(o) === null) {
        // V's on-chain outcome is not known to us (concluded with a state we cannot match): no
        // split to agree; only whoever holds that state can settle it
        this.#log.warn({ channelId: vId, ledgerId: ld.ledgerId }, "guarantee removal not started: the virtual channel's on-chain outcome is unknown here");
        continue;
      }
      this.#log.info({ objectiveId: o.id, channelId: vId, ledgerId: ld.ledgerId }, 'removing the guarantee of a channel settled on chain');
      await this.#startOwn(o);
    }
  }

  /** Create and crank an objective of ours (inside {@link serial}). */
  async #startOwn(o: Objective): Promise<void> {
    const sends: Promise<unknown>[] = [];
    this.#grouped(() => {
      this.#create({ objective: o }, 'me');
      this.#advanceSync(o.id, undefined, sends);
    });
    await settleSends(sends, this.#log);
  }

  /** Run `fallbackPlan` and start what it creates (inside {@link serial}). */
  async #runFallbackPlan(trigger: FallbackTrigger): Promise<string[]> {
    const live = [...this.#active.keys()];
    const ctx = fallbackContext(this.store, this.#ledgerMap().values(), this.#active, live, this.#chainNow, this.#virtualIndex().values());
    const plan = fallbackPlan(ctx, trigger, this.#secrets);
    let create = plan.create;
    if (trigger.kind === 'peerStalled') {
      const kept: FallbackObjective[] = [];
      for (const o of create) if (o.type !== 'ledgerExit' || this.#exists(o.id) || !(await this.#holdExitForCredit(o.ledger.id, trigger.peer))) kept.push(o);
      create = kept;
    }
    if (trigger.kind === 'challengeRegistered' && plan.respond !== null && plan.respond.action !== 'none') {
      const r = plan.respond;
      if (r.action === 'checkpoint') this.#respond({ tx: r.tx, event: trigger.event }, r.challengedTurnNum);
      else this.#emit({ type: 'challengeAnswered', channelId: trigger.event.channelId, action: r.action, turnNum: r.turnNum, challengedTurnNum: r.challengedTurnNum });
    }
    const started: string[] = [];
    if (!plan.decision.onChain) return started;
    // A virtual channel going on chain leaves the ledgers guaranteeing it open (their guarantee is
    // removed by proof once V finalizes) — except a ledger whose counterparty we already know is
    // stalled: the removal would only time out on it, so it is exited now, as its stall would have.
    // (Judged before starting: that fails the cooperative objectives on V that show the stall.)
    const stalled = new Set<Address>();
    if (trigger.kind !== 'peerStalled') {
      for (const o of create) if (o.type === 'virtualChallenge' && !this.#exists(o.id)) for (const p of this.#stalledCounterparties(o.v.id)) stalled.add(p);
    }
    for (const o of create) {
      if (this.#exists(o.id)) continue;
      await this.#startFallbackObjective(o, plan.decision.reason);
      started.push(o.id);
    }
    for (const peer of stalled) started.push(...(await this.#runFallbackPlan({ kind: 'peerStalled', peer })));
    return started;
  }

  /**
   * Whether to hold back the exit of `ledger` for its stalled `peer` because a deposit awaits its
   * credit there: an exit pays the last agreed state, and what the chain holds beyond it stays in
   * the adjudicator, allocated to nobody.
   * - Our top-up deposit: held for as long as it waits (waiting loses nothing: the watchtower still
   *   answers challenges, and the peer may come back and credit it); `exitLedgerChannel` /
   *   `withdraw --force` exits anyway.
   * - Holdings beyond the agreed total otherwise (the peer's top-up deposit, sent just before it
   *   went silent, or a donation): held for the ledger's challenge duration from the first hold —
   *   the time a party is expected to come back within anyway to answer challenges — so the peer
   *   can propose its credit; then the exit goes ahead (our own funds are not held hostage for
   *   ever) and the surplus is left behind. A failed holdings read holds (retried at the next stall).
   */
  async #holdExitForCredit(ledgerId: ChannelId, peer: Address): Promise<boolean> {
    const id = ledgerId.toLowerCase();
    const atStake = this.#topUpAtStake(ledgerId);
    if (atStake > 0n) {
      if (!this.#topUpHeld.has(id)) {
        this.#topUpHeld.add(id);
        this.#log.warn({ channelId: ledgerId, peer, amount: atStake.toString() }, 'not exiting the ledger of a stalled peer: our top-up deposit there awaits its credit (an exit now would leave it in the adjudicator)');
      }
      return true;
    }
    this.#topUpHeld.delete(id);
    const ld = this.#getLedger(ledgerId);
    const ledger = ld?.ledger;
    const signal = this.#lifecycle?.signal;
    if (ld === undefined || ledger == null || signal === undefined) return false;
    let held: bigint | undefined;
    try {
      held = await this.chain.holdings(ld.asset, ledgerId, { signal });
    } catch (e) {
      this.#log.warn({ channelId: ledgerId, code: isSluiceError(e) ? e.code : 'unknown' }, 'holdings read failed; the exit of the ledger of a stalled peer waits');
    }
    const surplus = held === undefined ? undefined : held - ledgerTotal(ledger.current.outcome);
    if (surplus !== undefined && surplus <= 0n) {
      this.#creditHeld.delete(id);
      return false;
    }
    const now = this.#clock.now();
    const hold = this.#creditHeld.get(id);
    if (hold?.turnNum !== ledger.current.turnNum) {
      this.#creditHeld.set(id, { since: now, turnNum: ledger.current.turnNum, heard: false });
      if (surplus !== undefined) {
        this.#log.warn({ channelId: ledgerId, peer, amount: surplus.toString(), graceS: ledger.fixedPart.challengeDuration }, "not exiting the ledger of a stalled peer yet: the chain holds a deposit the ledger does not credit (the peer's top-up, most likely), which an exit now would leave in the adjudicator");
      }
      return true;
    }
    if (!holdOver(hold, ledger, now)) return true;
    this.#creditHeld.delete(id);
    this.#log.warn({ channelId: ledgerId, peer, amount: surplus?.toString() }, 'exiting the ledger of a stalled peer after waiting a challenge duration for the credit of a deposit; the uncredited surplus stays in the adjudicator');
    return false;
  }

  /** What our live top-ups on `ledgerId` sent a deposit for that the ledger has not credited yet (0n: none). */
  #topUpAtStake(ledgerId: ChannelId): bigint {
    const id = ledgerId.toLowerCase();
    let sum = 0n;
    for (const d of this.#active.values()) {
      const o = d.objective;
      if (o.type === 'ledgerTopUp' && o.status === 'approved' && o.ledger.id.toLowerCase() === id && o.ledger.myIndex === o.depositor && o.depositSubmitted) sum += o.amount;
    }
    return sum;
  }

  /** Whether the automatic fallback already knows `peer` stalled (see {@link #stalled}), or an objective waits on it past the peer timeout now. */
  #peerStalledNow(peer: Address): boolean {
    if ((this.init.fallback?.auto ?? true) === false) return false;
    const p = peer.toLowerCase();
    if (this.#stalled.has(p)) return true;
    const now = this.#clock.now();
    const peerTimeout = this.#peerTimeoutMs;
    for (const data of this.#active.values()) {
      const o = data.objective;
      if (isFallbackObjective(o) || now - data.progressAt < peerTimeout || !needsPeer(o, data.waitingFor)) continue;
      if (silentPeers(o, data.waitingFor, this.#alive).some((x) => x.toLowerCase() === p)) return true;
    }
    return false;
  }

  /** Counterparties, known stalled, of our open ledgers that guarantee `vId` and are not being exited yet. */
  #stalledCounterparties(vId: ChannelId): Address[] {
    const out = new Set<string>();
    for (const ld of this.#ledgerMap().values()) {
      if (ld.ledger == null || ld.status !== 'open' || !consensusIncludes(ld.ledger, vId) || this.#exists(ledgerExitId(ld.ledgerId))) continue;
      if (this.#peerStalledNow(ld.counterparty)) out.add(ld.counterparty.toLowerCase());
    }
    return [...out] as Address[];
  }

  async #startFallbackObjective(o: FallbackObjective, reason: FallbackStartReason): Promise<void> {
    const channelId = settledChannel(o);
    // One group, so one commit: the cooperative objectives on the channel are failed only together
    // with the creation of the objective that settles it. A crash between the two (found by
    // bench:chaos, a payer killed right after failing a virtual fund whose guarantee was already in
    // its ledger) left that guarantee in the ledger with nothing to ever remove it: the virtual
    // fund failed, no ledger exit, the ledger unclosable.
    this.#grouped(() => {
      // The channel leaves the cooperative path: stop the objectives that wait on it.
      for (const d of [...this.#active.values()]) {
        const c = d.objective;
        if (isFallbackObjective(c) || !channelsOf(c).includes(channelId)) continue;
        this.#failObjective(d, c, new SluiceError('CHANNEL_CLOSING', 'the channel is being settled on chain', { details: { channelId } }));
      }
      const now = this.#clock.now();
      let closing = false;
      this.#transaction(() => {
        if (o.type === 'ledgerExit') {
          const ld = this.#getLedger(channelId);
          if (ld !== undefined && ld.status !== 'closed') this.#putLedger({ ...ld, status: 'closing' }, now);
        } else {
          const vd = this.#getVirtual(channelId);
          if (vd !== undefined && vd.status !== 'closed') {
            closing = vd.status !== 'closing';
            this.#putVirtual({ ...vd, status: 'closing' }, now);
          }
        }
      });
      this.#create({ objective: o }, 'me');
      if (closing) this.#emit({ type: 'virtualChannelClosing', channelId });
      this.#log.info({ objectiveId: o.id, channelId, reason }, 'settling on chain');
      this.#emit({ type: 'fallbackStarted', objectiveId: o.id, objectiveType: o.type, channelId, reason });
    });
    await this.#advance(o.id, undefined);
    // the chain events before this objective existed went to nobody (a `Concluded` above all):
    // learn what the chain records for each of its channels
    for (const c of watchedChannels(o)) this.#readStatus(o.id, c);
  }

  /**
   * Is this one of our channels (a ledger or virtual channel not closed, or a virtual channel we
   * are still opening whose prefund every participant signed: see FallbackContext.opening)?
   */
  #ours(channelId: ChannelId): 'ledger' | 'virtual' | undefined {
    const ld = this.#getLedger(channelId);
    if (ld?.ledger != null && (ld.status === 'open' || ld.status === 'closing')) return 'ledger';
    const vd = this.#getVirtual(channelId);
    if (vd !== undefined && (vd.status === 'funded' || vd.status === 'closing' || openingVirtual(vd, this.#active) !== null)) return 'virtual';
    return undefined;
  }

  /**
   * A challenge on a V we are opening whose prefund lacks signatures here (they were lost, or we
   * restarted): take the challenger's supported state, so V is ours to follow on chain (see
   * `withChallengedState`). Before, the challenge was ignored; the open later completed its
   * prefund and proposed V's guarantee to the hub, which had given V up for the challenge and never
   * countersigned it — every later proposal on that ledger waited behind it (found by bench:chaos).
   */
  #learnFromChallenge(ev: ChallengeRegisteredEvent): void {
    const data = this.#active.get(virtualFundId(ev.channelId));
    const o = data?.objective;
    if (data === undefined || o?.type !== 'virtualFund') return;
    const learnt = withChallengedState(o, ev);
    if (learnt === o) return;
    const next = { ...data, objective: learnt };
    this.#transaction(() => putObjectiveData(this.store, next, this.#clock.now()));
    this.#active.set(learnt.id, next);
    this.#log.info({ objectiveId: o.id, channelId: ev.channelId, turnNum: ev.candidate.variablePart.turnNum }, "a virtual channel we are opening was challenged: its state taken from the challenge");
  }

  /**
   * A virtual channel of ours concluded on chain (finalized at once, maybe with a final state we
   * never got): follow it with our virtual challenge, which learns the outcome, so its guarantees
   * leave our ledgers by proof now rather than at our peer timeout (a payee's removal by proof
   * timed out on a hub that had not noticed yet, and the payee exited its ledger).
   */
  async #onConcluded(channelId: ChannelId, pev: ObjectiveEvent | undefined): Promise<void> {
    if (pev?.kind !== 'concluded' || this.#ours(channelId) !== 'virtual' || this.#exists(virtualChallengeId(channelId))) return;
    try {
      await this.#runFallbackPlan({ kind: 'virtualConcluded', event: pev });
    } catch (e) {
      this.#log.warn({ channelId, code: isSluiceError(e) ? e.code : 'unknown', reason: e instanceof Error ? e.message : String(e) }, 'concluded virtual channel not followed');
    }
  }

  /** Watchtower: a challenge on one of our channels (live or while catching up). */
  async #onChallengeRegistered(ev: PortChallengeRegistered): Promise<void> {
    const pev = disputeEventFromPort(ev) as ChallengeRegisteredEvent;
    this.#learnFromChallenge(pev);
    const kind = this.#ours(pev.channelId);
    if (kind === undefined) return;
    this.#emit({ type: 'challengeRegistered', channelId: pev.channelId, kind, turnNum: ev.candidate.variablePart.turnNum, finalizesAt: ev.finalizesAt, txHash: ev.txHash });
    this.#log.info({ channelId: pev.channelId, turnNum: ev.candidate.variablePart.turnNum, finalizesAt: ev.finalizesAt }, 'challenge registered');
    try {
      await this.#runFallbackPlan({ kind: 'challengeRegistered', event: pev });
    } catch (e) {
      this.#log.warn({ channelId: pev.channelId, code: isSluiceError(e) ? e.code : 'unknown', reason: e instanceof Error ? e.message : String(e) }, 'challenge not answered');
    }
  }

  /** Our reclaim `hash` (lower-case) is sent: remember its target, durably (a FULL commit of its own). */
  #rememberReclaim(hash: string, target: ChannelId): void {
    this.#reclaimTargets.set(hash, target);
    while (this.#reclaimTargets.size > MAX_RECLAIMS_SENT) this.#reclaimTargets.delete(this.#reclaimTargets.keys().next().value!);
    this.#saveReclaims();
  }

  /** Our reclaim `hash` was mined (its event applied) or reverted: forget it. */
  #forgetReclaim(hash: string): void {
    if (this.#reclaimTargets.delete(hash)) this.#saveReclaims();
  }

  #saveReclaims(): void {
    try {
      this.store.setMeta(RECLAIMS_SENT_KEY, stringifyJson([...this.#reclaimTargets]));
    } catch (e) {
      // kept in memory all the same: a lost entry only costs the exit a yield after a restart
      this.#log.warn({ code: isSluiceError(e) ? e.code : 'unknown', reason: e instanceof Error ? e.message : String(e) }, 'reclaim not recorded');
    }
  }

  #journal(): WatchtowerEntry[] {
    const raw = this.store.getMeta(WATCHTOWER_KEY);
    return raw === undefined ? [] : (parseJson(raw) as WatchtowerEntry[]);
  }

  /** Journal a checkpoint with the challenge it answers (durable before it is sent), then send it once caught up. */
  #respond(entry: WatchtowerEntry, challengedTurnNum: number): void {
    const { tx } = entry;
    const j = this.#journal();
    if (!j.some((x) => transactionKey(x.tx) === transactionKey(tx))) this.store.setMeta(WATCHTOWER_KEY, stringifyJson([...j, entry]));
    if (tx.kind === 'checkpoint') {
      this.#emit({ type: 'challengeAnswered', channelId: tx.channelId, action: 'checkpoint', turnNum: tx.candidate.state.turnNum, challengedTurnNum });
    }
    if (this.#caughtUp) this.#runResponse(entry);
  }

  /**
   * Send a journaled checkpoint while it is still useful: a challenge runs on the channel with a
   * turn below ours (read from the chain before each attempt). Removed from the journal once sent
   * or moot. If the stale state finalized first (we were away longer than the challenge duration,
   * or every attempt failed), the ledger is settled on chain from what was registered: the ledger
   * exit (and the virtual channels its registered outcome still guarantees) collect what that state
   * and our newer virtual channel states still give us.
   */
  #runResponse(entry: WatchtowerEntry): void {
    const { tx, event } = entry;
    if (tx.kind !== 'checkpoint') return;
    const key = `watchtower|${transactionKey(tx)}`;
    if (this.#txRunning.has(key)) return;
    this.#txRunning.add(key);
    const max = this.init.txMaxAttempts ?? 5;
    const delay = this.init.txRetryDelayMs ?? 1000;
    const task = (async () => {
      const signal = this.#lifecycle?.signal;
      if (signal === undefined) return;
      let settled = false;
      let lost = false;
      let headTime = 0;
      for (let attempt = 1; attempt <= max + 1 && !settled && !signal.aborted; attempt++) {
        try {
          const [st, head] = await Promise.all([this.chain.statusOf(tx.channelId, { signal }), this.chain.latestBlock({ signal })]);
          headTime = head.timestamp;
          if (st.finalizesAt !== 0 && st.finalizesAt <= head.timestamp) {
            lost = st.turnNumRecord < tx.candidate.state.turnNum;
            settled = true;
            break;
          }
          if (!(st.finalizesAt > head.timestamp && st.turnNumRecord < tx.candidate.state.turnNum) || attempt > max) {
            settled = true; // cleared by someone or already raised (or out of attempts: the next challenge event decides again)
            break;
          }
          const r = await this.chain.submit(toChainTransaction(tx), { signal, timeoutMs: this.init.txTimeoutMs ?? 60_000 });
          this.#log.info({ channelId: tx.channelId, tx: tx.kind, txHash: r.txHash }, 'challenge answered');
          this.#emit({ type: 'fallbackTransaction', objectiveId: 'watchtower', channelId: tx.channelId, kind: 'checkpoint', txHash: r.txHash, blockNumber: r.blockNumber, gasUsed: r.gasUsed });
          settled = true;
        } catch (e) {
          if (signal.aborted) return;
          this.#log.warn({ channelId: tx.channelId, tx: tx.kind, attempt, code: isSluiceError(e) ? e.code : 'unknown' }, 'checkpoint failed');
          await sleep(delay * attempt, signal);
        }
      }
      if (signal.aborted) return;
      await this.serial(async () => {
        this.store.setMeta(WATCHTOWER_KEY, stringifyJson(this.#journal().filter((x) => transactionKey(x.tx) !== transactionKey(tx))));
        if (!lost || event === undefined) return;
        this.#log.warn({ channelId: tx.channelId, finalizesAt: event.finalizesAt }, 'a stale challenge finalized before it was answered: settling on chain');
        if (headTime > this.#chainNow) this.#chainNow = headTime;
        try {
          await this.#runFallbackPlan({ kind: 'challengeRegistered', event });
        } catch (e) {
          this.#log.warn({ channelId: tx.channelId, code: isSluiceError(e) ? e.code : 'unknown' }, 'settling the finalized ledger failed');
        }
      });
    })().finally(() => this.#txRunning.delete(key));
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /**
   * First time the chain events reach the head since start: fallback transactions journaled
   * before a crash are re-decided (a step whose transaction never confirmed is forgotten with
   * `onTransactionFailed`, so the crank recomputes it from the chain as now known), and pending
   * checkpoints are re-checked and sent.
   */
  #afterCatchUp(): void {
    const now = this.#clock.now();
    for (const data of [...this.#active.values()]) {
      const o = data.objective;
      // (a direct defund pays out a conclusion by someone else with a fallback-keyed transferAllAssets)
      if (!isFallbackObjective(o) && o.type !== 'directDefund') continue;
      const stale = data.pendingTxs.filter((t) => fallbackTransactionKey(t) !== undefined);
      if (stale.length === 0) continue;
      const objective = stale.some((t) => recordMatches(o, t)) ? onTransactionFailed(o) : o;
      const next = { ...data, objective, pendingTxs: data.pendingTxs.filter((t) => fallbackTransactionKey(t) === undefined) };
      putObjectiveData(this.store, next, now);
      this.#active.set(o.id, next);
      // fallback objectives are cranked by the chain time fed next; a direct defund is not
      if (o.type === 'directDefund') void this.serial(() => this.#advance(o.id, undefined)).catch(() => {});
    }
    for (const entry of this.#journal()) this.#runResponse(entry);
    // virtual channels settled on chain whose guarantee removals were not started (a crash between
    // the virtual challenge's completion and their creation)
    const targets = new Set<ChannelId>();
    for (const ld of this.#ledgerMap().values()) {
      if (ld.ledger == null || ld.status !== 'open') continue;
      for (const g of ld.ledger.current.outcome.guarantees) if (this.#exists(virtualChallengeId(g.target)) && !this.#exists(guaranteeRemovalId(ld.ledgerId, g.target))) targets.add(g.target);
    }
    for (const t of targets) void this.serial(() => this.#startGuaranteeRemovals(t)).catch(() => {});
    for (const t of this.#unownedGuarantees()) void this.serial(() => this.#settleUnowned(t)).catch(() => {});
  }

  /**
   * Targets of guarantees in our open ledgers that nothing will ever remove: V's open failed here
   * with the guarantee already agreed, and no objective (cooperative or on chain) concerns V or the
   * ledger's exit. Going on chain used to fail V's open and create the settling objective in two
   * commits; a crash between them left such a guarantee, and the ledger could never close. Checked
   * at start and after each virtual fund that fails (its other ledger went on chain first).
   */
  #unownedGuarantees(): ChannelId[] {
    const owned = new Set<string>();
    for (const d of this.#active.values()) {
      const o = d.objective;
      for (const c of isFallbackObjective(o) ? watchedChannels(o) : channelsOf(o)) owned.add(c.toLowerCase());
    }
    // a guarantee of an open V is its own (the in-memory index): only the rest costs store reads
    const open = this.#virtualIndex();
    const out = new Set<ChannelId>();
    for (const ld of this.#ledgerMap().values()) {
      if (ld.ledger == null || ld.status !== 'open' || this.#exists(ledgerExitId(ld.ledgerId))) continue;
      for (const g of ld.ledger.current.outcome.guarantees) {
        const t = g.target;
        if (owned.has(t.toLowerCase()) || open.has(t.toLowerCase())) continue;
        if (this.#exists(virtualChallengeId(t)) || this.#exists(guaranteeRemovalId(ld.ledgerId, t)) || this.#getVirtual(t)?.status !== 'failed') continue;
        out.add(t);
      }
    }
    return [...out];
  }

  /**
   * Settle on chain a virtual channel whose open failed but whose guarantee sits in one of our
   * ledgers ({@link #unownedGuarantees}), with the supported state its failed open holds (the
   * prefund at least: it pays the payer back). Once V finalizes, its guarantees leave our ledgers
   * by proof, as for any V we settled on chain.
   */
  async #settleUnowned(target: ChannelId): Promise<void> {
    if (this.#exists(virtualChallengeId(target)) || !this.#unownedGuarantees().includes(target)) return;
    const f = getObjectiveData(this.store, virtualFundId(target))?.objective;
    if (f?.type !== 'virtualFund' || latestSupportedState(f.v) === undefined) {
      this.#log.warn({ channelId: target }, 'a guarantee of a failed virtual channel with no supported state of it here: only a ledger exit can release it');
      return;
    }
    this.#log.warn({ channelId: target }, 'a guarantee of a failed virtual channel that nothing removes: settling the channel on chain');
    try {
      await this.#startFallbackObjective(newVirtualChallenge({ v: f.v, now: this.#chainNow }), 'unownedGuarantee');
    } catch (e) {
      this.#log.warn({ channelId: target, code: isSluiceError(e) ? e.code : 'unknown' }, 'guaranteed channel not settled');
    }
  }

  // ---------------------------------------------------------------- peer messages

  #hear(peer: Address): void {
    const now = this.#clock.now();
    if (this.#heard.size >= MAX_HEARD) {
      // a hub hears from many peers: forget the ones not heard from within the peer timeout (or all)
      const horizon = now - this.#peerTimeoutMs;
      for (const [k, t] of this.#heard) if (t < horizon) this.#heard.delete(k);
      if (this.#heard.size >= MAX_HEARD) this.#heard.clear();
    }
    this.#heard.set(peer.toLowerCase(), now);
  }

  async #onMessage(m: InboundMessage): Promise<void> {
    // Stopped (its objectives unloaded): not ours to answer; the sender retries until we start again.
    if (this.#lifecycle === undefined) throw new SluiceError('PROTOCOL_NOT_READY', 'the node is stopped');
    this.#silent.delete(m.from.toLowerCase());
    this.#stalled.delete(m.from.toLowerCase());
    this.#hear(m.from);
    if (m.relayedBy !== undefined) this.#hear(m.relayedBy);
    if (this.#creditHeld.size > 0) {
      for (const [id, hold] of this.#creditHeld) {
        const peer = this.#getLedger(id as ChannelId)?.counterparty;
        if (peer !== undefined && sameAddress(peer, m.from)) hold.heard = true;
      }
    }
    let msg: WireMessage;
    try {
      msg = decodeWireMessage(m.payload);
    } catch (e) {
      this.#reject(m.from, e, undefined);
      return; // acknowledged and dropped: a malformed message never becomes valid
    }
    const decoded = msg;
    await new Promise<void>((resolve, reject) => {
      this.#inbox.push({ from: m.from, msg: decoded, resolve, reject, ...(m.relayedBy === undefined ? {} : { relayedBy: m.relayedBy }) });
      this.#scheduleDrain();
    });
  }

  /**
   * Drain at the next microtask checkpoint; every message that arrives while the engine is busy
   * (a drain, an fsync, a chain batch) waits in the inbox and joins the next drain, so under load
   * many messages share one group (one fsync). (Draining after the I/O phase with setImmediate
   * measured slower on bench:hub, memory and file stores alike.)
   */
  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      void this.serial(() => this.#drainInbox()).catch(() => {});
    });
  }

  /**
   * Handle every inbound message that arrived since the last drain in ONE group (one fsync for
   * all their steps), then acknowledge them (each handler promise settles with its own outcome:
   * a `PROTOCOL_NOT_READY` makes that sender retry). Messages still go one after the other
   * through the same code as before, so per-ledger ordering is unchanged.
   */
  async #drainInbox(): Promise<void> {
    const batch = this.#inbox.splice(0);
    if (batch.length === 0) return;
    const sends: Promise<unknown>[] = [];
    const errors = new Map<InboxItem, unknown>();
    /** Items found PROTOCOL_NOT_READY in this drain, with that error. */
    const parked = new Map<InboxItem, unknown>();
    const commits = this.#commits;
    let durable: Promise<void>;
    try {
      this.#grouped(() => {
        for (const item of batch) {
          try {
            if (item.msg.kind === 'rejectObjective') this.#onRejection(item.from, item.msg, item.relayedBy);
            else this.#handleMessage(item.from, item.msg, sends);
          } catch (e) {
            if (isSluiceError(e, 'PROTOCOL_NOT_READY') && this.#lifecycle !== undefined && item.retried !== true) parked.set(item, e);
            else errors.set(item, e);
          }
        }
      });
      durable = this.#groupSync;
    } catch (e) {
      // the sync failed: nothing of this batch is acknowledged
      for (const item of batch) item.reject(e);
      return;
    }
    if (parked.size > 0) {
      if (this.#commits !== commits) {
        // Something in this drain moved (e.g. the earlier proposal was in the same drain): try
        // once more at once — the libp2p adapter holds the sender's later messages until we answer.
        for (const item of parked.keys()) item.retried = true;
        this.#inbox.unshift(...parked.keys());
        this.#scheduleDrain();
      } else {
        for (const [item, e] of parked) errors.set(item, e);
        parked.clear();
      }
    }
    // Answer the senders once this group is durable, without holding the engine meanwhile (the
    // next drain may run during the fsync; the messaging adapter acks only after its own sync).
    void durable.then(
      async () => {
        await settleSends(sends, this.#log);
        for (const item of batch) {
          if (parked.has(item)) continue;
          if (errors.has(item)) item.reject(errors.get(item));
          else item.resolve();
        }
      },
      (e: unknown) => {
        // the sync failed: nothing of this batch is acknowledged
        for (const item of batch) if (!parked.has(item)) item.reject(e);
      },
    );
  }

  /**
   * A participant refuses an opening objective (ledger or virtual channel). Honoured while the
   * prefund is incomplete here and the refuser's signature is missing from it: then nothing was
   * proposed, locked or deposited for it by anyone, and giving up is safe. A ledger opening is
   * also given up (abandoned, resumable) when the refuser signed the prefund but nothing is
   * deposited and nothing asked of us (`directFundAbandonable`).
   *
   * A refusal is not signed: relayed, `from` is the relay's word, so the error says who relayed
   * it (a hub could forge a payee's refusal; it gains nothing by it, since the refusal is honoured
   * only while nothing is locked, but it would be misattributed).
   */
  #onRejection(from: Address, msg: RejectObjectiveMessage, relayedBy: Address | undefined): void {
    const data = this.#active.get(msg.objectiveId);
    if (data === undefined) {
      // It may overtake the prefund that starts the objective here: keep it for a while.
      if (!this.#exists(msg.objectiveId)) {
        this.#earlyRejections.set(msg.objectiveId, { from, msg, relayedBy });
        if (this.#earlyRejections.size > 1000) this.#earlyRejections.delete(this.#earlyRejections.keys().next().value!);
      }
      return;
    }
    const o = data.objective;
    if (o.type !== 'virtualFund' && o.type !== 'directFund') return;
    const ch = o.type === 'virtualFund' ? o.v : o.channel;
    const index = ch.fixedPart.participants.findIndex((p) => sameAddress(p, from));
    if (index < 0 || index === ch.myIndex) return;
    const prefund = entryAt(ch, 0);
    if (prefund === undefined) return;
    const code: SluiceErrorCode = isSluiceErrorCode(msg.code) ? msg.code : 'HUB_POLICY_REJECTED';
    const who = relayedBy === undefined ? `${from} refused` : `${from} refused (as relayed by ${relayedBy}: a relayed refusal is not signed)`;
    if (code === 'LEDGER_EXISTS' && o.type === 'directFund' && prefund.signatures[index] == null && this.#awaitExitSeenBy(data, from)) return;
    if (prefund.signatures[index] == null && prefund.signatures.some((x) => x == null)) {
      // A ledger opening the peer would fund alone, nothing in it yet: given up, but resumable
      // (abandoned), so that a late join of the peer's opens it. The peer may still join, from a
      // prefund our outbox re-sent before the refusal came, once the refusal's cause is gone; it
      // then deposits at once (nothing of ours comes first) and could only wait for our postfund,
      // then exit on chain (found by bench:chaos with hub self-kills).
      const resumable = o.type === 'directFund' && directFundAbandonable(o) && directFundAsksNothingOfUs(o);
      this.#failObjective(data, o, new SluiceError(code, `${who}: ${msg.reason}`, { details: { peer: from } }), resumable);
      return;
    }
    // A ledger opening the peer signed and then gave up (it honoured an earlier refusal of ours
    // and our join came from a prefund its outbox re-sent after the refusal's cause was gone):
    // with nothing deposited by anyone and nothing asked of us, give it up as the opening timeout
    // would, an hour sooner; it would otherwise block the peer's next ledger with us till then.
    // Abandoned, not refused: a deposit seen later resumes it (the refusal is not signed).
    if (o.type === 'directFund' && directFundAbandonable(o)) {
      this.#failObjective(data, o, new SluiceError(code, `${who} after signing the prefund: ${msg.reason} (opening abandoned; a deposit seen later resumes it)`, { details: { peer: from } }), true);
    }
  }

  /**
   * The peer refuses our ledger opening as a second ledger with it (LEDGER_EXISTS) while our
   * last ledger with it is being closed here: most likely it has not seen the close yet. An exit's
   * challenge reaches the peer only once mined and confirmed there (2.4 min on Ethereum at 12
   * confirmations); before this, the opening failed on the first refusal and the caller (a client
   * renewing its ledger with the hub after an exit) had to try again by hand. Keep the opening:
   * nothing is signed or deposited by the peer, so waiting risks nothing. Its prefund is sent
   * again after 1, 2, 4, 8, then every 15 s, each refusal answered the same way, until the peer
   * joins or {@link LEDGER_EXISTS_PATIENCE_MS} after the opening was created; then the refusal
   * is honoured as any other. (A new opening instead of the same one could meet a late join of
   * the old one at the peer, which then funds two.)
   * @returns whether the refusal is set aside
   */
  #awaitExitSeenBy(data: ObjectiveData, peer: Address): boolean {
    const o = data.objective;
    const signal = this.#lifecycle?.signal;
    const ld = this.#getLedger(objectiveChannelId(o));
    if (signal === undefined || ld === undefined || findLedgerIn(this.#ledgerMap().values(), peer, ld.asset, ['closing']) === undefined) return false;
    const now = this.#clock.now();
    if (now - (data.createdAt ?? data.progressAt) >= LEDGER_EXISTS_PATIENCE_MS) return false;
    const waits = this.#exitNotSeen.get(o.id) ?? { resends: 0, scheduled: false };
    this.#exitNotSeen.set(o.id, waits);
    if (waits.resends === 0 && !waits.scheduled) {
      this.#log.info({ objectiveId: o.id, channelId: ld.ledgerId, peer }, 'ledger refused as a second one: the peer has not seen our last ledger with it close yet; sending the prefund again until it has');
    }
    // one re-send scheduled at a time (copies of the prefund an outbox re-sent are refused too)
    if (waits.scheduled) return true;
    waits.scheduled = true;
    void sleep(Math.min(1000 * 2 ** waits.resends, 15_000), signal)
      .then(() =>
        this.serial(() => {
          waits.scheduled = false;
          waits.resends++;
          const d = this.#active.get(o.id);
          if (!signal.aborted && d !== undefined) this.#resend(d);
        }),
      )
      .catch(() => {});
    return true;
  }

  /** Tell the other participants of a prefund we refuse to join, so they stop waiting. */
  #sendRejection(msg: ProtocolMessage, e: unknown): void {
    if (msg.kind !== 'signedState' || msg.state.turnNum !== 0) return;
    if (!/^(VirtualFund|DirectFunding)-/.test(msg.objectiveId)) return;
    if (!msg.state.participants.some((p) => sameAddress(p, this.address))) return;
    this.#sendRejectionTo(msg.objectiveId, msg.state.participants, e);
  }

  /**
   * A participant signs the prefund of an opening we gave up without our prefund signature (our
   * refusal was lost, or never sent: the objective failed when its channel went on chain while the
   * peer was away). It would wait for our signature for ever: tell it again, it honours a refusal
   * from a participant whose prefund signature it does not hold. One answer per message delivered.
   * Likewise a ledger opening we signed, gave up (a refusal we honoured) and deposited nothing
   * into, which the peer joined late from a prefund our outbox re-sent (found by bench:chaos):
   * the peer would wait for our deposit for its opening timeout.
   */
  #answerGivenUpOpening(from: Address, msg: ProtocolMessage): void {
    if (msg.kind !== 'signedState' || msg.state.turnNum !== 0 || !/^(VirtualFund|DirectFunding)-/.test(msg.objectiveId)) return;
    const data = getObjectiveData(this.store, msg.objectiveId);
    const o = data?.objective;
    if (o === undefined || o.status !== 'rejected' || (o.type !== 'virtualFund' && o.type !== 'directFund')) return;
    const ch = o.type === 'virtualFund' ? o.v : o.channel;
    if (!ch.fixedPart.participants.some((p) => sameAddress(p, from))) return;
    // We signed: a refusal is honoured only where nothing is at stake for the peer, and only by a
    // ledger opening (see #onRejection). Not for one we abandoned (a deposit resumes it) nor one
    // we deposited into (it is settled on chain).
    const weSigned = entryAt(ch, 0)?.signatures[ch.myIndex] != null;
    if (weSigned && (o.type !== 'directFund' || data?.abandoned === true || o.depositsSubmitted.length > 0)) return;
    const stored = data?.failure?.code;
    const code: SluiceErrorCode = isSluiceErrorCode(stored) ? stored : 'CHANNEL_CLOSING';
    this.#sendRejectionTo(msg.objectiveId, [from], new SluiceError(code, `given up: ${(data?.failure?.message ?? 'the opening failed').slice(0, 150)}`));
  }

  /**
   * Queue a refusal of an opening objective for the other participants (durable outbox, retried).
   * Only for a prefund we have not signed and never will: they honour it for that reason.
   */
  #sendRejectionTo(objectiveId: string, participants: readonly Address[], e: unknown): void {
    const code = isSluiceError(e) ? e.code : 'HUB_POLICY_REJECTED';
    const reason = (e instanceof Error ? e.message : 'refused').slice(0, 200);
    const payload = encodeWireMessage({ kind: 'rejectObjective', objectiveId, code, reason });
    for (const p of participants) {
      if (!sameAddress(p, this.address)) this.#messaging.send(p, payload).catch(() => {});
    }
  }

  /**
   * A ledger proposal or countersignature for an objective that has ended here. The leader's
   * proposals stay in its ledger queue in turn order whatever became of the objective that made
   * them, so one left unanswered blocks every later proposal on that ledger for good (found by
   * bench:chaos: V went on chain while the payer's `add` of its guarantee was on its way, the hub
   * gave V up and ignored the `add`, and the payer's guarantee removals and top-up queued behind it).
   * - Follower: countersign a virtual fund's late `add` (`countersignLateAdd`: exactly the
   *   guarantee agreed at the prefund, next in turn).
   * - Leader: take a countersignature of a proposal still in our queue (a state we proposed).
   * A guarantee so added for a channel already settled on chain then leaves by proof.
   * @throws SluiceError PROTOCOL_NOT_READY (the sender retries)
   */
  #lateLedgerUpdate(from: Address, msg: ProtocolMessage, sends: Promise<unknown>[]): void {
    const ledgerId = msg.kind === 'ledgerProposal' ? msg.signedProposal.ledgerId : msg.kind === 'ledgerCountersignature' ? msg.countersignature.ledgerId : undefined;
    const ld = this.#openLedgerWith(from, ledgerId);
    if (ld?.ledger == null || this.#exists(ledgerExitId(ld.ledgerId))) return;
    let ledger: ConsensusChannel;
    let reply: { countersignature: Countersignature } | undefined;
    let added: ChannelId[] = [];
    try {
      if (msg.kind === 'ledgerProposal') {
        if (!msg.objectiveId.startsWith('VirtualFund-')) return;
        const o = getObjectiveData(this.store, msg.objectiveId)?.objective;
        if (o?.type !== 'virtualFund') return;
        const r = countersignLateAdd(o, ld.ledger, msg.signedProposal, this.#secrets.privateKey);
        if (r === null) return;
        ledger = r.ledger;
        reply = { countersignature: r.countersignature };
        added = [o.v.id];
      } else if (msg.kind === 'ledgerCountersignature') {
        if (ld.myIndex !== 0) return;
        const at = ld.ledger.queue.findIndex((sp) => sp.turnNum === msg.countersignature.turnNum);
        if (at < 0) return; // agreed already, or not ours
        ledger = receiveCountersignature(ld.ledger, msg.countersignature);
        // (it agrees every proposal of ours up to its turn)
        added = ld.ledger.queue.slice(0, at + 1).flatMap((sp) => (sp.proposal.type === 'add' ? [sp.proposal.guarantee.target] : []));
      } else return;
    } catch (e) {
      if (isSluiceError(e, 'PROTOCOL_NOT_READY')) throw e;
      this.#reject(from, e, msg.objectiveId);
      return;
    }
    const now = this.#clock.now();
    this.#transaction(() => {
      this.#putLedger({ ...ld, ledger }, now);
      if (reply !== undefined) {
        const answer: ProtocolMessage = { kind: 'ledgerCountersignature', objectiveId: msg.objectiveId, countersignature: reply.countersignature };
        sends.push(this.#messaging.send(from, encodeWireMessage(answer)));
      }
    });
    this.#log.info({ objectiveId: msg.objectiveId, channelId: ld.ledgerId, turnNum: ledger.current.turnNum }, 'a ledger update of an ended objective agreed (it held up the ledger queue)');
    // the objectives whose proposals queued behind it can go on
    for (const other of [...this.#active.values()]) if (waitsOnLedger(other, ld.ledgerId)) this.#advanceSync(other.objective.id, undefined, sends);
    // a guarantee for a channel already settled on chain leaves by proof (the leader proposes)
    if (ld.myIndex === 0) {
      for (const target of added) this.#afterSync(() => void this.serial(() => this.#startGuaranteeRemovals(target)).catch(() => {}));
    }
    // one for a channel whose open failed here and that nothing settles (the other ledger went on
    // chain before its guarantee was agreed) would stay for good: settle V on chain
    for (const target of added) this.#afterSync(() => void this.serial(() => this.#settleUnowned(target)).catch(() => {}));
  }

  /**
   * The leader re-sends a proposal we (the follower) agreed to already, outside any live objective
   * of ours: our countersignature never reached it (the outbox gives up after its expiry; the
   * objective that countersigned has ended here since). Without it the leader's proposal stays
   * first in its queue until its peer timeout takes the ledger on chain. Answer with our
   * signature of the ledger's current state, a signature we gave already: it agrees every
   * proposal of the leader's up to that turn. True when answered.
   */
  #answerAgreedProposal(from: Address, msg: Extract<ProtocolMessage, { kind: 'ledgerProposal' }>, sends: Promise<unknown>[]): boolean {
    const sp = msg.signedProposal;
    const ld = this.#openLedgerWith(from, sp.ledgerId);
    const current = ld?.ledger?.current;
    if (ld === undefined || current === undefined || ld.myIndex !== 1) return false;
    if (!Number.isSafeInteger(sp.turnNum) || sp.turnNum > current.turnNum) return false;
    const countersignature: Countersignature = { ledgerId: ld.ledgerId, turnNum: current.turnNum, signature: current.signatures[1] };
    const answer: ProtocolMessage = { kind: 'ledgerCountersignature', objectiveId: msg.objectiveId, countersignature };
    sends.push(this.#messaging.send(from, encodeWireMessage(answer)));
    this.#log.info({ objectiveId: msg.objectiveId, channelId: ld.ledgerId, turnNum: sp.turnNum, current: current.turnNum }, 'a ledger proposal agreed already: countersignature sent again');
    return true;
  }

  /** Our open ledger `ledgerId` if `peer` is its counterparty (a ledger message from anyone else is not for it). */
  #openLedgerWith(peer: Address, ledgerId: ChannelId | undefined): LedgerData | undefined {
    const ld = ledgerId === undefined ? undefined : this.#getLedger(ledgerId);
    return ld?.status === 'open' && sameAddress(ld.counterparty, peer) ? ld : undefined;
  }

  #reject(from: Address, e: unknown, objectiveId: string | undefined): void {
    const code = isSluiceError(e) ? e.code : 'PROTOCOL_MALFORMED';
    const reason = e instanceof Error ? e.message : 'malformed';
    this.#log.warn({ peer: from, objectiveId, code, reason }, 'peer message rejected');
    this.#emit({ type: 'messageRejected', from, code, reason, ...(objectiveId === undefined ? {} : { objectiveId }) });
  }

  #handleMessage(from: Address, msg: ProtocolMessage, sends: Promise<unknown>[]): void {
    const id = msg.objectiveId;
    // the peer's postfund for an opening we abandoned while it was all we waited for, or its late
    // prefund signature (it joined after we gave up: see #onRejection): resume it
    if (!this.#active.has(id) && msg.kind === 'signedState' && msg.state.turnNum <= 1 && id.startsWith('DirectFunding-')) {
      const ledgerId = id.slice('DirectFunding-'.length).toLowerCase() as ChannelId;
      const ld = this.#getLedger(ledgerId);
      if (ld?.status === 'failed' && sameChannel(msg.state, ledgerId) && signedBy(msg, ld.counterparty)) {
        if (msg.state.turnNum === 1) this.#maybeResumeOpening(ledgerId, 'postfund');
        else if (this.#lacksPrefundSignatureOf(id, ld.counterparty)) this.#maybeResumeOpening(ledgerId, 'join');
      }
    }
    if (!this.#active.has(id)) {
      if (msg.kind === 'ledgerProposal' && this.#answerAgreedProposal(from, msg, sends)) return;
      if (this.#existsBesidesConflict(id)) {
        // finished: a late duplicate — or a peer still opening a channel we gave up, or a ledger
        // update it made for it in time that we never answered (see #lateLedgerUpdate)
        if (msg.kind === 'ledgerProposal' || msg.kind === 'ledgerCountersignature') this.#lateLedgerUpdate(from, msg, sends);
        else this.#answerGivenUpOpening(from, msg);
        return;
      }
      let joined: Joined;
      try {
        joined = joinObjective(
          {
            store: this.store,
            ledgers: this.#ledgerView,
            me: this.address,
            policy: this.#policy,
            consensusApp: this.init.consensusApp,
            virtualPaymentApp: this.init.virtualPaymentApp,
            active: () => this.activeObjectives(),
            virtual: (c) => this.#getVirtual(c),
            now: this.#clock.now(),
            forgottenBefore: this.#forgottenBefore(),
            holdings: (id) => this.#holdings.get(id.toLowerCase())?.holdings,
            readHoldings: (id, asset) => this.#readHoldings(id, asset),
            virtualProof: (v) => this.#virtualProof(v),
          },
          msg,
        );
        // A channel being settled on chain has left the cooperative path: #startFallbackObjective
        // failed the objectives on it, and one joined now (a close whose message was still on its
        // way) would wait for ledger updates its peers no longer make, for ever.
        if (!isFallbackObjective(joined.objective)) {
          const ours = channelsOf(joined.objective);
          for (const d of this.#active.values()) {
            if (isFallbackObjective(d.objective) && ours.includes(settledChannel(d.objective))) {
              throw new SluiceError('CHANNEL_CLOSING', 'the channel is being settled on chain', { details: { channelId: settledChannel(d.objective) } });
            }
          }
        }
      } catch (e) {
        if (isSluiceError(e, 'PROTOCOL_NOT_READY')) throw e;
        this.#reject(from, e, id);
        this.#sendRejection(msg, e);
        return;
      }
      this.#create(joined, 'peer');
      // (a top-up's and a removal's proposal were only checked: applied below to the stored ledger)
      if (joined.objective.type !== 'ledgerTopUp' && joined.objective.type !== 'guaranteeRemoval') {
        this.#advanceSync(id, undefined, sends); // the message is already applied
        const early = this.#earlyRejections.get(id);
        if (early !== undefined) {
          this.#earlyRejections.delete(id);
          this.#onRejection(early.from, early.msg, early.relayedBy);
        }
        return;
      }
    }
    try {
      this.#advanceSync(id, msg, sends);
    } catch (e) {
      if (isSluiceError(e, 'PROTOCOL_NOT_READY')) throw e; // the sender retries later
      this.#reject(from, e, id);
    }
  }

  #onUndeliverable(u: UndeliverableMessage): void {
    let objectiveId: string;
    try {
      const msg = decodeWireMessage(u.payload);
      if (msg.kind === 'rejectObjective') return;
      objectiveId = msg.objectiveId;
    } catch {
      return;
    }
    void this.serial(() => {
      const data = this.#active.get(objectiveId);
      if (data !== undefined) this.#emitStall(data, 'undeliverable', `${u.reason}${u.detail === undefined ? '' : `: ${u.detail}`} (to ${u.to})`, [u.to]);
    }).catch(() => {});
  }

  // ---------------------------------------------------------------- chain events

  #onChainBatch(batch: ChainEventBatch): Promise<void> | void {
    const work = async (): Promise<void> => {
      for (const ev of batch.events) {
        const channelId = eventChannelId(ev);
        // a deposit into an abandoned opening brings it back first; the loop below applies it
        if (ev.type === 'Deposited') this.#maybeResumeOpening(channelId, 'deposit', ev);
        for (const data of [...this.#active.values()]) {
          const o = data.objective;
          let assetAt: (i: number) => Address | undefined;
          if (o.type === 'directFund' || o.type === 'directDefund') {
            if (o.channel.id !== channelId) continue;
            const outcome = o.channel.states[0]?.state.outcome;
            assetAt = (i) => outcome?.[i]?.asset;
          } else if (o.type === 'ledgerTopUp') {
            if (o.ledger.id !== channelId) continue;
            const asset = o.ledger.current.outcome.asset;
            assetAt = (i) => (i === 0 ? asset : undefined);
          } else if (isFallbackObjective(o)) {
            if (!watchedChannels(o).includes(channelId)) continue;
            const outcome = latestSupportedState(o.type === 'ledgerExit' ? o.ledger : o.v)?.state.outcome;
            const target = ev.type === 'Reclaimed' ? this.#reclaimTargets.get(ev.txHash.toLowerCase()) : undefined;
            const dev = disputeEventFromPort(ev, target) ?? toProtocolEvent(ev, (_c, i) => outcome?.[i]?.asset);
            if (dev !== undefined) await this.#applyChainEvent(o.id, dev);
            continue;
          } else continue;
          const pev = toProtocolEvent(ev, (_c, i) => assetAt(i));
          if (pev === undefined) continue;
          await this.#applyChainEvent(o.id, pev);
        }
        // the reclaim's target was needed by the objectives above only
        if (ev.type === 'Reclaimed') this.#forgetReclaim(ev.txHash.toLowerCase());
        if (ev.type === 'Deposited') {
          const ld = this.#getLedger(channelId);
          if (ld !== undefined && sameAddress(ld.asset, ev.asset)) this.#seeHoldings(channelId, ev.destinationHoldings, ev.blockNumber, ev.logIndex);
          await this.#maybeTopUp(channelId, ev.destinationHoldings, ev.asset, ev.blockNumber, ev.logIndex);
        }
        if (ev.type === 'ChallengeRegistered') await this.#onChallengeRegistered(ev);
        if (ev.type === 'Concluded') await this.#onConcluded(channelId, toProtocolEvent(ev, () => undefined));
      }
      await this.#feedChainTime(batch.toBlock);
      // the cursor alone needs no fsync of its own (it was one per chain poll, on the event loop):
      // lost in a crash, the batch is read again, and its handlers are idempotent (as for a reorg);
      // the next durable commit makes it durable with everything before it
      this.store.transaction(() => this.store.setMeta(LAST_BLOCK_KEY, String(batch.toBlock)), { durability: 'relaxed' });
    };
    return work();
  }

  /**
   * Chain time: when the batch reaches the head (events of every confirmed block applied), the
   * latest block's timestamp is fed to every live fallback objective, which re-cranks them (this
   * is how they wake at `wakeAt`: chain time only moves with new blocks, and each new block brings
   * a batch). Never while catching up: an old challenge must not look finalized before the
   * events that cleared it are applied.
   */
  async #feedChainTime(toBlock: number): Promise<void> {
    const signal = this.#lifecycle?.signal;
    if (signal === undefined) return;
    let head: { number: number; timestamp: number };
    try {
      head = await this.chain.latestBlock({ signal });
    } catch (e) {
      this.#log.warn({ code: isSluiceError(e) ? e.code : 'unknown' }, 'chain time not read');
      return;
    }
    if (toBlock < newestDeliverable(head.number, this.init.confirmations ?? 1)) return;
    if (head.timestamp > this.#chainNow) this.#chainNow = head.timestamp;
    if (!this.#caughtUp) {
      this.#caughtUp = true;
      this.#afterCatchUp();
    }
    const time: ObjectiveEvent = { kind: 'chainTime', timestamp: this.#chainNow, blockNumber: head.number };
    for (const data of [...this.#active.values()]) if (isFallbackObjective(data.objective)) await this.#applyChainEvent(data.objective.id, time);
  }

  async #applyChainEvent(id: string, ev: ObjectiveEvent): Promise<void> {
    try {
      await this.#advance(id, ev);
    } catch (e) {
      this.#log.warn({ objectiveId: id, code: isSluiceError(e) ? e.code : 'unknown' }, 'chain event not applied');
    }
  }

  /** Whether the stored prefund of opening `id` lacks `peer`'s signature (its late join brings news). */
  #lacksPrefundSignatureOf(id: string, peer: Address): boolean {
    const o = getObjectiveData(this.store, id)?.objective;
    if (o?.type !== 'directFund') return false;
    const index = o.channel.fixedPart.participants.findIndex((p) => sameAddress(p, peer));
    return index >= 0 && entryAt(o.channel, 0)?.signatures[index] == null;
  }

  /**
   * A deposit into a ledger whose opening was abandoned (nobody had funded it), the peer's
   * postfund for one abandoned while we waited only for that postfund, or the peer's late prefund
   * signature for one it refused and would fund alone: the peer still wants it — resume the
   * objective where it stopped (the caller then applies the deposit or the message).
   */
  #maybeResumeOpening(ledgerId: ChannelId, by: 'deposit' | 'postfund' | 'join', deposit?: Extract<PortChainEvent, { type: 'Deposited' }>): void {
    const ld = this.#getLedger(ledgerId);
    if (ld?.status !== 'failed') return;
    const id = directFundId(ledgerId);
    if (this.#active.has(id)) return;
    const data = getObjectiveData(this.store, id);
    if (data === undefined || data.abandoned !== true || data.objective.type !== 'directFund') return;
    // one ledger per counterparty and asset: not while the peer has opened another one since
    const other = findLedgerIn(this.#ledgerMap().values(), ld.counterparty, ld.asset, ONE_PER_PEER_LEDGER_STATUSES);
    if (other !== undefined) {
      this.#log.warn({ objectiveId: id, channelId: ledgerId, peer: ld.counterparty, other: other.ledgerId, by }, 'abandoned ledger opening not resumed: another ledger with the peer is open (the peer can exit this one on chain with the prefund)');
      // the deposit still goes into the abandoned record: resumed later (by the peer's postfund,
      // once the other ledger is closing), it must know what the chain holds, or it waits for a
      // funding it already has while the peer waits for our postfund (bench:chaos, seed 111)
      if (deposit !== undefined) {
        const outcome = data.objective.channel.states[0]?.state.outcome;
        const pev = toProtocolEvent(deposit, (_c, i) => outcome?.[i]?.asset);
        if (pev !== undefined) {
          try {
            // (the protocols' `update` passes over an objective that is not running: apply it directly)
            putObjectiveData(this.store, { ...data, objective: updateDirectFund(data.objective, pev) }, this.#clock.now());
          } catch (e) {
            this.#log.warn({ objectiveId: id, code: isSluiceError(e) ? e.code : 'unknown' }, 'deposit into an abandoned opening not recorded');
          }
        }
      }
      return;
    }
    const now = this.#clock.now();
    const { failure: _f, abandoned: _a, ...rest } = data;
    const resumed: ObjectiveData = { ...rest, objective: { ...data.objective, status: 'approved' }, progressAt: now };
    this.#transaction(() => {
      putObjectiveData(this.store, resumed, now);
      this.#putLedger({ ...ld, status: 'funding' }, now);
    });
    this.#active.set(id, resumed);
    this.#log.info({ objectiveId: id, channelId: ledgerId, by }, `abandoned ledger opening resumed by a ${by === 'deposit' ? 'deposit' : by === 'join' ? "peer's late prefund signature" : "peer's postfund"}`);
    this.#emit({ type: 'objectiveCreated', initiatedBy: 'peer', resumed: true, objectiveId: id, objectiveType: 'directFund', channelId: ledgerId });
  }

  #seeHoldings(ledgerId: ChannelId, holdings: bigint, blockNumber = 0, logIndex = 0): void {
    const status = this.#getLedger(ledgerId)?.status;
    if (status !== 'open' && status !== 'funding') return; // see #holdings
    const k = ledgerId.toLowerCase();
    const prev = this.#holdings.get(k);
    if (prev === undefined || holdings > prev.holdings) this.#holdings.set(k, { holdings, blockNumber, logIndex });
  }

  /**
   * A top-up of the ledger ended here (completed, failed, or given up for a conflicting deposit).
   * At the leader, a deposit seen while it ran was left to it (one top-up per ledger at a time),
   * and may not be what it credited — the follower's top-up deposit racing ours: start the top-up
   * crediting the follower for what the ledger does not credit yet (in the engine's queue, after
   * this step). Not after a top-up of ours that failed with our deposit in (mined, or possibly):
   * the uncredited holdings are then ours, and must not be credited to the follower.
   */
  #afterTopUpEnded(o: LedgerTopUpObjective): void {
    const ledgerId = o.ledger.id;
    const ld = this.#getLedger(ledgerId);
    if (ld?.myIndex !== 0) return;
    if (o.status !== 'completed' && o.depositor === ld.myIndex && o.depositSubmitted && o.depositMined !== false) return;
    this.#afterSync(() => {
      void this.serial(async () => {
        const seen = this.#holdings.get(ledgerId.toLowerCase());
        if (seen !== undefined) await this.#maybeTopUp(ledgerId, seen.holdings, ld.asset, seen.blockNumber, seen.logIndex);
      }).catch((e: unknown) => this.#log.warn({ channelId: ledgerId, code: isSluiceError(e) ? e.code : 'unknown' }, 'top-up re-check failed'));
    });
  }

  /** Read a ledger's holdings from the chain once (a follower checking a top-up proposal after a restart). */
  #readHoldings(ledgerId: ChannelId, asset: Address): void {
    const signal = this.#lifecycle?.signal;
    if (signal === undefined || this.#holdingsReads.has(ledgerId)) return; // (in flight only: emptied as reads end)
    this.#holdingsReads.add(ledgerId);
    this.chain
      .holdings(asset, ledgerId, { signal })
      .then((h) => this.#seeHoldings(ledgerId, h))
      .catch((e: unknown) => this.#log.warn({ channelId: ledgerId, code: isSluiceError(e) ? e.code : 'unknown' }, 'holdings read failed'))
      .finally(() => this.#holdingsReads.delete(ledgerId));
  }

  /**
   * A deposit into an open ledger we lead, beyond its total, that no top-up of ours is for: the
   * follower's (or anyone's) — start the top-up crediting the follower. The follower never guesses
   * from a deposit (the chain does not say who made it): it follows the leader's proposal when the
   * holdings cover it (join), so both sides always credit the same party. (Each crediting the other
   * for the same unexplained deposit, e.g. 1 wei from anyone, left two conflicting top-ups that
   * blocked every later proposal on the ledger.)
   */
  async #maybeTopUp(ledgerId: ChannelId, holdings: bigint, asset: Address, blockNumber: number, logIndex: number): Promise<void> {
    const ld = this.#getLedger(ledgerId);
    if (ld?.ledger == null || ld.status !== 'open' || ld.myIndex !== 0 || !sameAddress(ld.asset, asset)) return;
    if (topUpInProgress(this.activeObjectives(), ledgerId)) return;
    let o: Objective | undefined;
    try {
      o = topUpFor(ld, ld.counterparty, holdings);
    } catch (e) {
      this.#log.warn({ channelId: ledgerId, code: isSluiceError(e) ? e.code : 'unknown' }, 'cannot follow a top-up');
    }
    if (o === undefined || this.#existsBesidesConflict(o.id)) return;
    this.#create({ objective: o }, 'peer');
    await this.#applyChainEvent(o.id, { kind: 'deposited', channelId: ledgerId, asset, holdings, blockNumber, logIndex });
  }

  // ---------------------------------------------------------------- timeouts

  async #checkStalls(): Promise<void> {
    const now = this.#clock.now();
    // A peer stays "silent" while an objective keeps stalling on it (each stall renews the mark);
    // marks nothing renews age out — throw-away identities must not accumulate here.
    const silentTtl = Math.max(SILENT_TTL_MS, 4 * this.#timeout);
    for (const [p, at] of this.#silent) if (now - at > silentTtl) this.#silent.delete(p);
    for (const [p, at] of this.#stalled) if (now - at > silentTtl) this.#stalled.delete(p);
    // exit holds of ledgers no longer open (exited, closed) are moot
    for (const id of this.#topUpHeld) if (this.#getLedger(id as ChannelId)?.status !== 'open') this.#topUpHeld.delete(id);
    for (const id of this.#creditHeld.keys()) if (this.#getLedger(id as ChannelId)?.status !== 'open') this.#creditHeld.delete(id);
    // Ledger openings idle for the opening timeout with nothing of ours in them — nobody funded
    // them, or the peer did and never signed the postfund — are given up (only once caught up with
    // the chain, so a deposit already mined has been seen); a deposit or that postfund resumes them.
    const openingTimeout = this.init.openingTimeoutMs ?? OPENING_TIMEOUT_MS;
    if (this.#caughtUp) {
      for (const data of [...this.#active.values()]) {
        const o = data.objective;
        if (o.type !== 'directFund' || now - data.progressAt < openingTimeout || data.pendingTxs.length > 0) continue;
        if (directFundAbandonable(o)) {
          this.#failObjective(data, o, new SluiceError('PEER_TIMEOUT', `nobody funded the ledger within ${Math.round(openingTimeout / 1000)} s: opening abandoned (a deposit seen later resumes it)`), true);
        } else if (directFundWaitsOnPeerPostfund(o)) {
          // the peer funded it and went silent; nothing of ours is in it
          this.#failObjective(data, o, new SluiceError('PEER_TIMEOUT', `the peer did not sign the postfund within ${Math.round(openingTimeout / 1000)} s: opening abandoned (its postfund, if it comes, resumes it)`), true);
        }
      }
    }
    // Virtual channels we (as hub) joined and give up, telling the payer and the payee (frees the
    // collateral the join reserved toward the payee):
    // - the payee has not signed the prefund in time: we have not signed it either, so nobody can
    //   complete it, and they may give up too;
    // - the prefund is complete but neither ledger proposed the guarantee for as long since the
    //   last progress: the payer and the payee both gave V up (nothing is locked).
    const prefundTimeout = this.init.prefundTimeoutMs ?? PREFUND_TIMEOUT_MS;
    const within = `within ${Math.round(prefundTimeout / 1000)} s: the hub gives up this channel`;
    for (const data of [...this.#active.values()]) {
      const o = data.objective;
      if (o.type !== 'virtualFund') continue;
      const why =
        now - (data.createdAt ?? data.progressAt) >= prefundTimeout && virtualFundAbandonable(o)
          ? 'the payee did not sign the prefund'
          : now - data.progressAt >= prefundTimeout && virtualFundUnfundedAtHub(o, this.#ledgerRecordsOf(o))
            ? "neither ledger proposed the channel's guarantee"
            : undefined;
      if (why === undefined) continue;
      const e = new SluiceError('PEER_TIMEOUT', `${why} ${within}`);
      this.#failObjective(data, o, e);
      this.#sendRejectionTo(o.id, o.v.fixedPart.participants, e);
    }
    const gone = new Set<string>();
    const auto = this.init.fallback?.auto ?? true;
    const peerTimeout = this.#peerTimeoutMs;
    for (const data of this.#active.values()) {
      // fallback objectives wait on chain time (hours), not on peers: never "stalled"
      if (isFallbackObjective(data.objective)) continue;
      const since = Math.max(data.progressAt, this.#stallNotified.get(data.objective.id) ?? 0);
      if (now - since < this.#timeout) continue;
      this.#stallNotified.set(data.objective.id, now);
      this.#resend(data); // retry first: the peer may have lost state or been offline
      this.#resendOrphanedHead(data);
      this.#emitStall(data, 'timeout');
      if (auto && now - data.progressAt >= peerTimeout && needsPeer(data.objective, data.waitingFor)) {
        for (const p of silentPeers(data.objective, data.waitingFor, this.#alive)) gone.add(p.toLowerCase());
      }
    }
    // Trigger (a'): a ledger opening we deposited into whose counterparty went silent before the
    // ledger opened (no postfund from it). The fallback plan knows open ledgers only; this one
    // exits with the prefund both signed: it pays every deposit back, and ours is covered (we
    // deposited in safe order, after everything before us).
    if (auto && this.#caughtUp) {
      for (const data of [...this.#active.values()]) {
        const o = data.objective;
        if (o.type !== 'directFund' || now - data.progressAt < peerTimeout || !directFundHasOurDeposit(o) || data.pendingTxs.length > 0) continue;
        try {
          await this.#exitOpening(o, 'peerStalled');
        } catch (e) {
          this.#log.warn({ objectiveId: o.id, code: isSluiceError(e) ? e.code : 'unknown', reason: e instanceof Error ? e.message : String(e) }, 'exit of an unopened ledger not started');
        }
      }
    }
    // A ledger exit held back for a deposit awaiting its credit, at the end of the hold with the
    // peer silent all along: exit now (nothing else may stall on the peer any more to ask again).
    if (auto) {
      for (const [id, hold] of this.#creditHeld) {
        const ld = this.#getLedger(id as ChannelId);
        if (ld?.ledger == null || hold.heard || !holdOver(hold, ld.ledger, now)) continue;
        gone.add(ld.counterparty.toLowerCase());
      }
    }
    // Trigger (a): a counterparty silent past the fallback timeout during an objective that needs it.
    for (const peer of gone) {
      this.#stalled.set(peer, now);
      try {
        await this.#runFallbackPlan({ kind: 'peerStalled', peer: peer as Address });
      } catch (e) {
        this.#log.warn({ peer, code: isSluiceError(e) ? e.code : 'unknown', reason: e instanceof Error ? e.message : String(e) }, 'automatic fallback not started');
      }
    }
  }

  #emitStall(data: ObjectiveData, reason: 'timeout' | 'undeliverable' | 'transactionFailed', detail?: string, peers?: Address[]): void {
    const o = data.objective;
    const event: EngineEvent = {
      type: 'objectiveStalled',
      objectiveId: o.id,
      objectiveType: o.type,
      channelId: objectiveChannelId(o),
      reason,
      waitingFor: data.waitingFor,
      silentPeers: peers ?? silentPeers(o, data.waitingFor, this.#alive),
      idleMs: this.#clock.now() - data.progressAt,
      ...(detail === undefined ? {} : { detail }),
    };
    if (reason !== 'transactionFailed') for (const p of event.silentPeers) this.#silent.set(p.toLowerCase(), this.#clock.now());
    // A peer away for long keeps every objective with it stalling once per objective timeout: a
    // hub with dozens of them logged thousands of warnings a minute (bench:chaos). Warn on the
    // 1st, 2nd, 4th, 8th… stall of an objective; the others go to debug (the event always fires).
    const n = (this.#stallCounts.get(o.id) ?? 0) + 1;
    this.#stallCounts.set(o.id, n);
    const fields = { objectiveId: o.id, reason, waitingFor: data.waitingFor, peers: event.silentPeers, stalls: n, idleMs: event.idleMs };
    if ((n & (n - 1)) === 0) this.#log.warn(fields, 'objective stalled');
    else this.#log.debug(fields, 'objective stalled');
    this.#emit(event);
  }
}

/** Whether a hold of a ledger's exit for a deposit's credit has lasted the ledger's challenge duration. */
function holdOver(hold: { readonly since: number }, ledger: ConsensusChannel, now: number): boolean {
  return now - hold.since >= ledger.fixedPart.challengeDuration * 1000;
}

/** Whether an active objective waits for a ledger update of `ledgerId` (re-cranked when that ledger changes). */
function waitsOnLedger(data: ObjectiveData, ledgerId: ChannelId): boolean {
  return waitsOnLedgers(data.objective, data.waitingFor) && ledgersOf(data.objective).some((l) => l.id === ledgerId);
}

/** The `statusOf` fingerprint a payout step (reclaim, transfer) is built on; undefined for other transactions. */
function builtOn(tx: Transaction): bigint | undefined {
  if (tx.kind === 'reclaim') return statusFingerprint(tx.sourceStateHash, tx.sourceOutcome);
  if (tx.kind === 'transferAllAssets') return statusFingerprint(tx.stateHash, tx.outcome);
  return undefined;
}

/** True when the objective's submission record is the step `tx` performs (then its failure clears it). */
function recordMatches(o: Objective, tx: Transaction): boolean {
  if (o.type === 'virtualChallenge') {
    const s = o.submitted;
    return s !== null && (tx.kind === 'challenge' || tx.kind === 'conclude') && s.kind === tx.kind && s.turnNum === tx.candidate.state.turnNum;
  }
  if (o.type === 'directDefund') return tx.kind === 'transferAllAssets' && o.transactionSubmitted;
  if (o.type === 'ledgerExit') {
    const p = o.pending;
    if (p === null || p.kind !== tx.kind) return false;
    if (p.kind === 'reclaim') return tx.kind === 'reclaim' && tx.targetChannelId === p.target;
    if (p.kind === 'challenge' || p.kind === 'conclude') return (tx.kind === 'challenge' || tx.kind === 'conclude') && tx.candidate.state.turnNum === p.turnNum;
    return true;
  }
  return false;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
