/** @sluice/channel-core/memory — in-memory adapters of channel-core's ports, for tests. */
export { MemoryChainService, type MemoryChainInit } from './chain.ts';
