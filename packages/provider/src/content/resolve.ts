/**
 * Pure resolver: from a root CID and the file's interior (dag-pb) blocks, the ordered
 * list of leaf CIDs with their byte ranges. Every interior block is verified against its
 * CID and checked to be a Sluice-shaped UnixFS file DAG (raw leaves of exactly
 * {@link CHUNK_SIZE} bytes except the last, sizes consistent from root to leaves).
 * No I/O: blocks come from a lookup function.
 */
import { SluiceError } from '@sluice/channel-core';
import * as dagPb from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import type { CID } from 'multiformats/cid';
import { isSluiceCid, verifyBlock } from './cid.ts';
import {
  CHUNK_SIZE,
  DAG_PB_CODE,
  MAX_CHILDREN_PER_NODE,
  MAX_CHUNKS,
  MAX_DAG_DEPTH,
  MAX_INTERIOR_BLOCK_BYTES,
  MAX_LINKS_PER_NODE,
  RAW_CODE,
} from './constants.ts';

/** One leaf (chunk) of a file: bytes `[offset, offset + length)` of the file. */
export interface LeafRange {
  readonly index: number;
  readonly cid: CID;
  readonly offset: number;
  readonly length: number;
}

/** A fully resolved file. */
export interface ResolvedFile {
  readonly complete: true;
  readonly root: CID;
  readonly size: number;
  readonly leaves: readonly LeafRange[];
  /**
   * Distinct interior (dag-pb) block CIDs in depth-first pre-order of first appearance
   * (root first, parents before children); empty for a raw root.
   */
  readonly interior: readonly CID[];
}

/** Some interior blocks are not available yet: fetch `missing` and resolve again. */
export interface IncompleteFile {
  readonly complete: false;
  readonly root: CID;
  readonly missing: readonly CID[];
}

export type Resolution = ResolvedFile | IncompleteFile;

/** Returns an interior block's bytes, or `undefined` when not (yet) available. */
export type BlockLookup = (cid: CID) => Uint8Array | undefined;

export interface ResolveOptions {
  /**
   * The file's size if known (e.g. from metadata). Required for a single-chunk file
   * (raw root) unless the lookup returns the root block; checked against the DAG otherwise.
   */
  readonly size?: number;
  /**
   * Refuse a DAG whose root claims more chunks than this (default {@link MAX_CHUNKS}).
   * A client should pass the chunk count it expects: a hostile DAG that repeats subtrees
   * can claim up to 2^32 leaves in a few kilobytes, and resolving lists every leaf.
   */
  readonly maxChunks?: number;
}

function bad(message: string, cid: CID): SluiceError {
  return new SluiceError('DECODE_FAILED', message, { details: { cid: cid.toString() } });
}

interface Node {
  readonly cid: CID;
  readonly children: readonly { readonly cid: CID; readonly size: number }[];
  readonly size: number;
}

/**
 * Decode and check one interior block (already hash-verified).
 * @throws SluiceError DECODE_FAILED
 */
function decodeInterior(cid: CID, bytes: Uint8Array): Node {
  if (bytes.length > MAX_INTERIOR_BLOCK_BYTES) throw bad('interior block is too large', cid);
  let pb: dagPb.PBNode;
  let fs: UnixFS;
  try {
    pb = dagPb.decode(bytes);
    if (pb.Data === undefined) throw new TypeError('no UnixFS data');
    fs = UnixFS.unmarshal(pb.Data);
  } catch (e) {
    throw new SluiceError('DECODE_FAILED', 'interior block is not a UnixFS dag-pb node', { cause: e, details: { cid: cid.toString() } });
  }
  if (fs.type !== 'file') throw bad('interior block is not a UnixFS file node', cid);
  if (fs.data !== undefined && fs.data.length > 0) throw bad('interior node carries inline data', cid);
  if (pb.Links.length === 0 || pb.Links.length > MAX_LINKS_PER_NODE) throw bad('interior node has a bad number of links', cid);
  if (fs.blockSizes.length !== pb.Links.length) throw bad('interior node blocksizes do not match its links', cid);
  let size = 0;
  const children = pb.Links.map((l, i) => {
    const child = l.Hash;
    if (!isSluiceCid(child)) throw bad('interior node links to an unsupported CID', cid);
    const s = fs.blockSizes[i]!;
    if (s <= 0n || s > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('interior node has a bad block size', cid);
    size += Number(s);
    if (!Number.isSafeInteger(size)) throw bad('file is too large', cid);
    return { cid: child, size: Number(s) };
  });
  return { cid, children, size };
}

/**
 * Check one interior block as it arrives (before the rest of the DAG is known): its bytes
 * against its CID, and that it is a well-formed Sluice UnixFS file node.
 * @returns the dag-pb (interior) CIDs it links to, in link order
 * @throws SluiceError CHUNK_HASH_MISMATCH (bytes do not match the CID), DECODE_FAILED (malformed node)
 */
export function interiorChildren(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== DAG_PB_CODE) throw bad('interior block must be a dag-pb CID', cid);
  if (bytes.length > MAX_INTERIOR_BLOCK_BYTES) throw bad('interior block is too large', cid);
  verifyBlock(cid, bytes);
  return decodeInterior(cid, bytes).children.filter((c) => c.cid.code === DAG_PB_CODE).map((c) => c.cid);
}

/**
 * The most distinct interior blocks a file of `chunkCount` chunks has in the balanced layout
 * with {@link MAX_CHILDREN_PER_NODE} links per node (what `importFile` and kubo build):
 * Σ over the levels d ≥ 1 of ceil(chunkCount / 174^d), up to the single root; 0 for one chunk.
 * Repeated subtrees (e.g. a file of zeros) make the real count smaller, never larger.
 */
