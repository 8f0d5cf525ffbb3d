/**
 * Import a file into a filesystem chunk store, read it back verified, and encode the
 * frames a provider would send for it.
 * Run from the repo root: npm exec -- node packages/provider/examples/import-and-frame.ts [file]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CID, FsChunkStore, importFile, readChunks, resolveFromStore } from '@sluice/provider/content';
import { decodeFrame, encodeFrame } from '@sluice/provider/wire';

const dir = await mkdtemp(join(tmpdir(), 'sluice-example-'));
try {
  let path = process.argv[2];
  if (path === undefined) {
    path = join(dir, 'hello.txt');
    await writeFile(path, 'hello\n'); // kubo: bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am
  }
  const store = await FsChunkStore.open({ dir: join(dir, 'store') });
  const record = await importFile(path, { store });
  console.log('imported', record);

  const root = CID.parse(record.cid);
  const file = await resolveFromStore(store, root);
  const ready = encodeFrame({
    type: 'ready',
    start: 0,
    end: file.leaves.length,
    chunkCount: file.leaves.length,
    interiorBlocks: file.interior.length,
    fileSize: file.size,
    pricePerChunk: 1_000_000_000n,
    baseline: 0n,
  });
  console.log('READY frame', ready.length, 'bytes →', decodeFrame(ready));
  let bytes = 0;
  for await (const { leaf, bytes: chunk } of readChunks(store, root)) {
    const frame = encodeFrame({ type: 'chunk', index: leaf.index, data: chunk });
    bytes += frame.length;
  }
  console.log(`${file.leaves.length} verified chunk(s), ${bytes} bytes of CHUNK frames`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
