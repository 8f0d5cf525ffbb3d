/** Typed events the engine emits (and the node re-emits). Data only. */
import type { Address, ChannelId } from '../hex.ts';
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

export type EngineEvent =
  | ({ readonly type: 'objectiveCreated'; readonly initiatedBy: 'me' | 'peer' } & ObjectiveEventBase)
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