export function maxInteriorBlocks(chunkCount: number): number {
  if (!Number.isSafeInteger(chunkCount) || chunkCount < 1) throw new RangeError('chunkCount must be a positive integer');
  let total = 0;
  for (let level = chunkCount; level > 1; ) {
    level = Math.ceil(level / MAX_CHILDREN_PER_NODE);
    total += level;
  }
  return total;
}

/**
 * Resolve a file's leaves.
 * @param root - the file's root CID (raw or dag-pb, v1, sha2-256)
 * @param getBlock - interior blocks by CID (and optionally the raw root)
 * @returns a {@link ResolvedFile}, or an {@link IncompleteFile} naming the blocks to fetch
 * @throws SluiceError CHUNK_HASH_MISMATCH when a block does not match its CID;
 *   DECODE_FAILED when the DAG is malformed, not Sluice-shaped or disagrees with `options.size`;
 *   INVALID_ARGUMENT for a raw root whose size cannot be known
 */
export function resolveFile(root: CID, getBlock: BlockLookup, options: ResolveOptions = {}): Resolution {
  if (!isSluiceCid(root)) throw bad('root must be a CIDv1 (raw or dag-pb, sha2-256)', root);
  if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size < 0)) {
    throw new SluiceError('INVALID_ARGUMENT', 'size must be a non-negative safe integer');
  }
  if (root.code === RAW_CODE) {
    let size = options.size;
    const block = getBlock(root);
    if (block !== undefined) {
      verifyBlock(root, block);
      if (size !== undefined && size !== block.length) throw bad('file size differs from the single block', root);
      size = block.length;
    }
    if (size === undefined) throw new SluiceError('INVALID_ARGUMENT', 'the size of a single-block file is needed');
    if (size > CHUNK_SIZE) throw bad('single-block file is larger than a chunk', root);
    return { complete: true, root, size, leaves: [{ index: 0, cid: root, offset: 0, length: size }], interior: [] };
  }

  // Pass 1: load and verify every reachable interior node; collect what is missing.
  // Each distinct node is loaded once (depth checked where first seen), so repeated
  // subtrees cost nothing here.
  const nodes = new Map<string, Node>();
  const missing: CID[] = [];
  const seen = new Set<string>();
  const load = (cid: CID, depth: number): void => {
    if (depth > MAX_DAG_DEPTH) throw bad('DAG is too deep', cid);
    const key = cid.toString();
    if (seen.has(key)) return;
    seen.add(key);
    const bytes = getBlock(cid);
    if (bytes === undefined) {
      missing.push(cid);
      return;
    }
    verifyBlock(cid, bytes);
    const node = decodeInterior(cid, bytes);
    nodes.set(key, node);
    for (const c of node.children) if (c.cid.code === DAG_PB_CODE) load(c.cid, depth + 1);
  };
  load(root, 0);
  if (missing.length > 0) return { complete: false, root, missing };

  // Bound the work of pass 2 by what the root claims, before listing any leaf.
  const rootNode = nodes.get(root.toString())!;
  if (options.size !== undefined && options.size !== rootNode.size) throw bad('file size differs from the DAG', root);
  const maxChunks = options.maxChunks ?? MAX_CHUNKS;
  if (Math.ceil(rootNode.size / CHUNK_SIZE) > maxChunks) {
    throw new SluiceError('DECODE_FAILED', 'DAG claims more chunks than allowed', {
      details: { cid: root.toString(), size: rootNode.size, maxChunks },
    });
  }

  // Pass 2: walk in order, emitting leaves and checking sizes and chunk shape.
  const leaves: LeafRange[] = [];
  const interior: CID[] = [];
  const listed = new Set<string>();
  let offset = 0;
  const walk = (node: Node, expected: number | undefined): void => {
    const key = node.cid.toString();
    if (!listed.has(key)) {
      listed.add(key);
      interior.push(node.cid);
    }
    if (expected !== undefined && expected !== node.size) throw bad('interior node size differs from its parent', node.cid);
    for (const c of node.children) {
      if (c.cid.code === RAW_CODE) {
        if (c.size > CHUNK_SIZE) throw bad('leaf is larger than a chunk', node.cid);
        const prev = leaves[leaves.length - 1];
        if (prev !== undefined && prev.length !== CHUNK_SIZE) throw bad('only the last leaf may be shorter than a chunk', node.cid);
        if (leaves.length >= MAX_CHUNKS) throw bad('file has too many chunks', node.cid);
        leaves.push({ index: leaves.length, cid: c.cid, offset, length: c.size });
        offset += c.size;
      } else {
        walk(nodes.get(c.cid.toString())!, c.size);
      }
    }
  };
  walk(rootNode, undefined);
  return { complete: true, root, size: offset, leaves, interior };
}

/**
 * Check a leaf's bytes: its hash against the leaf CID and its length against the DAG.
 * @throws SluiceError CHUNK_HASH_MISMATCH
 */
export function verifyLeaf(leaf: LeafRange, bytes: Uint8Array): void {
  if (bytes.length !== leaf.length) {
    throw new SluiceError('CHUNK_HASH_MISMATCH', 'chunk length differs from the DAG', {
      details: { cid: leaf.cid.toString(), chunk: leaf.index, length: bytes.length, expected: leaf.length },
    });
  }
  verifyBlock(leaf.cid, bytes);
}
