/**
 * Shared shapes of the pure protocols: messages between peers, chain events, effects
 * and crank results. Everything here is data; the engine (imperative shell) executes it.
 */
import type { Address, ChannelId, Bytes32 } from '../hex.ts';
import type { Signature } from '../signature.ts';
import type { State } from '../state.ts';
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

/** Anything `update(objective, event)` accepts. */
export type ObjectiveEvent = ProtocolMessage | ChainEvent;

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
