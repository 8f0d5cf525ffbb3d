/**
 * The pure resolver against malformed, corrupted and incomplete DAGs, and the store
 * adapters' contracts.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as dagPb from '@ipld/dag-pb';
import { isSluiceError } from '@sluice/channel-core';
import { UnixFS } from 'ipfs-unixfs';
import {
  CHUNK_SIZE,
  CID,
  FsChunkStore,
  MemoryChunkStore,
  type ChunkStore,
  cidOf,
  importStream,
  parseCid,
  readChunks,
  readVerifiedBlock,
  resolveFile,
  resolveFromStore,
  verifyBlock,
  verifyLeaf,
} from '../src/content/index.ts';
import { pseudoRandom } from './unixfs-reference.ts';

function code(e: unknown): string {
  assert.ok(isSluiceError(e), `not a SluiceError: ${String(e)}`);
  return e.code;
}
function throwsCode(fn: () => unknown, expected: string): void {
  assert.throws(fn, (e: unknown) => code(e) === expected);
}

/** Build an interior node by hand. */
function node(children: { cid: CID; size: number }[], opts: { type?: 'file' | 'raw' | 'directory'; data?: Uint8Array; sizes?: number[] } = {}): { cid: CID; bytes: Uint8Array } {
  const fs = new UnixFS({ type: opts.type ?? 'file', ...(opts.data ? { data: opts.data } : {}) });
  for (const s of opts.sizes ?? children.map((c) => c.size)) fs.addBlockSize(BigInt(s));
  const bytes = dagPb.encode(dagPb.prepare({ Data: fs.marshal(), Links: children.map((c) => ({ Name: '', Tsize: c.size, Hash: c.cid })) }));
  return { cid: cidOf(bytes, 0x70), bytes };
}

const full = new Uint8Array(CHUNK_SIZE).fill(1);
const FULL = { cid: cidOf(full), size: CHUNK_SIZE };
const short = new Uint8Array(10).fill(2);
const SHORT = { cid: cidOf(short), size: 10 };

function lookup(...blocks: { cid: CID; bytes: Uint8Array }[]) {
  const m = new Map(blocks.map((b) => [b.cid.toString(), b.bytes]));
  return (c: CID) => m.get(c.toString());
}

