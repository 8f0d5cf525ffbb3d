/** channel-core's public surface as the suites use it (one import place). */
export * from '@sluice/channel-core';
export type * from '@sluice/channel-core/chain';
export { ZERO_BYTES32, unpackStatus, channelMode, consumeChainEvents, compareCursor } from '@sluice/channel-core/chain';
