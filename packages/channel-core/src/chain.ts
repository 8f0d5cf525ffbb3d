/**
 * The chain port: what the engine needs from a Nitro adjudicator, declared by its
 * consumer. Pure types plus a few pure helpers — no providers here. Adapters:
 * `@sluice/channel-core/ethers` (ethers v6, real chains) and `@sluice/channel-core/memory`
 * (an in-memory fake for unit tests).
 */
import type { Address, Bytes32, ChannelId, Hex } from './hex.ts';
import type { Outcome } from './outcome.ts';
import type { Signature } from './signature.ts';
import type { State, VariablePart } from './state.ts';
import { SluiceError } from './errors.ts';
import { hexToBytes } from './hex.ts';

/** Options every chain call takes. */
export interface ChainCallOptions {
  /** Aborting rejects with SluiceError `ABORTED` (a transaction already sent may still be mined). */
  readonly signal?: AbortSignal;
  /** Overall deadline of the call in ms; exceeding it rejects with `CHAIN_TIMEOUT`. */
  readonly timeoutMs?: number;
  /**
   * `submit` only: called with the transaction's hash (lowercase) before it is mined, so the caller
   * can tell its own transaction in events that arrive before the receipt. With a signer that holds
   * its key (the ethers adapter with a wallet), before the transaction is
   * broadcast: what the callback records synchronously and durably outlives a crash right after the
   * broadcast. Otherwise once the RPC accepted it. For an ERC20 deposit, the deposit's hash (not the
   * approval's). A transaction told here may still fail to be broadcast.
   */
  readonly onSent?: (txHash: Hex) => void;
}

/** A full state with the signatures that support it (any order, any subset of participants). */
export interface SignedState {
  readonly state: State;
  readonly signatures: readonly Signature[];
}

/** A variable part with its signatures, as found in `ChallengeRegistered` events. */
export interface SignedVariablePart {
  readonly variablePart: VariablePart;
  readonly signatures: readonly Signature[];
}

/**
 * Deposit `amount` of `asset` (zero address = native) into `channelId`.
 * For an ERC20 the adapter first approves the adjudicator if the allowance is short.
 */
export interface DepositTx {
  readonly kind: 'deposit';
  readonly asset: Address;
  readonly channelId: ChannelId;
  readonly amount: bigint;
  /** What the channel must hold before this deposit; read from the chain when omitted. */
  readonly expectedHeld?: bigint;
}

/** Register a challenge with `candidate` (supported by `proof`), signed by a participant. */
export interface ChallengeTx {
  readonly kind: 'challenge';
  readonly proof: readonly SignedState[];
  readonly candidate: SignedState;
  /** The challenger's signature from `signChallenge(candidate.state, key)`. */
  readonly challengerSignature: Signature;
}

/** Clear a challenge (or raise the turn number record) with a newer supported state. */
export interface CheckpointTx {
  readonly kind: 'checkpoint';
  readonly proof: readonly SignedState[];
  readonly candidate: SignedState;
}

/** Finalize a channel with a unanimously signed final state. */
export interface ConcludeTx {
  readonly kind: 'conclude';
  readonly candidate: SignedState;
}

/** Conclude and pay out every asset in one transaction. */
export interface ConcludeAndTransferAllAssetsTx {
  readonly kind: 'concludeAndTransferAllAssets';
  readonly candidate: SignedState;
}

/**
 * Pay out a finalized channel. `stateHash` is the hash of the state the channel was finalized
 * with by a challenge, or {@link ZERO_BYTES32} after `conclude`.
 */
export interface TransferAllAssetsTx {
  readonly kind: 'transferAllAssets';
  readonly channelId: ChannelId;
  readonly outcome: Outcome;
  readonly stateHash: Bytes32;
}

/** Move a finalized guarantee's funds back into its (finalized) source ledger. */
export interface ReclaimTx {
  readonly kind: 'reclaim';
  readonly sourceChannelId: ChannelId;
  readonly sourceStateHash: Bytes32;
  readonly sourceOutcome: Outcome;
  readonly sourceAssetIndex: number;
  readonly indexOfTargetInSource: number;
  readonly targetStateHash: Bytes32;
  readonly targetOutcome: Outcome;
  readonly targetAssetIndex: number;
}

/** Every transaction the engine can submit, as data. */
export type ChainTransaction =
  | DepositTx
  | ChallengeTx
  | CheckpointTx
  | ConcludeTx
  | ConcludeAndTransferAllAssetsTx
  | TransferAllAssetsTx
  | ReclaimTx;

/** What a mined (and confirmed) transaction gave. */
export interface TxResult {
  readonly txHash: Hex;
  readonly blockNumber: number;
  readonly gasUsed: bigint;
  /** For ERC20 deposits that needed an allowance first. */
  readonly approveTxHash?: Hex;
}

/** The adjudicator's status word, unpacked. */
export interface ChannelStatus {
  /** uint48 */
  readonly turnNumRecord: number;
  /** uint48 seconds; 0 = open, in the future = challenge running, else finalized. */
  readonly finalizesAt: number;
  /** uint160 of `keccak256(abi.encode(stateHash, outcomeHash))` */
  readonly fingerprint: bigint;
  readonly raw: Bytes32;
}

