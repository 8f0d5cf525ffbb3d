/**
 * Root CIDs of imported files against an independent, hand-built reference of kubo's
 * `ipfs add --cid-version=1` DAG (./unixfs-reference.ts), plus CIDs published by kubo.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, mkdir, rm, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CHUNK_SIZE,
  CID,
  FsChunkStore,
  MemoryChunkStore,
  importDirectory,
  importFile,
  importStream,
  readChunks,
  resolveFromStore,
} from '../src/content/index.ts';
import { base32Cid, cidV1Bytes, pseudoRandom, referenceRoot } from './unixfs-reference.ts';

const enc = new TextEncoder();

/** CIDs printed by kubo itself (kubo test/sharness fixtures READMEs) or well known. */
const KUBO_KNOWN: readonly { readonly content: Uint8Array; readonly cid: string; readonly source: string }[] = [
  { content: new Uint8Array(0), cid: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', source: 'empty file, raw leaves' },
  { content: enc.encode('hello\n'), cid: 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am', source: 'kubo t0114: echo hello | ipfs add --cid-version 1' },
  { content: enc.encode('Hello IPFS\n'), cid: 'bafkreidfdrlkeq4m4xnxuyx6iae76fdm4wgl5d4xzsb77ixhyqwumhz244', source: 'kubo t0124: echo "Hello IPFS" | ipfs add --cid-version 1' },
];

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-content-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function importBytes(data: Uint8Array, store = new MemoryChunkStore()) {
  // feed in uneven pieces to exercise the chunker's re-assembly
  const pieces: Uint8Array[] = [];
  for (let o = 0, step = 100_003; o < data.length; o += step) pieces.push(data.subarray(o, o + step));
  const record = await importStream(pieces, { store, name: 'x' });
  return { record, store };
}

describe('reference model sanity', () => {
  it('reproduces CIDs published by kubo', () => {
    for (const k of KUBO_KNOWN) assert.equal(referenceRoot(k.content).cid, k.cid, k.source);
  });
  it('hand base32 of a raw CID equals multiformats', () => {
    const b = cidV1Bytes(0x55, enc.encode('abc'));
    assert.equal(base32Cid(b), CID.decode(b).toString());
  });
});

describe('importStream root CIDs', () => {
  for (const k of KUBO_KNOWN) {
    it(`kubo-published: ${k.source}`, async () => {
      const { record } = await importBytes(k.content);
      assert.equal(record.cid, k.cid);
      assert.equal(record.size, k.content.length);
      assert.equal(record.chunks, 1);
    });
  }

  const cases: readonly [string, number, number, number][] = [
    // name, size, expected depth, expected root links
    ['1 byte', 1, 0, 0],
    ['exactly one chunk (262,144 B)', CHUNK_SIZE, 0, 0],
    ['one chunk + 1 byte (262,145 B)', CHUNK_SIZE + 1, 1, 2],
    ['9 MiB (36 chunks)', 9 * 1024 * 1024, 1, 36],
    ['174 chunks (one full node)', 174 * CHUNK_SIZE, 1, 174],
    ['174 chunks + 1 byte (2 levels)', 174 * CHUNK_SIZE + 1, 2, 2],
  ];
  for (const [name, size, depth, links] of cases) {
    it(`${name} equals the hand-built kubo DAG`, async () => {
      const data = await pseudoRandom(size, size);
      const ref = referenceRoot(data);
      assert.equal(ref.depth, depth);
      assert.equal(ref.rootLinks, links);
      const { record, store } = await importBytes(data);
      assert.equal(record.cid, ref.cid);
      assert.equal(record.size, size);
      assert.equal(record.chunks, ref.leaves.length);
      // the resolver lists exactly the reference's leaves
      const file = await resolveFromStore(store, CID.parse(record.cid));
      assert.deepEqual(
        file.leaves.map((l) => l.cid.toString()),
        ref.leaves,
      );
      assert.equal(file.size, size);
    });
  }

  it('a file of identical chunks (deduplicated leaves and subtrees) equals the reference', async () => {
    const data = new Uint8Array(175 * CHUNK_SIZE); // zeros: 174 identical leaves in node 1
    const ref = referenceRoot(data);
    const { record, store } = await importBytes(data);
    assert.equal(record.cid, ref.cid);
    // distinct blocks: the zero chunk, node(174 × zero), node(1 × zero), root
    assert.equal(store.blockCount, 4);
    const file = await resolveFromStore(store, CID.parse(record.cid));
    assert.equal(file.leaves.length, 175);
    assert.equal(file.interior.length, 3);
    assert.equal(file.interior[0]!.toString(), record.cid);
  });
});

describe('importFile / importDirectory on disk, round trip through the resolver', () => {
  it('a ~46 MiB file (185 chunks, 2-level DAG) streams from disk into an FsChunkStore and reads back identical', async () => {
    const size = 46 * 1024 * 1024 + 12_345;
    const data = await pseudoRandom(size, 46);
    const path = join(dir, 'big.bin');
    await writeFile(path, data);
    const ref = referenceRoot(data);
    assert.equal(ref.depth, 2);
    const store = await FsChunkStore.open({ dir: join(dir, 'store-big'), fsync: false });
    const record = await importFile(path, { store });
    assert.deepEqual(record, { cid: ref.cid, name: 'big.bin', size, chunks: 185 });
    let offset = 0;
    for await (const { leaf, bytes } of readChunks(store, CID.parse(record.cid))) {
      assert.equal(leaf.offset, offset);
      assert.equal(leaf.cid.toString(), ref.leaves[leaf.index]);
      assert.ok(Buffer.from(bytes).equals(data.subarray(offset, offset + leaf.length)), `chunk ${leaf.index}`);
      offset += bytes.length;
    }
    assert.equal(offset, size);
  });

  for (const size of [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 9 * 1024 * 1024]) {
    it(`round trip of ${size} bytes through a durable FsChunkStore`, async () => {
      const data = await pseudoRandom(size, 7 + size);
      const path = join(dir, `f-${size}`);
      await writeFile(path, data);
      const store = await FsChunkStore.open({ dir: join(dir, `store-${size}`) });
      const record = await importFile(path, { store, name: 'named' });
      assert.equal(record.cid, referenceRoot(data).cid);
      assert.equal(record.name, 'named');
      const parts: Uint8Array[] = [];
      for await (const { bytes } of readChunks(store, CID.parse(record.cid))) parts.push(bytes);
      assert.ok(Buffer.concat(parts).equals(data));
      // the catalog survives a reopen
      const reopened = await FsChunkStore.open({ dir: join(dir, `store-${size}`) });
      assert.deepEqual(await reopened.getFile(record.cid), record);
    });
  }

  it('importDirectory imports each regular file (recursively, sorted, symlinks skipped)', async () => {
    const root = join(dir, 'tree');
    await mkdir(join(root, 'sub', 'deeper'), { recursive: true });
    await writeFile(join(root, 'b.txt'), 'hello\n');
    await writeFile(join(root, 'a.txt'), '');
    await writeFile(join(root, 'sub', 'deeper', 'c.bin'), await pseudoRandom(CHUNK_SIZE + 7, 3));
    await symlink(join(root, 'b.txt'), join(root, 'link.txt'));
    const store = new MemoryChunkStore();
    const records = await importDirectory(root, { store });
    assert.deepEqual(
      records.map((r) => [r.name, r.size, r.chunks]),
      [
        ['a.txt', 0, 1],
        ['b.txt', 6, 1],
        ['sub/deeper/c.bin', CHUNK_SIZE + 7, 2],
      ],
    );
    assert.equal(records[1]!.cid, KUBO_KNOWN[1]!.cid);
    assert.deepEqual(await store.listFiles(), records);
  });

  it('a missing or unreadable path is INVALID_ARGUMENT', async () => {
    const store = new MemoryChunkStore();
    await assert.rejects(importFile(join(dir, 'nope'), { store }), (e: unknown) => (e as { code?: string }).code === 'INVALID_ARGUMENT');
    await assert.rejects(importFile(dir, { store }), (e: unknown) => (e as { code?: string }).code === 'INVALID_ARGUMENT');
    assert.equal(store.blockCount, 0);
  });

  it('import honours an abort signal', async () => {
    const ac = new AbortController();
    ac.abort();
    const data = await pseudoRandom(3 * CHUNK_SIZE, 1);
    const path = join(dir, 'abort.bin');
    await writeFile(path, data);
    await assert.rejects(importFile(path, { store: new MemoryChunkStore(), signal: ac.signal }), (e: unknown) => (e as { code?: string }).code === 'ABORTED');
  });
});

describe('streaming and hashing', () => {
  it('import pulls the source lazily: only a bounded number of chunks is buffered ahead of the store', async () => {
    const inner = new MemoryChunkStore();
    let stored = 0;
    let pulled = 0;
    let maxAhead = 0;
    const store = Object.assign(Object.create(inner) as MemoryChunkStore, {
      putBlock: async (cid: CID, bytes: Uint8Array) => {
        if (cid.code === 0x55) stored++;
        return inner.putBlock(cid, bytes);
      },
      putFile: inner.putFile.bind(inner),
    });
    const piece = await pseudoRandom(CHUNK_SIZE, 77);
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 200; i++) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - stored);
        const p = Uint8Array.from(piece);
        p[0] = i; // distinct chunks
        yield p;
      }
    }
    const record = await importStream(source(), { store, name: 's' });
    assert.equal(record.chunks, 200);
    assert.equal(stored, 200);
    assert.ok(maxAhead <= 32, `buffered ${maxAhead} chunks ahead of the store`);
    assert.ok(maxAhead >= 1);
  });

  it('the importer hashes with node:crypto (multiformats resolves to its Node sha2 build)', async () => {
    const resolved = import.meta.resolve('multiformats/hashes/sha2');
    assert.match(resolved, /\/hashes\/sha2\.js$/);
    const { readFile } = await import('node:fs/promises');
    const src = await readFile(new URL(resolved), 'utf8');
    assert.match(src, /from 'node:crypto'/);
  });
});
