/**
 * The `ChunkStore` port: content-addressed blocks plus a small catalog of imported files.
 * Adapters: {@link FsChunkStore} (filesystem) and {@link MemoryChunkStore} (tests).
 */
import type { CID } from 'multiformats/cid';

/** One imported file in the catalog. */
export interface FileRecord {
  /** Root CID (string form, base32 `b…`). */
  readonly cid: string;
  /** A display name (file name or path relative to an imported directory). */
  readonly name: string;
  /** File size in bytes. */
  readonly size: number;
  /** Number of leaves (256 KiB chunks); 1 for an empty file (its one empty raw leaf). */
  readonly chunks: number;
}

/** Where blocks and the file catalog live. Blocks are immutable and keyed by CID. */
export interface ChunkStore {
  /** Store a block. Idempotent: a block already present is left alone. The store does not re-hash. */
  putBlock(cid: CID, bytes: Uint8Array): Promise<void>;
  /** A block's bytes, or `undefined` when absent. Not verified: see `readVerifiedBlock`. */
  getBlock(cid: CID): Promise<Uint8Array | undefined>;
  hasBlock(cid: CID): Promise<boolean>;
  /** Add or replace a catalog entry. Keyed by root CID: identical files share one entry (last name wins). */
  putFile(record: FileRecord): Promise<void>;
  getFile(cid: string): Promise<FileRecord | undefined>;
  /** All catalog entries, sorted by name then CID. */
  listFiles(): Promise<FileRecord[]>;
}

/** Sort order of {@link ChunkStore.listFiles}. */
export function compareFileRecords(a: FileRecord, b: FileRecord): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0;
}
