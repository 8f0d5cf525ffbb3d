/** On-chain fallback helpers shared by the provider and client CLIs: settle-all, dispute views, metrics/logs. */
export * from './disputes.ts';
export * from './settle-all.ts';
export { observeFallback, type FallbackLogger, type FallbackObserver } from '@sluice/channel-core/node/observe';
export * from './activity.ts';
export * from './render.ts';
