/** Typed events the engine emits (and the node re-emits). Data only. */
import type { Address, ChannelId, Hex } from '../hex.ts';
import type { Objective } from '../protocols/objective.ts';

/** `directFund` | `directDefund` | `virtualFund` | `virtualDefund` | `ledgerTopUp` (and the fallback objectives). */
export type ObjectiveType = Objective['type'];

export interface ObjectiveEventBase {
  readonly objectiveId: string;
  readonly objectiveType: ObjectiveType;
  /** The channel the objective is about (the ledger, or the virtual channel). */
  readonly channelId: ChannelId;
}

/** Why an objective stalled. */
export type StallReason = 'timeout' | 'undeliverable' | 'transactionFailed';

/**
 * Why a channel went on chain: a user's command (`forced`), a peer silent past the fallback timeout
 * (`peerStalled`), a challenge someone registered (`challengeRunning`), a virtual channel settled
 * on chain taking the ledgers that guarantee it along (`virtualOnChain`), or, found when the node
 * starts, a guarantee of a virtual channel whose open failed that nothing else would remove
 * (`unownedGuarantee`).
 */
export type FallbackStartReason = 'forced' | 'peerStalled' | 'challengeRunning' | 'virtualOnChain' | 'unownedGuarantee';

export type EngineEvent =
  | ({
      readonly type: 'objectiveCreated';
      readonly initiatedBy: 'me' | 'peer';
      /**
       * An objective that had failed taken up again under the same id (an abandoned ledger
       * opening resumed by the peer's late deposit, postfund or prefund signature): its earlier
       * `objectiveFailed` was not the end. Absent for a new objective.
       */
      readonly resumed?: true;
    } & ObjectiveEventBase)
  | ({ readonly type: 'objectiveProgress'; readonly waitingFor: string } & ObjectiveEventBase)
  | ({
      readonly type: 'objectiveCompleted';
      /** Milliseconds from the objective's creation here to its completion (latency metrics). */
      readonly durationMs: number;
    } & ObjectiveEventBase)
  | ({ readonly type: 'objectiveFailed'; readonly code: string; readonly reason: string } & ObjectiveEventBase)
  | ({
      readonly type: 'objectiveStalled';
      readonly reason: StallReason;
      /** What the objective waits for (the protocol's `waitingFor`). */
      readonly waitingFor: string;
      /** Peers whose message it waits for (empty when it waits for the chain). */
      readonly silentPeers: readonly Address[];
      /** Milliseconds since the objective last made progress. */
      readonly idleMs: number;
      readonly detail?: string;
    } & ObjectiveEventBase)
  | { readonly type: 'ledgerChannelFunded'; readonly channelId: ChannelId; readonly counterparty: Address; readonly asset: Address }
  | { readonly type: 'ledgerChannelUpdated'; readonly channelId: ChannelId; readonly turnNum: number }
  | { readonly type: 'ledgerChannelClosed'; readonly channelId: ChannelId }
  | { readonly type: 'virtualChannelProposed'; readonly channelId: ChannelId; readonly payer: Address; readonly payee: Address; readonly amount: bigint }
  | { readonly type: 'virtualChannelFunded'; readonly channelId: ChannelId; readonly payer: Address; readonly payee: Address; readonly amount: bigint }
  | { readonly type: 'virtualChannelClosing'; readonly channelId: ChannelId }
  | { readonly type: 'virtualChannelClosed'; readonly channelId: ChannelId; readonly paid: bigint }
  // ------------------------------------------------------------ on-chain fallback (metrics / logs)
  | {
      /** A `ChallengeRegistered` about one of our channels was applied (by anyone, us included). */
      readonly type: 'challengeRegistered';
      readonly channelId: ChannelId;
      readonly kind: 'ledger' | 'virtual';
      /** The registered turn. */
      readonly turnNum: number;
      /** Chain time (s) it finalizes at unless cleared. */
      readonly finalizesAt: number;
      readonly txHash: Hex;
    }
  | {
      /**
       * The watchtower answered a challenge older than our state: `checkpoint` (a ledger we keep;
       * submitted here), or `challenge` / `conclude` (made by the fallback objective it started).
       */
      readonly type: 'challengeAnswered';
      readonly channelId: ChannelId;
      readonly action: 'checkpoint' | 'challenge' | 'conclude';
      readonly turnNum: number;
      readonly challengedTurnNum: number;
    }
  | ({
      /** A fallback objective (virtual challenge, ledger exit) started: the channel is settled on chain. */
      readonly type: 'fallbackStarted';
      readonly reason: FallbackStartReason;
    } & ObjectiveEventBase)
  | {
      /** A fallback transaction we submitted was mined (gas for metrics; `reclaim` names its target). */
      readonly type: 'fallbackTransaction';
      readonly objectiveId: string;
      readonly channelId: ChannelId;
      readonly kind: 'challenge' | 'checkpoint' | 'conclude' | 'reclaim' | 'transferAllAssets';
      readonly txHash: Hex;
      readonly blockNumber: number;
      readonly gasUsed: bigint;
      readonly targetChannelId?: ChannelId;
    }
  | {
      /** A ledger settled on chain was paid out (`transferAllAssets` seen): what each participant got. */
      readonly type: 'payout';
      readonly channelId: ChannelId;
      readonly asset: Address;
      readonly amounts: readonly { readonly participant: Address; readonly amount: bigint }[];
      /** Our share. */
      readonly mine: bigint;
      /**
       * Paid to the ledger's parties in a split this node cannot tell (guarantees someone else
       * reclaimed for channels whose outcome we do not know); not in `amounts` nor `mine`.
       */
      readonly unattributed?: bigint;
    }
  | {
      /** A peer's message was refused and dropped (malformed, wrong signer, unknown objective, refused by policy). */
      readonly type: 'messageRejected';
      readonly from: Address;
      readonly code: string;
      readonly reason: string;
      readonly objectiveId?: string;
    };

export type EngineEventType = EngineEvent['type'];
export type EngineEventOf<T extends EngineEventType> = Extract<EngineEvent, { type: T }>;