/** Chain ids of local development chains (anvil and hardhat 31337, ganache and `geth --dev` 1337). */
export const LOCAL_CHAIN_IDS: readonly bigint[] = [31337n, 1337n];

/**
 * Confirmations a node waits for by default on a chain that is not a local one: an event 12
 * blocks deep (2.4 minutes on Ethereum, seconds on rollups) is deep enough for the reorgs seen
 * in practice. A deposit acted on and then reorganised away is money the peer never put in.
 */
export const PUBLIC_CHAIN_CONFIRMATIONS = 12;

/**
 * Default confirmations for chain `chainId`: 1 on a local development chain ({@link LOCAL_CHAIN_IDS};
 * they mine a block per transaction and never reorganise, so waiting for more blocks would wait for
 * transactions that may never come), {@link PUBLIC_CHAIN_CONFIRMATIONS} elsewhere.
 */
export function defaultConfirmations(chainId: bigint | number): number {
  return LOCAL_CHAIN_IDS.includes(BigInt(chainId)) ? 1 : PUBLIC_CHAIN_CONFIRMATIONS;
}

/**
 * The newest block whose events a stream with `confirmations` delivers when the head is `head`
 * (1 = the head itself; see {@link EventStreamOptions.confirmations}).
 */
export function newestDeliverable(head: number, confirmations: number): number {
  return head - confirmations + 1;
}

/**
 * Seconds a node needs, at worst in normal operation, to answer a challenge registered on chain:
 * it acts on the challenge once it is `confirmations` blocks deep, and its answer takes about two
 * more blocks to be mined. A challenge duration should leave a wide margin over it (outages).
 */
export function challengeAnswerTimeS(confirmations: number, blockTimeS: number): number {
  return (confirmations + 2) * blockTimeS;
}

/** How many times its answer time ({@link challengeAnswerTimeS}) a challenge duration lasts at least by default: the other half is the margin for an outage. */
export const CHALLENGE_ANSWER_MARGIN = 2;

/**
 * Shortest challenge duration, s, a node joins by default when it waits for `confirmations` on a
 * chain of `blockTimeS`: {@link CHALLENGE_ANSWER_MARGIN} × {@link challengeAnswerTimeS}, rounded up
 * to a whole minute (360 s on Ethereum at 12 confirmations). Nodes raise the default minimum of
 * their policy to it (`EnginePolicy.challengeDurationFloor`); a range set explicitly is kept.
 */
export function challengeDurationFloorS(confirmations: number, blockTimeS: number): number {
  return Math.ceil((CHALLENGE_ANSWER_MARGIN * challengeAnswerTimeS(confirmations, blockTimeS)) / 60) * 60;
}

export const ZERO_BYTES32 = `0x${'00'.repeat(32)}` as Bytes32;

/** Unpack `statusOf(channelId)`: `turnNumRecord (48) | finalizesAt (48) | fingerprint (160)`. */
export function unpackStatus(raw: Bytes32): ChannelStatus {
  const bytes = hexToBytes(raw, 'status');
  if (bytes.length !== 32) throw new TypeError('status must be 32 bytes');
  const word = BigInt(raw);
  return {
    turnNumRecord: Number(word >> 208n),
    finalizesAt: Number((word >> 160n) & ((1n << 48n) - 1n)),
    fingerprint: word & ((1n << 160n) - 1n),
    raw: raw.toLowerCase() as Bytes32,
  };
}

/** Where a channel is in its life on chain, at chain time `now` (seconds). */
export function channelMode(status: ChannelStatus, now: number): 'open' | 'challenge' | 'finalized' {
  if (status.finalizesAt === 0) return 'open';
  return status.finalizesAt <= now ? 'finalized' : 'challenge';
}

// ---------------------------------------------------------------- events

/** Where an event sits in the chain; events are totally ordered by (blockNumber, logIndex). */
export interface EventCursor {
  readonly blockNumber: number;
  readonly logIndex: number;
}

interface EventBase extends EventCursor {
  readonly txHash: Hex;
}

export interface DepositedEvent extends EventBase {
  readonly type: 'Deposited';
  readonly destination: Bytes32;
  readonly asset: Address;
  readonly destinationHoldings: bigint;
}
export interface AllocationUpdatedEvent extends EventBase {
  readonly type: 'AllocationUpdated';
  readonly channelId: ChannelId;
  readonly assetIndex: bigint;
  readonly initialHoldings: bigint;
  readonly finalHoldings: bigint;
}
export interface ChallengeRegisteredEvent extends EventBase {
  readonly type: 'ChallengeRegistered';
  readonly channelId: ChannelId;
  readonly finalizesAt: number;
  readonly proof: readonly SignedVariablePart[];
  readonly candidate: SignedVariablePart;
}
export interface ChallengeClearedEvent extends EventBase {
  readonly type: 'ChallengeCleared';
  readonly channelId: ChannelId;
  readonly newTurnNumRecord: number;
  /** The state the `checkpoint` registered, read from its transaction (see {@link CheckpointedEvent.candidate}). */
  readonly candidate?: SignedVariablePart;
}
export interface CheckpointedEvent extends EventBase {
  readonly type: 'Checkpointed';
  readonly channelId: ChannelId;
  readonly newTurnNumRecord: number;
  /**
   * The state the `checkpoint` registered (turn `newTurnNumRecord`), with its signatures. The log
   * does not carry it: the event stream reads it from the transaction's calldata when the
   * transaction called the adjudicator's `checkpoint` directly; absent otherwise. Unverified: a
   * reader checks the signatures before trusting it.
   */
  readonly candidate?: SignedVariablePart;
}
export interface ConcludedEvent extends EventBase {
  readonly type: 'Concluded';
  readonly channelId: ChannelId;
  readonly finalizesAt: number;
}
export interface ReclaimedEvent extends EventBase {
  readonly type: 'Reclaimed';
  readonly channelId: ChannelId;
  readonly assetIndex: bigint;
}

