/** @sluice/channel-core/memory — in-memory adapters of channel-core's ports, for tests. */
export { MemoryChainService, type MemoryChainInit } from './chain.ts';
export { seededRandom } from './prng.ts';
export { createMemoryNetwork, type MemoryMessageService, type MemoryNetwork, type MemoryNetworkInit, type MemoryNetworkStats } from './messaging.ts';
