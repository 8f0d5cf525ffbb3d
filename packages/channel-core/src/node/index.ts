/**
 * `@sluice/channel-core/node`: a Sluice node — ledger channels with a hub, virtual channels
 * through it, vouchers, cooperative closes — over the engine, with typed events.
 */
export { createNode, type Node } from './node.ts';
export type {
  CallOptions,
  HubPeer,
  LedgerChannelInfo,
  NodeChainInit,
  NodeComponents,
  NodeEvent,
  NodeEventOf,
  NodeEventType,
  NodeInit,
  SettleOptions,
  SettleResult,
  VirtualChannelInfo,
} from './types.ts';
export type { DisputeInfo, FallbackConfig } from '../engine/fallback.ts';
export { FALLBACK_DEFAULTS } from '../engine/fallback.ts';
export type { EnginePolicy, LedgerRequest, VirtualChannelRequest, Decision } from '../engine/policy.ts';
export type { HubPolicyConfig } from '../protocols/hub-policy.ts';
export { type DisputeView, type OnChainState, COUNTERPARTY_ONLY, disputeView, onChainState } from './dispute-view.ts';
export { type HistoryRetention, type HistoryRetentionOptions, startHistoryRetention } from './retention.ts';
export { formatRetention, parseRetention } from './text.ts';
