/**
 * The files a provider serves: catalog entries resolved once (interior blocks loaded and
 * verified) and kept in a small LRU, plus chunk reads.
 */
import { SluiceError } from '@sluice/channel-core';
import type { CID } from 'multiformats/cid';
import type { ChunkStore, FileRecord } from '../content/chunk-store.ts';
import { parseCid } from '../content/cid.ts';
import { resolveFromStore } from '../content/read.ts';
import { type LeafRange, verifyLeaf } from '../content/resolve.ts';
import { CHUNK_FIXED_BYTES, FrameType } from '../wire/constants.ts';
import { encodeFrame } from '../wire/frames.ts';

/** A catalog file ready to serve. */
export interface ServedFile {
  readonly record: FileRecord;
  readonly root: CID;
  readonly leaves: readonly LeafRange[];
  /** Interior (dag-pb) blocks in the order they are sent: parents first. */
  readonly interior: readonly { readonly cid: CID; readonly bytes: Uint8Array }[];
}

export class ServedFiles {
  readonly store: ChunkStore;
  readonly #cache = new Map<string, Promise<ServedFile | undefined>>();
  readonly #max: number;
  readonly #verify: boolean;

  /**
   * @param options.cacheSize - resolved files kept in memory (default 64)
   * @param options.verifyOnServe - re-hash every chunk read from the store before sending (default false: verified at import)
   */
  constructor(store: ChunkStore, options: { cacheSize?: number; verifyOnServe?: boolean } = {}) {
    this.store = store;
    this.#max = options.cacheSize ?? 64;
    this.#verify = options.verifyOnServe ?? false;
  }

  /** The file with root `cid` (string or CID), or `undefined` when it is not in the catalog. */
  async get(cid: string | CID): Promise<ServedFile | undefined> {
    let key: string;
    try {
      key = typeof cid === 'string' ? parseCid(cid).toString() : cid.toString();
    } catch {
      return undefined;
    }
    let p = this.#cache.get(key);
    if (p === undefined) {
      p = this.#load(key);
      this.#cache.set(key, p);
      p.catch(() => this.#cache.delete(key));
      if (this.#cache.size > this.#max) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
    } else {
      this.#cache.delete(key);
      this.#cache.set(key, p);
    }
    const f = await p;
    if (f === undefined) this.#cache.delete(key);
    return f;
  }

  async #load(key: string): Promise<ServedFile | undefined> {
    const record = await this.store.getFile(key);
    if (record === undefined) return undefined;
    const root = parseCid(record.cid);
    const r = await resolveFromStore(this.store, root, { size: record.size });
    const interior = r.interior.map((c) => {
      const bytes = r.blocks.get(c.toString());
      if (bytes === undefined) throw new SluiceError('CONTENT_NOT_FOUND', 'an interior block is missing', { details: { cid: c.toString() } });
      return { cid: c, bytes };
    });
    return { record, root, leaves: r.leaves, interior };
  }

  /**
   * One chunk as a ready CHUNK frame (`0x06 || index || bytes`). With a store that can read
   * a block into a buffer (FsChunkStore), the bytes land in the frame directly: no copy.
   * @throws SluiceError CONTENT_NOT_FOUND; CHUNK_HASH_MISMATCH (wrong length, or hash when verifying on serve)
   */
  async readChunkFrame(leaf: LeafRange): Promise<Uint8Array> {
    const store = this.store as ChunkStore & { readBlockInto?: (cid: CID, out: Uint8Array, offset: number, length: number) => Promise<boolean> };
    if (typeof store.readBlockInto !== 'function') {
      return encodeFrame({ type: 'chunk', index: leaf.index, data: await this.readChunk(leaf) });
    }
    const frame = Buffer.allocUnsafe(CHUNK_FIXED_BYTES + leaf.length);
    frame[0] = FrameType.CHUNK;
    frame.writeUInt32BE(leaf.index, 1);
    if (!(await store.readBlockInto(leaf.cid, frame, CHUNK_FIXED_BYTES, leaf.length))) {
      throw new SluiceError('CONTENT_NOT_FOUND', 'a chunk is missing from the store', { details: { chunk: leaf.index } });
    }
    if (this.#verify) verifyLeaf(leaf, frame.subarray(CHUNK_FIXED_BYTES));
    return frame;
  }

  /**
   * One chunk's bytes.
   * @throws SluiceError CONTENT_NOT_FOUND; CHUNK_HASH_MISMATCH when verifying on serve
   */
  async readChunk(leaf: LeafRange): Promise<Uint8Array> {
    const bytes = await this.store.getBlock(leaf.cid);
    if (bytes === undefined) throw new SluiceError('CONTENT_NOT_FOUND', 'a chunk is missing from the store', { details: { chunk: leaf.index } });
    if (this.#verify) verifyLeaf(leaf, bytes);
    return bytes;
  }
}