let imported: { store: MemoryChunkStore; root: CID; data: Uint8Array };
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-resolve-'));
  const store = new MemoryChunkStore();
  const data = await pseudoRandom(175 * CHUNK_SIZE + 99, 9);
  const rec = await importStream([data], { store, name: 'f' });
  imported = { store, root: CID.parse(rec.cid), data };
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resolveFile', () => {
  it('a hand-built 2-leaf DAG resolves to ordered byte ranges', () => {
    const n = node([FULL, SHORT]);
    const r = resolveFile(n.cid, lookup(n));
    assert.ok(r.complete);
    assert.equal(r.size, CHUNK_SIZE + 10);
    assert.deepEqual(
      r.leaves.map((l) => [l.index, l.cid.toString(), l.offset, l.length]),
      [
        [0, FULL.cid.toString(), 0, CHUNK_SIZE],
        [1, SHORT.cid.toString(), CHUNK_SIZE, 10],
      ],
    );
    assert.deepEqual(r.interior.map(String), [n.cid.toString()]);
  });

  it('reports missing interior blocks, then completes once they are supplied', async () => {
    const { store, root } = imported;
    const first = resolveFile(root, () => undefined);
    assert.equal(first.complete, false);
    assert.deepEqual(!first.complete && first.missing.map(String), [root.toString()]);
    const blocks = new Map<string, Uint8Array>();
    const rootBytes = (await store.getBlock(root))!;
    blocks.set(root.toString(), rootBytes);
    const second = resolveFile(root, (c) => blocks.get(c.toString()));
    assert.ok(!second.complete);
    assert.equal(second.missing.length, 2); // the two level-1 nodes
    for (const c of second.missing) blocks.set(c.toString(), (await store.getBlock(c))!);
    const done = resolveFile(root, (c) => blocks.get(c.toString()), { size: imported.data.length });
    assert.ok(done.complete);
    assert.equal(done.leaves.length, 176);
    assert.equal(done.interior.length, 3);
  });

  it('a raw root is its own single leaf; its size comes from the block or the caller', () => {
    const r = resolveFile(SHORT.cid, () => undefined, { size: 10 });
    assert.ok(r.complete && r.leaves.length === 1 && r.leaves[0]!.length === 10 && r.interior.length === 0);
    const r2 = resolveFile(SHORT.cid, lookup({ cid: SHORT.cid, bytes: short }));
    assert.ok(r2.complete && r2.size === 10);
    throwsCode(() => resolveFile(SHORT.cid, () => undefined), 'INVALID_ARGUMENT');
    throwsCode(() => resolveFile(SHORT.cid, lookup({ cid: SHORT.cid, bytes: short }), { size: 11 }), 'DECODE_FAILED');
    throwsCode(() => resolveFile(SHORT.cid, lookup({ cid: SHORT.cid, bytes: full })), 'CHUNK_HASH_MISMATCH');
    throwsCode(() => resolveFile(SHORT.cid, () => undefined, { size: CHUNK_SIZE + 1 }), 'DECODE_FAILED');
  });

  const malformed: [string, () => { root: CID; get: (c: CID) => Uint8Array | undefined; size?: number }, string][] = [
    ['interior block does not hash to its CID', () => { const n = node([FULL, SHORT]); return { root: n.cid, get: () => node([FULL, FULL]).bytes }; }, 'CHUNK_HASH_MISMATCH'],
    ['not dag-pb at all', () => { const b = new Uint8Array([0xff, 0xff, 0xff]); return { root: cidOf(b, 0x70), get: () => b }; }, 'DECODE_FAILED'],
    ['dag-pb without UnixFS data', () => { const b = dagPb.encode({ Links: [{ Hash: FULL.cid, Tsize: 1 }] }); return { root: cidOf(b, 0x70), get: () => b }; }, 'DECODE_FAILED'],
    ['a directory node', () => { const n = node([FULL], { type: 'directory', sizes: [] }); return { root: n.cid, get: lookup(n) }; }, 'DECODE_FAILED'],
    ['inline data in an interior node', () => { const n = node([FULL], { data: new Uint8Array([1]) }); return { root: n.cid, get: lookup(n) }; }, 'DECODE_FAILED'],
    ['blocksizes count differs from links', () => { const n = node([FULL, SHORT], { sizes: [CHUNK_SIZE] }); return { root: n.cid, get: lookup(n) }; }, 'DECODE_FAILED'],
    ['no links', () => { const n = node([]); return { root: n.cid, get: lookup(n) }; }, 'DECODE_FAILED'],
    ['a short leaf before the last', () => { const n = node([SHORT, FULL]); return { root: n.cid, get: lookup(n) }; }, 'DECODE_FAILED'],
    ['a leaf larger than a chunk', () => { const n = node([{ cid: FULL.cid, size: CHUNK_SIZE + 1 }]); return { root: n.cid, get: lookup(n) }; }, 'DECODE_FAILED'],
    ['a zero-size leaf', () => { const n = node([FULL, { cid: SHORT.cid, size: 0 }]); return { root: n.cid, get: lookup(n) }; }, 'DECODE_FAILED'],
    ['child size disagrees with parent blocksize', () => { const c = node([FULL, SHORT]); const p = node([{ cid: c.cid, size: CHUNK_SIZE + 11 }]); return { root: p.cid, get: lookup(c, p) }; }, 'DECODE_FAILED'],
    ['size disagrees with metadata', () => { const n = node([FULL, SHORT]); return { root: n.cid, get: lookup(n), size: 5 }; }, 'DECODE_FAILED'],
    ['link to a CIDv0', () => { const v0 = CID.createV0(FULL.cid.multihash as never); const n = node([{ cid: v0 as unknown as CID, size: CHUNK_SIZE }]); return { root: n.cid, get: lookup(n) }; }, 'DECODE_FAILED'],
    ['link to a dag-cbor CID', () => { const n = node([{ cid: CID.createV1(0x71, FULL.cid.multihash), size: CHUNK_SIZE }]); return { root: n.cid, get: lookup(n) }; }, 'DECODE_FAILED'],
    ['a DAG deeper than the limit', () => {
      let cur = node([SHORT]);
      const all = [cur];
      for (let i = 0; i < 10; i++) { cur = node([{ cid: cur.cid, size: 10 }]); all.push(cur); }
      return { root: cur.cid, get: lookup(...all) };
    }, 'DECODE_FAILED'],
    ['root CID is dag-cbor', () => ({ root: CID.createV1(0x71, FULL.cid.multihash), get: () => undefined }), 'DECODE_FAILED'],
  ];
  for (const [label, make, expected] of malformed) {
    it(`rejects ${label} → ${expected}`, () => {
      const { root, get, size } = make();
      throwsCode(() => resolveFile(root, get, size === undefined ? {} : { size }), expected);
    });
  }

  it('a DAG of repeated subtrees claiming 2^30 chunks is loaded once per node and refused by maxChunks', () => {
    let cur = node(Array.from({ length: 1024 }, () => FULL));
    const all = [cur];
    let size = 1024 * CHUNK_SIZE;
    for (let i = 0; i < 2; i++) {
      cur = node(Array.from({ length: 1024 }, () => ({ cid: cur.cid, size })));
      size *= 1024;
      all.push(cur);
    }
    let lookups = 0;
    const get = lookup(...all);
    const t0 = performance.now();
    throwsCode(() => resolveFile(cur.cid, (c) => (lookups++, get(c)), { maxChunks: 1_000_000 }), 'DECODE_FAILED');
    assert.equal(lookups, 3);
    assert.ok(performance.now() - t0 < 2000);
  });

  it('verifyLeaf checks length and hash', () => {
    const leaf = { index: 1, cid: SHORT.cid, offset: CHUNK_SIZE, length: 10 };
    verifyLeaf(leaf, short);
    throwsCode(() => verifyLeaf(leaf, short.subarray(1)), 'CHUNK_HASH_MISMATCH');
    const flipped = Uint8Array.from(short);
    flipped[3] = flipped[3]! ^ 1;
    throwsCode(() => verifyLeaf(leaf, flipped), 'CHUNK_HASH_MISMATCH');
    throwsCode(() => verifyBlock(SHORT.cid, full), 'CHUNK_HASH_MISMATCH');
  });

  it('parseCid accepts only CIDv1 raw/dag-pb sha2-256', () => {
    assert.equal(parseCid(SHORT.cid.toString()).toString(), SHORT.cid.toString());
    assert.equal(parseCid(SHORT.cid.bytes).toString(), SHORT.cid.toString());
    throwsCode(() => parseCid('QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'), 'DECODE_FAILED');
    throwsCode(() => parseCid('not a cid'), 'DECODE_FAILED');
    throwsCode(() => parseCid(new Uint8Array([1, 0x55, 0x12])), 'DECODE_FAILED');
  });
});

