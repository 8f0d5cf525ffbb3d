/**
 * `@sluice/provider/content` — UnixFS-compatible (kubo `ipfs add --cid-version=1`)
 * content store: import, the `ChunkStore` port with filesystem and in-memory adapters,
 * and the pure leaf resolver.
 */
export * from './constants.ts';
export * from './cid.ts';
export * from './chunk-store.ts';
export { MemoryChunkStore } from './memory-store.ts';
export { FsChunkStore, type FsChunkStoreInit, writeFileAtomic } from './fs-store.ts';
export * from './import.ts';
export * from './resolve.ts';
export * from './read.ts';
