/**
 * Import files into a {@link ChunkStore} as UnixFS DAGs identical to
 * `ipfs add --cid-version=1` (kubo defaults otherwise): fixed 262,144-byte chunks, raw
 * leaves, balanced layout with at most 174 children per node, CIDv1 sha2-256, no
 * mtime/mode metadata. A one-chunk file's root is its raw leaf; an empty file's root is
 * the empty raw block. The DAG is built by `ipfs-unixfs-importer`; data is streamed
 * (never held whole in memory) and hashed with node:crypto.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { SluiceError } from '@sluice/channel-core';
import { importer } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import type { CID } from 'multiformats/cid';
import type { ChunkStore, FileRecord } from './chunk-store.ts';
import { CHUNK_SIZE, MAX_CHILDREN_PER_NODE, MAX_CHUNKS } from './constants.ts';

export interface ImportOptions {
  readonly store: ChunkStore;
  /** Catalog name; defaults to the file's base name (importFile) or `''` (importStream). */
  readonly name?: string;
  readonly signal?: AbortSignal;
}

/** The importer options that make our DAGs equal kubo's `ipfs add --cid-version=1`. */
function kuboV1Options(signal: AbortSignal | undefined) {
  return {
    cidVersion: 1 as const,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    wrapWithDirectory: false,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_CHILDREN_PER_NODE }),
    ...(signal === undefined ? {} : { signal }),
  };
}

async function concat(source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const p of source) {
    parts.push(p);
    n += p.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Import a byte stream. The stream is consumed once; at most a few chunks are buffered.
 * @returns the catalog record (also written to the store's catalog)
 * @throws SluiceError ABORTED when `signal` aborts; INVALID_ARGUMENT for > 2^32-1 chunks
 */
export async function importStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ImportOptions,
): Promise<FileRecord> {
  const { store, signal } = options;
  let size = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const part of source) {
      signal?.throwIfAborted();
      const bytes = part instanceof Uint8Array ? part : new Uint8Array(part as ArrayBufferLike);
      size += bytes.length;
      yield bytes;
    }
  }
  const blockstore = {
    async put(cid: CID, val: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<CID> {
      const bytes = val instanceof Uint8Array ? val : await concat(val);
      await store.putBlock(cid, bytes);
      return cid;
    },
  };
  let root: CID | undefined;
  try {
    for await (const entry of importer([{ content: counted() }], blockstore, kuboV1Options(signal))) root = entry.cid;
  } catch (e) {
    if (signal?.aborted === true) throw new SluiceError('ABORTED', 'import aborted', { cause: e });
    throw e;
  }
  if (root === undefined) throw new SluiceError('INTERNAL', 'importer produced no root');
  const chunks = size === 0 ? 1 : Math.ceil(size / CHUNK_SIZE);
  if (chunks > MAX_CHUNKS) throw new SluiceError('INVALID_ARGUMENT', 'file has more chunks than the wire can index');
  const record: FileRecord = { cid: root.toString(), name: options.name ?? '', size, chunks };
  await store.putFile(record);
  return record;
}

/**
 * Import one regular file, streaming it from disk.
 * @param path - the file
 * @returns the catalog record; `name` defaults to the file's base name
 * @throws SluiceError INVALID_ARGUMENT when the file cannot be read; ABORTED
 */
export async function importFile(path: string, options: ImportOptions): Promise<FileRecord> {
  const stream = createReadStream(path, {
    highWaterMark: CHUNK_SIZE,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  try {
    return await importStream(stream, { ...options, name: options.name ?? basename(path) });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES' || code === 'ENOTDIR') {
      throw new SluiceError('INVALID_ARGUMENT', 'cannot read the file to import', { cause: e, details: { path, reason: code } });
    }
    throw e;
  } finally {
    stream.destroy();
  }
}

/**
 * Import every regular file under `dir` (recursively, sorted, symlinks skipped), each as
 * its own catalog entry named by its `/`-separated path relative to `dir`. No UnixFS
 * directory node is built: Sluice serves files, not directory trees.
 */
export async function importDirectory(
  dir: string,
  options: Omit<ImportOptions, 'name'>,
): Promise<FileRecord[]> {
  const out: FileRecord[] = [];
  async function walk(d: string): Promise<void> {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      options.signal?.throwIfAborted();
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && (await lstat(p)).isFile()) {
        out.push(await importFile(p, { ...options, name: relative(dir, p).split(sep).join('/') }));
      }
    }
  }
  await walk(dir);
  return out;
}