describe('reading back from a store', () => {
  it('a corrupted chunk in the store fails with CHUNK_HASH_MISMATCH at that chunk', async () => {
    const store = new MemoryChunkStore();
    const data = await pseudoRandom(3 * CHUNK_SIZE, 5);
    const rec = await importStream([data], { store, name: 'c' });
    const root = CID.parse(rec.cid);
    const file = await resolveFromStore(store, root);
    store.corruptBlock(file.leaves[1]!.cid, new Uint8Array(CHUNK_SIZE));
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const { leaf } of readChunks(store, root)) seen.push(leaf.index);
      })(),
      (e: unknown) => code(e) === 'CHUNK_HASH_MISMATCH',
    );
    assert.deepEqual(seen, [0]);
    await assert.rejects(readVerifiedBlock(store, file.leaves[1]!.cid), (e: unknown) => code(e) === 'CHUNK_HASH_MISMATCH');
  });

  it('missing content is CONTENT_NOT_FOUND', async () => {
    const store = new MemoryChunkStore();
    await assert.rejects(resolveFromStore(store, SHORT.cid), (e: unknown) => code(e) === 'CONTENT_NOT_FOUND');
    await assert.rejects(resolveFromStore(store, node([FULL, SHORT]).cid), (e: unknown) => code(e) === 'CONTENT_NOT_FOUND');
    await assert.rejects(readVerifiedBlock(store, SHORT.cid), (e: unknown) => code(e) === 'CONTENT_NOT_FOUND');
  });
});

