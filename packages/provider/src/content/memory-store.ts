import type { CID } from 'multiformats/cid';
import { type ChunkStore, type FileRecord, compareFileRecords } from './chunk-store.ts';

/** In-memory {@link ChunkStore} for unit tests. Copies bytes in and out. */
export class MemoryChunkStore implements ChunkStore {
  readonly #blocks = new Map<string, Uint8Array>();
  readonly #files = new Map<string, FileRecord>();

  /** Number of distinct blocks held. */
  get blockCount(): number {
    return this.#blocks.size;
  }

  async putBlock(cid: CID, bytes: Uint8Array): Promise<void> {
    const key = cid.toString();
    if (!this.#blocks.has(key)) this.#blocks.set(key, Uint8Array.from(bytes));
  }

  async getBlock(cid: CID): Promise<Uint8Array | undefined> {
    const b = this.#blocks.get(cid.toString());
    return b === undefined ? undefined : Uint8Array.from(b);
  }

  async hasBlock(cid: CID): Promise<boolean> {
    return this.#blocks.has(cid.toString());
  }

  /** Test helper: overwrite a block's bytes (to simulate corruption). */
  corruptBlock(cid: CID, bytes: Uint8Array): void {
    this.#blocks.set(cid.toString(), Uint8Array.from(bytes));
  }

  async putFile(record: FileRecord): Promise<void> {
    this.#files.set(record.cid, { ...record });
  }

  async getFile(cid: string): Promise<FileRecord | undefined> {
    const r = this.#files.get(cid);
    return r === undefined ? undefined : { ...r };
  }

  async listFiles(): Promise<FileRecord[]> {
    return [...this.#files.values()].map((r) => ({ ...r })).sort(compareFileRecords);
  }
}