/** An adjudicator event, decoded. */
export type ChainEvent =
  | DepositedEvent
  | AllocationUpdatedEvent
  | ChallengeRegisteredEvent
  | ChallengeClearedEvent
  | CheckpointedEvent
  | ConcludedEvent
  | ReclaimedEvent;

export type ChainEventType = ChainEvent['type'];

/**
 * Events of a block range, ordered by (blockNumber, logIndex). Once the consumer has handled
 * the batch, every block up to `toBlock` is fully processed: persist `toBlock` and restart
 * with `fromBlock: toBlock + 1`. Batches may carry no events (progress only).
 */
export interface ChainEventBatch {
  readonly fromBlock: number;
  readonly toBlock: number;
  readonly events: readonly ChainEvent[];
}

export interface EventStreamOptions {
  /** First block to scan (inclusive): the persisted last processed block + 1, or the deployment block. */
  readonly fromBlock: number;
  /** Skip events at or before this cursor (to resume mid-block after per-event persistence). */
  readonly after?: EventCursor;
  /** Deliver an event only once its block is this many blocks deep (1 = the latest block; default 1). */
  readonly confirmations?: number;
  /** Only events about these channel ids (the indexed first topic); default all. */
  readonly channelIds?: readonly ChannelId[];
  /** Stops the stream cleanly (the iterator returns; no error). */
  readonly signal?: AbortSignal;
  /** Largest block range of one log query (default 1000). */
  readonly maxBlockRange?: number;
  /** Delay between polls for new blocks once caught up, ms. */
  readonly pollIntervalMs?: number;
  /** Told about transient failures (they are retried with backoff; the stream goes on). */
  readonly onError?: (error: Error) => void;
}

/**
 * The chain port the engine consumes.
 *
 * All methods reject with SluiceError: `CHAIN_RPC` (node unreachable or refused),
 * `CHAIN_REVERT` (the adjudicator or token reverted; `details.reason` holds the decoded
 * reason), `CHAIN_TIMEOUT`, `ABORTED`, `INVALID_ARGUMENT` (malformed input).
 */
export interface ChainService {
  /** The adjudicator this service talks to. */
  readonly adjudicator: Address;
  /** Send a transaction and wait until it is mined and confirmed. */
  submit(tx: ChainTransaction, opts?: ChainCallOptions): Promise<TxResult>;
  /** `holdings(asset, channelId)` */
  holdings(asset: Address, channelId: ChannelId, opts?: ChainCallOptions): Promise<bigint>;
  /** `statusOf(channelId)`, unpacked. */
  statusOf(channelId: ChannelId, opts?: ChainCallOptions): Promise<ChannelStatus>;
  /** The latest block number and its timestamp (chain time, seconds). */
  latestBlock(opts?: ChainCallOptions): Promise<{ number: number; timestamp: number }>;
  /**
   * Adjudicator events from `opts.fromBlock`: catch-up in bounded ranges, then polling.
   * Never ends on its own; ends cleanly when `opts.signal` aborts. RPC errors are retried
   * until then (the stream does not throw for transient failures).
   */
  events(opts: EventStreamOptions): AsyncIterable<ChainEventBatch>;
}

/**
 * Drive `service.events(opts)` into a callback; resolves when `opts.signal` aborts.
 * `onBatch` runs to completion before the next batch; when it resolves the batch's
 * `toBlock` is fully processed. If `onBatch` throws, the stream stops and this rejects.
 */
export async function consumeChainEvents(
  service: Pick<ChainService, 'events'>,
  opts: EventStreamOptions,
  onBatch: (batch: ChainEventBatch) => void | Promise<void>,
): Promise<void> {
  for await (const batch of service.events(opts)) await onBatch(batch);
}

/** Order two event cursors. */
export function compareCursor(a: EventCursor, b: EventCursor): number {
  return a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;
}

/** @throws SluiceError INVALID_ARGUMENT unless a usable block number */
export function assertBlockNumber(x: unknown, name: string): asserts x is number {
  if (!Number.isSafeInteger(x) || (x as number) < 0) {
    throw new SluiceError('INVALID_ARGUMENT', `${name} must be a non-negative integer block number`);
  }
}