describe('ChunkStore adapters', () => {
  async function contract(store: ChunkStore): Promise<void> {
    assert.equal(await store.hasBlock(SHORT.cid), false);
    assert.equal(await store.getBlock(SHORT.cid), undefined);
    await store.putBlock(SHORT.cid, short);
    await store.putBlock(SHORT.cid, short); // idempotent
    assert.equal(await store.hasBlock(SHORT.cid), true);
    assert.deepEqual(await store.getBlock(SHORT.cid), short);
    await store.putFile({ cid: 'b2', name: 'z', size: 1, chunks: 1 });
    await store.putFile({ cid: 'b1', name: 'a', size: 0, chunks: 1 });
    await Promise.all([1, 2, 3].map((i) => store.putFile({ cid: `c${i}`, name: 'm', size: i, chunks: 1 })));
    assert.deepEqual((await store.listFiles()).map((f) => f.cid), ['b1', 'c1', 'c2', 'c3', 'b2']);
    assert.deepEqual(await store.getFile('b2'), { cid: 'b2', name: 'z', size: 1, chunks: 1 });
    assert.equal(await store.getFile('nope'), undefined);
  }

  it('MemoryChunkStore meets the contract', async () => {
    await contract(new MemoryChunkStore());
  });

  it('FsChunkStore meets the contract, persists its catalog and leaves no temp files', async () => {
    const d = join(dir, 'fs');
    await contract(await FsChunkStore.open({ dir: d }));
    const again = await FsChunkStore.open({ dir: d });
    assert.equal((await again.listFiles()).length, 5);
    assert.deepEqual(await again.getBlock(SHORT.cid), short);
    const key = SHORT.cid.toString();
    assert.deepEqual(await readdir(join(d, 'blocks', key.slice(-2))), [key]);
    const top = await readdir(d);
    assert.deepEqual(top.sort(), ['blocks', 'catalog.json']);
    const cat = JSON.parse(await readFile(join(d, 'catalog.json'), 'utf8'));
    assert.equal(cat.version, 1);
  });

  it('FsChunkStore refuses a malformed catalog with DECODE_FAILED', async () => {
    const d = join(dir, 'bad');
    await FsChunkStore.open({ dir: d });
    await writeFile(join(d, 'catalog.json'), '{"version":1,"files":[{"cid":"x","name":"y","size":-1,"chunks":1}]}');
    await assert.rejects(FsChunkStore.open({ dir: d }), (e: unknown) => code(e) === 'DECODE_FAILED');
    await writeFile(join(d, 'catalog.json'), 'not json');
    await assert.rejects(FsChunkStore.open({ dir: d }), (e: unknown) => code(e) === 'DECODE_FAILED');
  });

  it('FsChunkStore rejects bad catalog records from callers', async () => {
    const store = await FsChunkStore.open({ dir: join(dir, 'rec') });
    await assert.rejects(store.putFile({ cid: 'x', name: 'y', size: 1.5, chunks: 1 }), TypeError);
  });
});
