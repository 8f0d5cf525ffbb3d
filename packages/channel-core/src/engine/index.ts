/**
 * `@sluice/channel-core/engine`: the imperative shell that drives the pure protocols —
 * load, crank, persist (one store transaction), then send and submit; chain events fed back
 * in; timeouts reported as `objectiveStalled`; restart-safe.
 */
export {
  createEngine,
  objectiveChannelId,
  silentPeers,
  type Engine,
  type EngineComponents,
  type EngineInit,
  type EngineListener,
  type EngineLogger,
  type FallbackRequest,
  type HistoryPruned,
  type PruneCursor,
  WATCHTOWER_KEY,
} from './engine.ts';
export { type DisputeInfo, type FallbackConfig, FALLBACK_DEFAULTS, fallbackContext, disputeInfo, isFallbackObjective } from './fallback.ts';
export type { EngineEvent, EngineEventOf, EngineEventType, FallbackStartReason, ObjectiveType, StallReason } from './events.ts';
export { type ChallengeDurations, type Decision, type EnginePolicy, type LedgerRequest, type VirtualChannelRequest, DEFAULT_CHALLENGE_DURATIONS, DEFAULT_MAX_LEDGER_GUARANTEES, challengeDurationRange, challengeDurationRefusal, decideLedger, decideVirtualChannel } from './policy.ts';
export { MAX_WIRE_BYTES, OBJECTIVE_ID_RE, WIRE_VERSION, decodeWireMessage, encodeWireMessage } from './wire.ts';
export { eventChannelId, toProtocolEvent } from './chain-events.ts';
export { reconcileTransaction, toChainTransaction, transactionKey } from './transactions.ts';
export { assertGuaranteeRoom, freeToLock, guaranteesCommitted, reservedOn, virtualDefundFor } from './join.ts';
export type { LedgerData, LedgerStatus, ObjectiveData, SentMessage, VirtualData, VirtualRole, VirtualStatus } from './records.ts';
export { getLedgerData } from './records.ts';
