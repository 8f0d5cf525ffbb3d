/**
 * Shared shapes of the pure protocols: messages between peers, chain events, effects
 * and crank results. Everything here is data; the engine (imperative shell) executes it.
 */
import type { Address, ChannelId, Bytes32 } from '../hex.ts';
import type { Signature } from '../signature.ts';
import type { State, VariablePart } from '../state.ts';
import type { Outcome } from '../outcome.ts';
import type { Countersignature, SignedProposal } from './ledger.ts';

/** Lifecycle of an objective. `rejected` objectives never act again. */
export type ObjectiveStatus = 'approved' | 'completed' | 'rejected';

/** What a crank needs that must never be persisted with the objective. */
export interface Secrets {
  /** The node's signing key (32 bytes or 0x hex). Never echoed in errors. */
  readonly privateKey: Uint8Array | string;
}

/** A state with the signatures its sender holds (any subset of participants, any order). */
export interface SignedStateMessage {
  readonly kind: 'signedState';
  readonly objectiveId: string;
  readonly state: State;
  readonly signatures: readonly Signature[];
}

/** A ledger leader's signed proposal, sent to the follower. */
export interface LedgerProposalMessage {
  readonly kind: 'ledgerProposal';
  readonly objectiveId: string;
  readonly signedProposal: SignedProposal;
}

/** A ledger follower's countersignature, sent back to the leader. */
export interface LedgerCountersignatureMessage {
  readonly kind: 'ledgerCountersignature';
  readonly objectiveId: string;
  readonly countersignature: Countersignature;
}

/** Every peer-to-peer protocol message. */
export type ProtocolMessage = SignedStateMessage | LedgerProposalMessage | LedgerCountersignatureMessage;

/** A holdings change seen on chain (`Deposited` or `AllocationUpdated`): `holdings` is the new total. */
export interface HoldingsEvent {
  readonly kind: 'deposited' | 'allocationUpdated';
  readonly channelId: ChannelId;
  readonly asset: Address;
  readonly holdings: bigint;
  /**
   * `AllocationUpdated` only: the holdings before the payout (the event's `initialHoldings`), so
   * `initialHoldings - holdings` is what the transfer paid out. Absent in events recorded before it
   * existed: the objective then takes the holdings it last saw.
   */
  readonly initialHoldings?: bigint;
  readonly blockNumber: number;
  readonly logIndex: number;
}

/** A channel was finalized on chain (`Concluded`). */
export interface ConcludedEvent {
  readonly kind: 'concluded';
  readonly channelId: ChannelId;
  readonly blockNumber: number;
  readonly logIndex: number;
}

export type ChainEvent = HoldingsEvent | ConcludedEvent;

// ---------------------------------------------------------------- disputes (on-chain fallback)
// Kept apart from `ChainEvent` so the cooperative objectives' exhaustive handling of holdings and
// conclusions is unchanged; the generic `update` hands these only to the fallback objectives.

/** A variable part with the signatures the challenger supplied (as in `ChallengeRegistered`). */
export interface SignedVariablePartData {
  readonly variablePart: VariablePart;
  readonly signatures: readonly Signature[];
}

/** `ChallengeRegistered`: `candidate` will finalize at chain time `finalizesAt` unless cleared. */
export interface ChallengeRegisteredEvent {
  readonly kind: 'challengeRegistered';
  readonly channelId: ChannelId;
  /** Chain time (seconds) at which the channel is finalized with `candidate`. */
  readonly finalizesAt: number;
  readonly proof: readonly SignedVariablePartData[];
  readonly candidate: SignedVariablePartData;
  readonly blockNumber: number;
  readonly logIndex: number;
}

/** `ChallengeCleared` (a running challenge was answered) or `Checkpointed` (no challenge was running). */
export interface ChallengeClearedEvent {
  readonly kind: 'challengeCleared' | 'checkpointed';
  readonly channelId: ChannelId;
  readonly newTurnNumRecord: number;
  /** The registered state with its signatures, when the chain port could read it (unverified). */
  readonly candidate?: SignedVariablePartData;
  readonly blockNumber: number;
  readonly logIndex: number;
}

/**
 * `Reclaimed`: one guarantee of the finalized ledger `channelId` was moved back into it. The
 * adjudicator's event does not say which; the engine sets `target` when it knows (the event's
 * transaction is one it submitted for that target). Without it the objective infers the target, or
 * asks for the channel's status fingerprint ({@link ChannelStatusEvent}).
 */
