/**
 * Read a file back out of a {@link ChunkStore} through the resolver, verifying every
 * interior block and every chunk against its CID.
 */
import { SluiceError } from '@sluice/channel-core';
import type { CID } from 'multiformats/cid';
import type { ChunkStore } from './chunk-store.ts';
import { type LeafRange, type ResolvedFile, resolveFile, verifyLeaf } from './resolve.ts';
import { verifyBlock } from './cid.ts';
import { RAW_CODE } from './constants.ts';

/**
 * Load the interior blocks of `root` from `store` and resolve the file.
 * @throws SluiceError CONTENT_NOT_FOUND when a needed block is absent, plus {@link resolveFile}'s errors
 */
export async function resolveFromStore(store: ChunkStore, root: CID, options: { size?: number } = {}): Promise<ResolvedFile & { blocks: ReadonlyMap<string, Uint8Array> }> {
  const blocks = new Map<string, Uint8Array>();
  if (root.code === RAW_CODE) {
    // A single-block file: its root is its only leaf.
    const b = await store.getBlock(root);
    if (b === undefined) throw new SluiceError('CONTENT_NOT_FOUND', 'file is not in the store', { details: { cid: root.toString() } });
    blocks.set(root.toString(), b);
  }
  for (;;) {
    const r = resolveFile(root, (c) => blocks.get(c.toString()), options);
    if (r.complete) return { ...r, blocks };
    for (const c of r.missing) {
      const b = await store.getBlock(c);
      if (b === undefined) throw new SluiceError('CONTENT_NOT_FOUND', 'a block of the file is not in the store', { details: { cid: c.toString() } });
      blocks.set(c.toString(), b);
    }
  }
}

/**
 * Read one verified block.
 * @throws SluiceError CONTENT_NOT_FOUND, CHUNK_HASH_MISMATCH
 */
export async function readVerifiedBlock(store: ChunkStore, cid: CID): Promise<Uint8Array> {
  const b = await store.getBlock(cid);
  if (b === undefined) throw new SluiceError('CONTENT_NOT_FOUND', 'block is not in the store', { details: { cid: cid.toString() } });
  verifyBlock(cid, b);
  return b;
}

/**
 * Stream a file's chunks in order, each verified (hash and length).
 * @throws SluiceError CONTENT_NOT_FOUND, CHUNK_HASH_MISMATCH, DECODE_FAILED
 */
export async function* readChunks(
  store: ChunkStore,
  root: CID,
  options: { size?: number; signal?: AbortSignal } = {},
): AsyncGenerator<{ readonly leaf: LeafRange; readonly bytes: Uint8Array }> {
  const file = await resolveFromStore(store, root, options.size === undefined ? {} : { size: options.size });
  for (const leaf of file.leaves) {
    options.signal?.throwIfAborted();
    const bytes = await store.getBlock(leaf.cid);
    if (bytes === undefined) throw new SluiceError('CONTENT_NOT_FOUND', 'a chunk of the file is not in the store', { details: { cid: leaf.cid.toString(), chunk: leaf.index } });
    verifyLeaf(leaf, bytes);
    yield { leaf, bytes };
  }
}
