/**
 * Filesystem {@link ChunkStore}: one file per block under `<dir>/blocks/<xx>/<cid>` (xx =
 * the CID string's last two characters), and a JSON catalog `<dir>/catalog.json`.
 * Every write is atomic (temp file in the same directory, then rename); with `fsync`
 * (the default) the data and the directory entry are flushed before the write resolves.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SluiceError } from '@sluice/channel-core';
import type { CID } from 'multiformats/cid';
import { type ChunkStore, type FileRecord, compareFileRecords } from './chunk-store.ts';

export interface FsChunkStoreInit {
  /** Root directory; created if missing. */
  readonly dir: string;
  /** Flush file data and directory entries to disk before a write resolves. Default true. */
  readonly fsync?: boolean;
}

const CATALOG_VERSION = 1;

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Write `data` to `path` atomically (temp + rename), optionally durable. */
export async function writeFileAtomic(path: string, data: Uint8Array | string, fsync: boolean): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const h = await open(tmp, 'wx', 0o644);
  try {
    try {
      await h.writeFile(data);
      if (fsync) await h.datasync();
    } finally {
      await h.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  if (fsync) await fsyncDir(dir);
}

function parseRecord(x: unknown): FileRecord {
  const r = x as Record<string, unknown>;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.cid !== 'string' ||
    typeof r.name !== 'string' ||
    !Number.isSafeInteger(r.size) ||
    (r.size as number) < 0 ||
    !Number.isSafeInteger(r.chunks) ||
    (r.chunks as number) < 1
  ) {
    throw new TypeError('catalog entry is malformed');
  }
  return { cid: r.cid, name: r.name, size: r.size as number, chunks: r.chunks as number };
}

/** Filesystem adapter of the {@link ChunkStore} port. Create with {@link FsChunkStore.open}. */
export class FsChunkStore implements ChunkStore {
  readonly dir: string;
  readonly #fsync: boolean;
  readonly #files: Map<string, FileRecord>;
  readonly #madeDirs = new Set<string>();
  #catalogWrite: Promise<void> = Promise.resolve();

  private constructor(dir: string, fsync: boolean, files: Map<string, FileRecord>) {
    this.dir = dir;
    this.#fsync = fsync;
    this.#files = files;
  }

  /**
   * Open (or create) a store in `init.dir`, loading its catalog.
   * @throws SluiceError DECODE_FAILED when the catalog exists but is malformed
   */
  static async open(init: FsChunkStoreInit): Promise<FsChunkStore> {
    await mkdir(join(init.dir, 'blocks'), { recursive: true });
    const files = new Map<string, FileRecord>();
    let text: string | undefined;
    try {
      text = await readFile(join(init.dir, 'catalog.json'), 'utf8');
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    if (text !== undefined) {
      try {
        const doc = JSON.parse(text) as { version?: unknown; files?: unknown };
        if (doc.version !== CATALOG_VERSION || !Array.isArray(doc.files)) throw new TypeError('catalog header is malformed');
        for (const f of doc.files) {
          const r = parseRecord(f);
          files.set(r.cid, r);
        }
      } catch (e) {
        throw new SluiceError('DECODE_FAILED', 'the chunk store catalog is malformed', { cause: e, details: { dir: init.dir } });
      }
    }
    return new FsChunkStore(init.dir, init.fsync ?? true, files);
  }

  #blockPath(cid: CID): { dir: string; path: string } {
    const key = cid.toString();
    const dir = join(this.dir, 'blocks', key.slice(-2));
    return { dir, path: join(dir, key) };
  }

  async putBlock(cid: CID, bytes: Uint8Array): Promise<void> {
    const { dir, path } = this.#blockPath(cid);
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#madeDirs.add(dir);
    }
    try {
      await stat(path);
      return; // content-addressed: already there
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    await writeFileAtomic(path, bytes, this.#fsync);
  }

  async getBlock(cid: CID): Promise<Uint8Array | undefined> {
    try {
      const b = await readFile(this.#blockPath(cid).path);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  /**
   * Read a block of known length straight into `out` at `offset` (no intermediate copy).
   * @returns false when the block is absent
   * @throws SluiceError CHUNK_HASH_MISMATCH when the file does not have exactly `length` bytes
   */
  async readBlockInto(cid: CID, out: Uint8Array, offset: number, length: number): Promise<boolean> {
    let fh;
    try {
      fh = await open(this.#blockPath(cid).path, 'r');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
    try {
      const { bytesRead } = await fh.read(out, offset, length, 0);
      if (bytesRead !== length) throw new SluiceError('CHUNK_HASH_MISMATCH', 'stored block has the wrong length', { details: { cid: cid.toString() } });
      return true;
    } finally {
      await fh.close();
    }
  }

  async hasBlock(cid: CID): Promise<boolean> {
    try {
      await stat(this.#blockPath(cid).path);
      return true;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
  }

  async putFile(record: FileRecord): Promise<void> {
    const r = parseRecord(record);
    this.#files.set(r.cid, r);
    // Serialise catalog writes; each writes the whole (small) catalog atomically.
    const write = this.#catalogWrite.then(() =>
      writeFileAtomic(
        join(this.dir, 'catalog.json'),
        JSON.stringify({ version: CATALOG_VERSION, files: [...this.#files.values()].sort(compareFileRecords) }, null, 1) + '\n',
        this.#fsync,
      ),
    );
    this.#catalogWrite = write.catch(() => undefined);
    await write;
  }

  async getFile(cid: string): Promise<FileRecord | undefined> {
    const r = this.#files.get(cid);
    return r === undefined ? undefined : { ...r };
  }

  async listFiles(): Promise<FileRecord[]> {
    return [...this.#files.values()].map((r) => ({ ...r })).sort(compareFileRecords);
  }
}