export interface ReclaimedEvent {
  readonly kind: 'reclaimed';
  readonly channelId: ChannelId;
  readonly assetIndex: number;
  readonly target?: ChannelId;
  readonly blockNumber: number;
  readonly logIndex: number;
}

/** The latest block's timestamp (chain time, seconds). Feeds every fallback objective. */
export interface ChainTimeEvent {
  readonly kind: 'chainTime';
  readonly timestamp: number;
  readonly blockNumber: number;
}

/**
 * `statusOf(channelId)` as read by the engine: to resolve which guarantees were reclaimed, and to
 * learn a channel's fate our events do not explain (concluded before the objective existed, or
 * with a final state we hold without every signature; see `applyStatusToRecord`).
 */
export interface ChannelStatusEvent {
  readonly kind: 'channelStatus';
  readonly channelId: ChannelId;
  readonly turnNumRecord: number;
  readonly finalizesAt: number;
  readonly fingerprint: bigint;
  /** The head block the status was read at. */
  readonly blockNumber?: number;
  /**
   * Outcomes of the final states of this channel the node signed (from every objective that
   * holds them): what a `conclude` may have registered. Matched against the fingerprint, never
   * trusted as such.
   */
  readonly finalOutcomes?: readonly Outcome[];
}

export type DisputeEvent = ChallengeRegisteredEvent | ChallengeClearedEvent | ReclaimedEvent | ChainTimeEvent | ChannelStatusEvent;

/** Anything `update(objective, event)` accepts. */
export type ObjectiveEvent = ProtocolMessage | ChainEvent | DisputeEvent;

/** A full state with the signatures supporting it (the chain port's `SignedState`). */
export interface SignedStateData {
  readonly state: State;
  readonly signatures: readonly Signature[];
}

/** A transaction the engine should submit, described as data. */
export type Transaction =
  | {
      readonly kind: 'deposit';
      readonly channelId: ChannelId;
      readonly asset: Address;
      /** Holdings the deposit expects to find (the adjudicator's `expectedHeld`). */
      readonly expectedHeld: bigint;
      readonly amount: bigint;
    }
  | {
      readonly kind: 'concludeAndTransferAllAssets';
      readonly channelId: ChannelId;
      readonly state: State;
      readonly signatures: readonly Signature[];
    }
  // The fallback transactions. Each is the chain port's transaction of the same kind plus the
  // `channelId` it acts on (extra fields only), so the engine can pass them through.
  | {
      readonly kind: 'challenge';
      readonly channelId: ChannelId;
      readonly proof: readonly SignedStateData[];
      readonly candidate: SignedStateData;
      /** `signChallenge(candidate.state, key)` by the challenger. */
      readonly challengerSignature: Signature;
    }
  | {
      readonly kind: 'checkpoint';
      readonly channelId: ChannelId;
      readonly proof: readonly SignedStateData[];
      readonly candidate: SignedStateData;
    }
  | {
      readonly kind: 'conclude';
      readonly channelId: ChannelId;
      /** A final state signed by every participant. */
      readonly candidate: SignedStateData;
    }
  | {
      readonly kind: 'reclaim';
      /** = `sourceChannelId` (the ledger). */
      readonly channelId: ChannelId;
      /** The guaranteed (virtual) channel whose guarantee this reclaims. */
      readonly targetChannelId: ChannelId;
      readonly sourceChannelId: ChannelId;
      readonly sourceStateHash: Bytes32;
      readonly sourceOutcome: Outcome;
      readonly sourceAssetIndex: number;
      readonly indexOfTargetInSource: number;
      readonly targetStateHash: Bytes32;
      readonly targetOutcome: Outcome;
      readonly targetAssetIndex: number;
    }
  | {
      readonly kind: 'transferAllAssets';
      readonly channelId: ChannelId;
      readonly outcome: Outcome;
      /** Hash of the state the channel was finalized with by a challenge; zero after `conclude`. */
      readonly stateHash: Bytes32;
    };

export type Effect =
  | { readonly type: 'sendMessage'; readonly to: Address; readonly payload: ProtocolMessage }
  | { readonly type: 'submitTransaction'; readonly tx: Transaction };

/** Result of one crank: the new objective, what to do, and what it now waits for (computed). */
export interface CrankResult<O, W extends string> {
  readonly objective: O;
  readonly effects: readonly Effect[];
  readonly waitingFor: W;
}

/** A destination (address left-padded to 32 bytes, lowercase) — the form used in outcomes. */
export type Destination = Bytes32;
